"""`hub`: the command line. Every command is a thin face over `pipelines/`, `connectors/` and `mdm/`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hub import secrets
from hub.config import ConfigError, HubConfig, load_config

CONFIG_OPT = click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
                          help="the hub YAML file")
WAREHOUSE_OPT = click.option("--warehouse", "warehouse_url", default=None, envvar="HUB_WAREHOUSE_URL",
                             help="warehouse URL overriding the config (or HUB_WAREHOUSE_URL)")


def _setup_logging(verbose: bool) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):  # airbyte-cdk installs a JSON handler on import: we print for humans
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("airbyte", "hub.sync"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    secrets.install_filter()


def _load(path: str, warehouse_url: str | None = None) -> HubConfig:
    try:
        return load_config(path, warehouse_url=warehouse_url)
    except ConfigError as e:
        click.echo(f"error: invalid configuration\n{e}", err=True)
        sys.exit(2)


def _progress(msg: str) -> None:
    click.echo(f"  {secrets.mask(msg)}", err=True)


def _warehouse(cfg: HubConfig) -> Any:
    from warehouse.engine import Warehouse

    try:
        return Warehouse(cfg.warehouse.url)
    except Exception as e:
        click.echo(f"error: warehouse {cfg.warehouse.url!r}: {secrets.mask(str(e))}", err=True)
        sys.exit(2)


def _sources(cfg: HubConfig, only: tuple[str, ...]) -> list[str]:
    for name in only:
        if name not in cfg.sources:
            click.echo(f"error: no source {name!r} in {cfg.path}; sources: {', '.join(cfg.sources)}", err=True)
            sys.exit(2)
    return list(only) or list(cfg.sources)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log debug output")
@click.version_option(package_name="customer-hub")
def main(verbose: bool) -> None:
    """customer hub: connectors, master data and sales marts."""
    _setup_logging(verbose)


# --- config -----------------------------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Validate and show a configuration file."""


@config.command("validate")
@CONFIG_OPT
def config_validate(config_path: str) -> None:
    """Check the file: YAML, keys, types, mappings, environment variables."""
    cfg = _load(config_path)
    streams = sum(len(s.streams) for s in cfg.sources.values())
    click.echo(f"{config_path}: valid ({len(cfg.sources)} sources, {streams} streams)")


@config.command("show")
@CONFIG_OPT
def config_show(config_path: str) -> None:
    """Print the configuration as the hub reads it (paths resolved, secrets masked)."""
    import yaml

    cfg = _load(config_path)
    click.echo(yaml.safe_dump(cfg.redacted(), allow_unicode=True, sort_keys=False))


# --- connectors -------------------------------------------------------------------------------------------


@main.group()
def connectors() -> None:
    """List, inspect, check and sync connectors."""


@connectors.command("list")
def connectors_list() -> None:
    """The connector kinds a source can use."""
    from connectors.registry import DESCRIPTIONS

    for kind, desc in DESCRIPTIONS.items():
        click.echo(f"{kind:<10} {desc}")


def _each_source(cfg: HubConfig, only: tuple[str, ...], fn: Callable[[str, Any, dict[str, Any]], bool]) -> None:
    from connectors.registry import create_source
    from pipelines.sync import connector_config

    ok = True
    for name in _sources(cfg, only):
        src = cfg.sources[name]
        conf = connector_config(src)
        try:
            ok &= fn(name, create_source(src.connector, conf), conf)
        except Exception as e:
            click.echo(f"{name}: FAILED: {secrets.mask(str(e))}")
            ok = False
    if not ok:
        sys.exit(1)


@connectors.command("spec")
@click.argument("kind")
def connectors_spec(kind: str) -> None:
    """Print the JSON schema of a connector kind's config."""
    from connectors.registry import UnknownConnector, create_source

    try:
        spec = create_source(kind).spec(logging.getLogger("hub"))
    except UnknownConnector as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(json.dumps(spec.connectionSpecification, indent=2, ensure_ascii=False))


@connectors.command("check")
@CONFIG_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
def connectors_check(config_path: str, only: tuple[str, ...]) -> None:
    """Can each source be reached with its configuration?"""
    cfg = _load(config_path)

    def check(name: str, source: Any, conf: dict[str, Any]) -> bool:
        status = source.check(logging.getLogger("hub.connector"), conf)
        good = status.status.name == "SUCCEEDED"
        msg = "" if good else f": {secrets.mask(str(status.message))}"
        click.echo(f"{name}: {'OK' if good else 'FAILED'}{msg}")
        return good

    _each_source(cfg, only, check)


@connectors.command("discover")
@CONFIG_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
def connectors_discover(config_path: str, only: tuple[str, ...]) -> None:
    """The streams each source offers, with their columns and keys."""
    cfg = _load(config_path)

    def discover(name: str, source: Any, conf: dict[str, Any]) -> bool:
        catalog = source.discover(logging.getLogger("hub.connector"), conf)
        for s in catalog.streams:
            cols = list((s.json_schema or {}).get("properties", {}))
            modes = ",".join(m.name for m in s.supported_sync_modes or [])
            click.echo(f"{name}.{s.name}  [{modes}]  key={s.source_defined_primary_key or '-'}")
            click.echo(f"    columns: {', '.join(cols)}")
        return True

    _each_source(cfg, only, discover)


@connectors.command("sync")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--source", "only", multiple=True, help="only this source (repeatable)")
@click.option("--full-refresh", is_flag=True, help="ignore saved state and read everything again")
def connectors_sync(config_path: str, warehouse_url: str | None, only: tuple[str, ...], full_refresh: bool) -> None:
    """Sync sources into the raw layer only (no staging, matching or marts)."""
    from pipelines.sync import sync_source

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    failed = False
    for name in _sources(cfg, only):
        r = sync_source(cfg, wh, name, progress=_progress, full_refresh=full_refresh)
        s = r.stats
        click.echo(f"{name}: {r.status} — {s.read:,} read, {s.loaded:,} new or changed, "
                   f"{s.quarantined:,} quarantined ({r.seconds:.1f}s)" + (f"\n  {r.error}" if r.error else ""))
        failed |= r.status != "succeeded"
    sys.exit(1 if failed else 0)


# --- run --------------------------------------------------------------------------------------------------


@main.command("run")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--source", "only", multiple=True, help="only sync this source (repeatable); all are staged")
@click.option("--rebuild", is_flag=True, help="match everything again and refit the model (default: incremental)")
def run(config_path: str, warehouse_url: str | None, only: tuple[str, ...], rebuild: bool) -> None:
    """Sync → stage → match → marts, then print a summary."""
    from pipelines.run import run_all
    from warehouse.lock import RunLocked

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    click.echo(f"hub run: {cfg.path} → {wh.location}", err=True)
    try:
        summary = run_all(cfg, wh, _sources(cfg, only) if only else None, progress=_progress, rebuild=rebuild)
    except RunLocked as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(3)
    click.echo(format_summary(summary))
    sys.exit(1 if summary.failed_sources else 0)


def format_summary(summary: Any) -> str:
    lines = ["", "sources                     status      read   new/changed  quarantined"]
    for s in summary.syncs:
        st = s.stats
        lines.append(f"  {s.source:<25} {s.status:<10} {st.read:>7,} {st.loaded:>12,} {st.quarantined:>12,}")
        for name, sr in s.streams.items():
            for change in sr.schema_changes:
                lines.append(f"    {name}: schema changed: {change}")
        if s.error:
            lines.append(f"    error: {s.error}")
    lines.append("staged                                  records   rejected  fields nulled")
    for r in summary.staged:
        lines.append(f"  {r.source + '.' + r.stream:<25} {r.entity:<12} {r.staged:>8,} {r.rejected:>10,} "
                     f"{r.fields_nulled:>14,}")
    if summary.match:
        m = summary.match
        how = f"incremental, {m.changed:,} new or changed" if m.incremental else "full rebuild"
        lines.append(f"golden customers: {m.golden:,} from {m.records:,} customer records "
                     f"({m.new_ids:,} new IDs, {m.merged_ids:,} merged; {how}; {m.review_items:,} pairs to review)")
    lines.append("marts: " + ", ".join(f"marts.{k} ({v:,} rows)" for k, v in summary.marts.items()))
    lines.append(f"warehouse: {summary.warehouse}")
    lines.append(f"done in {summary.seconds:.1f}s" + (f"; {len(summary.failed_sources)} source(s) failed"
                                                      if summary.failed_sources else ""))
    return "\n".join(lines)


@main.command("show")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("table")
@click.option("--limit", type=int, default=10, show_default=True)
def show(config_path: str, warehouse_url: str | None, table: str, limit: int) -> None:
    """Print the first rows of a warehouse table, e.g. `marts.dim_customer`."""
    import pandas as pd

    from warehouse.identifiers import quote_qualified

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    try:
        df = wh.read_frame(f"SELECT * FROM {quote_qualified(table)} LIMIT {int(limit)}")
    except Exception as e:
        click.echo(f"error: cannot read {table}: {str(e).splitlines()[0]}", err=True)
        sys.exit(1)
    with pd.option_context("display.max_columns", 12, "display.width", 160, "display.max_colwidth", 28):
        click.echo(df.to_string(index=False))


# --- mdm --------------------------------------------------------------------------------------------------


@main.group()
def mdm() -> None:
    """Matching: score against a truth file, explain a pair."""


@mdm.command("score")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="hub YAML (for its warehouse)")
@WAREHOUSE_OPT
@click.option("--truth", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV with source_name, stream, source_key, entity_id")
def mdm_score(config_path: str | None, warehouse_url: str | None, truth: str) -> None:
    """Pairwise precision, recall and F1 of mdm.xref against a truth CSV."""
    import pandas as pd

    from mdm.evaluate import pairwise_scores
    from warehouse.engine import Warehouse

    if config_path:
        url = _load(config_path, warehouse_url).warehouse.url
    elif warehouse_url:
        url = warehouse_url
    else:
        click.echo("error: give -c FILE or --warehouse URL", err=True)
        sys.exit(2)
    t = pd.read_csv(truth, dtype=str)
    missing = {"source_name", "stream", "source_key", "entity_id"} - set(t.columns)
    if missing:
        click.echo(f"error: {truth}: missing column(s) {', '.join(sorted(missing))}", err=True)
        sys.exit(2)
    x = Warehouse(url).read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    keys = ["source_name", "stream", "source_key"]
    both = t.merge(x, on=keys, how="outer", indicator=True)
    only_truth, only_xref = (both["_merge"] == "left_only").sum(), (both["_merge"] == "right_only").sum()
    both = both[both["_merge"] == "both"]
    click.echo(f"records: {len(both):,} scored; {only_truth:,} in the truth but not in mdm.xref; "
               f"{only_xref:,} in mdm.xref but not in the truth")
    click.echo(str(pairwise_scores(both["golden_id"], both["entity_id"])))


def _record(cfg: HubConfig, ref: str) -> str:
    """`SOURCE:KEY` or `SOURCE:STREAM:KEY` → the record id `SOURCE:STREAM:KEY`."""
    parts = ref.split(":", 2)
    if len(parts) == 3 and parts[0] in cfg.sources and parts[1] in cfg.sources[parts[0]].streams:
        return ref
    if len(parts) >= 2 and parts[0] in cfg.sources:
        streams = [n for n, s in cfg.sources[parts[0]].streams.items() if s.entity == "customer"]
        if len(streams) == 1:
            return f"{parts[0]}:{streams[0]}:{ref.split(':', 1)[1]}"
    click.echo(f"error: {ref!r}: expected SOURCE:KEY or SOURCE:STREAM:KEY of a customer record", err=True)
    sys.exit(2)


@mdm.command("explain")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("left")
@click.argument("right")
def mdm_explain(config_path: str, warehouse_url: str | None, left: str, right: str) -> None:
    """Why two customer records match or not: per field the values, level and weight; the score."""
    from pipelines.explain import explain_records

    cfg = _load(config_path, warehouse_url)
    try:
        table = explain_records(cfg, _warehouse(cfg), _record(cfg, left), _record(cfg, right))
    except LookupError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"{'comparison':<11} {'left':<28} {'right':<28} {'level':<34} {'weight':>7}")
    for r in table.itertuples():
        lv = "" if r.left is None else str(r.left)
        rv = "" if r.right is None else str(r.right)
        click.echo(f"{r.comparison:<11} {lv[:27]:<28} {rv[:27]:<28} {r.level[:33]:<34} {r.weight:>+7.2f}")
    a = table.attrs
    click.echo(f"match weight {a['weight']:+.2f} bits → probability {a['probability']:.4f} → {a['band']}"
               + (f"; golden {a['left_golden']} / {a['right_golden']}" if a.get("left_golden") else ""))


# --- demo -------------------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """The bundled demo data."""


@demo.command("generate")
@click.option("--out", type=click.Path(file_okay=False), default="demo/data", show_default=True)
@click.option("--entities", type=int, default=2000, show_default=True, help="real companies to generate")
@click.option("--seed", type=int, default=7, show_default=True)
def demo_generate(out: str, entities: int, seed: int) -> None:
    """Write the demo's legacy sources (SQLite CRM, GBK CSV CRM, SQLite ERP) and their truth."""
    from demo.generate import generate, write_demo

    paths = write_demo(Path(out), generate(n_entities=entities, seed=seed))
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


if __name__ == "__main__":  # pragma: no cover
    main()

"""`hub`: the command line. Every command is a thin face over `pipelines/`, `connectors/` and `mdm/`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from core import exit_codes, secrets
from core.config import ConfigError, HubConfig, load_config

CONFIG_OPT = click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
                          help="the hub YAML file")
WAREHOUSE_OPT = click.option("--warehouse", "warehouse_url", default=None, envvar="HUB_WAREHOUSE_URL",
                             help="warehouse URL overriding the config (or HUB_WAREHOUSE_URL)")


def _setup_logging(verbose: bool | None = None) -> None:
    """Human-readable logs on stderr, secrets masked. Call again after importing airbyte-cdk, which
    replaces the root handler with its JSON one on import (`verbose` None: keep the current choice)."""
    if verbose is None:
        verbose = bool(click.get_current_context(silent=True)
                       and click.get_current_context().find_root().params.get("verbose"))
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
        return Warehouse.from_config(cfg.warehouse)
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
@click.option("--live", is_flag=True, help="also check against the sources themselves: reachable, their streams, "
              "and the keys, cursor fields and mapped columns of sql and file streams")
def config_validate(config_path: str, live: bool) -> None:
    """Check the file: YAML, keys, types, mappings, environment variables (and with --live the sources)."""
    cfg = _load(config_path)
    streams = sum(len(s.streams) for s in cfg.sources.values())
    click.echo(f"{config_path}: valid ({len(cfg.sources)} sources, {streams} streams)")
    if live:
        sys.exit(_validate_live(cfg))


def _validate_live(cfg: HubConfig) -> int:
    """Each enabled source against what it offers; the exit code: 1 a source cannot be reached, 2 the config does
    not fit a source (an unknown stream, a column it does not have), else 0."""
    from connectors.registry import create_source
    from pipelines.health import check_columns
    from pipelines.sync import SyncError, build_catalog, connector_config
    _setup_logging()  # airbyte-cdk took over logging on import

    code = exit_codes.OK
    for name, src in cfg.sources.items():
        if not src.enabled:
            continue
        conf = connector_config(src)
        log = logging.getLogger("hub.connector")
        try:
            source = create_source(src.connector, conf)
            status = source.check(log, conf)
            if status.status.name != "SUCCEEDED":
                click.echo(f"{name}: FAILED: {secrets.mask(str(status.message))}")
                code = max(code, exit_codes.FAILED)
                continue
            discovered = source.discover(log, conf)
            build_catalog(name, src, discovered)
        except SyncError as e:
            click.echo(f"{name}: {secrets.mask(str(e))}")
            code = exit_codes.CONFIG
            continue
        except Exception as e:
            click.echo(f"{name}: FAILED: {secrets.mask(getattr(e, 'message', None) or str(e))}")
            code = max(code, exit_codes.FAILED)
            continue
        problems = check_columns(name, src, {s.name: s.json_schema for s in discovered.streams})
        for p in problems:
            click.echo(f"{name}: {secrets.mask(p)}")
        if problems:
            code = exit_codes.CONFIG
        else:
            click.echo(f"{name}: OK ({len(src.streams) or len(discovered.streams)} streams)")
    return code


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
    _setup_logging()  # airbyte-cdk took over logging on import

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
    _setup_logging()  # airbyte-cdk took over logging on import

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
@click.option("--allow-mass-delete", is_flag=True,
              help="apply deletes even above a stream's max_delete_share (an emptied export deletes everything)")
def connectors_sync(config_path: str, warehouse_url: str | None, only: tuple[str, ...], full_refresh: bool,
                    allow_mass_delete: bool) -> None:
    """Sync sources into the raw layer only (no staging, matching or marts)."""
    from pipelines.sync import sync_source
    _setup_logging()  # airbyte-cdk took over logging on import

    from warehouse.lock import RunLocked, held_by, run_lock

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    failed = warned = False
    try:  # one writer at a time, as `hub run` (a steward's action of a second or so is waited for)
        with run_lock(wh, "hub connectors sync", wait=STEWARD_ACTION_WAIT, keep_waiting=held_by("hub steward")):
            for name in _sources(cfg, only):
                r = sync_source(cfg, wh, name, progress=_live_progress(), full_refresh=full_refresh,
                                allow_mass_delete=allow_mass_delete)
                s = r.stats
                click.echo(f"{name}: {r.status} — {s.read:,} read, {s.loaded:,} new or changed, "
                           f"{s.deleted:,} deleted, {s.quarantined:,} quarantined ({r.seconds:.1f}s)"
                           + (f"\n  {r.error}" if r.error else "")
                           + "".join(f"\n  warning: {w}" for w in r.warnings))
                failed |= r.status == "failed"
                warned |= r.status == "warning"
    except RunLocked as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(exit_codes.LOCKED)
    sys.exit(exit_codes.of_run(failed, False, warned))


STEWARD_ACTION_WAIT = 30.0  # seconds a sync waits for a steward's action to finish before it gives up


# --- run --------------------------------------------------------------------------------------------------


@main.command("run")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--source", "only", multiple=True, help="only sync this source (repeatable); all are staged")
@click.option("--rebuild", is_flag=True, help="match everything again and refit the model, rebuild every mart "
              "(default: only what changed)")
@click.option("--allow-mass-delete", is_flag=True,
              help="apply deletes above a stream's max_delete_share, and of sources removed from the config")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default=None,
              help="where matching and the marts run (default: the config's engine.kind, else duckdb); spark writes "
                   "the tables to engine.location as Parquet")
def run(config_path: str, warehouse_url: str | None, only: tuple[str, ...], rebuild: bool,
        allow_mass_delete: bool, engine: str | None) -> None:
    """Sync → stage → match → marts, then print a summary."""
    from pipelines.run import RunSummary, run_all
    _setup_logging()  # airbyte-cdk took over logging on import
    from warehouse.lock import RunLocked
    from warehouse.spark.session import SparkMissing

    cfg = _load(config_path, warehouse_url)
    kind = engine or cfg.engine.kind
    if kind == "spark" and not cfg.engine.location:
        click.echo(f"error: {cfg.path}: engine.location: --engine spark needs the lakehouse directory the tables are "
                   "written to (engine: {kind: spark, location: DIR})", err=True)
        sys.exit(2)
    wh = _warehouse(cfg)
    click.echo(f"hub run: {cfg.path} → {wh.location}" + (f" (Spark {cfg.engine.master} → {cfg.engine.location})"
                                                         if kind == "spark" else ""), err=True)
    summary: RunSummary
    try:
        if kind == "spark":
            from pipelines.spark_run import run_spark

            summary = run_spark(cfg, wh, _sources(cfg, only) if only else None, progress=_live_progress(),
                                rebuild=rebuild, allow_mass_delete=allow_mass_delete)
        else:
            summary = run_all(cfg, wh, _sources(cfg, only) if only else None, progress=_live_progress(),
                              rebuild=rebuild, allow_mass_delete=allow_mass_delete)
    except RunLocked as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(3)
    except SparkMissing as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(format_summary(summary))
    # README "Exit codes": 1 a source (or a reference file) failed, 4 a data check failed, 5 a health warning
    sys.exit(exit_codes.of_run(bool(summary.failed_sources or summary.problems), bool(summary.failed_checks),
                               bool(summary.warned_sources)))


def _live_progress() -> Any:
    """Progress on stderr: a live line on a terminal, a line every ten seconds otherwise."""
    from pipelines.progress import Progress

    return Progress(_progress, live=sys.stderr.isatty())


def format_summary(summary: Any) -> str:
    lines = ["", "sources                     status         read   new/changed   deleted  quarantined"]
    for s in summary.syncs:
        st = s.stats
        lines.append(f"  {s.source:<25} {s.status:<10} {st.read:>9,} {st.loaded:>12,} {st.deleted:>9,} "
                     f"{st.quarantined:>12,}")
        for name, sr in s.streams.items():
            for change in sr.schema_changes:
                lines.append(f"    {name}: schema changed: {change}")
        if s.error:
            lines.append(f"    error: {s.error}")
        lines += [f"    warning: {w}" for w in s.warnings]
    lines.append("staging                                 records  this run   removed   rejected  fields nulled")
    for r in summary.staged:
        lines.append(f"  {r.source + '.' + r.stream:<25} {r.entity:<12} {r.total:>9,} {r.staged:>9,} "
                     f"{r.deleted:>9,} {r.rejected:>10,} {r.fields_nulled:>14,}")
    if summary.match:
        m = summary.match
        how = (f"incremental: {m.changed:,} new or changed, {m.deleted:,} deleted, {m.affected:,} re-clustered"
               if m.incremental else "full rebuild")
        lines.append(f"golden customers: {m.golden:,} from {m.records:,} customer records "
                     f"({m.new_ids:,} new IDs, {m.merged_ids:,} merged; {how}; {m.review_items:,} pairs to review)")
    lines.append("marts: " + ", ".join(f"marts.{k} ({v:,} rows)" for k, v in summary.marts.items()))
    lines += [f"problem: {p}" for p in summary.problems]
    if summary.checks:
        passed = sum(c.passed for c in summary.checks.values())
        warned = [n for n, c in summary.checks.items() if not c.passed and not c.failed]
        lines.append(f"checks: {passed} of {len(summary.checks)} passed"
                     + (f", {len(warned)} warning(s)" if warned else ""))
        lines += [f"  check {n} FAILED: {summary.checks[n].description}" for n in summary.failed_checks]
        lines += [f"  check {n} warning: {summary.checks[n].description}" for n in warned]
    lines.append(f"warehouse: {summary.warehouse}")
    if getattr(summary, "engine", None) == "spark":
        lines.append(f"lakehouse (Spark): {summary.location}" + ("" if summary.rebuilt else
                                                                  " (no input changed: nothing rebuilt)"))
    if summary.phases:
        lines.append("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in summary.phases.items()))
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


@main.command("export")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("mart")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default=None,
              help="default: from --out's extension, else xlsx")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="default: MART.xlsx (or .csv) here")
def export(config_path: str, warehouse_url: str | None, mart: str, fmt: str | None, out: str | None) -> None:
    """Write a mart to Excel (sheets `about` and `data`) or CSV (and MART.columns.csv), with its column
    descriptions."""
    from pipelines.export import ExportError, export_mart, mart_name

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    try:
        name = mart_name(mart)
        fmt = fmt or (Path(out).suffix.lower().lstrip(".") if out else "xlsx")
        done = export_mart(wh, name, out or f"{name}.{fmt}", fmt)
    except ExportError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    for path in done.paths:
        click.echo(f"{path}")
    click.echo(f"marts.{done.mart}: {done.rows:,} rows", err=True)


@main.group()
def checks() -> None:
    """The data checks `hub run` runs after the marts."""


@checks.command("list")
@CONFIG_OPT
def checks_list(config_path: str) -> None:
    """Every data check with its severity and tolerance (marts.yaml's defaults, the config's marts.checks)."""
    from pipelines.checks import GOLDEN_CHECKS, planned_checks, unknown_check_names

    cfg = _load(config_path)
    for name in GOLDEN_CHECKS:
        click.echo(f"{name:<58} error")
    for name, spec in planned_checks(cfg).items():
        tolerance = ", ".join(t for t in (f"≤ {spec.max_failing:,} rows" if spec.max_failing else "",
                                          f"≤ {spec.max_failing_pct}%" if spec.max_failing_pct else "") if t)
        click.echo(f"{name:<58} {spec.severity:<5} {tolerance or '-':<22} {spec.description}")
    for name in unknown_check_names(cfg):
        click.echo(f"error: marts.checks: there is no check named {name!r}", err=True)


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
    """Write the demo's legacy sources (SQLite CRM, GBK CSV CRM, SQLite ERP), their truth, and the marts'
    targets, channel-cost and exchange-rate files."""
    from hub.extras import require

    require("demo", "hub demo generate")
    from demo.generate import generate, write_demo
    from demo.targets import write_reference

    paths = write_demo(Path(out), generate(n_entities=entities, seed=seed))
    paths.update(write_reference(Path(out), n_entities=entities, seed=seed))
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


# --- docs -------------------------------------------------------------------------------------------------


@main.group()
def predict() -> None:
    """Predictions: win probability, lead scores, the pipeline forecast and their backtests."""


@predict.command("run")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--retrain", is_flag=True, help="train new models (with their backtests) before scoring")
def predict_run(config_path: str, warehouse_url: str | None, retrain: bool) -> None:
    """Score the open opportunities and leads and forecast the pipeline again (`hub run` does it when the marts
    changed), training the models that need it."""
    from pipelines.predict import run_predictions
    from warehouse.lock import RunLocked, held_by, run_lock

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    try:
        with run_lock(wh, "hub predict run", wait=30, keep_waiting=held_by("hub steward")):
            result = run_predictions(wh, cfg, progress=_progress, force=True, retrain=retrain)
    except RunLocked as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(3)
    for name, n in result.rows.items():
        click.echo(f"marts.{name}: {n:,} rows")


@predict.command("report")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--all", "every", is_flag=True, help="every model kept, not only the current ones")
def predict_report(config_path: str, warehouse_url: str | None, every: bool) -> None:
    """The backtest of the models (AUC, Brier score and calibration against the baseline; the forecast's error
    against the stage-weighted pipeline), as Markdown."""
    from predict.report import backtest_markdown

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    with wh.begin() as conn:
        built = wh.table_exists(conn, "marts", "prediction_models")
    if not built:
        click.echo("error: no predictions in this warehouse yet: run `hub run` (or `hub predict run`)", err=True)
        sys.exit(2)
    models = wh.read_frame("SELECT * FROM marts.prediction_models" + ("" if every else " WHERE is_current")
                           + " ORDER BY trained_at, kind")
    calibration = wh.read_frame("SELECT * FROM marts.prediction_calibration")
    click.echo(backtest_markdown(models, calibration), nl=False)
    for m in models.itertuples(index=False):
        click.echo(f"\n{m.model_id}: {m.method}; {m.guard}")


@main.group()
def docs() -> None:
    """Generated documentation."""


@docs.command("marts")
@click.option("--write", "markdown_file", type=click.Path(exists=True, dir_okay=False),
              help="replace the mart reference inside this Markdown file (docs/marts.md) instead of printing it")
def docs_marts(markdown_file: str | None) -> None:
    """The mart reference (every mart, its grain and columns) from warehouse/marts/marts.yaml and
    predict/marts.yaml."""
    from predict.catalog import all_mart_docs
    from warehouse.marts.catalog import reference_markdown, with_reference

    if not markdown_file:
        click.echo(reference_markdown(all_mart_docs()), nl=False)
        return
    path = Path(markdown_file)
    try:
        path.write_text(with_reference(path.read_text(encoding="utf-8"), all_mart_docs()), encoding="utf-8")
    except ValueError as e:
        click.echo(f"error: {path}: {e}", err=True)
        sys.exit(2)
    click.echo(f"{path}: mart reference updated")


# --- fakes ------------------------------------------------------------------------------------------------


@main.group()
def fakes() -> None:
    """Fake WeCom, DingTalk, Fxiaoke and Kingdee servers, for the demo and for trying connectors."""


FAKE_SEED_OPT = click.option("--seed", type=int, default=7, show_default=True,
                             help="seed of the demo universe (the same as `hub demo generate --seed`)")
FAKE_ENTITIES_OPT = click.option("--entities", type=int, default=2000, show_default=True,
                                 help="companies in the demo universe (as `hub demo generate --entities`)")


def _fake_faults(text: str) -> dict[str, Any]:
    try:
        faults = json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON: {e}") from None
    if not isinstance(faults, dict):
        raise click.BadParameter('expected a JSON object, e.g. {"error_5xx_rate": 0.1}')
    return faults


@fakes.command("serve")
@click.argument("vendor", metavar="VENDOR")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port")
@FAKE_SEED_OPT
@FAKE_ENTITIES_OPT
@click.option("--faults", "faults_json", default="{}", help='faults as JSON, e.g. \'{"error_5xx_rate": 0.1}\'')
def fakes_serve(vendor: str, host: str, port: int, seed: int, entities: int, faults_json: str) -> None:
    """Serve one fake (wecom, dingtalk, fxiaoke or kingdee): prints its URL, serves until killed."""
    from hub.extras import require

    require("demo", "hub fakes serve")
    from connectors.fakes.serve import build_server, stop_signals, wait

    try:
        server = build_server(vendor, seed=seed, entities=entities, faults=_fake_faults(faults_json))
    except ValueError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    with stop_signals() as stop:
        try:
            url = server.start(host, port)
        except (OSError, RuntimeError) as e:
            click.echo(f"error: {vendor} fake cannot listen on {host}:{port}: {e}", err=True)
            sys.exit(1)
        click.echo(url)
        counts = ", ".join(f"{k} {v:,}" for k, v in server.dataset.counts().items())
        click.echo(f"{vendor} fake at {url}: {counts}; stop with Ctrl-C", err=True)
        try:
            wait(stop)
        finally:
            server.stop()


@fakes.command("serve-all")
@click.option("--host", default="127.0.0.1", show_default=True)
@FAKE_SEED_OPT
@FAKE_ENTITIES_OPT
@click.option("--env-file", type=click.Path(dir_okay=False), default=None,
              help="also write the export lines here (removed on exit), e.g. demo/data/fakes.env")
def fakes_serve_all(host: str, seed: int, entities: int, env_file: str | None) -> None:
    """Serve all four fakes on free ports; print `export` lines for the demo config; serve until killed.

    \b
    hub fakes serve-all --env-file demo/data/fakes.env &
    . demo/data/fakes.env && hub run -c demo/hub.yaml
    """
    from hub.extras import require

    require("demo", "hub fakes serve-all")
    from connectors.fakes.serve import demo_env, export_lines, start_all, stop_all, stop_signals, wait, write_env_file

    path = Path(env_file) if env_file else None
    with stop_signals() as stop:
        try:
            servers = start_all(host, seed=seed, entities=entities)
        except (OSError, RuntimeError) as e:
            click.echo(f"error: the fakes cannot start on {host}: {e}", err=True)
            sys.exit(1)
        try:
            env = demo_env({vendor: server.url for vendor, server in servers.items()})
            click.echo("\n".join(export_lines(env)))
            for vendor, server in servers.items():
                counts = ", ".join(f"{k} {v:,}" for k, v in server.dataset.counts().items())
                click.echo(f"{vendor:<9} {server.url}  {counts}", err=True)
            click.echo("serving until stopped (Ctrl-C or SIGTERM)" + (f"; variables in {path}" if path else ""),
                       err=True)
            if path:  # last: whoever waits for the file finds everything above written
                write_env_file(path, env)
            wait(stop)
        finally:
            stop_all(servers)
            if path:
                path.unlink(missing_ok=True)


# --- steward: review queue, decisions, merge, unmerge, undo, history ----------------------------------------

BY_OPT = click.option("--by", "by", required=True, envvar="HUB_STEWARD",
                      help="who decides (recorded in mdm.decisions and mdm.merge_log; or HUB_STEWARD)")
REASON_OPT = click.option("--reason", default=None, help="why (recorded with the decision)")
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="print JSON (stable; see the README)")


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _steward_call(fn: Callable[[], Any]) -> Any:
    """Run a steward function; its refusal is exit code 1, a warehouse busy with a run exit code 3."""
    from pipelines.steward.errors import StewardBusy, StewardError

    try:
        return fn()
    except StewardError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(3 if isinstance(e, StewardBusy) else 1)


def _action_out(result: Any, as_json: bool) -> None:
    if as_json:
        _print_json(result.to_dict())
        return
    click.echo(f"{result.action} {result.action_id}: {result.message}")
    for rid, gid in result.moved.items():
        click.echo(f"  {rid} → {gid}")


@main.group()
def steward() -> None:
    """Data stewardship: the review queue, decisions, merge, unmerge, undo and their history."""


@steward.command("queue")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0)
@click.option("--source", default=None, help="only pairs with a record of this source")
@click.option("--band", type=click.Choice(["match", "review", "low"]), default=None, help="score band")
@click.option("--search", default=None, help="a name (also in pinyin or initials), contact, address, record id or "
                                            "golden ID")
@click.option("--status", type=click.Choice(["open", "decided", "resolved", "all"]), default="open",
              show_default=True)
@click.option("--reason", type=click.Choice(["review_band", "match_band", "hard_rule", "several_customers"]),
              default=None, help="why the pair is in review")
@click.option("--assignee", default=None, help="claimed by this user (`-`: by nobody)")
@click.option("--decided-by", default=None, help="decided by this user")
@click.option("--since", default=None, help="from this day (YYYY-MM-DD, the config's timezone): decided, else queued")
@click.option("--until", default=None, help="to this day, included")
@click.option("--sort", type=click.Choice(["priority", "score", "score_asc", "revenue", "newest", "oldest"]),
              default="priority", show_default=True)
def steward_queue(config_path: str, warehouse_url: str | None, as_json: bool, limit: int, offset: int,
                  source: str | None, band: str | None, search: str | None, status: str, reason: str | None,
                  assignee: str | None, decided_by: str | None, since: str | None, until: str | None,
                  sort: str) -> None:
    """The review queue, most urgent first (uncertainty × the customer's revenue)."""
    from pipelines.review import parse_day
    from pipelines.steward.customers import CustomerSearch
    from pipelines.steward.review_queue import QueueFilter, list_queue

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)

    def listed() -> dict[str, Any]:
        found = tuple(CustomerSearch(wh).golden_ids(search)) if search else ()
        criteria = QueueFilter(source=source, band=band, search=search, status=status, reason=reason,
                               decided_by=decided_by, assignee=assignee, since=parse_day(since),
                               until=parse_day(until), sort=sort, found=found)
        return list_queue(cfg, wh, limit=limit, offset=offset, criteria=criteria)

    data = _steward_call(listed)
    if as_json:
        _print_json(data)
        return
    click.echo(f"{data['total']:,} {status} review item(s)" + (f", showing {len(data['items'])}" if data["items"]
                                                                  else ""))
    for it in data["items"]:
        ln, rn = it["left"]["values"].get("name", ""), it["right"]["values"].get("name", "")
        click.echo(f"{it['item_id']}  prio {it['priority']:.2f}  p {it['probability']:.3f} {it['band']:<6}  "
                   f"{ln} [{it['left']['record_id']}]  ↔  {rn} [{it['right']['record_id']}]  ({it['reason']})")


@steward.command("show")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("item")
def steward_show(config_path: str, warehouse_url: str | None, as_json: bool, item: str) -> None:
    """A review item: both records side by side and the explanation of its score."""
    from mdm.stewardship import RAW_FIELDS, STD_FIELDS
    from pipelines.steward.review_queue import queue_item

    cfg = _load(config_path, warehouse_url)
    d = _steward_call(lambda: queue_item(cfg, _warehouse(cfg), item))
    if as_json:
        _print_json(d)
        return
    left, right = d["left"], d["right"]
    click.echo(f"item {d['item_id']}: {left['record_id']} ({left['golden_id']})  vs  "
               f"{right['record_id']} ({right['golden_id']})")
    for f in (*RAW_FIELDS, *STD_FIELDS):
        a, b = left.get(f), right.get(f)
        if a in (None, "") and b in (None, ""):
            continue
        mark = " " if str(a) == str(b) else "≠"
        sa_, sb = ("" if v is None else str(v) for v in (a, b))
        click.echo(f"  {mark} {f:<16} {sa_[:38]:<40} {sb[:38]}")
    s = d["score"]
    if s.get("probability") is not None:
        for e in d["explanation"]:
            click.echo(f"    {e['comparison']:<10} {e['level'][:40]:<42} {e['weight']:+7.2f}")
        click.echo(f"  probability {s['probability']:.4f} ({s['band']}), weight {s['weight']:+.2f} bits")
    for r in (d.get("kept_apart") or {}).get("rules", []):
        for side in ("left", "right"):
            for v in r[side]:
                click.echo(f"  kept apart ({r['text']}): {d[side]['golden_id']} has {v['shown']} from "
                           f"{', '.join(v['records'])}")
    for x in d["decisions"]:
        state = "in force" if x["active"] else f"undone by {x['undone_by']}"
        click.echo(f"  decision {x['verdict']} by {x['decided_by']} at {x['decided_at']} ({state})"
                   + (f": {x['reason']}" if x.get("reason") else ""))


@steward.command("decide")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("item")
@click.argument("verdict", type=click.Choice(["same", "different"]))
@BY_OPT
@REASON_OPT
def steward_decide(config_path: str, warehouse_url: str | None, as_json: bool, item: str, verdict: str, by: str,
                   reason: str | None) -> None:
    """Decide a review item: the two records are the `same` company or `different` ones."""
    from pipelines.steward.actions import decide

    cfg = _load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: decide(cfg, _warehouse(cfg), item, verdict, by, reason)), as_json)


@steward.command("decide-many")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("items", nargs=-1, required=True)
@click.option("--verdict", type=click.Choice(["same", "different"]), required=True)
@BY_OPT
@REASON_OPT
def steward_decide_many(config_path: str, warehouse_url: str | None, as_json: bool, items: tuple[str, ...],
                        verdict: str, by: str, reason: str | None) -> None:
    """Decide several review items the same way, as one action (one undo reverts them all)."""
    from pipelines.steward.actions import decide_items

    cfg = _load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: decide_items(cfg, _warehouse(cfg), items, verdict, by, reason)), as_json)


@steward.command("candidates")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
def steward_candidates(config_path: str, warehouse_url: str | None, as_json: bool, record: str) -> None:
    """The golden customers a short record (SOURCE:KEY or SOURCE:STREAM:KEY) may belong to, best first."""
    from pipelines.review import candidates

    cfg = _load(config_path, warehouse_url)
    d = _steward_call(lambda: candidates(cfg, _warehouse(cfg), _record(cfg, record)))
    if as_json:
        _print_json(d)
        return
    click.echo(f"{d['record_id']}  {d['record']['values'].get('name', '')}  ({len(d['items'])} review items)")
    for i, x in enumerate(d["candidates"], 1):
        apart = "; ".join(r["text"] for r in (x["kept_apart"] or {}).get("rules", []))
        click.echo(f"  {i}. {x['golden_id']}  {x['golden'].get('name') or ''}  {x['golden'].get('city') or ''}  "
                   f"p {x['probability']:.3f} {x['band']}" + (f"  (kept apart: {apart})" if apart else ""))


@steward.command("resolve")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
@click.argument("golden_id", required=False)
@click.option("--none", "none_", is_flag=True, help="the record is none of its candidates")
@BY_OPT
@REASON_OPT
def steward_resolve(config_path: str, warehouse_url: str | None, as_json: bool, record: str, golden_id: str | None,
                    none_: bool, by: str, reason: str | None) -> None:
    """Settle a short record matching several customers: it is GOLDEN_ID (one of its candidates), or --none."""
    from pipelines.steward.actions import resolve_record

    if bool(golden_id) == none_:
        click.echo("error: give the chosen GOLDEN_ID or --none", err=True)
        sys.exit(2)
    cfg = _load(config_path, warehouse_url)
    rid = _record(cfg, record)
    _action_out(_steward_call(lambda: resolve_record(cfg, _warehouse(cfg), rid, golden_id, by, reason)), as_json)


@steward.command("assign")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("items", nargs=-1, required=True)
@click.option("--to", "assignee", default=None, help="the user who takes the items (default: --by, a claim)")
@click.option("--release", is_flag=True, help="nobody works on them any more")
@BY_OPT
def steward_assign(config_path: str, warehouse_url: str | None, items: tuple[str, ...], assignee: str | None,
                   release: bool, by: str) -> None:
    """Claim review items, give them to another steward, or release them."""
    from pipelines.review import assign

    cfg = _load(config_path, warehouse_url)
    who = None if release else (assignee or by)
    n = _steward_call(lambda: assign(_warehouse(cfg), items, who, by))
    click.echo(f"{n} item(s) " + (f"assigned to {who}" if who else "released"))


@steward.command("comment")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.argument("subject")
@click.argument("text", required=False)
@BY_OPT
def steward_comment(config_path: str, warehouse_url: str | None, subject: str, text: str | None, by: str) -> None:
    """Comment on a review item (its id) or a record (SOURCE:STREAM:KEY); without TEXT, list the comments."""
    from pipelines.review import add_comment, comments

    cfg = _load(config_path, warehouse_url)
    wh = _warehouse(cfg)
    if text:
        _steward_call(lambda: add_comment(wh, subject, by, text))
    for c in comments(wh, [subject]):
        click.echo(f"{c['written_at']}  {c['author']}: {c['body']}")


@steward.command("merge")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("survivor")
@click.argument("other")
@BY_OPT
@REASON_OPT
def steward_merge(config_path: str, warehouse_url: str | None, as_json: bool, survivor: str, other: str, by: str,
                  reason: str | None) -> None:
    """Merge golden customer OTHER into SURVIVOR (SURVIVOR keeps its ID, OTHER is retired)."""
    from pipelines.steward.actions import merge

    cfg = _load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: merge(cfg, _warehouse(cfg), survivor, other, by, reason)), as_json)


@steward.command("unmerge")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("record")
@BY_OPT
@REASON_OPT
def steward_unmerge(config_path: str, warehouse_url: str | None, as_json: bool, record: str, by: str,
                    reason: str | None) -> None:
    """Move a source record (SOURCE:KEY or SOURCE:STREAM:KEY) out into a golden customer of its own."""
    from pipelines.steward.actions import unmerge

    cfg = _load(config_path, warehouse_url)
    rid = _record(cfg, record)
    _action_out(_steward_call(lambda: unmerge(cfg, _warehouse(cfg), rid, by, reason)), as_json)


@steward.command("undo")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("action_id")
@BY_OPT
@REASON_OPT
def steward_undo(config_path: str, warehouse_url: str | None, as_json: bool, action_id: str, by: str,
                 reason: str | None) -> None:
    """Undo a decide, merge or unmerge (ACTION_ID from `hub steward history`)."""
    from pipelines.steward.actions import undo

    cfg = _load(config_path, warehouse_url)
    _action_out(_steward_call(lambda: undo(cfg, _warehouse(cfg), action_id, by, reason)), as_json)


@steward.command("history")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("subject", required=False)
@click.option("--actor", default=None)
@click.option("--action", type=click.Choice(["decide", "merge", "unmerge", "undo"]), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
def steward_history(config_path: str, warehouse_url: str | None, as_json: bool, subject: str | None,
                    actor: str | None, action: str | None, limit: int) -> None:
    """Steward actions, newest first; SUBJECT narrows to a golden ID or a record."""
    from pipelines.steward.audit import history

    cfg = _load(config_path, warehouse_url)
    golden = subject if subject and subject[:1] == "G" and subject[1:].isdigit() else None
    record = _record(cfg, subject) if subject and not golden else None
    data = _steward_call(lambda: history(_warehouse(cfg), golden, record, actor, action, limit))
    if as_json:
        _print_json(data)
        return
    click.echo(f"{data['total']:,} action(s)")
    for a in data["actions"]:
        state = f"  [undone by {a['undone_by']}]" if a["undone_by"] else ""
        click.echo(f"{a['action_id']}  {a['acted_at']}  {a['actor']:<12} {a['action']:<8} "
                   f"{' '.join(a['golden_ids'])}  {', '.join(a['records'])}"
                   + (f"  “{a['reason']}”" if a["reason"] else "") + state)


@steward.command("search")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("text")
@click.option("--limit", type=int, default=20, show_default=True)
def steward_search(config_path: str, warehouse_url: str | None, as_json: bool, text: str, limit: int) -> None:
    """Golden customers by name (as written, in pinyin or by initials), contact, address, tax code (USCC), phone
    or golden ID; similar names too."""
    from pipelines.steward.customers import search_customers

    cfg = _load(config_path, warehouse_url)
    rows = _steward_call(lambda: search_customers(_warehouse(cfg), text, limit))
    if as_json:
        _print_json({"version": 1, "results": rows})
        return
    for r in rows:
        click.echo(f"{r['golden_id']}  {r['name'] or '':<30} {r['uscc'] or '':<20} {r['phone'] or '':<18} "
                   f"{r['city'] or '':<8} {r['source_count']} record(s)  (by {r['matched_on']})")
    if not rows:
        click.echo("no golden customer found")


@steward.command("customer")
@CONFIG_OPT
@WAREHOUSE_OPT
@JSON_OPT
@click.argument("golden_id")
def steward_customer(config_path: str, warehouse_url: str | None, as_json: bool, golden_id: str) -> None:
    """A golden customer: attributes and their sources, records, hierarchy, history."""
    from pipelines.steward.customers import golden_detail

    cfg = _load(config_path, warehouse_url)
    d = _steward_call(lambda: golden_detail(cfg, _warehouse(cfg), golden_id))
    if as_json:
        _print_json(d)
        return
    if d["retired"]:
        click.echo(f"{golden_id} was retired into {d['survivor_id']}")
        return
    click.echo(f"{golden_id}  {d['golden'].get('name')}")
    for a in d["attributes"]:
        if a["value"] is not None:
            click.echo(f"  {a['attribute']:<16} {a['value']!s:<40} from {a['source_record']}")
    click.echo(f"records ({len(d['records'])}):")
    for r in d["records"]:
        click.echo(f"  {r['record_id']:<32} {r['values'].get('name', '')}  ({r['matched_by']})")
    if d["parent"]:
        click.echo(f"branch of {d['parent']['golden_id']} {d['parent']['name']}")
    for b in d["branches"]:
        click.echo(f"branch: {b['golden_id']} {b['name']}")
    for h in d["history"]:
        click.echo(f"history: {history_line(h)} ({h['retired_at']})")


def history_line(h: dict[str, Any]) -> str:
    """One row of `mdm.golden_id_history` for people: a split retires nothing."""
    if h.get("reason") == "split":
        return f"{h['survivor_id']} split: {h.get('split_id')} took some of its records (split)"
    return f"{h['retired_id']} → {h['survivor_id']} ({h['reason']})"


# --- users and the console --------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Console users in the config's `console.users` (argon2 password hashes)."""


@users.command("add")
@CONFIG_OPT
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "steward", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def users_add(config_path: str, name: str, role: str, password_stdin: bool) -> None:
    """Add a user (or change one's role and password) in the config file; prompts for the password."""
    from hub.users import UserError, hash_password, set_user

    _load(config_path)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        new = set_user(config_path, name, role, hash_password(password))
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"{'added' if new else 'updated'} user {name} ({role}) in {config_path}")


@users.command("list")
@CONFIG_OPT
def users_list(config_path: str) -> None:
    """The console users and their roles."""
    cfg = _load(config_path)
    for u in cfg.console.users:
        click.echo(f"{u.name:<24} {u.role}")


@users.command("remove")
@CONFIG_OPT
@click.argument("name")
def users_remove(config_path: str, name: str) -> None:
    """Remove a console user from the config file."""
    from hub.users import UserError, remove_user

    _load(config_path)
    try:
        remove_user(config_path, name)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"removed user {name} from {config_path}")


@main.command("ui")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
def ui(config_path: str, warehouse_url: str | None, host: str, port: int) -> None:
    """The steward console and the match API (POST /api/match) on http://HOST:PORT."""
    from hub.extras import require

    require("console", "hub ui")
    import uvicorn

    from hub.console import create_app

    cfg = _load(config_path, warehouse_url)
    if not cfg.console.users:
        click.echo(f"warning: no console users in {config_path}; add one with `hub users add -c {config_path} "
                   "NAME --role admin`", err=True)
    app = create_app(cfg, _warehouse(cfg))
    app.state.search.warm()  # the customer search's pinyin index, built while the first pages are served
    click.echo(f"hub ui: http://{host}:{port}/ (warehouse {app.state.wh.location})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)



if __name__ == "__main__":  # pragma: no cover
    main()

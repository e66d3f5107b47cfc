"""`hub run`: sync → stage → match → marts → checks, and the summary it prints."""

from __future__ import annotations

import sys
from typing import Any

import click

from core import exit_codes
from hub.cli.common import (
    CONFIG_OPT,
    WAREHOUSE_OPT,
    chosen_sources,
    fail,
    live_progress,
    load,
    open_warehouse,
    setup_logging,
)


@click.command("run")
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
    setup_logging()  # airbyte-cdk took over logging on import
    from warehouse.lock import RunLocked
    from warehouse.spark.session import SparkMissing

    cfg = load(config_path, warehouse_url)
    kind = engine or cfg.engine.kind
    if kind == "spark" and not cfg.engine.location:
        fail(f"{cfg.path}: engine.location: --engine spark needs the lakehouse directory the tables are written to "
             "(engine: {kind: spark, location: DIR})", exit_codes.CONFIG)
    wh = open_warehouse(cfg, create=True)
    click.echo(f"hub run: {cfg.path} → {wh.location}" + (f" (Spark {cfg.engine.master} → {cfg.engine.location})"
                                                         if kind == "spark" else ""), err=True)
    summary: RunSummary
    try:
        if kind == "spark":
            from pipelines.spark_run import run_spark

            summary = run_spark(cfg, wh, chosen_sources(cfg, only) if only else None, progress=live_progress(),
                                rebuild=rebuild, allow_mass_delete=allow_mass_delete)
        else:
            summary = run_all(cfg, wh, chosen_sources(cfg, only) if only else None, progress=live_progress(),
                              rebuild=rebuild, allow_mass_delete=allow_mass_delete)
    except RunLocked as e:
        fail(e, exit_codes.LOCKED)
    except SparkMissing as e:
        fail(e, exit_codes.CONFIG)
    click.echo(format_summary(summary))
    # docs/operations.md "Exit codes": 1 a source (or reference file) failed, 4 a data check failed, 5 a health warning
    sys.exit(exit_codes.of_run(bool(summary.failed_sources or summary.problems), bool(summary.failed_checks),
                               bool(summary.warned_sources)))


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
        if r.kept:
            lines.append(f"    {r.kept}")
    if summary.match:
        m = summary.match
        how = (f"incremental: {m.changed:,} new or changed, {m.deleted:,} deleted, {m.affected:,} re-clustered"
               if m.incremental else "full rebuild")
        lines.append(f"golden customers: {m.golden:,} from {m.records:,} customer records "
                     f"({m.new_ids:,} new IDs, {m.merged_ids:,} merged"
                     + (f", {m.revived_ids:,} revived" if m.revived_ids else "")
                     + f"; {how}; {m.review_items:,} pairs to review)")
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

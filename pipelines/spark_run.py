"""`hub run --engine spark`: sync and stage into the warehouse, then match and build the marts on Spark.

- **Sync and stage** are the DuckDB engine's own steps, unchanged: connectors land raw in the configured warehouse
  (`warehouse.url`), batch by batch with their checkpoints, and staging maps them there, incrementally. The
  warehouse stays the run's transactional state (connector state, watermarks, steward decisions).
- **Export**: every raw and staging table whose version changed since the last export is copied whole to the
  lakehouse (`engine.location`) as Parquet and swapped in.
- **Match** on Spark (`pipelines.spark_match`) and **the marts** by Spark SQL (their `.sql` files through
  `warehouse.spark.dialect.spark_sql`), each table written whole and swapped in.
- The lakehouse's `_hub_state.json`, written last, records the input versions the run built from: a run whose
  inputs did not change rebuilds nothing; a run that crashed before writing it is redone whole by the next, which
  rewrites every table (nothing doubled, nothing lost).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.config import HubConfig
from pipelines.match_outputs import MatchResult
from pipelines.progress import Progress, as_progress
from pipelines.publish import MARTS, mart_sql
from pipelines.run import RunSummary, sync_and_stage
from pipelines.stage import ensure_staging
from warehouse.changes import versions
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse
from warehouse.identifiers import quote
from warehouse.lock import held_by, run_lock
from warehouse.spark.lakehouse import CHECKPOINTS, Lakehouse

log = logging.getLogger("hub.spark.run")

EXPORTED_SCHEMAS = ("raw", "staging")
NOT_EXPORTED = {"staging._changes", "raw._state", "raw._watermarks", "raw._versions", "raw._record_index",
                "raw._seen", "raw._locks"}  # the warehouse's own bookkeeping (connector state may name hosts)


@dataclass
class SparkSummary(RunSummary):
    engine: str = "spark"
    location: str = ""
    exported: list[str] = field(default_factory=list)
    rebuilt: bool = False
    unsupported_marts: dict[str, str] = field(default_factory=dict)  # mart → why Spark SQL could not build it


def warehouse_tables(wh: Warehouse) -> list[str]:
    """`schema.table` of every raw and staging table the lakehouse mirrors."""
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        rows = conn.exec_driver_sql(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('raw', 'staging') "
            "AND table_type = 'BASE TABLE'").fetchall()
    return sorted(f"{s}.{t}" for s, t in rows if f"{s}.{t}" not in NOT_EXPORTED and not t.endswith("__building"))


def export_changed(wh: Warehouse, lake: Lakehouse, state: dict[str, Any],
                   progress: Callable[[str], None]) -> tuple[dict[str, Any], list[str]]:
    """Copy the raw and staging tables whose version differs from `state["versions"]` (or that the lakehouse lacks)
    to the lakehouse; returns the state of what is mirrored now and the tables copied. A raw source table is
    append-only: only its batches after the last one copied are added, as one more file (a full copy when the
    lakehouse holds another number of the earlier rows than the warehouse)."""
    tables = warehouse_tables(wh)
    with wh.begin() as conn:
        now = versions(conn, tables)
        batched = {f"raw.{t}" for (t,) in conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND column_name = '_batch'").fetchall()}
    seen, last = dict(state.get("versions", {})), dict(state.get("raw_batches", {}))
    copied = []
    for name in tables:
        schema, table = name.split(".", 1)
        if seen.get(name) == now[name] and lake.exists(schema, table):
            continue
        if name in batched:
            q = f"{quote(schema)}.{quote(table)}"
            top = int(wh.scalar(f"SELECT COALESCE(MAX(_batch), 0) FROM {q}") or 0)
            done = int(last.get(name, -1))
            same_rows = done >= 0 and lake.exists(schema, table) and top >= done and lake.row_count(
                schema, table) == int(wh.scalar(f"SELECT count(*) FROM {q} WHERE COALESCE(_batch, 0) <= {done}") or 0)
            if same_rows:
                if top > done:
                    lake.append_warehouse_rows(wh, schema, table, f"COALESCE(_batch, 0) > {done}", f"b{done + 1}-{top}")
            else:
                lake.export_warehouse_table(wh, schema, table)
            last[name] = top
        else:
            lake.export_warehouse_table(wh, schema, table)
        copied.append(name)
    if copied:
        progress(f"spark: {len(copied)} warehouse table(s) copied to the lakehouse")
    return {"versions": now, "raw_batches": last}, copied


def run_spark(cfg: HubConfig, wh: Warehouse, sources: list[str] | None = None,
              progress: Callable[[str], None] | Progress | None = None, rebuild: bool = False,
              allow_mass_delete: bool = False) -> SparkSummary:
    """The whole run on the Spark engine; see the module docstring."""
    prog = as_progress(progress, log)
    with run_lock(wh, "hub run", wait=30, keep_waiting=held_by("hub steward")):
        return _run(cfg, wh, sources, prog, rebuild, allow_mass_delete)


def _run(cfg: HubConfig, wh: Warehouse, sources: list[str] | None, progress: Progress, rebuild: bool,
         allow_mass_delete: bool) -> SparkSummary:
    started = time.monotonic()
    assert cfg.engine.location, "engine.location"
    lake = Lakehouse(cfg.engine.location)
    summary = SparkSummary(warehouse=wh.location, location=str(lake.root))
    sync_and_stage(cfg, wh, summary, sources, progress, allow_mass_delete)
    t = time.monotonic()
    state, summary.exported = _export(wh, lake, rebuild, progress)
    exported = state["exported"]
    inputs = exported["versions"]
    summary.phases["export"] = time.monotonic() - t
    if not rebuild and state.get("built_from") == inputs and state.get("marts"):
        progress("spark: no input changed since the last run: nothing to rebuild")
        summary.marts = dict(state["marts"])
        summary.seconds = time.monotonic() - started
        return summary
    summary.rebuilt = True
    decided = int(wh.scalar("SELECT count(*) FROM mdm.decisions WHERE active") or 0)
    if decided:  # README: not on Spark yet
        summary.problems.append(f"{decided:,} steward decision(s) in the warehouse are not applied by the Spark engine "
                                "(it clusters from the model alone; the DuckDB engine applies them)")
    spark = spark_for(cfg, lake)
    t = time.monotonic()
    match = _match(cfg, spark, lake, progress)
    summary.phases["match"] = time.monotonic() - t
    t = time.monotonic()
    summary.marts, summary.unsupported_marts = build_marts(spark, lake, progress)
    summary.problems += [f"marts.{k} not built on Spark: {v}" for k, v in summary.unsupported_marts.items()]
    summary.phases["marts"] = time.monotonic() - t
    lake.reader_catalog()
    lake.clean()  # the run's checkpoints
    lake.save_state({"exported": exported, "built_from": inputs, "matched_from": inputs, "marts": summary.marts,
                     "golden": match.golden, "records": match.records})
    summary.match = _as_match_result(match)
    summary.seconds = time.monotonic() - started
    return summary


def match_step(cfg: HubConfig, wh: Warehouse, spark: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    """The match of a Spark run as a step of its own (Dagster's golden asset): export what changed, then match
    unless the lakehouse's golden records were already built from these inputs. Returns the lakehouse state."""
    assert cfg.engine.location, "engine.location"
    lake = Lakehouse(cfg.engine.location)
    state, _ = _export(wh, lake, False, progress)
    inputs = state["exported"]["versions"]
    if inputs in (state.get("matched_from"), state.get("built_from")) and lake.exists("mdm", "golden_customer"):
        progress("spark: no input changed since the golden records were built: nothing to match")
        return state
    match = _match(cfg, spark, lake, progress)
    state = {**state, "matched_from": inputs, "golden": match.golden, "records": match.records}
    lake.save_state(state)
    return state


def _export(wh: Warehouse, lake: Lakehouse, rebuild: bool, progress: Callable[[str], None]
            ) -> tuple[dict[str, Any], list[str]]:
    """Export what changed (everything with `rebuild`) and record the export in the lakehouse's state, apart from
    `built_from`/`matched_from` (a crash after it still rebuilds what follows); returns that state and the tables
    copied."""
    lake.clean()
    state = lake.state()
    exported, copied = export_changed(wh, lake, {} if rebuild else state.get("exported", {}), progress)
    state = {**state, "exported": exported}
    lake.save_state(state)
    return state, copied


def _match(cfg: HubConfig, spark: Any, lake: Lakehouse, progress: Callable[[str], None]) -> Any:
    """Match on Spark into the lakehouse (`pipelines.spark_match`), readers' catalog updated, checkpoints removed."""
    from pipelines.spark_match import run_spark_match

    lake.register(spark)
    match = run_spark_match(cfg, spark, lake, progress)
    lake.reader_catalog()
    lake.clean()  # the match's checkpoints
    return match


def mart_step(cfg: HubConfig, spark: Any, mart: str, progress: Callable[[str], None]) -> int:
    """One mart built by Spark SQL into the lakehouse as a step of its own (Dagster's mart assets); returns its
    rows. A mart Spark SQL cannot build is an error here (the step fails and says why)."""
    assert cfg.engine.location, "engine.location"
    lake = Lakehouse(cfg.engine.location)
    lake.register(spark)
    counts, failed = build_marts(spark, lake, progress, (mart,))
    if failed:
        raise RuntimeError(f"marts.{mart} not built on Spark: {failed[mart]}")
    lake.reader_catalog()
    state = lake.state()
    lake.save_state({**state, "marts": {**state.get("marts", {}), mart: counts[mart]}})
    return counts[mart]


def spark_for(cfg: HubConfig, lake: Lakehouse) -> Any:
    """The SparkSession of the config, with its checkpoints in the lakehouse (a path every executor sees)."""
    from warehouse.spark.session import spark_session

    spark = spark_session(cfg.engine.master, cfg.engine.conf)
    spark.sparkContext.setCheckpointDir((lake.root / CHECKPOINTS).as_uri())
    return spark


def build_marts(spark: Any, lake: Lakehouse, progress: Callable[[str], None],
                marts: tuple[str, ...] = MARTS) -> tuple[dict[str, int], dict[str, str]]:
    """Every mart by Spark SQL in build order, written to the lakehouse; a mart Spark SQL cannot build (or whose
    inputs it lacks) is reported, not written (its old table, if any, is removed: no stale mart)."""
    from warehouse.spark.dialect import spark_sql

    counts, failed = {}, {}
    for name in marts:
        started = time.monotonic()
        try:
            df = spark.sql(spark_sql(mart_sql(name)))
            lake.write_spark(df, "marts", name)
        except Exception as e:  # Spark's analysis errors name the construct it could not plan
            failed[name] = str(e).strip().splitlines()[0][:300]
            spark.sql(f"DROP TABLE IF EXISTS marts.`{name}`")
            _remove(lake, "marts", name)
            progress(f"spark: marts.{name} not built: {failed[name]}")
            continue
        lake.register_table(spark, "marts", name)
        counts[name] = lake.row_count("marts", name)
        progress(f"spark: built marts.{name}: {counts[name]:,} rows in {time.monotonic() - started:.1f} s")
    return counts, failed


def _remove(lake: Lakehouse, schema: str, table: str) -> None:
    import shutil

    shutil.rmtree(lake.path(schema, table), ignore_errors=True)


def _as_match_result(m: Any) -> MatchResult:
    return MatchResult(records=m.records, golden=m.golden, merged_ids=m.merged_ids, new_ids=m.new_ids,
                       revived_ids=m.revived_ids, stats=m.stats, timings=m.timings)

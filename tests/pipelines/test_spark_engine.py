"""The Spark engine against the DuckDB engine on the whole demo (its seven sources, the API ones from their fakes):
the same clusters, golden IDs, golden records and mart rows; a rerun rebuilds nothing and doubles nothing; a run
killed mid-way and run again gives the same result (the Spark build every test reads is that second run).

Both engines read the same generated sources (150 companies, seed 11, as `demo_project`); each builds its own
warehouse. The Spark side runs in local mode in one SparkSession for the whole test session (`spark` fixture).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from core.config_file import load_config
from pipelines.publish import MARTS
from pipelines.run import run_all
from warehouse.engine import Warehouse

pytest.importorskip("pyspark")

REPO = Path(__file__).resolve().parents[2]
# Contract tables compared row by row (every column but the run's own time stamp).
COMPARED = [("mdm", "xref"), ("mdm", "golden_customer"), ("mdm", "customer_hierarchy"),
            *[("marts", m) for m in MARTS]]
RUN_STAMPS = {"updated_at"}


def spark_config(data_dir: Path, name: str, warehouse: str, lake: str) -> Path:
    """The demo's own config over the generated data, with the Spark engine (small: local[2], a few partitions)."""
    data = yaml.safe_load((REPO / "demo" / "hub.yaml").read_text(encoding="utf-8"))
    data["warehouse"]["url"] = f"duckdb:///{warehouse}"
    data["sources"]["fxiaoke"]["config"].update(calls_per_20s=100_000, logins_per_minute=1_000)
    data["sources"]["dingtalk"]["config"].update(qps_per_api=1_000)
    # (both engines read this config: 20,000 random pairs for the starting u, not 300,000, saves Spark's match 6 of its
    # 54 s on the demo's 598 records (train 12.6 -> 6.5 s), and the engines still have to agree on the model)
    data["mdm"]["customer"]["u_pairs"] = 20_000
    data["engine"] = {"kind": "spark", "master": "local[2]", "location": lake,
                      "conf": {"spark.sql.shuffle.partitions": 2, "spark.driver.memory": "1g"}}
    path = data_dir.parent / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")  # (make test runs a module's tests on one worker: --dist loadscope)
def built(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[dict[str, Any]]:
    """The demo built by both engines: {"config", "duckdb": warehouse file, "lake": lakehouse dir, "summary"}.

    The Spark side is built the hard way, which costs one Spark run less than a clean build plus a crash test:
    a `hub run --engine spark` process is killed (driver and JVM) half-way through matching, then the run is done
    again in this process. Every test below reads that second run's result.
    """
    from connectors.fakes.serve import demo_env, start_all, stop_all
    from demo.generate import generate, write_demo
    from demo.targets import write_reference
    from pipelines.spark_run import run_spark

    root = tmp_path_factory.mktemp("spark_demo")
    write_demo(root / "data", generate(n_entities=150, seed=11))
    write_reference(root / "data", n_entities=150, seed=11)
    servers = start_all(entities=150, seed=11)
    try:
        with pytest.MonkeyPatch.context() as mp:
            env = demo_env({vendor: server.url for vendor, server in servers.items()})
            for name, value in env.items():
                mp.setenv(name, value)
            config = spark_config(root / "data", "hub.yaml", "spark_w.duckdb", "lake")
            duck_cfg = load_config(config, warehouse_url=f"duckdb:///{root / 'duck.duckdb'}")
            duck = Warehouse.from_config(duck_cfg.warehouse)
            first = run_all(duck_cfg, duck)
            duck.dispose()
            assert not first.failed_sources and not first.problems
            kill_mid_way(config, env, root / "lake")
            cfg = load_config(config)
            wh = Warehouse.from_config(cfg.warehouse)
            summary = run_spark(cfg, wh)
            wh.dispose()
            yield {"config": config, "duckdb": root / "duck.duckdb", "lake": root / "lake", "summary": summary,
                   "env": env, "root": root}
    finally:
        stop_all(servers)


def kill_mid_way(config: Path, env: dict[str, str], lake: Path) -> None:
    """Start `hub run --engine spark` in its own process group and SIGKILL it (the driver and its JVM) once
    matching has written its first table; nothing of the marts exists yet."""
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "-c", str(config), "--engine", "spark"],
                            cwd=REPO, env={**os.environ, **env, "HUB_SPARK_LOG_LEVEL": "ERROR"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = lake / "mdm" / "customer_records"  # matching is half done when it appears
    deadline = time.monotonic() + 600
    while not target.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (lake / "marts").exists()  # killed before any mart


def _connect(duck: Path, lake: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"ATTACH '{duck}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{lake / 'lakehouse.duckdb'}' AS s (READ_ONLY)")
    return con


def _kind(duckdb_type: str) -> str:
    """A column type as a warehouse kind: integer widths and decimal precisions differ between engines."""
    t = duckdb_type.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        return "integer"
    if t.startswith("DECIMAL"):
        return "decimal," + t.split(",")[-1].rstrip(")")  # the scale: cents stay cents
    return t


def differences(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[int, int, int]:
    """(rows in DuckDB's table, rows only DuckDB has, rows only Spark has), as multisets."""
    cols = [r[0] for r in con.execute(f"DESCRIBE d.{schema}.{table}").fetchall() if r[0] not in RUN_STAMPS]
    sel = ", ".join(f'"{c}"' for c in cols)
    n = con.execute(f"SELECT count(*) FROM d.{schema}.{table}").fetchone()[0]
    only_d = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM d.{schema}.{table} EXCEPT ALL "
                         f"SELECT {sel} FROM s.{schema}.{table})").fetchone()[0]
    only_s = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM s.{schema}.{table} EXCEPT ALL "
                         f"SELECT {sel} FROM d.{schema}.{table})").fetchone()[0]
    return n, only_d, only_s


def partition(con: duckdb.DuckDBPyConnection, db: str) -> set[frozenset[str]]:
    """The clusters of an xref as sets of source records."""
    rows = con.execute(f"SELECT golden_id, list(source_name || ':' || stream || ':' || source_key) FROM {db}.mdm.xref "
                       "GROUP BY golden_id").fetchall()
    return {frozenset(r[1]) for r in rows}


def test_spark_engine_after_a_killed_run_equals_duckdb_engine(built: dict[str, Any]) -> None:
    summary = built["summary"]
    assert summary.rebuilt and summary.unsupported_marts == {} and not summary.problems
    assert not list(built["lake"].glob("*/_building/*"))  # what the killed writes left was cleaned up
    con = _connect(built["duckdb"], built["lake"])
    # the same clusters (as partitions of the source records) ...
    clusters = partition(con, "d")
    assert partition(con, "s") == clusters
    assert len(clusters) == summary.match.golden
    assert any(len(c) > 2 for c in clusters)  # records of several systems were joined, not left alone
    # ... and every contract table with the same columns, kinds and rows (golden IDs, survivors, marts)
    for schema, table in COMPARED:
        d = [(r[0], _kind(r[1])) for r in con.execute(f"DESCRIBE d.{schema}.{table}").fetchall()]
        s = [(r[0], _kind(r[1])) for r in con.execute(f"DESCRIBE s.{schema}.{table}").fetchall()]
        assert s == d, f"{schema}.{table}: columns or kinds differ"
        n, only_duckdb, only_spark = differences(con, schema, table)
        assert (only_duckdb, only_spark) == (0, 0), f"{schema}.{table}: {n} rows, {only_duckdb} only in DuckDB's, " \
                                                    f"{only_spark} only in Spark's"
    # the facts of every system reached the marts on both (a mart that is empty on both proves little)
    for mart in ("fct_sales_orders", "fct_opportunities", "fct_leads", "win_loss", "customer_360"):
        assert con.execute(f"SELECT count(*) FROM s.marts.{mart}").fetchone()[0] > 0, mart


def _files(lake: Path) -> dict[str, float]:
    return {str(p.relative_to(lake)): p.stat().st_mtime for p in lake.rglob("*.parquet")}


def test_a_rerun_rebuilds_nothing_and_a_record_deleted_and_back_takes_its_golden_id_again(
        built: dict[str, Any], spark: Any) -> None:
    """A rerun with nothing changed writes no table. Then matching again (as the Spark engine keeps a deleted
    record's golden ID, as the DuckDB engine does: `mdm.xref_deleted`): a one-record customer gone from staging
    retires its ID (`deleted`); back, it takes the ID again (`revived`), and every golden ID is DuckDB's."""
    from pipelines.spark_match import run_spark_match
    from pipelines.spark_run import run_spark, spark_for
    from warehouse.spark.lakehouse import Lakehouse

    lake = built["lake"]
    before = _files(lake)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in built["env"].items():
            mp.setenv(name, value)
        cfg = load_config(built["config"])
        wh = Warehouse.from_config(cfg.warehouse)
        again = run_spark(cfg, wh)
        wh.dispose()
    assert not again.rebuilt and again.marts == built["summary"].marts
    assert _files(lake) == before  # not one table written again
    session = spark_for(cfg, Lakehouse(lake))
    house = Lakehouse(lake)
    house.register(session)
    con = _connect(built["duckdb"], lake)
    source, stream, key, golden_id = con.execute(
        "SELECT source_name, stream, source_key, golden_id FROM s.mdm.xref WHERE golden_id IN (SELECT golden_id "
        "FROM s.mdm.xref GROUP BY 1 HAVING count(*) = 1) ORDER BY 1, 2, 3 LIMIT 1").fetchone()
    con.close()
    staged = session.table("staging.customer").localCheckpoint(eager=True)
    gone = (staged["source_name"] == source) & (staged["stream"] == stream) & (staged["source_key"] == key)
    house.write_spark(staged.where(~gone), "staging", "customer")
    house.register_table(session, "staging", "customer")
    result = run_spark_match(cfg, session, house)
    assert (result.new_ids, result.revived_ids, result.golden) == (0, 0, built["summary"].match.golden - 1)
    con = _connect(built["duckdb"], lake)
    assert con.execute("SELECT count(*) FROM s.mdm.xref WHERE golden_id = ?", [golden_id]).fetchone()[0] == 0
    assert con.execute("SELECT source_key, golden_id FROM s.mdm.xref_deleted").fetchall() == [(key, golden_id)]
    assert con.execute("SELECT retired_id, survivor_id, reason FROM s.mdm.golden_id_history").fetchall() == [
        (golden_id, None, "deleted")]
    con.close()
    house.write_spark(staged, "staging", "customer")  # back
    house.register_table(session, "staging", "customer")
    result = run_spark_match(cfg, session, house)
    assert (result.new_ids, result.revived_ids, result.merged_ids, result.golden) == (
        0, 1, 0, built["summary"].match.golden)
    con = _connect(built["duckdb"], lake)
    for schema, table in COMPARED[:3]:  # every golden ID as DuckDB's run gave it, nothing doubled
        assert differences(con, schema, table)[1:] == (0, 0), f"{schema}.{table} after the record came back"
    assert con.execute("SELECT count(*) FROM s.mdm.xref_deleted").fetchone()[0] == 0
    assert con.execute("SELECT retired_id, survivor_id, reason FROM s.mdm.golden_id_history "
                       "ORDER BY retired_at, reason").fetchall() == [(golden_id, None, "deleted"),
                                                                     (None, golden_id, "revived")]


def test_dagster_materializes_the_spark_graph(built: dict[str, Any], spark: Any) -> None:
    """With `engine: {kind: spark}` the code location has the same asset keys, the golden records and marts built on
    Spark with the `spark` resource: nothing new to match after the run, two marts rebuilt equal DuckDB's."""
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from dagster_project.keys import GOLDEN_KEY, mart_key

    lake = built["lake"]
    before = _files(lake)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in built["env"].items():
            mp.setenv(name, value)
        defs = build_definitions(built["config"])
        keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
        assert {"mdm/customer/golden", "marts/dim_customer", "marts/customer_360"} <= keys
        assert not any(k.startswith("marts/opportunity_scores") for k in keys)  # predictions: DuckDB engine only
        assert all(defs.resolve_job_def(j.name) for j in defs.jobs or [])  # every job's selection resolves
        wanted = [GOLDEN_KEY, mart_key("dim_customer"), mart_key("customer_360")]
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(asset_selection=wanted)
    assert result.success
    golden = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                  if e.materialization.asset_key == GOLDEN_KEY)
    assert golden["golden"] == dg.IntMetadataValue(built["summary"].match.golden)
    after = _files(lake)
    # matching found nothing new (its tables untouched); the two marts were written again, and equal DuckDB's
    assert {f: t for f, t in after.items() if f.startswith("mdm/")} == \
        {f: t for f, t in before.items() if f.startswith("mdm/")}
    assert all(after.get(f) != t for f, t in before.items() if f.startswith(("marts/dim_customer/",
                                                                             "marts/customer_360/")))
    con = _connect(built["duckdb"], lake)
    for table in ("dim_customer", "customer_360"):
        assert differences(con, "marts", table)[1:] == (0, 0), table


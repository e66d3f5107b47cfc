"""The Parquet lakehouse of the Spark engine: tables swapped in whole, raw tables copied by their new batches only,
the copy redone whole when the two sides disagree, and a DuckDB catalog of views that reads it. No Spark needed."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.spark_run import export_changed
from warehouse.changes import bump
from warehouse.engine import Warehouse
from warehouse.raw import RawStore
from warehouse.spark.lakehouse import Lakehouse


def _land(wh: Warehouse, batch: int, keys: list[str]) -> None:
    with wh.begin() as conn:
        for k in keys:
            conn.exec_driver_sql(f"INSERT INTO raw.crm__customers VALUES ('{k}', {batch}, '{{\"k\": \"{k}\"}}')")
        bump(conn, "raw.crm__customers")


def _rows(lake: Lakehouse, table: str = "crm__customers") -> list[tuple]:
    return sorted(lake.read_duckdb("raw", table).fetchall())


def test_raw_tables_are_copied_by_their_new_batches_and_whole_when_the_sides_disagree(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with wh.begin() as conn:
        RawStore(wh).ensure(conn)
        conn.exec_driver_sql("CREATE TABLE raw.crm__customers (_key VARCHAR, _batch BIGINT, _data VARCHAR)")
    _land(wh, 1, ["a", "b"])
    lake = Lakehouse(tmp_path / "lake")
    state, copied = export_changed(wh, lake, {}, lambda _m: None)
    assert "raw.crm__customers" in copied and state["raw_batches"]["raw.crm__customers"] == 1
    assert [r[0] for r in _rows(lake)] == ["a", "b"]
    # nothing changed: nothing copied
    assert export_changed(wh, lake, state, lambda _m: None)[1] == []
    # batches 2 and 3 land: one more file with their rows only, the first file untouched
    first = {p.name: p.stat().st_mtime_ns for p in lake.path("raw", "crm__customers").glob("*.parquet")}
    _land(wh, 2, ["c"])
    _land(wh, 3, ["a"])  # a new version of a: raw keeps both
    state, copied = export_changed(wh, lake, state, lambda _m: None)
    files = {p.name: p.stat().st_mtime_ns for p in lake.path("raw", "crm__customers").glob("*.parquet")}
    assert {k: v for k, v in files.items() if k in first} == first and set(files) - set(first) == {"part-b2-3.parquet"}
    assert _rows(lake) == sorted(tuple(r.values()) for r in wh.read_arrow("SELECT * FROM raw.crm__customers")
                                 .to_pylist())
    # the lakehouse lost a file (or the warehouse rows): the next export copies the table whole again
    (lake.path("raw", "crm__customers") / "part-b2-3.parquet").unlink()
    _land(wh, 4, ["d"])
    export_changed(wh, lake, state, lambda _m: None)
    assert [r[0] for r in _rows(lake)] == ["a", "a", "b", "c", "d"]
    assert len(list(lake.path("raw", "crm__customers").glob("*.parquet"))) == 1


def test_a_swap_replaces_a_table_whole_and_the_reader_catalog_reads_every_table(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS staging")
        conn.exec_driver_sql("CREATE TABLE staging.customer AS SELECT 1 AS n UNION ALL SELECT 2")
    lake = Lakehouse(tmp_path / "lake")
    lake.export_warehouse_table(wh, "staging", "customer")
    (lake.root / "staging" / "_building" / "customer-crashed").mkdir(parents=True)  # a crashed write's leftovers
    with wh.begin() as conn:
        conn.exec_driver_sql("DELETE FROM staging.customer WHERE n = 1")
    lake.export_warehouse_table(wh, "staging", "customer")
    assert lake.tables("staging") == ["customer"] and lake.row_count("staging", "customer") == 1
    lake.clean()
    assert not (lake.root / "staging" / "_building").exists()
    catalog = lake.reader_catalog()
    con = duckdb.connect(str(catalog), read_only=True)
    assert con.execute("SELECT n FROM staging.customer").fetchall() == [(2,)]

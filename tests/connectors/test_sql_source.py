"""The `sql` airbyte source: spec, check, discover, read, incremental state."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder

from connectors.sql import SqlSource

LOG = logging.getLogger("test")


def make_db(path: Path, n: int = 25) -> str:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t_customer (cust_id INTEGER PRIMARY KEY, cust_name TEXT, amount NUMERIC, "
                "updated_at TEXT)")
    con.executemany("INSERT INTO t_customer VALUES (?, ?, ?, ?)",
                    [(i, f"客户{i}", i * 1.5, f"2024-01-{(i % 9) + 1:02d} 10:00:00") for i in range(1, n + 1)])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def config(url: str, **stream: Any) -> dict[str, Any]:
    s = {"name": "customers", "table": "t_customer", "primary_key": "cust_id", **stream}
    return {"url": url, "batch_size": 10, "streams": [s]}


def catalog(mode: SyncMode = SyncMode.incremental) -> Any:
    return CatalogBuilder().with_stream(
        ConfiguredAirbyteStreamBuilder().with_name("customers").with_sync_mode(mode)).build()


def test_spec_marks_the_url_secret() -> None:
    spec = SqlSource().spec(LOG).connectionSpecification
    assert spec["properties"]["url"]["airbyte_secret"] is True
    assert spec["additionalProperties"] is False


def test_check_succeeds_on_a_table_and_fails_with_the_database_message(tmp_path: Path) -> None:
    url = make_db(tmp_path / "crm.sqlite")
    assert SqlSource().check(LOG, config(url)).status.name == "SUCCEEDED"
    bad = SqlSource().check(LOG, config(url, table="no_such_table"))
    assert bad.status.name == "FAILED"
    assert "no such table: no_such_table" in bad.message


def test_discover_lists_columns_and_key(tmp_path: Path) -> None:
    url = make_db(tmp_path / "crm.sqlite")
    cat = SqlSource().discover(LOG, config(url, cursor_field="updated_at"))
    (stream,) = cat.streams
    assert stream.name == "customers"
    assert list(stream.json_schema["properties"]) == ["cust_id", "cust_name", "amount", "updated_at"]
    assert stream.json_schema["properties"]["cust_id"]["type"] == ["null", "integer"]
    assert stream.source_defined_primary_key == [["cust_id"]]
    assert SyncMode.incremental in stream.supported_sync_modes


def test_given_a_cursor_when_read_twice_then_the_second_read_only_gets_changed_rows(tmp_path: Path) -> None:
    db = tmp_path / "crm.sqlite"
    url = make_db(db)
    conf = config(url, cursor_field="updated_at")
    first = read(SqlSource(), conf, catalog())
    assert len(first.records) == 25
    state = first.most_recent_state.stream_state.__dict__
    assert state == {"updated_at": "2024-01-09 10:00:00"}
    # Checkpoints every batch of 10, plus the final one.
    assert len(first.state_messages) >= 3
    con = sqlite3.connect(db)
    con.execute("UPDATE t_customer SET cust_name = '改名', updated_at = '2024-02-01 00:00:00' WHERE cust_id = 3")
    con.commit()
    con.close()
    second = read(SqlSource(), conf, catalog(),
                  StateBuilder().with_stream_state("customers", state).build())
    got = {r.record.data["cust_id"]: r.record.data["cust_name"] for r in second.records}
    # >= re-reads the rows at the saved cursor (ids 8, 17) and finds the changed one.
    assert got == {3: "改名", 8: "客户8", 17: "客户17"}
    assert second.most_recent_state.stream_state.__dict__ == {"updated_at": "2024-02-01 00:00:00"}


def test_given_no_cursor_then_the_whole_table_is_read_with_exact_values(tmp_path: Path) -> None:
    url = make_db(tmp_path / "crm.sqlite", n=3)
    out = read(SqlSource(), config(url), catalog(SyncMode.full_refresh))
    assert out.records[0].record.data == {"cust_id": 1, "cust_name": "客户1", "amount": 1.5,
                                                      "updated_at": "2024-01-02 10:00:00"}
    assert len(out.records) == 3


def test_a_query_stream_reads_the_query(tmp_path: Path) -> None:
    url = make_db(tmp_path / "crm.sqlite")
    conf = {"url": url, "streams": [{"name": "customers", "query": "SELECT cust_id, cust_name FROM t_customer "
                                     "WHERE cust_id <= 4", "primary_key": "cust_id"}]}
    out = read(SqlSource(), conf, catalog(SyncMode.full_refresh))
    assert sorted(r.record.data["cust_id"] for r in out.records) == [1, 2, 3, 4]


def test_an_unreachable_database_fails_with_a_clear_message(tmp_path: Path) -> None:
    conf = config(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}")
    status = SqlSource().check(LOG, conf)
    assert status.status.name == "FAILED"
    assert "unable to open database file" in status.message


def test_a_postgresql_table_is_read_whole_through_its_server_side_cursor(tmp_path: Path, pg_url: str) -> None:
    """SQLAlchemy reads rows ahead of a server-side cursor: none of them may be lost (the first row was)."""
    from core.config import HubConfig
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    crm = sa.create_engine(pg_url)
    with crm.begin() as c:
        c.exec_driver_sql('CREATE TABLE "Customers" (id text PRIMARY KEY, name text)')
        c.exec_driver_sql("""INSERT INTO "Customers" SELECT 'C' || i, '客户' || i FROM generate_series(1, 7) i""")
    crm.dispose()
    cfg = HubConfig.model_validate({"sources": {"crm": {"connector": "sql", "config": {"url": pg_url}, "streams": {
        "customers": {"table": "Customers", "primary_key": "id"}}}}})
    for batch_size in (2, 100):
        wh = Warehouse(f"duckdb:///{tmp_path / f'w{batch_size}.duckdb'}")
        r = sync_source(cfg, wh, "crm", batch_size=batch_size)
        assert (r.status, r.stats.read, r.stats.loaded) == ("succeeded", 7, 7), r.error
        keys = sorted(wh.read_frame("SELECT _key FROM raw.crm__customers")["_key"])
        assert keys == sorted(f"C{i}" for i in range(1, 8))
        wh.dispose()

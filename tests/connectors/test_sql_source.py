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


TYPED_ROWS = """
(1, 1, 9007199254740993, 1.1, 0.1, '', 'a', 'ab', true, '2024-02-29', '2024-06-01 10:00:00', 12.5, 1.5),
(2, -2, NULL, NULL, 'NaN', NULL, NULL, NULL, false, NULL, '2024-06-01 10:00:00.123456', 3.25, NULL),
(3, NULL, 0, -0.5, 'Infinity', E'\\\\N', 'x,"y"', NULL, NULL, '0001-01-01', NULL, NULL, 0),
(4, 4, -1, 3.4e38, '-Infinity', E'line 1\\nline 2', '中文 客户', '中文', true, '2024-01-01', '2024-01-02 03:04:05',
    -0.0000001, -7.25),
(5, 5, 5, 0, 1e300, ' spaced ', '\\"', ' ', false, '1999-12-31', '2024-01-02 03:04:05', 100.000, 1),
(6, 6, 6, 1, 2, 'NaN', '', 'z', true, '2000-01-01', '2000-01-01 00:00:00', 'NaN', 2),
(7, 7, 7, 1, 2, 'x', 'y', 'z', true, '2000-01-01', '2000-01-01 00:00:00',
    123456789012345678901234567890123456789012.5, 3)
"""


def test_a_postgresql_stream_is_read_by_copy_exactly_as_through_the_drivers_cursor(pg_url: str) -> None:
    """A stream whose columns all have types COPY reads exactly (numbers, texts, dates, timestamps, booleans) is read
    by COPY; the same rows with one more column of another type (a UUID) through the driver's cursor. Batch by batch
    the two give the same Arrow types (a numeric's scale is its batch's widest, as the driver's Decimals make it) and
    the same raw JSON and hashes: NULL against empty and `\\N` texts, quotes, commas, new lines, NaN and infinities,
    integers beyond 2^53, numerics wider than 38 digits and NaN numerics; a literal `%` in the query, read with and
    without the cursor's parameter."""
    from connectors.sql.source import SqlStream
    from warehouse.raw import shape_batch

    crm = sa.create_engine(pg_url)
    with crm.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (id int4 PRIMARY KEY, small int2, big int8, f4 float4, f8 float8, tx text, "
                          "vc varchar(20), ch char(4), b boolean, d date, ts timestamp, n numeric, n2 numeric(12, 2))")
        c.exec_driver_sql(f"INSERT INTO t VALUES {TYPED_ROWS}")
    crm.dispose()
    conf = {"url": pg_url, "batch_size": 3, "streams": [
        {"name": "copy", "query": "SELECT t.*, '100%' AS pct FROM t", "primary_key": "id", "cursor_field": "ts"},
        {"name": "cursor", "query": "SELECT t.*, '100%' AS pct, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid AS u "
                                    "FROM t", "primary_key": "id", "cursor_field": "ts"}]}
    by_copy, by_cursor = SqlSource().streams(conf)
    assert isinstance(by_copy, SqlStream) and isinstance(by_cursor, SqlStream)
    for state in ({}, {"ts": "2024-01-02 03:04:05"}):  # whole, then from a saved cursor (a COPY with a parameter)
        copied = list(by_copy.read_batches(SyncMode.incremental, state))
        fetched = list(by_cursor.read_batches(SyncMode.incremental, state))
        assert (by_copy.transfer, by_cursor.transfer) == ("copy", "cursor")
        assert [b.table.num_rows for b in copied] == [b.table.num_rows for b in fetched] == (
            [3, 3, 1] if not state else [3, 1])
        assert [b.state for b in copied] == [b.state for b in fetched]
        for a, b in zip(copied, fetched, strict=True):
            theirs = b.table.drop_columns(["u"])
            assert a.table.schema == theirs.schema
            assert shape_batch(a.table, ["id"], a.first_row).equals(shape_batch(theirs, ["id"], b.first_row))
    first = shape_batch(copied[0].table, ["id"], 0).column("_data").to_pylist()
    assert '"n":"-1E-7"' in first[0] and '"n2":"-7.25"' in first[0]  # (row 4: the first of the cursor's read)
    assert '"tx":"line 1\\nline 2"' in first[0]
    assert copied[0].table.column("pct").to_pylist() == ["100%"] * 3  # (a literal `%`, with and without parameters)


def test_a_postgresql_copy_that_fails_names_the_stream_and_the_database(pg_url: str) -> None:
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    conf = {"url": pg_url, "batch_size": 3, "streams": [
        {"name": "bad", "query": "SELECT 1 / (3 - i) AS x FROM generate_series(1, 5) i"}]}
    (stream,) = SqlSource().streams(conf)
    try:
        list(stream.read_batches(SyncMode.full_refresh, {}))
    except AirbyteTracedException as e:
        assert e.message.startswith("stream bad: database postgresql+psycopg://") and "division by zero" in e.message
    else:
        raise AssertionError("a failing COPY must fail the stream")


def test_a_postgresql_stream_with_a_timestamp_cursor_syncs_again_from_its_saved_cursor(tmp_path: Path,
                                                                                      pg_url: str) -> None:
    """The saved cursor is JSON (a timestamp is a text): typed from the Python value it was cast `::VARCHAR`, and
    the second sync of every incremental PostgreSQL stream with a timestamp cursor failed. Both transfers: COPY,
    and the driver's cursor (a JSON column)."""
    from core.config import HubConfig
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    crm = sa.create_engine(pg_url)
    with crm.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (id int4 PRIMARY KEY, name text, doc jsonb, changed timestamp)")
        c.exec_driver_sql("INSERT INTO t SELECT i, '客户' || i, '{\"a\": 1}', timestamp '2024-06-01' + i * interval "
                          "'1 hour' FROM generate_series(1, 6) i")
    streams = {"plain": {"query": "SELECT id, name, changed FROM t", "primary_key": "id", "cursor_field": "changed"},
               "with_json": {"table": "t", "primary_key": "id", "cursor_field": "changed"}}
    cfg = HubConfig.model_validate({"sources": {"crm": {"connector": "sql", "config": {"url": pg_url},
                                                        "streams": streams}}})
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    first = sync_source(cfg, wh, "crm")
    assert first.status == "succeeded" and {s: r.stats.read for s, r in first.streams.items()} == {
        "plain": 6, "with_json": 6}
    with crm.begin() as c:
        c.exec_driver_sql("UPDATE t SET name = '新名', changed = timestamp '2024-06-02' WHERE id = 2")
    crm.dispose()
    second = sync_source(cfg, wh, "crm")
    assert second.status == "succeeded", second.error
    # from the saved cursor (`>=`: the last row again, unchanged) and the changed row
    assert {s: (r.stats.read, r.stats.loaded) for s, r in second.streams.items()} == {
        "plain": (2, 1), "with_json": (2, 1)}
    assert wh.read_frame("SELECT count(*) AS n FROM raw.crm__plain WHERE _data LIKE '%新名%'")["n"].iloc[0] == 1
    wh.dispose()


def test_a_postgresql_copy_larger_than_the_readers_blocks_reads_every_row_once(pg_url: str) -> None:
    """Over 8 MB of rows (several of Arrow's read blocks; rows cut at every block's edge, with quoted new lines):
    COPY gives the rows the driver's cursor gives, in the same batches."""
    from warehouse.raw import shape_batch

    crm = sa.create_engine(pg_url)
    with crm.begin() as c:
        c.exec_driver_sql("CREATE TABLE big AS SELECT i AS id, repeat(md5(i::text), 12 + mod(i, 7)) || E'\\n\"' "
                          "|| i AS body, mod(i, 1000) / 7.0 AS amount FROM generate_series(1, 24000) i")
    crm.dispose()
    conf = {"url": pg_url, "batch_size": 7000, "streams": [
        {"name": "copy", "query": "SELECT * FROM big ORDER BY id", "primary_key": "id"},
        {"name": "cursor", "query": "SELECT big.*, NULL::uuid AS u FROM big ORDER BY id", "primary_key": "id"}]}
    by_copy, by_cursor = SqlSource().streams(conf)
    copied = list(by_copy.read_batches(SyncMode.full_refresh, {}))
    fetched = list(by_cursor.read_batches(SyncMode.full_refresh, {}))
    assert (by_copy.transfer, by_cursor.transfer) == ("copy", "cursor")
    assert sum(b.table.column("body").nbytes for b in copied) > 9 * 2**20
    assert [b.table.num_rows for b in copied] == [b.table.num_rows for b in fetched] == [7000, 7000, 7000, 3000]
    for a, b in zip(copied, fetched, strict=True):
        assert shape_batch(a.table, ["id"], a.first_row).equals(
            shape_batch(b.table.drop_columns(["u"]), ["id"], b.first_row))


def test_a_postgresql_copy_stopped_after_a_batch_resumes_from_its_checkpoint_with_nothing_lost_or_doubled(
        tmp_path: Path, pg_url: str) -> None:
    """A sync by COPY stopped after its first batch has committed that batch and its cursor; the next sync reads
    from that cursor on (`>=`: the batch's last row again, unchanged, not landed twice)."""
    import json

    from core.config import HubConfig
    from pipelines.progress import Progress
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    crm = sa.create_engine(pg_url)
    with crm.begin() as c:
        c.exec_driver_sql("CREATE TABLE t AS SELECT i AS id, '客户' || i AS name, timestamp '2024-06-01' + i * "
                          "interval '1 minute' AS changed FROM generate_series(1, 7) i")
    crm.dispose()
    cfg = HubConfig.model_validate({"sources": {"crm": {"connector": "sql", "config": {"url": pg_url}, "streams": {
        "customers": {"table": "t", "primary_key": "id", "cursor_field": "changed"}}}}})
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")

    def stop(line: str) -> None:  # the first progress line comes after the first batch of 3
        raise RuntimeError("stopped")

    r = sync_source(cfg, wh, "crm", batch_size=3, progress=Progress(stop, interval=0))
    assert (r.status, r.stats.loaded) == ("failed", 3)
    state = json.loads(wh.scalar("SELECT state FROM raw._state WHERE stream = 'customers'"))
    assert state == {"changed": "2024-06-01T00:03:00"}
    r = sync_source(cfg, wh, "crm", batch_size=3)
    assert (r.status, r.stats.read, r.stats.loaded) == ("succeeded", 5, 4)  # rows 3..7: row 3 again, unchanged
    keys = wh.read_frame("SELECT _key FROM raw.crm__customers ORDER BY CAST(_key AS INTEGER)")["_key"].tolist()
    assert keys == [str(i) for i in range(1, 8)]
    wh.dispose()

"""The warehouse contract, the same on DuckDB and on PostgreSQL: raw landing, state, quarantine, swaps."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from warehouse.engine import Warehouse
from warehouse.raw import RawStore, raw_table

PK = [["id"]]


def rows(wh: Warehouse, sql: str) -> list[tuple]:
    with wh.begin() as c:
        return [tuple(r) for r in c.exec_driver_sql(sql).fetchall()]


def test_schemas_and_control_tables_exist(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with wh.begin() as c:
        RawStore(wh).ensure(c)
        for schema in ("raw", "staging", "mdm", "marts"):
            assert c.exec_driver_sql(
                f"SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{schema}'").scalar() == 1
        for t in ("_syncs", "_state", "_record_index", "_quarantine", "_schema"):
            assert wh.table_exists(c, "raw", t)


def test_given_records_when_loaded_twice_then_raw_holds_each_version_once(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s1 = store.start_sync("crm")
    recs = [{"id": 1, "name": "甲公司"}, {"id": 2, "name": "乙公司"}, {"id": 3, "name": None}]
    st = store.load("crm", "customers", s1, recs, PK, 0, state={"cursor": "2024-01-01"})
    assert (st.read, st.loaded, st.unchanged) == (3, 3, 0)
    # Same records again (a re-read): nothing appended.
    s2 = store.start_sync("crm")
    st = store.load("crm", "customers", s2, recs, PK, 0, state={"cursor": "2024-01-02"})
    assert (st.loaded, st.unchanged) == (0, 3)
    # One record changed, one new: two rows appended, the old version stays (append-only).
    s3 = store.start_sync("crm")
    st = store.load("crm", "customers", s3, [{"id": 2, "name": "乙公司（新）"}, {"id": 4, "name": "丁"}], PK, 0)
    assert st.loaded == 2
    table = raw_table("crm", "customers")
    got = rows(wh, f"SELECT _key, _source, _stream, _sync_id FROM raw.{table} ORDER BY _key, _sync_id")
    assert [g[0] for g in got] == ["1", "2", "2", "3", "4"]
    assert {g[1] for g in got} == {"crm"} and {g[2] for g in got} == {"customers"}
    data = rows(wh, f"SELECT _data FROM raw.{table} WHERE _key = '2' ORDER BY _sync_id DESC")
    assert json.loads(data[0][0])["name"] == "乙公司（新）"
    assert store.get_state("crm") == {"customers": {"cursor": "2024-01-02"}}


def test_given_a_key_twice_in_one_sync_then_the_first_lands_and_the_other_is_quarantined(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    sid = store.start_sync("s")
    st = store.load("s", "t", sid, [{"id": 1, "v": "a"}, {"id": 1, "v": "b"}, {"id": 2, "v": "x"},
                                    {"id": 2, "v": "x"}], PK, 0)
    assert (st.loaded, st.quarantined) == (2, 1)  # the identical repeat of id 2 is simply dropped
    # In a later batch of the same sync: still a duplicate.
    st = store.load("s", "t", sid, [{"id": 1, "v": "c"}], PK, 4)
    assert (st.loaded, st.quarantined) == (0, 1)
    assert json.loads(rows(wh, "SELECT _data FROM raw.s__t WHERE _key = '1'")[0][0])["v"] == "a"
    q = rows(wh, "SELECT record_key, reason, record FROM raw._quarantine ORDER BY quarantined_at")
    assert [r[0] for r in q] == ["1", "1"]
    assert "duplicate primary key '1'" in q[0][1]
    assert {json.loads(r[2])["v"] for r in q} == {"b", "c"}
    # The next sync may change the record: that is an update, not a duplicate.
    st = store.load("s", "t", store.start_sync("s"), [{"id": 1, "v": "d"}], PK, 0)
    assert (st.loaded, st.quarantined) == (1, 0)


def test_given_a_record_without_its_key_then_it_is_quarantined_with_the_reason(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    sid = store.start_sync("s")
    st = store.load("s", "t", sid, [{"id": None, "v": "x"}, {"id": " ", "v": "y"}, {"id": 7, "v": "z"}], PK, 0)
    assert (st.loaded, st.quarantined) == (1, 2)
    q = rows(wh, "SELECT source, stream, field, reason, action, record FROM raw._quarantine ORDER BY record")
    assert len(q) == 2
    assert q[0][:5] == ("s", "t", "id", "primary key field 'id' is missing or empty", "rejected")
    assert sorted(json.loads(r[5])["v"] for r in q) == ["x", "y"]


def test_given_a_failing_load_then_neither_records_nor_state_are_committed(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    sid = store.start_sync("s")
    store.load("s", "t", sid, [{"id": 1}], PK, 0, state={"c": 1})

    class Boom:  # a state that cannot be serialized fails inside the transaction, after the records
        def __repr__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.load("s", "t", sid, [{"id": 2}], PK, 1, state={"c": Boom()})
    assert rows(wh, "SELECT _key FROM raw.s__t") == [("1",)]
    assert store.get_state("s") == {"t": {"c": 1}}


def test_exact_decimals_and_dates_survive_as_text(warehouse_url: str) -> None:
    import datetime as dt
    from decimal import Decimal

    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    sid = store.start_sync("s")
    store.load("s", "t", sid, [{"id": 1, "amt": Decimal("12345678901234.57"), "d": dt.date(2024, 2, 29)}], PK, 0)
    data = json.loads(rows(wh, "SELECT _data FROM raw.s__t")[0][0])
    assert data == {"id": 1, "amt": "12345678901234.57", "d": "2024-02-29"}


def test_swap_table_replaces_a_table_atomically(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with wh.begin() as c:
        c.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS marts")
        wh.swap_table(c, "marts", "m", "SELECT 1 AS x")
    with pytest.raises(sa.exc.DBAPIError, match="no_such_table"), wh.begin() as c:
        wh.swap_table(c, "marts", "m", "SELECT 2 AS x")
        c.exec_driver_sql("SELECT * FROM no_such_table")
    assert rows(wh, "SELECT x FROM marts.m") == [(1,)]


def test_bulk_insert_round_trips_nulls_empty_strings_and_unicode(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with wh.begin() as c:
        c.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS staging")
        wh.create_table(c, "staging", "t", {"a": "text", "n": "decimal", "d": "date", "ts": "timestamp"})
        df = pd.DataFrame({"a": ["", None, 'q"uote,comma\nline', "客户"], "n": [1.5, None, -2.25, 1e12],
                           "d": pd.to_datetime(["2024-01-02", None, "1999-12-31", "2024-02-29"]).date,
                           "ts": pd.to_datetime(["2024-01-02 03:04:05", None, "2000-01-01 00:00:00",
                                                 "2024-02-29 23:59:59"])})
        wh.insert_frame(c, "staging", "t", pa.Table.from_pandas(df, preserve_index=False))
    got = wh.read_frame("SELECT a, n, d, ts FROM staging.t ORDER BY n NULLS FIRST")
    assert got["a"].tolist() == [None, 'q"uote,comma\nline', "", "客户"]
    assert [None if pd.isna(x) else float(x) for x in got["n"]] == [None, -2.25, 1.5, 1e12]
    assert str(got["ts"].iloc[3]) == "2024-02-29 23:59:59"


def test_create_table_adds_missing_columns_to_an_existing_table(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with wh.begin() as c:
        c.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS staging")
        wh.create_table(c, "staging", "grow", {"a": "text"})
    wh2 = Warehouse(warehouse_url)  # a new process: the table exists
    with wh2.begin() as c:
        wh2.create_table(c, "staging", "grow", {"a": "text", "b": "integer"})
        assert wh2.columns(c, "staging", "grow") == ["a", "b"]

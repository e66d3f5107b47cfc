"""The raw store on a warehouse, call by call: what lands, what is unchanged, duplicates, state, deletes and their
guard, tombstones, quarantine (DuckDB and PostgreSQL)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from warehouse.engine import Warehouse
from warehouse.raw import LoadStats, MassDeleteRefused, RawStore, quarantine_row


def rows(wh: Warehouse, table: str = "crm__customers") -> list[tuple]:
    return [tuple(r) for r in wh.read_frame(
        f"SELECT _key, _deleted, _data IS NULL AS gone, _batch, _sync_id FROM raw.{table} "
        "ORDER BY _batch, _key").itertuples(index=False)]


def index(wh: Warehouse) -> dict[str, bool]:
    got = wh.read_frame("SELECT record_key, record_hash IS NOT NULL AS live FROM raw._record_index "
                        "WHERE source = 'crm' AND stream = 'customers'")
    return dict(zip(got["record_key"], got["live"], strict=True))


def test_landing_changes_duplicates_state_and_deletes(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s1 = store.start_sync("crm")
    batch = pa.table({"id": ["1", "2", "2", "3", "2", None], "name": ["a", "b", "b", "c", "B", "x"]})
    stats = store.load_table("crm", "customers", s1, batch, ["id"], 0, state={"cursor": "2024-01-01"},
                             track_seen=True)
    # 2 read twice alike (one lands), then with other values (a duplicate key), and a row without a key
    assert stats == LoadStats(read=6, loaded=3, unchanged=1, quarantined=2, deleted=0)
    assert [(k, d) for k, d, *_ in rows(wh)] == [("1", False), ("2", False), ("3", False)]
    q = wh.read_frame("SELECT record_key, field, reason FROM raw._quarantine ORDER BY reason")
    assert q.to_dict("records") == [
        {"record_key": "2", "field": None, "reason": "duplicate primary key '2': read again in this sync with "
                                                     "different values (the first version was kept)"},
        {"record_key": None, "field": "id", "reason": "primary key field 'id' is missing or empty"}]
    assert store.get_state("crm") == {"customers": {"cursor": "2024-01-01"}}
    store.finish_sync(s1, "succeeded", stats)
    assert wh.read_frame("SELECT status, records_read, records_loaded, records_quarantined FROM raw._syncs") \
        .iloc[0].tolist() == ["succeeded", 6, 3, 2]

    # the same batch again in the next sync: nothing lands, nothing is quarantined twice
    s2 = store.start_sync("crm")
    again = store.load_table("crm", "customers", s2, batch, ["id"], 0)
    assert (again.loaded, again.unchanged) == (0, 4) and int(wh.scalar("SELECT count(*) FROM raw._quarantine")) == 2
    assert store.get_state("crm") == {"customers": {"cursor": "2024-01-01"}}  # no state given: kept
    changed = store.load("crm", "customers", s2, [{"id": "3", "name": "C"}, {"id": "4", "name": "d"}], [["id"]], 10,
                         state={"cursor": "2024-02-01"})
    assert (changed.loaded, changed.unchanged) == (2, 0)
    assert [k for k, *_ in rows(wh)] == ["1", "2", "3", "3", "4"]
    assert store.get_state("crm") == {"customers": {"cursor": "2024-02-01"}}
    store.save_state("crm", "other", s2, [1, 2])
    store.reset_state("crm", "customers")
    assert store.get_state("crm") == {"other": [1, 2]}
    store.reset_state("crm")
    assert store.get_state("crm") == {}

    # a complete read that saw 1, 2 and 4: 3 is tombstoned (history stays), once
    store.start_complete_read("crm", "customers")
    store.load_table("crm", "customers", s2, pa.table({"id": ["1", "2", "4"], "name": ["a", "b", "d"]}), ["id"],
                     0, track_seen=True)
    assert store.delete_unseen("crm", "customers", s2) == 1
    assert rows(wh)[-1][:3] == ("3", True, True) and index(wh) == {"1": True, "2": True, "3": False, "4": True}
    assert store.delete_unseen("crm", "customers", s2, allow_mass_delete=True) == 3  # nothing seen since: all
    assert index(wh) == {"1": False, "2": False, "3": False, "4": False}
    assert store.landed_streams() == []
    wh.dispose()


def test_the_mass_delete_guard_and_a_stream_leaving_the_config(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    store.load_table("crm", "customers", s, pa.table({"id": [str(i) for i in range(10)]}), ["id"], 0)
    store.load_table("crm", "orders", s, pa.table({"no": ["o1"]}), ["no"], 0, state={"c": 1})
    assert store.landed_streams() == [("crm", "customers"), ("crm", "orders")]
    store.start_complete_read("crm", "customers")
    store.load_table("crm", "customers", s, pa.table({"id": ["0", "1", "2", "3", "4"]}), ["id"], 0, track_seen=True)
    assert store.delete_unseen("crm", "customers", s, max_share=0.5) == 5  # exactly half: allowed
    s = store.start_sync("crm")  # (within one sync, a key read again after its tombstone is a duplicate)
    back = store.load_table("crm", "customers", s, pa.table({"id": [str(i) for i in range(5, 10)]}), ["id"], 0)
    assert back.loaded == 5  # deleted records that come back land again
    s = store.start_sync("crm")
    store.start_complete_read("crm", "customers")
    store.load_table("crm", "customers", s, pa.table({"id": ["0", "1", "2", "3"]}), ["id"], 0, track_seen=True)
    with pytest.raises(MassDeleteRefused) as refused:
        store.delete_unseen("crm", "customers", s, max_share=0.5)  # 6 of 10: more than half
    assert (refused.value.deleting, refused.value.live) == (6, 10)
    assert sum(index(wh).values()) == 10  # nothing was deleted
    assert store.delete_unseen("crm", "customers", s, max_share=0.5, allow_mass_delete=True) == 6
    with pytest.raises(MassDeleteRefused):
        store.delete_stream("crm", "orders", s, max_share=0.5)
    assert store.delete_stream("crm", "orders", s, allow_mass_delete=True, why="gone") == 1
    assert store.get_state("crm") == {}  # the stream's state goes with it
    assert store.landed_streams() == [("crm", "customers")]
    assert store.delete_stream("crm", "orders", s, allow_mass_delete=True) == 0  # nothing left: no batch
    n = int(wh.scalar("SELECT count(*) FROM raw._batches WHERE stream = 'orders'"))
    assert n == 2  # the landing and the tombstones
    assert store.quarantine([]) == 0
    assert store.quarantine([quarantine_row("crm", "x", s, "stage", "bad", record_key="k")]) == 1
    assert wh.read_frame("SELECT stream, reason FROM raw._quarantine").to_dict("records") == [
        {"stream": "x", "reason": "bad"}]
    wh.dispose()


def test_a_warehouse_from_before_sql_hashes_gets_them_once(warehouse_url: str) -> None:
    """Hashes written by an older version (another canonical text) are recomputed as md5 of the landed JSON when
    a newer version first opens the warehouse, so unchanged records do not land again; tombstones stay."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    store.load_table("crm", "customers", s, pa.table({"id": ["1", "2", "3"], "name": ["a", "b", "c"]}), ["id"], 0)
    store.load_table("crm", "customers", store.start_sync("crm"), pa.table({"id": ["2"], "name": ["B"]}), ["id"], 0)
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE raw.crm__customers SET _hash = 'old'")
        conn.exec_driver_sql("UPDATE raw._record_index SET record_hash = 'old' WHERE record_key <> '3'")
        conn.exec_driver_sql("UPDATE raw._record_index SET record_hash = NULL WHERE record_key = '3'")  # deleted
        conn.exec_driver_sql("DELETE FROM raw._meta WHERE key = 'hash'")
    wh.dispose()
    newer = Warehouse(warehouse_url)
    again = RawStore(newer)
    with newer.begin() as conn:
        again.ensure(conn)
    got = newer.read_frame("SELECT _key, _hash = md5(_data) AS ok FROM raw.crm__customers ORDER BY _key, _batch")
    assert got["ok"].tolist() == [True, True, True, True]
    idx = newer.read_frame("SELECT i.record_key, i.record_hash, r._data FROM raw._record_index i LEFT JOIN "
                           "(SELECT _key, _data, ROW_NUMBER() OVER (PARTITION BY _key ORDER BY _batch DESC) AS n "
                           "FROM raw.crm__customers) r ON r._key = i.record_key AND r.n = 1 ORDER BY 1")
    assert idx["record_hash"].tolist()[:2] == [newer.scalar("SELECT md5(:d)", {"d": d}) for d in idx["_data"][:2]]
    assert idx["record_hash"].isna().tolist() == [False, False, True]  # the deleted record stays deleted
    assert newer.scalar("SELECT value FROM raw._meta WHERE key = 'hash'") == "md5-of-canonical-json"
    stats = again.load_table("crm", "customers", again.start_sync("crm"),
                             pa.table({"id": ["1", "2"], "name": ["a", "B"]}), ["id"], 0)
    assert (stats.loaded, stats.unchanged) == (0, 2)  # unchanged records do not land again
    newer.dispose()

"""The raw store on a warehouse, call by call: what lands, what is unchanged, duplicates, state, deletes and their
guard, tombstones, quarantine (DuckDB and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pyarrow as pa
import pytest
import sqlalchemy as sa

from warehouse.changes import versions
from warehouse.engine import Warehouse
from warehouse.raw import CONTROL_TABLES, LoadStats, MassDeleteRefused, RawStore, now_utc, quarantine_row


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


def test_a_read_in_one_sync_notes_only_the_keys_it_does_not_land(warehouse_url: str) -> None:
    """`seen_if_landed` (a table read whole, within one sync): raw._seen holds only the keys that did not land, and
    `delete_unseen(landed_seen=True)` counts the keys the sync landed as seen."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    from warehouse.raw import shape_table

    def read(sync_id: str, ids: list[str], names: list[str]) -> LoadStats:
        store.start_complete_read("crm", "customers")
        shaped = shape_table("crm", "customers", pa.table({"id": ids, "name": names}), ["id"], 0)
        return store.load_shaped("crm", "customers", sync_id, shaped, track_seen=True, seen_if_landed=True)

    def seen() -> list[str]:
        return sorted(wh.read_frame("SELECT record_key FROM raw._seen")["record_key"])

    s1 = store.start_sync("crm")
    assert read(s1, ["1", "2", "3", "4"], ["a", "b", "c", "d"]).loaded == 4
    assert seen() == []  # every key landed: none noted
    assert store.delete_unseen("crm", "customers", s1, landed_seen=True) == 0
    assert index(wh) == {"1": True, "2": True, "3": True, "4": True}

    s2 = store.start_sync("crm")  # 2 changed, 3 gone, 1 and 4 unchanged, 5 new
    stats = read(s2, ["1", "2", "4", "5"], ["a", "B", "d", "e"])
    assert (stats.loaded, stats.unchanged) == (2, 2)
    assert seen() == ["1", "4"]  # the unchanged keys only
    assert store.delete_unseen("crm", "customers", s2, landed_seen=True) == 1
    assert index(wh) == {"1": True, "2": True, "3": False, "4": True, "5": True}
    assert seen() == []

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


def test_sync_ids_are_the_start_time_and_a_digest_of_the_source(warehouse_url: str) -> None:
    """`YYYYmmddTHHMMSSffffff-xxxxxx`: they sort by start (UTC, to the microsecond); the six hex digits are the
    source's and time's, so two sources starting together get two IDs."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    first, second = store.start_sync("crm"), store.start_sync("crm")
    assert first < second
    m = re.fullmatch(r"(\d{8}T\d{12})-([0-9a-f]{6})", first)
    assert m, first
    started = dt.datetime.strptime(m[1], "%Y%m%dT%H%M%S%f")
    assert m[2] == hashlib.blake2b(f"crm{started.timestamp()}".encode(), digest_size=3).hexdigest()
    got = wh.read_frame("SELECT started_at, status FROM raw._syncs WHERE sync_id = :i", {"i": first})
    assert got["started_at"].tolist() == [started]
    assert got["status"].tolist() == ["interrupted"]  # (the second sync of the source began: the first was cut off)
    wh.dispose()


def test_what_lands_carries_its_lineage(warehouse_url: str) -> None:
    """Each version names its sync, its row in the stream, when it was extracted (now unless given) and its batch;
    the batch log names the sync and the rows loaded; the record index, the file (part) of the sync (0 for tables
    and APIs); keys are kept for a complete read only when asked; the state names the sync that saved it."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    at = dt.datetime(2024, 3, 1, 8, 30)
    store.load_table("crm", "customers", s, pa.table({"id": ["a", "b"]}), ["id"], 0, extracted_at=at,
                     rows=pa.array([7, 3], pa.int64()))
    store.load("crm", "customers", s, [{"id": "c"}], [["id"]], 10, extracted_at=at, state={"page": 2})
    t0 = now_utc()
    store.load("crm", "customers", s, [{"id": "d"}], [["id"]], 11, part=2)
    t1 = now_utc()
    got = wh.read_frame("SELECT _key, _sync_id, _row, _extracted_at, _batch FROM raw.crm__customers ORDER BY _key")
    assert got.drop(columns="_extracted_at").values.tolist() == [["a", s, 7, 1], ["b", s, 3, 1], ["c", s, 10, 2],
                                                                 ["d", s, 11, 3]]
    assert got["_extracted_at"].tolist()[:3] == [at] * 3 and t0 <= got["_extracted_at"].iloc[3] <= t1
    assert wh.read_frame("SELECT batch_id, sync_id, loaded, deleted FROM raw._batches ORDER BY 1").values.tolist() \
        == [[1, s, 2, 0], [2, s, 1, 0], [3, s, 1, 0]]
    assert wh.read_frame("SELECT record_key, sync_id, part FROM raw._record_index ORDER BY 1").values.tolist() == [
        ["a", s, 0], ["b", s, 0], ["c", s, 0], ["d", s, 2]]
    assert int(wh.scalar("SELECT count(*) FROM raw._seen")) == 0  # not asked to track the keys read
    assert wh.read_frame("SELECT stream, CAST(state AS VARCHAR) AS state, sync_id FROM raw._state") \
        .values.tolist() == [["customers", '{"page": 2}', s]]
    later = store.start_sync("crm")
    store.save_state("crm", "customers", later, {"cursor": "北京"})  # stored as it reads, not \u-escaped
    assert wh.read_frame("SELECT CAST(state AS VARCHAR) AS state, sync_id FROM raw._state").values.tolist() == [
        ['{"cursor": "北京"}', later]]
    wh.dispose()


def test_quarantined_rows_of_a_landing_name_the_stream_sync_and_stage(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    bulk = store.load_table("crm", "customers", s, pa.table({"id": ["1", None, "1"], "n": ["a", "b", "c"]}), ["id"], 0)
    api = store.load("crm", "orders", s, [{"no": "9", "n": 1}, {"n": 2}, {"no": "9", "n": 3}], [["no"]], 0)
    assert [(x.read, x.loaded, x.quarantined) for x in (bulk, api)] == [(3, 1, 2), (3, 1, 2)]
    got = wh.read_frame("SELECT source, stream, sync_id, stage, record_key, field, action, record FROM raw._quarantine "
                        "ORDER BY stream, reason")
    assert got.values.tolist() == [
        ["crm", "customers", s, "load", "1", None, "rejected", '{"id":"1","n":"c"}'],
        ["crm", "customers", s, "load", None, "id", "rejected", '{"id":null,"n":"b"}'],
        ["crm", "orders", s, "load", "9", None, "rejected", '{"n":3,"no":"9"}'],
        ["crm", "orders", s, "load", None, "no", "rejected", '{"n":2}']]
    wh.dispose()


def test_a_key_column_not_in_the_batch_names_the_stream(warehouse_url: str) -> None:
    store = RawStore(Warehouse(warehouse_url))
    s = store.start_sync("crm")
    with pytest.raises(KeyError, match=r"crm\.customers: primary_key column 'ID' is not in the data; did you mean"):
        store.load_table("crm", "customers", s, pa.table({"id": ["1"]}), ["ID"], 0)
    store.wh.dispose()


def test_writes_move_the_versions_of_what_they_changed_only(warehouse_url: str) -> None:
    """Marts and checks follow the raw tables by their versions (warehouse/changes.py): a landing moves its raw
    table's, new quarantine rows the quarantine's, tombstones the batches'; a re-read that changes nothing, none."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    names = ["raw.crm__customers", "raw._quarantine", "raw._batches"]

    def moved(since: dict[str, int]) -> list[str]:
        with wh.begin() as conn:
            now = versions(conn, names)
        return [t for t in names if now[t] != since.get(t, 0)]

    with wh.begin() as conn:
        v0 = versions(conn, names)
    store.load_table("crm", "customers", s, pa.table({"id": ["1", "2", None]}), ["id"], 0)
    assert moved(v0) == ["raw.crm__customers", "raw._quarantine"]
    with wh.begin() as conn:
        v1 = versions(conn, names)
    store.load_table("crm", "customers", s, pa.table({"id": ["1", "2", None]}), ["id"], 0)  # the same again
    assert moved(v1) == []
    store.quarantine([quarantine_row("crm", "customers", s, "stage", "bad date", record_key="1")])
    assert moved(v1) == ["raw._quarantine"]
    with wh.begin() as conn:
        v2 = versions(conn, names)
    assert store.delete_stream("crm", "customers", s, allow_mass_delete=True) == 2
    assert moved(v2) == ["raw.crm__customers", "raw._batches"]
    wh.dispose()


def test_deletes_refused_by_default_above_half_and_why(warehouse_url: str) -> None:
    """The guard's default share is a half; its message says how many, of what, and why they would go; the
    tombstones and their batch name the sync that deleted."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    store.load_table("crm", "customers", s, pa.table({"id": [str(i) for i in range(10)]}), ["id"], 0)
    with wh.begin() as conn:
        assert store.live_keys(conn, "crm", "customers") == 10 and store.live_keys(conn, "crm", "none") == 0
        assert store.holds_live(conn, "crm", "customers") and not store.holds_live(conn, "crm", "none")
    store.start_complete_read("crm", "customers")
    store.load_table("crm", "customers", s, pa.table({"id": ["0", "1", "2", "3"]}), ["id"], 0, track_seen=True)
    with pytest.raises(MassDeleteRefused) as refused:
        store.delete_unseen("crm", "customers", s)
    assert (refused.value.source, refused.value.stream, refused.value.max_share) == ("crm", "customers", 0.5)
    assert str(refused.value) == (
        "crm.customers: 6 of 10 records (60%) would be deleted because they are missing from a complete read of the "
        "source; a run deletes at most 50% of a stream (max_delete_share), so none were. If this is intended, run "
        "again with --allow-mass-delete"
        " (Dagster: the run config `allow_mass_delete: true` of the source's sync or of raw/removed_sources)")
    with pytest.raises(MassDeleteRefused, match=r"10 of 10 records \(100%\) would be deleted because the stream left "
                                                r"the configuration; a removed source's or stream's records are "
                                                r"deleted only when a run is told to, so none were"):
        store.delete_stream("crm", "customers", s)
    with pytest.raises(MassDeleteRefused, match=r"because the source left the configuration;"):
        store.delete_stream("crm", "customers", s, why="the source left the configuration")
    deleting = store.start_sync("crm")
    assert store.delete_unseen("crm", "customers", deleting, allow_mass_delete=True) == 6
    store.load_table("crm", "orders", s, pa.table({"no": ["o1"]}), ["no"], 0)
    gone = store.start_sync("crm")
    assert store.delete_stream("crm", "orders", gone, allow_mass_delete=True) == 1
    assert wh.read_frame("SELECT _sync_id, count(*) AS n FROM raw.crm__customers WHERE _deleted GROUP BY 1") \
        .values.tolist() == [[deleting, 6]]
    assert wh.read_frame("SELECT _sync_id FROM raw.crm__orders WHERE _deleted")["_sync_id"].tolist() == [gone]
    assert wh.read_frame("SELECT stream, sync_id, loaded, deleted FROM raw._batches WHERE deleted > 0 ORDER BY 1") \
        .values.tolist() == [["customers", deleting, 0, 6], ["orders", gone, 0, 1]]
    with wh.begin() as conn:
        assert store.live_keys(conn, "crm", "customers") == 4
        assert store.holds_live(conn, "crm", "customers") and not store.holds_live(conn, "crm", "orders")  # tombstoned
    wh.dispose()


def test_the_control_tables_refuse_a_second_row_of_a_key(warehouse_url: str) -> None:
    """The keys of the control tables are primary keys, except the record index's on DuckDB (its index made loads
    several times slower; every write of the index deletes a key's row before inserting it)."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    store.save_state("crm", "customers", store.start_sync("crm"), {"c": 1})
    with pytest.raises(sa.exc.IntegrityError), wh.begin() as conn:
        conn.exec_driver_sql("INSERT INTO raw._state (source, stream, state) VALUES ('crm', 'customers', '{}')")
    keyed = set(wh.read_frame("SELECT table_name FROM information_schema.table_constraints WHERE table_schema = 'raw' "
                              "AND constraint_type = 'PRIMARY KEY'")["table_name"])
    want = {t for t, (_, pk) in CONTROL_TABLES.items() if pk}
    assert keyed == (want - {"_record_index"} if wh.dialect.name == "duckdb" else want)
    wh.dispose()


def test_the_hash_migration_runs_once_and_replaces_an_older_hash(warehouse_url: str) -> None:
    """Opening the warehouse again does not recompute the record index: the migration would take a sync's version
    of the highest row, here the first file's (row 1), not the second file's that landed last (row 0). A warehouse
    hashed the older way is migrated once (streams of the index whose raw table is gone are skipped)."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    s = store.start_sync("crm")
    store.load_table("crm", "customers", s, pa.table({"id": ["x", "k"], "v": ["1", "old"]}), ["id"], 0, part=0)
    store.load_table("crm", "customers", s, pa.table({"id": ["k"], "v": ["new"]}), ["id"], 0, part=1)
    wh.dispose()
    again = Warehouse(warehouse_url)
    store = RawStore(again)
    stats = store.load_table("crm", "customers", store.start_sync("crm"), pa.table({"id": ["k"], "v": ["new"]}),
                             ["id"], 0)
    assert (stats.loaded, stats.unchanged) == (0, 1)
    with again.begin() as conn:
        conn.exec_driver_sql("UPDATE raw._meta SET value = 'sha1-of-python-json' WHERE key = 'hash'")
        conn.exec_driver_sql("UPDATE raw._record_index SET record_hash = 'old'")
        for source in ("aa", "mm", "zz"):  # (streams whose raw table was dropped)
            conn.execute(sa.text("INSERT INTO raw._record_index (source, stream, record_key, record_hash, sync_id, "
                                 "part) VALUES (:s, 'gone', 'k', 'old', 'x', 0)"), {"s": source})
    again.dispose()
    newer = Warehouse(warehouse_url)
    with newer.begin() as conn:
        RawStore(newer).ensure(conn)
    assert newer.read_frame("SELECT key, value FROM raw._meta WHERE key = 'hash'").values.tolist() == [
        ["hash", "md5-of-canonical-json"]]
    got = newer.read_frame("SELECT record_key, record_hash = md5('{\"id\":\"x\",\"v\":\"1\"}') AS x FROM "
                           "raw._record_index WHERE source = 'crm' ORDER BY 1")
    assert got["record_key"].tolist() == ["k", "x"] and got["x"].tolist() == [False, True]
    assert newer.read_frame("SELECT DISTINCT record_hash FROM raw._record_index WHERE stream = 'gone'") \
        .values.tolist() == [["old"]]
    newer.dispose()


def test_an_older_record_index_with_a_primary_key_loses_it_on_duckdb_and_keeps_its_rows(warehouse_url: str) -> None:
    """Warehouses written before the record index went without its primary key on DuckDB: the first open rebuilds
    it without the key (its rows kept); PostgreSQL keeps the key (its upserts need it)."""
    wh = Warehouse(warehouse_url)
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS raw")
        conn.exec_driver_sql("CREATE TABLE raw._record_index (source TEXT, stream TEXT, record_key TEXT, "
                             "record_hash TEXT, sync_id TEXT, PRIMARY KEY (source, stream, record_key))")
        conn.exec_driver_sql("INSERT INTO raw._record_index VALUES ('crm', 'customers', 'k', 'h', 's')")
    with wh.begin() as conn:
        RawStore(wh).ensure(conn)
    keyed = wh.read_frame("SELECT count(*) AS n FROM information_schema.table_constraints WHERE table_schema = 'raw' "
                          "AND table_name = '_record_index' AND constraint_type = 'PRIMARY KEY'")["n"].tolist()
    assert keyed == ([0] if wh.dialect.name == "duckdb" else [1])
    got = wh.read_frame("SELECT record_key, record_hash, sync_id, part IS NULL AS no_part FROM raw._record_index")
    assert got.values.tolist() == [["k", "h", "s", True]]  # (a column added since: part)
    wh.dispose()


def test_a_sync_cut_off_is_marked_interrupted_by_the_next_sync_of_its_source(warehouse_url: str) -> None:
    """A sync killed mid-way (or whose warehouse went away) never finishes its row: the next sync of that source
    says so, instead of it showing `running` for ever; another source's running sync is not touched."""
    wh = Warehouse(warehouse_url)
    store = RawStore(wh)
    cut, other = store.start_sync("crm"), store.start_sync("erp")
    later = store.start_sync("crm")
    got = wh.read_frame("SELECT sync_id, status, finished_at IS NOT NULL AS done, error FROM raw._syncs "
                        "ORDER BY sync_id").set_index("sync_id")
    assert got.loc[cut, "status"] == "interrupted" and bool(got.loc[cut, "done"])
    assert "stopped before it finished" in got.loc[cut, "error"]
    assert got.loc[other, "status"] == "running" and got.loc[later, "status"] == "running"
    store.finish_sync(later, "succeeded", LoadStats())
    assert wh.scalar("SELECT status FROM raw._syncs WHERE sync_id = :i", {"i": later}) == "succeeded"

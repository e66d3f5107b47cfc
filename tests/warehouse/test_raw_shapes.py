"""The raw layer's record shaping, key and canonical JSON, checked value by value (no warehouse needed)."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from warehouse.raw import (
    LoadStats,
    MassDeleteRefused,
    dumps,
    key_of,
    md5_hex,
    now_utc,
    quarantine_row,
    quarantine_table,
    raw_table,
    resolve_key_columns,
    shape_batch,
    shape_records,
)


def plain_key(row: dict, pk: list[str]) -> tuple[str | None, str | None]:
    parts = []
    for k in pk:
        v = row.get(k)
        if v is None or str(v).strip() == "":
            return None, k
        parts.append(str(v).strip())
    return "|".join(parts), None


@pytest.mark.parametrize("seed", range(40))
def test_bulk_and_record_shaping_agree_with_the_plain_rules(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 12)
    rows = [{"id": rng.choice(["1", " 2 ", "", None, "x|y", "三"]), "sub": rng.choice(["a", None, "  "]),
             "name": rng.choice(["华信", 'q"uote', "back\\slash", None]), "n": rng.choice([1, -7, None])}
            for _ in range(n)]
    pk = rng.choice([["id"], ["id", "sub"], []])
    table = pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("sub", pa.string()),
                                                         ("name", pa.string()), ("n", pa.int64())]))
    first = rng.randint(0, 100)
    bulk = shape_batch(table, pk, first).to_pylist()
    recs = shape_records(rows, [[k] for k in pk], first).to_pylist()
    assert [b["_row"] for b in bulk] == [r["_row"] for r in recs] == list(range(first, first + n))
    for row, b, r in zip(rows, bulk, recs, strict=True):
        want = plain_key(row, pk) if pk else (str(b["_row"]), None)
        assert (b["_key"], b["_missing"]) == want == (r["_key"], r["_missing"])
        assert json.loads(b["_data"]) == json.loads(r["_data"]) == row
        assert list(json.loads(b["_data"])) == sorted(row)  # keys sorted: one text per record
        assert b["_hash"] == hashlib.md5(b["_data"].encode()).hexdigest()
        assert r["_hash"] == hashlib.md5(r["_data"].encode()).hexdigest()


def test_a_key_column_named_with_a_quote_is_named_when_missing() -> None:
    out = shape_batch(pa.table({"o'id": ["1", None], "x": ["a", "b"]}), ["o'id"], 0)
    assert out.column("_missing").to_pylist() == [None, "o'id"] and out.column("_key").to_pylist() == ["1", None]


def test_rows_given_out_of_order_keep_their_positions() -> None:
    table = pa.table({"id": ["a", "b", "c"]})
    out = shape_batch(table, ["id"], 0, rows=pa.array([7, 3, 9], pa.int64()))
    assert out.column("_row").to_pylist() == [7, 3, 9] and out.column("_key").to_pylist() == ["a", "b", "c"]
    assert shape_batch(pa.table({"x": pa.array([], pa.string())}), ["x"], 0).num_rows == 0


def test_exact_json_of_decimals_times_binary_and_nulls() -> None:
    table = pa.table({"amount": pa.array([decimal.Decimal("1234.565")], pa.decimal128(10, 3)),
                      "at": pa.array([dt.datetime(2024, 2, 17, 19, 48, 23)], pa.timestamp("s")),
                      "raw": pa.array([b"\xff\x00"], pa.binary()), "text": pa.array([b"ok"], pa.binary()),
                      "nothing": pa.nulls(1)})
    data = json.loads(shape_batch(table, [], 0).column("_data")[0].as_py())
    assert data == {"amount": "1234.565", "at": "2024-02-17 19:48:23", "raw": "ff00", "text": "ok", "nothing": None}
    assert dumps({"b": decimal.Decimal("0.125"), "a": dt.date(2024, 1, 2), "c": b"\x01", "d": 2 ** 70}) == (
        '{"a":"2024-01-02","b":"0.125","c":"01","d":1180591620717411303424}')
    assert dumps({"z": "北京", "t": dt.time(9, 30)}) == '{"t":"09:30:00","z":"北京"}'
    assert dumps({"big": 2 ** 64, "name": "华信"}) == '{"big":18446744073709551616,"name":"华信"}'  # (json's path)
    odd = pa.table({"raw": pa.array([b"\xff", None, b"ok"], pa.binary())})
    assert [json.loads(d)["raw"] for d in shape_batch(odd, [], 0).column("_data").to_pylist()] == ["ff", None, "6f6b"]


def test_record_keys_from_nested_paths() -> None:
    rec = {"id": 42, "owner": {"userid": " u1 "}, "blank": "  ", "list": [1]}
    assert key_of(rec, [["id"], ["owner", "userid"]]) == ("42|u1", None)
    assert key_of(rec, [["id"], ["blank"]]) == (None, "blank")
    assert key_of(rec, [["owner", "missing", "deeper"]]) == (None, "owner.missing.deeper")
    assert key_of(rec, [["list", "x"]]) == (None, "list.x")
    assert key_of({"id": 0}, [["id"]]) == ("0", None)
    assert shape_records([rec], [], 5).column("_key").to_pylist() == ["5"]


def test_key_columns_and_their_errors() -> None:
    assert resolve_key_columns(["a", "B"], ["B", "a"], "crm.customers") == ["B", "a"]
    with pytest.raises(KeyError, match=r"crm.customers: primary_key column 'b' is not in the data; did you mean 'B'"):
        resolve_key_columns(["a", "B"], ["b"], "crm.customers")
    with pytest.raises(KeyError, match=r"primary_key column 'z' is not in the data; the columns are: a, B"):
        resolve_key_columns(["a", "B"], ["z"], "crm.customers")


def test_quarantine_rows_stats_and_refusals() -> None:
    row = quarantine_row("crm", "customers", "s1", "stage", "bad date", record_key="7", field="d", value="x" * 1500,
                         record={"b": 1, "a": 2})
    assert row["value"] == "x" * 1000 and row["record"] == '{"a":2,"b":1}' and row["action"] == "rejected"
    assert quarantine_row("crm", "c", None, "sync", "r", record="{raw}")["record"] == "{raw}"
    bare = quarantine_row("crm", "c", None, "sync", "r")
    assert (bare["value"], bare["record"], bare["action"]) == (None, None, "rejected")
    assert sorted(row) == sorted(["source", "stream", "sync_id", "stage", "record_key", "field", "value", "reason",
                                  "action", "record", "quarantined_at"]) and row["sync_id"] == "s1"
    assert isinstance(row["quarantined_at"], dt.datetime) and row["quarantined_at"].tzinfo is None
    table = quarantine_table([row])
    assert table.num_rows == 1 and table.schema.field("quarantined_at").type == pa.timestamp("us")
    stats = LoadStats(1, 2, 3, 4, 5)
    stats.add(LoadStats(10, 20, 30, 40, 50))
    assert stats == LoadStats(11, 22, 33, 44, 55)
    err = MassDeleteRefused("crm", "customers", 600, 1000, 0.5, "they are missing from a full read")
    assert str(err) == ("crm.customers: 600 of 1,000 records (60%) would be deleted because they are missing from a "
                        "full read; a run deletes at most 50% of a stream (max_delete_share), so none were. If this "
                        "is intended, run again with --allow-mass-delete"
        " (Dagster: the run config `allow_mass_delete: true` of the source's sync or of raw/removed_sources)")
    assert (err.deleting, err.live, err.max_share) == (600, 1000, 0.5)
    assert "1 of 1 records (100%)" in str(MassDeleteRefused("a", "b", 1, 1, 0.5, "x"))
    assert raw_table("crm_a", "customers") == "crm_a__customers"
    assert md5_hex(pa.array(["a", None])).to_pylist() == [hashlib.md5(b"a").hexdigest(), None]


def test_names_of_raw_tables_are_checked_and_the_error_says_which() -> None:
    rule = "must be a letter or _ followed by letters, digits or _"
    with pytest.raises(ValueError, match=rf"^source name 'crm-x' {rule}$"):
        raw_table("crm-x", "customers")
    with pytest.raises(ValueError, match=rf"^stream name '2nd' {rule}$"):
        raw_table("crm", "2nd")


def test_canonical_json_of_not_a_number_and_small_floats_is_orjsons() -> None:
    """NaN is not JSON: it lands as null; floats in their shortest form (json's path would write NaN and 1e-07)."""
    got = dumps({"y": 1e-7, "x": float("nan"), "amount": decimal.Decimal("1.5")})
    assert got == '{"amount":"1.5","x":null,"y":1e-7}'


def test_the_time_of_the_raw_layer_is_utc_whatever_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        got, utc = now_utc(), dt.datetime.now(dt.UTC).replace(tzinfo=None)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got.tzinfo is None and abs((utc - got).total_seconds()) < 60


def test_quarantine_tables_have_the_quarantine_columns_even_without_values() -> None:
    want = pa.schema([(c, pa.timestamp("us") if c == "quarantined_at" else pa.string()) for c in [
        "source", "stream", "sync_id", "stage", "record_key", "field", "value", "reason", "action", "record",
        "quarantined_at"]])
    assert quarantine_table([]).schema == want
    bare = quarantine_table([quarantine_row("crm", "c", None, "sync", "r")])  # nulls stay text, not Arrow's null
    assert bare.schema == want and bare.column("sync_id").to_pylist() == [None]


def test_shaping_in_threads_of_their_own() -> None:
    """Each thread shapes with an in-process DuckDB of its own (made on its first batch)."""
    table = pa.table({"id": ["1", "2"], "name": ["华信", None]})
    want = (shape_batch(table, ["id"], 0).to_pylist(), md5_hex(pa.array(["a"])).to_pylist())

    def shape(_: int) -> tuple[list, list]:
        return shape_batch(table, ["id"], 0).to_pylist(), md5_hex(pa.array(["a"])).to_pylist()

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(shape, range(4))) == [want] * 4


def test_shaping_keeps_no_reference_to_the_batch() -> None:
    """Once shaped, a batch is freed with its last reference: the in-process DuckDB lets go of it."""
    shape_batch(pa.table({"id": ["1"]}), ["id"], 0)
    md5_hex(pa.array(["1"]))  # (this thread's connection made)
    before = pa.total_allocated_bytes()
    big = pa.table({"id": [f"customer-{i}" for i in range(100_000)]})
    assert pa.total_allocated_bytes() - before > 1_000_000
    out = shape_batch(big, ["id"], 0)
    assert out.num_rows == 100_000
    del big, out
    assert pa.total_allocated_bytes() - before < 100_000
    texts = pa.array([f"customer-{i}" for i in range(100_000)])
    assert len(md5_hex(texts)) == 100_000
    del texts
    assert pa.total_allocated_bytes() - before < 100_000


def test_record_shaping_gives_the_bulk_shapes_types_also_for_no_records_or_no_keys() -> None:
    """Both shapes take one path into the warehouse: the same Arrow types, whatever the batch holds (an empty page,
    keys all missing, none missing), never Arrow's null type."""
    want = shape_batch(pa.table({"id": pa.array([], pa.string())}), ["id"], 0).schema
    assert want == pa.schema([("_row", pa.int64()), ("_key", pa.string()), ("_missing", pa.string()),
                              ("_data", pa.string()), ("_hash", pa.string())])
    for records in ([], [{"id": 1}], [{"x": 1}, {"x": 2}], [{"id": 1}, {"x": 2}]):
        for pk in ([["id"]], []):
            assert shape_records(records, pk, 0).schema == want, (records, pk)


def test_a_record_with_an_integer_beyond_64_bits_is_written_in_the_same_canonical_form() -> None:
    """orjson refuses integers beyond 64 bits; such a record is still valid JSON with NaN as null, floats in their
    shortest form and the big integers exact, wherever they sit (nested, negative, as a key)."""
    got = dumps({"y": 1e-7, "x": float("nan"), "big": 2 ** 64, "n": [-(2 ** 70), {"z": 2 ** 100}], 2 ** 65: "k",
                 "edge": 2 ** 64 - 1, "low": -(2 ** 63), "name": "华信"})
    assert got == ('{"36893488147419103232":"k","big":18446744073709551616,"edge":18446744073709551615,'
                   '"low":-9223372036854775808,"n":[-1180591620717411303424,{"z":1267650600228229401496703205376}],'
                   '"name":"华信","x":null,"y":1e-7}')
    assert json.loads(got)["n"][1]["z"] == 2 ** 100
    assert dumps({"s": "a\ue000b", "big": 2 ** 64}) == '{"big":18446744073709551616,"s":"a\ue000b"}'

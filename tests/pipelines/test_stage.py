"""Staging written out record by record, through its entry points (`stage_stream`, `stage_all`, `unstage_removed`)
on raw records landed by `RawStore` here, on DuckDB and PostgreSQL: what a run stages, removes and quarantines,
the change log and the watermark it leaves, and how each mapping value reads a record."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal as D
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from core.config import HubConfig
from core.entities import ENTITIES, Entity, Field
from pipelines import stage
from pipelines.progress import Progress
from pipelines.stage import (
    StageResult,
    customer_stream_of,
    fingerprint,
    stage_all,
    stage_stream,
    staging_columns,
    to_arrow,
    unstage_removed,
)
from warehouse.changes import versions, watermark
from warehouse.engine import Warehouse
from warehouse.raw import QUARANTINE_COLUMNS, RawStore

CUSTOMERS = {"primary_key": "id", "entity": "customer", "mapping": {"name": "name", "phone": "tel"}}


def hub(tz: str = "Asia/Shanghai", **sources: dict[str, Any]) -> HubConfig:
    """A config of file sources (never read: the tests land their records themselves), by source: streams."""
    return HubConfig.model_validate({"timezone": tz, "sources": {
        name: {"connector": "file", "config": {"path": "x.csv"}, **spec} for name, spec in sources.items()}})


def land(wh: Warehouse, source: str, stream: str, records: list[dict[str, Any]]) -> str:
    """One sync landing `records` (keyed by `id`) as one batch; its sync ID."""
    store = RawStore(wh)
    sync = store.start_sync(source)
    store.load(source, stream, sync, records, [["id"]], 0)
    return sync


def rows(wh: Warehouse, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    with wh.begin() as c:
        return [tuple(r) for r in c.execute(sa.text(sql), params or {}).fetchall()]


def changes(wh: Warehouse) -> list[tuple]:
    return rows(wh, "SELECT seq, entity, source_name, stream, source_key, op FROM staging._changes "
                    "ORDER BY seq, op, source_key")


def result_of(r: StageResult | None) -> tuple:
    assert r is not None
    return r.source, r.stream, r.entity, r.staged, r.rejected, r.fields_nulled, r.deleted, r.total, r.full


def test_a_stream_is_staged_from_its_watermark_on_and_whole_again_when_its_mapping_changes(
        warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    cfg = hub(crm={"streams": {"customers": CUSTOMERS}})
    sync = land(wh, "crm", "customers", [{"id": "C1", "name": "甲公司", "tel": "111"}, {"id": "C2", "name": "乙公司"},
                                         {"id": "C3", "name": "丙公司", "tel": " "}])
    first = stage_stream(cfg, wh, "crm", "customers")
    assert result_of(first) == ("crm", "customers", "customer", 3, 0, 0, 0, 3, True)
    # each staged row says which sync read it and when
    assert rows(wh, "SELECT s.source_key, s._sync_id, s._extracted_at FROM staging.customer s ORDER BY 1") == rows(
        wh, "SELECT _key, _sync_id, _extracted_at FROM raw.crm__customers ORDER BY 1")
    assert {r[0] for r in rows(wh, "SELECT _sync_id FROM staging.customer")} == {sync}
    assert rows(wh, "SELECT source_name, stream, source_key, name, phone FROM staging.customer ORDER BY 3") == [
        ("crm", "customers", "C1", "甲公司", "111"), ("crm", "customers", "C2", "乙公司", None),
        ("crm", "customers", "C3", "丙公司", None)]
    with wh.begin() as c:
        mark = watermark(c, "stage:crm.customers")
        v1 = versions(c, ["staging.customer", "staging._changes", "raw._quarantine"])
    assert mark == (1, {"fingerprint": fingerprint(cfg, "crm", "customers"), "entity": "customer"})
    log = changes(wh)
    seq = log[0][0]
    assert log == [(seq, "customer", "crm", "customers", k, "upsert") for k in ("C1", "C2", "C3")]
    assert v1["staging._changes"] == seq and v1["staging.customer"] > seq and v1["raw._quarantine"] > seq

    # nothing landed since: nothing staged, nothing logged, no version moved
    again = stage_stream(cfg, wh, "crm", "customers")
    assert result_of(again) == ("crm", "customers", "customer", 0, 0, 0, 0, 3, False)
    with wh.begin() as c:
        assert versions(c, v1) == v1
    assert changes(wh) == log

    # a new record and a changed one: only those two are read and logged, under a new number
    land(wh, "crm", "customers", [{"id": "C2", "name": "乙公司", "tel": "222"}, {"id": "C4", "name": "丁公司"}])
    wh.dispose()
    wh = Warehouse(warehouse_url)  # (as the next run's process: nothing ensured yet)
    said: list[str] = []
    third = stage_stream(cfg, wh, "crm", "customers", progress=said.append)
    assert result_of(third) == ("crm", "customers", "customer", 2, 0, 0, 0, 4, False)
    assert len(said) == 1 and re.fullmatch(r"staging crm\.customers: 2 staged, 0 removed( in .*)?", said[0])
    log3 = changes(wh)
    seq3 = log3[-1][0]
    assert seq3 > v1["staging.customer"]
    assert log3[3:] == [(seq3, "customer", "crm", "customers", k, "upsert") for k in ("C2", "C4")]
    assert rows(wh, "SELECT source_key, phone FROM staging.customer ORDER BY 1") == [
        ("C1", "111"), ("C2", "222"), ("C3", None), ("C4", None)]
    with wh.begin() as c:
        assert watermark(c, "stage:crm.customers")[0] == 2  # type: ignore[index]
        v3 = versions(c, v1)
    assert v3["staging.customer"] > v1["staging.customer"] and v3["raw._quarantine"] > v1["raw._quarantine"]

    # the mapping changed: the stream is staged whole, every record removed and staged again under one number
    changed = hub(crm={"streams": {"customers": {**CUSTOMERS, "mapping": {"name": "name", "mobile": "tel"}}}})
    assert fingerprint(changed, "crm", "customers") != fingerprint(cfg, "crm", "customers")
    whole = stage_stream(changed, wh, "crm", "customers")
    assert result_of(whole) == ("crm", "customers", "customer", 4, 0, 0, 0, 4, True)
    log4 = changes(wh)[len(log3):]
    seq4 = log4[0][0]
    assert seq4 > seq3
    assert log4 == [(seq4, "customer", "crm", "customers", k, op) for op in ("delete", "upsert")
                    for k in ("C1", "C2", "C3", "C4")]
    assert rows(wh, "SELECT source_key, phone, mobile FROM staging.customer ORDER BY 1") == [
        ("C1", None, "111"), ("C2", None, "222"), ("C3", None, None), ("C4", None, None)]
    with wh.begin() as c:
        assert watermark(c, "stage:crm.customers") == (2, {"fingerprint": fingerprint(changed, "crm", "customers"),
                                                            "entity": "customer"})
    wh.dispose()


def test_a_stream_staged_under_other_typing_rules_is_staged_whole_once(tmp_path: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the rules typing values change (`coerce.TYPING_RULES`), every stream is staged whole once more, so
    its staged values read as the rules of now read them; then from its watermark again."""
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    cfg = hub(crm={"streams": {"customers": CUSTOMERS}})
    land(wh, "crm", "customers", [{"id": "C1", "name": "甲公司"}])
    assert stage_stream(cfg, wh, "crm", "customers").full
    assert not stage_stream(cfg, wh, "crm", "customers").full
    monkeypatch.setattr(stage, "TYPING_RULES", stage.TYPING_RULES + 1)
    assert result_of(stage_stream(cfg, wh, "crm", "customers")) == ("crm", "customers", "customer", 1, 0, 0, 0, 1,
                                                                     True)
    assert not stage_stream(cfg, wh, "crm", "customers").full
    wh.dispose()


def test_a_json_boolean_flag_deletes_with_the_default_values(warehouse_url: str) -> None:
    """APIs write the flag as a JSON boolean (Fxiaoke's `is_deleted`): `true` is one of the default values, `false`
    and a missing flag are not."""
    wh = Warehouse(warehouse_url)
    cfg = hub(crm={"streams": {"customers": {**CUSTOMERS, "soft_delete": {"field": "is_deleted"}}}})
    flags = {"C1": False, "C2": True, "C3": None}
    land(wh, "crm", "customers", [{"id": k, "name": f"公司{k}", **({"is_deleted": v} if v is not None else {})}
                                  for k, v in flags.items()])
    stage_stream(cfg, wh, "crm", "customers")
    assert [r[0] for r in rows(wh, "SELECT source_key FROM staging.customer ORDER BY 1")] == ["C1", "C3"]
    wh.dispose()


def test_records_deleted_by_a_tombstone_or_a_soft_delete_flag_leave_staging(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    spec = {**CUSTOMERS, "soft_delete": {"field": "flags.deleted", "values": ["Y", " Gone "]}}
    cfg = hub(crm={"streams": {"customers": spec}})
    flagged = {"C1": "n", "C2": " y ", "C3": "GONE", "C5": "Yes"}  # compared trimmed, in any case
    records = [{"id": k, "name": f"公司{k}", **({"flags": {"deleted": flagged[k]}} if k in flagged else {})}
               for k in ("C1", "C2", "C3", "C4", "C5")]
    land(wh, "crm", "customers", records)
    first = stage_stream(cfg, wh, "crm", "customers")
    assert result_of(first) == ("crm", "customers", "customer", 3, 0, 0, 0, 3, True)  # (C2, C3 never staged)
    assert [r[0] for r in rows(wh, "SELECT source_key FROM staging.customer ORDER BY 1")] == ["C1", "C4", "C5"]
    seq = changes(wh)[0][0]
    assert changes(wh) == [(seq, "customer", "crm", "customers", k, "delete") for k in ("C2", "C3")] + [
        (seq, "customer", "crm", "customers", k, "upsert") for k in ("C1", "C4", "C5")]

    # C1 is missing from a complete read: its tombstone removes it; C2's flag is lifted: it is staged again
    store = RawStore(wh)
    store.start_complete_read("crm", "customers")
    sync = store.start_sync("crm")
    store.load("crm", "customers", sync, [{**r, "flags": {"deleted": "n"}} if r["id"] == "C2" else r
                                          for r in records[1:]], [["id"]], 0, track_seen=True)
    assert store.delete_unseen("crm", "customers", sync) == 1
    second = stage_stream(cfg, wh, "crm", "customers")
    assert result_of(second) == ("crm", "customers", "customer", 1, 0, 0, 1, 3, False)
    assert [r[0] for r in rows(wh, "SELECT source_key FROM staging.customer ORDER BY 1")] == ["C2", "C4", "C5"]
    seq2 = changes(wh)[-1][0]
    assert seq2 > seq and changes(wh)[5:] == [(seq2, "customer", "crm", "customers", "C1", "delete"),
                                               (seq2, "customer", "crm", "customers", "C2", "upsert")]
    wh.dispose()


ORDERS = {"primary_key": "id", "entity": "sales_order", "mapping": {
    "order_number": "no", "customer_key": "cust", "order_date": {"path": "date", "format": "%Y-%m-%d"},
    "amount": "amount", "currency": "cur", "updated_at": {"path": "changed", "format": "%Y%m%d%H%M"}}}


def test_values_that_cannot_be_typed_are_quarantined_with_the_field_the_value_the_reason_and_the_record(
        warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    cfg = hub(erp={"streams": {"orders": ORDERS, "customers": CUSTOMERS}})
    good = {"no": "SO1", "cust": "C1", "date": "2024-02-17", "amount": "12.50", "changed": "202402171948"}
    long_key = "K" * 4001
    records = [
        {"id": "O1", **good},
        {"id": "O2", **good, "date": "2024/02/17"},  # not in the format
        {"id": "O3", **good, "amount": None, "changed": "yesterday"},  # a required field missing, an optional bad
        {"id": "O4", **good, "amount": "abc"},
        {"id": "O5", **good, "changed": "x"},  # only the optional field: staged without it
        {"id": "O6", **good, "cust": long_key},
        {"id": "O7", **good, "amount": "$5.00", "cur": "CNY"},  # dollars in a record that says yuan
    ]
    sync = land(wh, "erp", "orders", records)
    first = stage_stream(cfg, wh, "erp", "orders")
    assert result_of(first) == ("erp", "orders", "sales_order", 2, 5, 2, 0, 2, True)
    assert rows(wh, "SELECT source_key, order_number, customer_key, customer_stream, order_date, amount, updated_at "
                    "FROM staging.sales_order ORDER BY 1") == [
        ("O1", "SO1", "C1", "customers", dt.date(2024, 2, 17), D("12.50"), dt.datetime(2024, 2, 17, 19, 48)),
        ("O5", "SO1", "C1", "customers", dt.date(2024, 2, 17), D("12.50"), None)]
    got = rows(wh, "SELECT source, stream, sync_id, stage, record_key, field, value, reason, action, record "
                   "FROM raw._quarantine ORDER BY record_key, field")
    assert [g[:9] for g in got] == [
        ("erp", "orders", sync, "staging", "O2", "order_date", "2024/02/17", "not a valid date in format %Y-%m-%d",
         "rejected"),
        ("erp", "orders", sync, "staging", "O3", "amount", None, "required field is empty or missing", "rejected"),
        ("erp", "orders", sync, "staging", "O3", "updated_at", "yesterday", "not a date-time in format %Y%m%d%H%M",
         "field_nulled"),
        ("erp", "orders", sync, "staging", "O4", "amount", "abc", "not a number", "rejected"),
        ("erp", "orders", sync, "staging", "O5", "updated_at", "x", "not a date-time in format %Y%m%d%H%M",
         "field_nulled"),
        ("erp", "orders", sync, "staging", "O6", "customer_key", long_key[:1000], "text longer than 4000 characters",
         "rejected"),
        ("erp", "orders", sync, "staging", "O7", "currency", "$5.00",
         "the amount names another currency than the currency field", "rejected"),
    ]
    by_key = {r["id"]: r for r in records}
    assert [json.loads(g[9]) for g in got] == [by_key[g[4]] for g in got]  # the record as it landed
    assert changes(wh) == []  # only customers' changes are logged

    # O2 and O4 fixed: their quarantine rows leave, the others stay
    land(wh, "erp", "orders", [{"id": "O2", **good}, {"id": "O4", **good, "amount": "4"}])
    second = stage_stream(cfg, wh, "erp", "orders")
    assert result_of(second) == ("erp", "orders", "sales_order", 2, 0, 0, 0, 4, False)
    assert [r[:2] for r in rows(wh, "SELECT record_key, field FROM raw._quarantine ORDER BY 1, 2")] == [
        ("O3", "amount"), ("O3", "updated_at"), ("O5", "updated_at"), ("O6", "customer_key"), ("O7", "currency")]
    wh.dispose()


def test_a_mapping_reads_a_column_a_nested_path_the_first_non_empty_of_a_list_or_a_default(
        warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    mapping = {
        "name": ["short", "full"],
        "contact_name": "Contact AS Written",  # (a select item's alias is what follows its last " AS ")
        "updated_at": "changed",
        "phone": "contact.phones[1]",
        "mobile": "a.b",
        "email": {"path": "mail", "default": "o'neil@example.com"},
        "industry": {"default": "制造"},
        "owner": "owner",
    }
    cfg = hub(tz="America/New_York",
              crm={"streams": {"customers": {"primary_key": "id", "entity": "customer", "mapping": mapping}}})
    land(wh, "crm", "customers", [
        {"id": "C1", "short": "甲", "full": "甲公司", "contact": {"phones": ["0592-1", "0592-2"]},
         "a.b": "literal", "a": {"b": "nested"}, "mail": "x@example.com", "owner": "  张三  ",
         "Contact AS Written": "李四", "changed": "2024-01-01T00:00:00Z"},
        {"id": "C2", "short": "  ", "full": "乙公司", "contact": {"phones": ["0592-3"]}, "a": {"b": "nested"},
         "owner": ""},
        {"id": "C3", "full": "丙公司", "a.b": " ", "a": {"b": " nested "}, "mail": "  "},
    ])
    assert result_of(stage_stream(cfg, wh, "crm", "customers"))[3:5] == (3, 0)
    assert rows(wh, "SELECT source_key, name, phone, mobile, email, industry, owner, contact_name, updated_at "
                    "FROM staging.customer ORDER BY 1") == [
        ("C1", "甲", "0592-2", "literal", "x@example.com", "制造", "张三", "李四", dt.datetime(2023, 12, 31, 19)),
        ("C2", "乙公司", None, "nested", "o'neil@example.com", "制造", None, None, None),
        ("C3", "丙公司", None, "nested", "o'neil@example.com", "制造", None, None, None),
    ]  # (C1 was updated at midnight UTC: 19:00 in New York the day before)
    wh.dispose()


CONTACTS = {"primary_key": "id", "entity": "contact", "mapping": {"name": "name", "customer_key": "cust"}}


def test_stage_all_stages_the_enabled_streams_asked_for_and_reports_what_it_rejected(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    cfg = hub(erp={"enabled": False, "streams": {"customers": CUSTOMERS}},
              crm={"streams": {"customers": CUSTOMERS, "contacts": CONTACTS, "notes": {"primary_key": "id"}}})
    land(wh, "crm", "customers", [{"id": "C1", "name": "甲公司"}])
    land(wh, "crm", "contacts", [{"id": "P1", "name": "张三", "cust": "C1"}, {"id": "P2", "cust": "C1"}])
    land(wh, "crm", "notes", [{"id": "N1"}])
    land(wh, "erp", "customers", [{"id": "E1", "name": "乙公司"}])
    said: list[str] = []
    out = stage_all(cfg, wh, entity="contact", progress=said.append)
    assert [result_of(r) for r in out] == [("crm", "contacts", "contact", 1, 1, 0, 0, 1, True)]
    assert said[0].startswith("staging crm.contacts: 1 staged, 0 removed (whole stream)")
    assert said[1:] == ["crm.contacts: 1 rejected, 0 fields nulled: see raw._quarantine"]
    assert rows(wh, "SELECT source_key, name, customer_key, customer_stream FROM staging.contact") == [
        ("P1", "张三", "C1", "customers")]
    assert rows(wh, "SELECT count(*) FROM staging.customer") == [(0,)]

    said.clear()
    out = stage_all(cfg, wh, sources=["erp", "crm"], progress=said.append)  # erp is disabled
    assert [result_of(r) for r in out] == [("crm", "customers", "customer", 1, 0, 0, 0, 1, True),
                                           ("crm", "contacts", "contact", 0, 0, 0, 0, 1, False)]
    assert said[0].startswith("staging crm.customers: 1 staged, 0 removed (whole stream)")
    assert len(said) == 1  # nothing landed in contacts since: no counter, nothing rejected
    assert rows(wh, "SELECT source_name, source_key FROM staging.customer") == [("crm", "C1")]
    wh.dispose()


def test_streams_no_longer_staged_leave_staging_once_their_records_may_go(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    reps = {"primary_key": "id", "entity": "sales_rep", "mapping": {"rep_key": "id", "name": "name"}}
    cfg = hub(crm={"streams": {"customers": CUSTOMERS, "contacts": CONTACTS, "reps": reps}},
              old={"streams": {"customers": CUSTOMERS}}, off={"streams": {"customers": CUSTOMERS}},
              api={"streams": {"customers": CUSTOMERS}})
    for source, stream in [("crm", "customers"), ("crm", "contacts"), ("crm", "reps"), ("old", "customers"),
                           ("off", "customers"), ("api", "customers")]:
        land(wh, source, stream, [{"id": "K1", "name": "甲"}, {"id": "K2", "name": "乙"}])
    land(wh, "crm", "reps", [{"id": "K3"}])  # no name: quarantined
    assert len(stage_all(cfg, wh)) == 6
    assert rows(wh, "SELECT source, stream, record_key FROM raw._quarantine") == [("crm", "reps", "K3")]
    with wh.begin() as c:  # a reference file's rows are the reference step's to remove
        c.execute(sa.text("INSERT INTO staging.customer (source_name, stream, source_key, name) "
                          "VALUES ('marts_config', 'x', 'R1', '参')"))
    before = changes(wh)

    # contacts removed from the config, the `old` source too, `reps` no longer an entity, `off` disabled, `api`
    # reading every stream its connector offers (none configured: none staged)
    now = hub(crm={"streams": {"customers": CUSTOMERS, "reps": {"primary_key": "id"}}},
              off={"enabled": False, "streams": {"customers": CUSTOMERS}}, api={})
    for some in (stage_all(now, wh, sources=["crm", "api"]), stage_all(now, wh, entity="customer")):
        assert [(r.source, r.stream, r.staged, r.deleted) for r in some] == [("crm", "customers", 0, 0)]
    assert rows(wh, "SELECT count(*) FROM staging.sales_rep") == [(2,)]  # (removed by a run of everything only)
    with wh.begin() as c:
        v0 = versions(c, ["staging.sales_rep", "raw._quarantine", "staging.lead", "staging.contact"])
    said: list[str] = []
    out = stage_all(now, wh, progress=said.append)
    with wh.begin() as c:
        v1 = versions(c, v0)
    assert v1["staging.sales_rep"] > v0["staging.sales_rep"] and v1["raw._quarantine"] > v0["raw._quarantine"]
    assert (v1["staging.contact"], v1["staging.lead"]) == (v0["staging.contact"], 0)  # (nothing of theirs removed)
    assert rows(wh, "SELECT count(*) FROM raw._quarantine") == [(0,)]
    # the records of contacts and of `old` are still live in raw (their deletion not yet done): they stay, and say so
    assert [result_of(r) for r in out] == [("api", "customers", "customer", 0, 0, 0, 2, 0, True),
                                           ("crm", "contacts", "contact", 0, 0, 0, 0, 2, False),
                                           ("crm", "reps", "sales_rep", 0, 0, 0, 2, 0, True),
                                           ("old", "customers", "customer", 0, 0, 0, 0, 2, False),
                                           ("crm", "customers", "customer", 0, 0, 0, 0, 2, False)]
    assert [bool(r.kept) for r in out] == [False, True, False, True, False]
    assert said[:2] == ["removed api.customers from staging.customer: 2 records (no longer configured)",
                        "removed crm.reps from staging.sales_rep: 2 records (no longer configured)"]
    log = changes(wh)[len(before):]  # (only customers' removals are logged, under a new number)
    assert log == [(log[0][0], "customer", "api", "customers", k, "delete") for k in ("K1", "K2")]
    assert log[0][0] > before[-1][0]
    before = changes(wh)
    assert rows(wh, "SELECT count(*) FROM staging.sales_rep") == [(0,)]
    with wh.begin() as c:
        assert watermark(c, "stage:crm.reps") is None
        assert watermark(c, "stage:crm.customers") is not None

    sync = RawStore(wh).start_sync("crm")
    assert RawStore(wh).delete_stream("crm", "contacts", sync, allow_mass_delete=True) == 2
    assert RawStore(wh).delete_stream("old", "customers", sync, allow_mass_delete=True) == 2
    gone = unstage_removed(now, wh)
    assert [result_of(r) for r in gone] == [("crm", "contacts", "contact", 0, 0, 0, 2, 0, True),
                                            ("old", "customers", "customer", 0, 0, 0, 2, 0, True)]
    assert rows(wh, "SELECT source_name, stream, count(*) FROM staging.customer GROUP BY 1, 2 ORDER BY 1, 2") == [
        ("crm", "customers", 2), ("marts_config", "x", 1), ("off", "customers", 2)]
    assert rows(wh, "SELECT count(*) FROM staging.contact") == [(0,)]
    log = changes(wh)[len(before):]
    assert log == [(log[0][0], "customer", "old", "customers", k, "delete") for k in ("K1", "K2")]  # contacts: none
    assert log[0][0] > before[-1][0]
    with wh.begin() as c:
        assert watermark(c, "stage:crm.contacts") is None and watermark(c, "stage:old.customers") is None
        assert watermark(c, "stage:off.customers") is not None
    assert unstage_removed(now, wh) == []
    wh.dispose()


def test_the_staging_tables_have_the_lineage_the_fields_and_the_sync_columns(warehouse_url: str) -> None:
    assert list(staging_columns(ENTITIES["customer"])) == [
        "source_name", "stream", "source_key", *ENTITIES["customer"].field_names, "_sync_id", "_extracted_at"]
    assert staging_columns(ENTITIES["sales_order"]) == {
        "source_name": "text", "stream": "text", "source_key": "text", "order_number": "text",
        "customer_key": "text", "order_date": "date", "rep_key": "text", "amount": "decimal", "currency": "text",
        "status": "text", "product": "text", "updated_at": "timestamp", "customer_stream": "text",
        "_sync_id": "text", "_extracted_at": "timestamp"}
    wh = Warehouse(warehouse_url)
    with wh.begin() as c:
        stage.ensure_staging(wh, c)
    with wh.begin() as c:
        stage.ensure_staging(wh, c)  # (again: nothing to do)
        for entity in ENTITIES.values():
            got = c.execute(sa.text("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                    "'staging' AND table_name = :t ORDER BY ordinal_position"), {"t": entity.name})
            assert [r[0] for r in got] == list(staging_columns(entity)), entity.name
        got = c.execute(sa.text("SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' "
                                "AND table_name = '_changes' ORDER BY ordinal_position"))
        assert [r[0] for r in got] == ["seq", "entity", "source_name", "stream", "source_key", "op"]
        if wh.dialect.name == "postgresql":  # matching and the upserts look records up by key
            idx = c.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'staging'"))
            defs = dict(idx.fetchall())
            assert defs["customer__key"].endswith("(source_name, stream, source_key)")
            assert defs["_changes__seq"].endswith("(entity, seq)")
            assert {f"{e}__key" for e in ENTITIES} <= set(defs)
    wh.dispose()


def test_a_fact_names_the_stream_of_its_customers_configured_or_the_only_one() -> None:
    fact = {"primary_key": "id", "entity": "sales_order", "mapping": ORDERS["mapping"]}
    one = hub(erp={"streams": {"orders": fact, "customers": CUSTOMERS, "contacts": CONTACTS}})
    assert customer_stream_of(one, "erp", "orders") == "customers"
    two = hub(erp={"streams": {"orders": fact, "a": CUSTOMERS, "b": CUSTOMERS}})
    assert customer_stream_of(two, "erp", "orders") is None
    told = hub(erp={"streams": {"orders": {**fact, "customer_stream": "b"}, "a": CUSTOMERS, "b": CUSTOMERS}})
    assert customer_stream_of(told, "erp", "orders") == "b"
    assert customer_stream_of(hub(erp={"streams": {"orders": fact}}), "erp", "orders") is None


def test_the_fingerprint_moves_with_what_staging_depends_on_and_nothing_else() -> None:
    # a column name in Chinese, and a default YAML reads as a date (`default: 2024-01-01`)
    base = {"primary_key": "id", "entity": "contact",
            "mapping": {"name": "姓名", "created_at": {"path": "建档", "default": dt.date(2024, 1, 1)}}}

    def fp(tz: str = "Asia/Shanghai", **stream: Any) -> str:
        cfg = HubConfig.model_validate({"timezone": tz, "sources": {"erp": {
            "connector": "file", "config": {"path": "x.csv"},
            "streams": {"orders": {**base, **stream}, "a": CUSTOMERS, "b": CUSTOMERS}}}})
        return fingerprint(cfg, "erp", "orders")

    first = fp()
    # pinned: a new way of computing it stages every stream of every warehouse again (as TYPING_RULES 2 does, once)
    assert first == "663e3b0f2927529f"
    assert fp() == first and fp(max_delete_share=0.9, primary_key="no") == first
    moved = [fp(mapping={**base["mapping"], "phone": "p"}), fp(entity="customer"), fp(tz="UTC"),
             fp(soft_delete={"field": "d"}), fp(soft_delete={"field": "d", "values": ["x"]}),
             fp(customer_stream="a")]
    assert len({first, *moved}) == 1 + len(moved)
    raw_only = hub(erp={"streams": {"log": {"primary_key": "id"}}})
    assert fingerprint(raw_only, "erp", "log") == fingerprint(raw_only, "erp", "log")


def test_a_frame_becomes_arrow_with_the_kinds_of_a_staging_table() -> None:
    df = pd.DataFrame({
        "t": ["2024-02-17 19:48:23.1234567", "not a time"],  # (SQL Server's datetime2 has 100 ns steps)
        "d": [pd.Timestamp("2024-02-17 23:59"), pd.NaT], "m": ["12.345", None], "r": ["7.123456789", "x"],
        "i": pd.Series([2**53 + 1, None], index=[7, 9], dtype="Int64"), "j": ["3", "x"], "b": [True, None],
        "f": ["1.5", "y"], "s": pd.Series(["甲", None], index=[7, 9], dtype="string[pyarrow]"), "o": ["乙", None]},
        index=[7, 9])  # (the index of records left after rejections)
    got = to_arrow(df, {"t": "timestamp", "d": "date", "m": "decimal", "r": "rate", "i": "integer", "j": "integer",
                        "b": "boolean", "f": "float", "s": "text", "o": "text", "missing": "text"})
    assert got.schema == pa.schema([("t", pa.timestamp("us")), ("d", pa.date32()), ("m", pa.decimal128(18, 2)),
                                    ("r", pa.decimal128(18, 8)), ("i", pa.int64()), ("j", pa.int64()),
                                    ("b", pa.bool_()), ("f", pa.float64()), ("s", pa.string()), ("o", pa.string()),
                                    ("missing", pa.string())])
    assert got.to_pylist() == [
        {"t": dt.datetime(2024, 2, 17, 19, 48, 23, 123456), "d": dt.date(2024, 2, 17), "m": D("12.35"),
         "r": D("7.12345679"), "i": 2**53 + 1, "j": 3, "b": True, "f": 1.5, "s": "甲", "o": "乙", "missing": None},
        {"t": None, "d": None, "m": None, "r": None, "i": None, "j": None, "b": None, "f": None, "s": None, "o": None,
         "missing": None}]


def test_integers_rates_and_zoned_times_are_typed_or_quarantined_with_their_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    entity = Entity("t", (Field("n", "integer", required=True), Field("r", "rate"), Field("at", "timestamp"),
                          Field("d", "date"), Field("unmapped")))
    raw = pd.DataFrame({"source_key": ["A", "B", "C"], "_sync_id": ["s1", "s2", "s3"],
                        "_extracted_at": pd.Timestamp("2024-01-01"), "f_n": ["7", "7.5", "8"], "f_r": ["0.5", "1", "0"],
                        "f_at": ["2024-01-01T00:00:00Z"] * 3, "f_d": ["2024-02-29", "2024-02-30", None]})
    formats = {"n": None, "r": None, "at": None, "d": None}
    monkeypatch.setenv("TZ", "Asia/Shanghai")  # the machine's zone: not the quarantine's
    time.tzset()
    try:
        staged, quarantine = stage.type_records("src", "st", entity, raw, formats, tz="UTC")
    finally:
        monkeypatch.undo()
        time.tzset()
    utc = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert all(abs((utc - t).total_seconds()) < 60 for t in quarantine["quarantined_at"])
    assert staged[["source_name", "stream", "source_key", "n", "r", "at", "d", "unmapped"]].astype(object).where(
        staged.notna(), None).values.tolist() == [
        ["src", "st", "A", 7, D("0.50000000"), pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-29"), None],
        ["src", "st", "C", 8, None, pd.Timestamp("2024-01-01"), None, None]]
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    assert quarantine.drop(columns="quarantined_at").values.tolist() == [
        ["src", "st", "s2", "staging", "B", "n", "7.5", "not an integer", "rejected", None],
        ["src", "st", "s3", "staging", "C", "r", "0", "not a rate above 0", "field_nulled", None],
        ["src", "st", "s2", "staging", "B", "d", "2024-02-30", "not a valid date", "field_nulled", None]]
    shanghai, _ = stage.type_records("src", "st", entity, raw, formats)
    assert shanghai["at"].tolist() == [pd.Timestamp("2024-01-01 08:00")] * 2  # the default zone


def test_a_stream_larger_than_a_chunk_is_typed_chunk_by_chunk_and_loses_nothing(
        warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage, "CHUNK", 2)
    wh = Warehouse(warehouse_url)
    spec = {**CUSTOMERS, "mapping": {**CUSTOMERS["mapping"], "created_at": "t"}, "soft_delete": {"field": "del"}}
    cfg = hub(crm={"streams": {"customers": spec}})
    # chunk 1: C1 (a bad date, nulled), C2 (deleted); chunk 2: C3, C4 (no name, rejected); chunk 3: C5
    records = [{"id": f"C{i}", "name": f"公司{i}" if i != 4 else " ", "tel": str(i), "t": "x" if i == 1 else None,
                "del": "1" if i == 2 else "0"} for i in range(1, 6)]
    land(wh, "crm", "customers", records)
    said: list[str] = []
    assert result_of(stage_all(cfg, wh, progress=Progress(said.append, interval=0))[0]) == (
        "crm", "customers", "customer", 3, 1, 1, 0, 3, True)  # (C2, deleted, was never staged: none removed)
    assert [m.split(" (")[0] for m in said[:3]] == [f"staging crm.customers: {n} of 5 records" for n in (2, 4, 5)]
    assert said[3].startswith("staging crm.customers: 3 staged, 0 removed (whole stream)")
    assert rows(wh, "SELECT source_key, name, phone FROM staging.customer ORDER BY 1") == [
        (f"C{i}", f"公司{i}", str(i)) for i in (1, 3, 5)]
    got = rows(wh, "SELECT record_key, field, reason, record FROM raw._quarantine ORDER BY 1")
    assert [g[:3] for g in got] == [("C1", "created_at", "not a date-time"),
                                    ("C4", "name", "required field is empty or missing")]
    assert [json.loads(g[3]) for g in got] == [records[0], records[3]]
    seq = changes(wh)[0][0]
    assert changes(wh) == [(seq, "customer", "crm", "customers", k, "delete") for k in ("C2", "C4")] + [
        (seq, "customer", "crm", "customers", f"C{i}", "upsert") for i in (1, 3, 5)]  # (C4 rejected: not staged)
    wh.dispose()


def test_the_latest_version_of_a_key_is_of_the_last_batch_then_sync_then_row(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    land(wh, "crm", "customers", [{"id": "K0"}])
    # versions without a batch (landed before batches were numbered) rank below any batch
    versions_ = [("K1", None, "s1", 5, "old"), ("K1", None, "s2", 1, "new"),
                 ("K2", None, "s1", 1, "old"), ("K2", None, "s1", 2, "new"),
                 ("K3", None, "s9", 9, "old"), ("K3", 1, "s0", 0, "new"),
                 ("K4", 2, "s0", 0, "new"), ("K4", 1, "s9", 9, "old")]
    with wh.begin() as c:
        for key, batch, sync, row, tag in versions_:
            c.execute(sa.text("INSERT INTO raw.crm__customers (_sync_id, _row, _source, _stream, _key, _data, _batch) "
                              "VALUES (:s, :r, 'crm', 'customers', :k, :d, :b)"),
                      {"s": sync, "r": row, "k": key, "d": json.dumps({"tag": tag}), "b": batch})
    got = rows(wh, f"SELECT _key, _data FROM ({stage.latest_sql('crm__customers')}) v ORDER BY 1")
    assert [(k, json.loads(d).get("tag")) for k, d in got] == [
        ("K0", None), ("K1", "new"), ("K2", "new"), ("K3", "new"), ("K4", "new")]
    got = rows(wh, f"SELECT _key, _data FROM ({stage.latest_sql('crm__customers', 1)}) v ORDER BY 1")
    assert [(k, json.loads(d).get("tag")) for k, d in got] == [("K4", "new")]  # (K0 is in batch 1)
    wh.dispose()


def test_a_stream_without_entity_or_without_raw_records_stages_nothing(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    cfg = hub(crm={"streams": {"customers": CUSTOMERS, "notes": {"primary_key": "id"}}})
    assert stage_stream(cfg, wh, "crm", "customers") is None  # nothing landed yet
    assert stage_all(cfg, wh) == []
    assert rows(wh, "SELECT count(*) FROM staging.customer") == [(0,)]  # (the tables are there, empty)
    with wh.begin() as c:
        assert watermark(c, "stage:crm.customers") is None
        RawStore(wh).ensure_stream(c, "crm", "customers")  # a raw table without records: batch 0 staged
    assert result_of(stage_stream(cfg, wh, "crm", "customers")) == ("crm", "customers", "customer", 0, 0, 0, 0, 0,
                                                                   True)
    with wh.begin() as c:
        assert watermark(c, "stage:crm.customers") == (0, {"fingerprint": fingerprint(cfg, "crm", "customers"),
                                                            "entity": "customer"})
    land(wh, "crm", "customers", [{"id": "C1", "name": "甲公司"}])  # the first batch
    assert result_of(stage_stream(cfg, wh, "crm", "customers")) == ("crm", "customers", "customer", 1, 0, 0, 0, 1,
                                                                   False)
    land(wh, "crm", "notes", [{"id": "N1"}])
    assert stage_stream(cfg, wh, "crm", "notes") is None
    wh.dispose()


def test_written_reference_rows_replace_the_streams_and_move_the_versions_of_what_was_written(
        warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    entity = ENTITIES["sales_order"]
    raw = pd.DataFrame({"source_key": ["1", "2", "3", "4"], "_sync_id": "file-1", "_extracted_at": pd.Timestamp("2024"),
                        "f_order_number": ["A", "B", "C", "D"], "f_customer_key": "C1", "f_order_date": "2024-03-01",
                        "f_amount": ["1", "2", "abc", "4"], "f_updated_at": [None, None, None, "x"]})
    formats = dict.fromkeys(["order_number", "customer_key", "order_date", "amount", "updated_at"])
    staged, _ = stage.type_records("marts_config", "orders", entity, raw, formats)
    _, quarantine = stage.type_records("marts_config", "more", entity, raw, formats)
    quarantine["record"] = "{}"

    def tables() -> dict[str, int]:
        with wh.begin() as c:
            stage.ensure_staging(wh, c)
            return versions(c, ["staging.sales_order", "raw._quarantine"])

    before = tables()
    # only rows: the quarantine's version stays
    only_rows = stage.write_staged(wh, "marts_config", "orders", entity, staged, quarantine.iloc[:0])
    assert result_of(only_rows) == ("marts_config", "orders", "sales_order", 3, 0, 0, 0, 3, True)
    first = tables()
    assert first["staging.sales_order"] > before["staging.sales_order"]
    assert first["raw._quarantine"] == before["raw._quarantine"]
    # only quarantine rows, of another stream: the staging table's version stays
    only_bad = stage.write_staged(wh, "marts_config", "more", entity, staged.iloc[:0], quarantine)
    assert result_of(only_bad) == ("marts_config", "more", "sales_order", 0, 1, 1, 0, 0, True)
    second = tables()
    assert second["staging.sales_order"] == first["staging.sales_order"]
    assert second["raw._quarantine"] > first["raw._quarantine"]
    assert rows(wh, "SELECT stream, source_key FROM staging.sales_order ORDER BY 1, 2") == [
        ("orders", "1"), ("orders", "2"), ("orders", "4")]
    assert rows(wh, "SELECT stream, record_key, field, action FROM raw._quarantine ORDER BY 2") == [
        ("more", "3", "amount", "rejected"), ("more", "4", "updated_at", "field_nulled")]
    # written again: replaced, not added to
    again = stage.write_staged(wh, "marts_config", "orders", entity, staged.iloc[:1], quarantine.iloc[:0])
    assert result_of(again) == ("marts_config", "orders", "sales_order", 1, 0, 0, 0, 1, True)
    assert rows(wh, "SELECT stream, source_key FROM staging.sales_order") == [("orders", "1")]
    wh.dispose()


def test_removed_counts_the_deleted_records_that_leave_staging_and_deleted_keeps_every_one(warehouse_url: str
                                                                                          ) -> None:
    """`removed` is what left staging in this staging (not a deleted record read again when a stream is staged whole
    again); `staging._deleted` holds every record deleted in the source and not back (what data_quality counts)."""
    wh = Warehouse(warehouse_url)
    spec = {**CUSTOMERS, "soft_delete": {"field": "del"}}
    records = [{"id": f"C{i}", "name": f"公司{i}", "tel": str(i), "del": "1" if i == 2 else "0"} for i in range(1, 5)]
    land(wh, "crm", "customers", records)

    def staged(cfg: HubConfig) -> tuple[int, int, list[str]]:
        r = stage_all(cfg, wh)[0]
        gone = [k for (k,) in rows(wh, "SELECT source_key FROM staging._deleted ORDER BY 1")]
        return r.staged, r.deleted, gone

    assert staged(hub(crm={"streams": {"customers": spec}})) == (3, 0, ["C2"])  # C2 never staged: none removed
    land(wh, "crm", "customers", [{**records[2], "del": "1"}])  # C3 deleted
    assert staged(hub(crm={"streams": {"customers": spec}})) == (0, 1, ["C2", "C3"])
    # staged whole again (another mapping): the two are read again, deleted, but were not staged: none removed
    wider = {**spec, "mapping": {**spec["mapping"], "email": "mail"}}
    assert staged(hub(crm={"streams": {"customers": wider}})) == (2, 0, ["C2", "C3"])
    land(wh, "crm", "customers", [{**records[1], "del": "0"}])  # C2 back
    assert staged(hub(crm={"streams": {"customers": wider}})) == (1, 0, ["C3"])
    wh.dispose()

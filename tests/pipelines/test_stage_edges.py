"""Staging's edges that its main tests pass by (written for the mutants of `pipelines/stage.py` that survived
them, issue 20): how rejections and nulled fields are counted, a fact stream that maps no amount, a stream
that landed nothing, and the quarantine of a run without issues."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pandas as pd
import pytest

from core.entities import ENTITIES, Entity, Field
from pipelines import stage
from pipelines.progress import Progress
from tests.pipelines.test_stage import CUSTOMERS, changes, hub, land, result_of, rows
from warehouse.changes import versions
from warehouse.engine import Warehouse
from warehouse.raw import QUARANTINE_COLUMNS, RawStore

ORDER_FIELDS = ["order_number", "customer_key", "order_date", "amount", "updated_at"]


def orders_frame(**columns: list[str | None]) -> pd.DataFrame:
    """Mapped raw values of sales orders (keys 1, 2, …), as `stage_stream` reads them."""
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"source_key": [str(i + 1) for i in range(n)], "_sync_id": "file-1",
                         "_extracted_at": pd.Timestamp("2024-03-01"),
                         **{f"f_{k}": v for k, v in columns.items()}})


def test_written_rows_count_rejected_records_once_and_every_nulled_field(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    entity = ENTITIES["sales_order"]
    # 1: two required fields bad (one record rejected, two quarantine rows); 2: amount bad (rejected);
    # 3: two optional fields bad (staged, both nulled); 4: clean
    raw = orders_frame(order_number=[None, "B", "C", "D"], customer_key=["C1"] * 4,
                       order_date=["2024-03-01"] * 4, amount=["abc", "x", "3", "4"],
                       updated_at=[None, None, "bad", None], status=[None, None, "x" * 4001, None])
    formats = dict.fromkeys([*ORDER_FIELDS, "status"])
    staged, quarantine = stage.type_records("marts_config", "orders", entity, raw, formats)
    assert sorted(map(tuple, quarantine[["record_key", "field", "action"]].values.tolist())) == [
        ("1", "amount", "rejected"), ("1", "order_number", "rejected"), ("2", "amount", "rejected"),
        ("3", "status", "field_nulled"), ("3", "updated_at", "field_nulled")]
    quarantine["record"] = "{}"
    written = stage.write_staged(wh, "marts_config", "orders", entity, staged, quarantine)
    assert result_of(written) == ("marts_config", "orders", "sales_order", 2, 2, 2, 0, 2, True)
    assert rows(wh, "SELECT source_key, amount, status, updated_at FROM staging.sales_order ORDER BY 1") == [
        ("3", D("3.00"), None, None), ("4", D("4.00"), None, None)]
    assert rows(wh, "SELECT record_key, field, action FROM raw._quarantine ORDER BY 1, 2") == [
        ("1", "amount", "rejected"), ("1", "order_number", "rejected"), ("2", "amount", "rejected"),
        ("3", "status", "field_nulled"), ("3", "updated_at", "field_nulled")]
    wh.dispose()


def test_records_without_issues_give_an_empty_quarantine_of_its_columns(warehouse_url: str) -> None:
    entity = ENTITIES["sales_order"]
    raw = orders_frame(order_number=["A"], customer_key=["C1"], order_date=["2024-03-01"], amount=["1"],
                       updated_at=[None])
    staged, quarantine = stage.type_records("marts_config", "orders", entity, raw, dict.fromkeys(ORDER_FIELDS))
    assert len(staged) == 1 and len(quarantine) == 0
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    wh = Warehouse(warehouse_url)  # and it is written as it is: the counts read its (empty) columns
    written = stage.write_staged(wh, "marts_config", "orders", entity, staged, quarantine)
    assert result_of(written) == ("marts_config", "orders", "sales_order", 1, 0, 0, 0, 1, True)
    assert rows(wh, "SELECT count(*) FROM raw._quarantine") == [(0,)]
    wh.dispose()


def test_an_opportunity_stream_without_an_amount_keeps_the_currency_it_maps(warehouse_url: str) -> None:
    # (the currency is read from the amount's text only where an amount is mapped)
    wh = Warehouse(warehouse_url)
    spec = {"primary_key": "id", "entity": "opportunity",
            "mapping": {"name": "name", "currency": "cur", "created_at": {"path": "at", "format": "%Y-%m-%d"}}}
    cfg = hub(crm={"streams": {"opportunities": spec}})
    land(wh, "crm", "opportunities", [{"id": "P1", "name": "项目", "cur": "USD", "at": "2024-03-01"},
                                      {"id": "P2", "name": "项目二", "at": "2024-03-02"}])
    got = stage.stage_stream(cfg, wh, "crm", "opportunities")
    assert result_of(got) == ("crm", "opportunities", "opportunity", 2, 0, 0, 0, 2, True)
    assert rows(wh, "SELECT source_key, name, amount, currency, created_at FROM staging.opportunity ORDER BY 1") == [
        ("P1", "项目", None, "USD", dt.datetime(2024, 3, 1)), ("P2", "项目二", None, None, dt.datetime(2024, 3, 2))]
    wh.dispose()


def test_a_stream_that_landed_nothing_is_staged_whole_without_reading_a_chunk(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    cfg = hub(crm={"streams": {"customers": CUSTOMERS}})
    with wh.begin() as c:
        stage.ensure_staging(wh, c)
        RawStore(wh).ensure_stream(c, "crm", "customers")  # the raw table, no records
        before = versions(c, ["staging.customer", "raw._quarantine", "staging._changes"])
    said: list[str] = []
    got = stage.stage_stream(cfg, wh, "crm", "customers", progress=Progress(said.append, interval=0))
    assert result_of(got) == ("crm", "customers", "customer", 0, 0, 0, 0, 0, True)
    assert [m.split(" in ")[0] for m in said] == ["staging crm.customers: 0 staged, 0 removed (whole stream)"]
    with wh.begin() as c:
        after = versions(c, before)
    # the staging table moves (staged whole: its rows of this stream are what they should be), the quarantine
    # does not (no chunk was typed), and nothing was logged
    assert after["staging.customer"] > before["staging.customer"]
    assert after["raw._quarantine"] == before["raw._quarantine"]
    assert rows(wh, "SELECT count(*) FROM staging._changes") == [(0,)]
    wh.dispose()


def test_a_path_with_an_index_and_no_dot_reads_the_list_unless_a_column_has_that_name(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    spec = {"primary_key": "id", "entity": "customer", "mapping": {"name": "name", "phone": "phones[1]"}}
    cfg = hub(crm={"streams": {"customers": spec}})
    land(wh, "crm", "customers", [{"id": "C1", "name": "甲", "phones": ["0592-1", "0592-2"]},
                                  {"id": "C2", "name": "乙", "phones": ["0592-3"]},
                                  {"id": "C3", "name": "丙", "phones": ["0592-4", "0592-5"], "phones[1]": "literal"}])
    assert result_of(stage.stage_stream(cfg, wh, "crm", "customers"))[3:5] == (3, 0)
    assert rows(wh, "SELECT source_key, phone FROM staging.customer ORDER BY 1") == [
        ("C1", "0592-2"), ("C2", None), ("C3", "literal")]
    wh.dispose()


def test_a_missing_flag_read_by_pandas_as_nan_becomes_null_in_arrow() -> None:
    # (pandas writes a missing value of an object column as NaN: a flag column with a gap must still convert)
    df = pd.DataFrame({"b": pd.Series([True, float("nan"), False], dtype=object)})
    assert stage.to_arrow(df, {"b": "boolean"}).to_pylist() == [{"b": True}, {"b": None}, {"b": False}]


def test_a_run_counts_what_every_chunk_staged_rejected_nulled_and_removed(
        warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage, "CHUNK", 1)  # one record a chunk: every count below adds up over two chunks at least
    wh = Warehouse(warehouse_url)
    spec = {**CUSTOMERS, "mapping": {**CUSTOMERS["mapping"], "created_at": "t"}, "soft_delete": {"field": "del"}}
    cfg = hub(crm={"streams": {"customers": spec}})
    land(wh, "crm", "customers", [
        {"id": "C1", "name": "甲"}, {"id": "C2", "name": "乙", "t": "x"},  # staged (C2's date nulled)
        {"id": "C3", "name": " "}, {"id": "C4", "t": "y"},  # rejected (C4's date nulled too)
        {"id": "C5", "name": "戊", "del": "1"}, {"id": "C6", "name": "己", "del": "1"}])  # deleted, never staged
    got = stage.stage_stream(cfg, wh, "crm", "customers")
    assert result_of(got) == ("crm", "customers", "customer", 2, 2, 2, 0, 2, True)
    assert rows(wh, "SELECT source_key, name, created_at FROM staging.customer ORDER BY 1") == [
        ("C1", "甲", None), ("C2", "乙", None)]
    assert rows(wh, "SELECT record_key, field, action FROM raw._quarantine ORDER BY 1, 2") == [
        ("C2", "created_at", "field_nulled"), ("C3", "name", "rejected"), ("C4", "created_at", "field_nulled"),
        ("C4", "name", "rejected")]
    seq = changes(wh)[0][0]
    assert changes(wh) == [(seq, "customer", "crm", "customers", k, "delete") for k in ("C3", "C4", "C5", "C6")] + [
        (seq, "customer", "crm", "customers", k, "upsert") for k in ("C1", "C2")]
    # the two staged ones deleted, one a chunk: both removed
    land(wh, "crm", "customers", [{"id": "C1", "name": "甲", "del": "1"}, {"id": "C2", "name": "乙", "del": "1"}])
    assert result_of(stage.stage_stream(cfg, wh, "crm", "customers"))[3:8] == (0, 0, 0, 2, 0)
    wh.dispose()


def test_a_day_first_format_of_a_timestamp_field_is_the_one_read() -> None:
    entity = Entity("t", (Field("n", required=True), Field("at", "timestamp")))
    raw = pd.DataFrame({"source_key": ["A"], "_sync_id": ["s1"], "_extracted_at": pd.Timestamp("2024-01-01"),
                        "f_n": ["x"], "f_at": ["02/03/2024 10:00"]})
    staged, _ = stage.type_records("src", "st", entity, raw, {"n": None, "at": "%d/%m/%Y %H:%M"})
    assert staged["at"].tolist() == [pd.Timestamp("2024-03-02 10:00")]  # 2 March (without it: 3 February)


def test_a_date_written_with_a_zone_is_the_day_it_was_in_the_configured_zone() -> None:
    entity = Entity("t", (Field("n", required=True), Field("d", "date")))
    raw = pd.DataFrame({"source_key": ["A"], "_sync_id": ["s1"], "_extracted_at": pd.Timestamp("2024-01-01"),
                        "f_n": ["x"], "f_d": ["2024-03-01T02:00:00Z"]})
    staged, _ = stage.type_records("src", "st", entity, raw, {"n": None, "d": None}, tz="America/New_York")
    assert staged["d"].tolist() == [pd.Timestamp("2024-02-29")]  # 21:00 the day before in New York

"""The data checks pass on sound data and fail, saying why, on each kind of broken data (DuckDB and PostgreSQL)."""

from __future__ import annotations

import pandas as pd

from hub.entities import ENTITIES
from pipelines.checks import (
    golden_ids_unique,
    orders_have_customers,
    revenue_reconciles,
    run_checks,
    staged_customers_in_xref,
)
from pipelines.publish import publish
from pipelines.stage import ensure_staging, staging_columns, to_arrow
from warehouse.contract import MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse

CUSTOMERS = [{"source_name": "erp", "stream": "customers", "source_key": k, "name": n}
             for k, n in (("C1", "甲公司"), ("C2", "乙公司"))]
ORDERS = [{"source_name": "erp", "stream": "orders", "source_key": k, "order_number": k, "customer_key": c,
           "customer_stream": "customers", "order_date": "2024-01-10", "amount": a}
          for k, c, a in (("O1", "C1", 100.10), ("O2", "C2", 200.20))]


def execute(wh: Warehouse, sql: str) -> None:
    with wh.begin() as conn:
        conn.exec_driver_sql(sql)


def sound_warehouse(url: str, *, golden_pk: bool = True) -> Warehouse:
    """Two customers, each its own golden customer, each with one order; marts built."""
    wh = Warehouse(url)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        if not golden_pk:  # as an older or hand-made warehouse might have it: nothing stops duplicates
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS mdm")
            conn.exec_driver_sql("CREATE TABLE mdm.golden_customer (golden_id TEXT, name TEXT)")
        ensure_mdm(wh, conn)
        wh.insert_frame(conn, "staging", "customer",
                        to_arrow(pd.DataFrame(CUSTOMERS), staging_columns(ENTITIES["customer"])))
        wh.insert_frame(conn, "staging", "sales_order",
                        to_arrow(pd.DataFrame(ORDERS), staging_columns(ENTITIES["sales_order"])))
        xref = pd.DataFrame({"source_name": "erp", "stream": "customers", "source_key": ["C1", "C2"],
                             "golden_id": ["G1", "G2"]})
        wh.insert_frame(conn, "mdm", "xref", to_arrow(xref, MDM_TABLES["xref"][0]))
        golden = pd.DataFrame({"golden_id": ["G1", "G2"], "name": ["甲公司", "乙公司"]})
        wh.insert_frame(conn, "mdm", "golden_customer", to_arrow(golden, MDM_TABLES["golden_customer"][0]))
    publish(wh)
    return wh


def test_given_sound_data_then_every_check_passes(warehouse_url: str) -> None:
    outcomes = run_checks(sound_warehouse(warehouse_url))
    assert {n: c.passed for n, c in outcomes.items()} == {
        "golden_ids_unique": True, "staged_customers_in_xref": True, "orders_have_customers": True,
        "revenue_reconciles": True}
    assert outcomes["revenue_reconciles"].metadata["mart_total"] == "300.30"


def test_given_a_duplicate_golden_id_then_golden_ids_unique_fails(warehouse_url: str) -> None:
    wh = sound_warehouse(warehouse_url, golden_pk=False)
    execute(wh, "INSERT INTO mdm.golden_customer (golden_id, name) VALUES ('G1', '甲公司（副本）')")
    outcome = golden_ids_unique(wh)
    assert not outcome.passed
    assert outcome.metadata["duplicates"] == 1 and outcome.metadata["examples"] == "G1"


def test_given_an_xref_id_without_a_golden_record_then_golden_ids_unique_fails(warehouse_url: str) -> None:
    wh = sound_warehouse(warehouse_url)
    execute(wh, "UPDATE mdm.xref SET golden_id = 'G9' WHERE source_key = 'C2'")
    outcome = golden_ids_unique(wh)
    assert not outcome.passed and outcome.metadata["xref_ids_without_record"] == 1


def test_given_a_staged_customer_missing_from_the_xref_then_that_check_fails(warehouse_url: str) -> None:
    wh = sound_warehouse(warehouse_url)
    execute(wh, "DELETE FROM mdm.xref WHERE source_key = 'C2'")
    outcome = staged_customers_in_xref(wh)
    assert not outcome.passed
    assert (outcome.metadata["missing"], outcome.metadata["examples"]) == (1, "erp:customers:C2")


def test_given_an_order_without_a_customer_then_that_check_fails(warehouse_url: str) -> None:
    wh = sound_warehouse(warehouse_url)
    execute(wh, "UPDATE staging.sales_order SET customer_key = 'C404' WHERE source_key = 'O2'")
    publish(wh, force=True)  # (the table was changed behind the pipeline's back: no version tells the marts)
    outcome = orders_have_customers(wh)
    assert not outcome.passed
    assert (outcome.metadata["without_customer"], outcome.metadata["examples"]) == (1, "erp:O2")


def test_given_a_mart_total_off_by_a_cent_then_revenue_reconciles_fails(warehouse_url: str) -> None:
    wh = sound_warehouse(warehouse_url)
    execute(wh, "UPDATE marts.fct_sales_orders SET amount = amount + 0.01 WHERE order_key = 'O1'")
    outcome = revenue_reconciles(wh)
    assert not outcome.passed
    assert (outcome.metadata["mart_total"], outcome.metadata["source_total"], outcome.metadata["difference"]) == (
        "300.31", "300.30", "0.01")

"""The marts a BI team can trust (issue 13), on a small hand-made warehouse, on DuckDB and PostgreSQL.

One ERP with two reps, two customers, orders in CNY and USD and in booked and draft status, a receipt that names
only its receivable, opportunities (one won with a close date far after its last change), leads (two of them
leading to one opportunity) and channel costs; rep 1 changed team on 2024-03-01 and customer C1 changed owner
on 2024-06-01 (the history `pipelines/history.py` derives from raw). The fiscal year starts in April. Each test
names the defect it pins down; the comments give the arithmetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal as D
from typing import Any

import pytest

from pipelines.publish import publish
from tests.warehouse.test_marts import fill, rows
from warehouse.engine import Warehouse

d = dt.date


def rep_id(name: str) -> str:
    return "R" + hashlib.md5(name.encode()).hexdigest()[:10].upper()


ZHAO, QIAN = rep_id("赵一"), rep_id("钱二")
ERP = {"source_name": "erp"}


def erp(stream: str, key: str, **values: Any) -> dict[str, Any]:
    return {**ERP, "stream": stream, "source_key": key, **values}


def order(key: str, day: str, amount: str, customer: str = "C1", rep: str | None = "1", status: str = "C",
          currency: str | None = None) -> dict[str, Any]:
    return erp("orders", key, order_number=f"SO-{key[1:]}", customer_key=customer, customer_stream="customers",
               order_date=day, rep_key=rep, amount=D(amount), status=status, currency=currency)


def opportunity(key: str, owner: str, created: str, amount: int, status: str, closed: str | None = None,
                customer: str | None = None, updated: str | None = None) -> dict[str, Any]:
    return erp("opps", key, owner=owner, created_at=created, amount=amount, status=status, closed_at=closed,
               customer_key=customer, customer_stream="customers" if customer else None, updated_at=updated)


STAGING: dict[str, list[dict[str, Any]]] = {
    "sales_rep": [
        erp("reps", "1", rep_key="1", name="赵一", team="华东", region="上海", updated_at="2024-03-01"),
        erp("reps", "2", rep_key="2", name="钱二", team="华南", region="广州"),
    ],
    "sales_rep_history": [  # rep 1 was in 华北 / 北京 until 2024-03-01
        erp("reps", "1", rep_key="1", name="赵一", team="华北", region="北京", valid_to="2024-03-01"),
    ],
    "customer": [erp("customers", "C1", name="甲公司", owner="2"), erp("customers", "C2", name="乙公司")],
    "customer_owner_history": [erp("customers", "C1", owner="1", valid_to="2024-06-01")],  # rep 1's until June
    "sales_order": [
        order("O1", "2024-02-10", "1000.00"),
        order("O2", "2024-03-15", "500.00"),
        order("O3", "2024-03-20", "300.00", status="A"),  # a draft
        order("O4", "2024-04-10", "100.00", customer="C2", rep=None, currency="USD"),
        order("O5", "2024-05-10", "200.00", rep=None),  # no rep: C1's owner then, rep 1
        order("O6", "2024-07-01", "50.00", rep=None),  # no rep: C1's owner now, rep 2
    ],
    "receivable": [erp("ar", "AR1", receivable_number="AR1", customer_key="C1", customer_stream="customers",
                       order_number="SO-1", bill_date="2024-02-11", amount=D("1000.00"))],
    "payment": [  # a Kingdee-like receipt: no order number, no rep, only the receivable it settles
        erp("receipts", "P1", payment_number="SK1", customer_key="C1", customer_stream="customers",
            receivable_number="AR1", payment_date="2024-03-05", amount=D("400.00")),
    ],
    "opportunity": [
        opportunity("OP1", "1", "2024-01-05 09:00:00", 8000, "进行中"),
        opportunity("OP2", "2", "2024-01-20 09:00:00", 3000, "进行中"),
        # won, its close date an expected date never updated: closed by its last change, 2024-04-02
        opportunity("OP3", "1", "2024-02-01 09:00:00", 6000, "赢单", "2025-12-31 00:00:00", customer="C1",
                    updated="2024-04-02 10:00:00"),
        opportunity("OP4", "1", "2024-02-15 09:00:00", 1000, "输单", "2024-03-10 00:00:00"),
        opportunity("OP5", "2", "2024-02-20 09:00:00", 2000, "赢单", "2024-02-28 00:00:00", customer="C2"),
    ],
    "lead": [
        erp("leads", "L1", channel="展会", opportunity_key="OP3", created_at="2024-01-10 00:00:00"),
        erp("leads", "L2", channel="官网", opportunity_key="OP3", created_at="2024-01-12 00:00:00"),
        erp("leads", "L3", channel="转介绍", customer_key="C2", customer_stream="customers",
            created_at="2024-01-02 00:00:00"),
    ],
    "channel_cost": [
        {"source_name": "marts_config", "stream": "channel_costs", "source_key": k, "channel": c, "month": m,
         "amount": D(a)}
        for k, c, m, a in (("2", "展会", "2024-01-01", "100"), ("3", "展会", "2024-04-01", "300"),
                           ("4", "转介绍", "2024-02-01", "500"))
    ],
    "fx_rate": [{"source_name": "marts_config", "stream": "fx_rates", "source_key": "2", "month": "2024-03-01",
                 "currency": "USD", "rate": D("7.1")}],
    "holiday": [{"source_name": "marts_config", "stream": "holidays", "source_key": k, "day": k, "name": n,
                 "kind": kind} for k, n, kind in (("2024-02-10", "春节", "holiday"), ("2024-02-12", "春节", "holiday"),
                                                  ("2024-02-18", "调休上班", "workday"))],
    "order_status": [{"source_name": "marts_config", "stream": "order_status", "source_key": s, "source": "erp",
                      "status": s, "status_class": c} for s, c in (("C", "booked"), ("A", "draft"), ("B", "draft"))],
    "mart_setting": [{"source_name": "marts_config", "stream": "settings", "source_key": n, "name": n, "value": v}
                     for n, v in (("currency", "CNY"), ("fiscal_year_start", "4"), ("revenue_class", "booked"))],
}
XREF = [("erp", "customers", "C1", "G1"), ("erp", "customers", "C2", "G2")]
GOLDEN = [{"golden_id": "G1", "name": "甲公司", "source_count": 1, "system_count": 1},
          {"golden_id": "G2", "name": "乙公司", "source_count": 1, "system_count": 1}]


@pytest.fixture(scope="module")
def built(module_warehouse_url: str) -> Warehouse:
    wh = Warehouse(module_warehouse_url)
    fill(wh, STAGING, XREF, GOLDEN, [])
    publish(wh)
    return wh


def monthly(wh: Warehouse, columns: str, where: str) -> list[tuple[Any, ...]]:
    return rows(wh, f"SELECT {columns} FROM marts.sales_performance_monthly WHERE {where} "
                    "ORDER BY month, rep_id NULLS LAST, team NULLS LAST, region NULLS LAST")


def test_1_open_pipeline_counts_in_months_without_other_activity(built: Warehouse) -> None:
    # OP2 (3000) is rep 2's only open opportunity from January on; rep 2 has nothing else until OP5 in February
    # (created and won within it) and O6 in July, the last month with facts. Every month has its row, and its team.
    assert monthly(built, "month, team, orders, open_pipeline", f"level = 'rep' AND rep_id = '{QIAN}'") == [
        (d(2024, m, 1), "华南", 1 if m == 7 else 0, D("3000")) for m in range(1, 8)]
    assert monthly(built, "month, open_pipeline", "level = 'team' AND team = '华南'") == [
        (d(2024, m, 1), D("3000")) for m in range(1, 8)]
    # rep 1: OP1 8000 from January; OP3 6000 and OP4 1000 from February; OP4 lost in March, OP3 won in April
    assert monthly(built, "month, open_pipeline", f"level = 'rep' AND rep_id = '{ZHAO}'") == [
        (d(2024, 1, 1), D("8000")), (d(2024, 2, 1), D("15000")), (d(2024, 3, 1), D("14000")),
        *[(d(2024, m, 1), D("8000")) for m in range(4, 8)]]


def test_2_an_opportunity_is_won_once_however_many_leads_led_to_it(built: Warehouse) -> None:
    # L1 (展会) and L2 (官网) both led to OP3, won for 6000: both leads reached `won`, the 6000 counts once, for
    # L1, the earlier one
    assert rows(built, "SELECT lead_key, opportunity_key, opportunity_credited FROM marts.fct_leads "
                       "ORDER BY lead_key") == [("L1", "OP3", True), ("L2", "OP3", False), ("L3", "OP5", True)]
    assert rows(built, "SELECT channel, leads, won, won_amount FROM marts.lead_to_cash ORDER BY channel") == [
        ("官网", 1, 1, D("0")), ("展会", 1, 1, D("6000")), ("转介绍", 1, 1, D("2000"))]
    assert rows(built, "SELECT SUM(won_amount) FROM marts.lead_to_cash") == [(D("8000"),)]  # OP3 + OP5


def test_3_channel_roi_per_month_with_each_opportunity_in_its_channel(built: Warehouse) -> None:
    got = rows(built, "SELECT channel, month, leads, opportunities, won_opportunities, won_revenue, cost, roi_pct "
                      "FROM marts.channel_roi ORDER BY channel, month")
    assert got == [
        # OP1, OP2, OP4: no lead, no customer with a lead, no channel of their own
        ("(unknown)", d(2024, 1, 1), 0, 2, 0, D("0"), None, None),
        ("(unknown)", d(2024, 2, 1), 0, 1, 0, D("0"), None, None),
        ("官网", d(2024, 1, 1), 1, 0, 0, D("0"), None, None),  # L2: OP3 is credited to L1
        ("展会", d(2024, 1, 1), 1, 0, 0, D("0"), D("100"), D("-100")),
        ("展会", d(2024, 2, 1), 0, 1, 0, D("0"), None, None),  # OP3 created
        # OP3 won in April (its last change) against April's cost: (6000 − 300) / 300 = 1900%
        ("展会", d(2024, 4, 1), 0, 0, 1, D("6000"), D("300"), D("1900")),
        ("转介绍", d(2024, 1, 1), 1, 0, 0, D("0"), None, None),
        # OP5 has no lead, but L3 converted its customer (C2, G2) before: 转介绍; (2000 − 500) / 500 = 300%
        ("转介绍", d(2024, 2, 1), 0, 1, 1, D("2000"), D("500"), D("300")),
    ]


def test_4_a_receipt_takes_the_rep_of_the_order_its_receivable_bills(built: Warehouse) -> None:
    assert rows(built, "SELECT payment_key, receivable_number, order_number, order_key, rep_id "
                       "FROM marts.fct_payments") == [("P1", "AR1", "SO-1", "O1", ZHAO)]
    # March's payments of rep 1 (in 华东 since 2024-03-01)
    assert monthly(built, "team, payments_collected", f"level = 'rep' AND rep_id = '{ZHAO}' AND "
                                                      "month = DATE '2024-03-01'") == [("华东", D("400"))]


def test_5_draft_orders_are_not_revenue(built: Warehouse) -> None:
    assert rows(built, "SELECT order_key, status, status_class, is_revenue FROM marts.fct_sales_orders "
                       "ORDER BY order_key") == [
        ("O1", "C", "booked", True), ("O2", "C", "booked", True), ("O3", "A", "draft", False),
        ("O4", "C", "booked", True), ("O5", "C", "booked", True), ("O6", "C", "booked", True)]
    # March: O2 (500) only, not the draft O3 (300)
    assert rows(built, "SELECT SUM(orders), SUM(revenue) FROM marts.sales_performance_monthly "
                       "WHERE level = 'region' AND month = DATE '2024-03-01'") == [(1, D("500"))]
    # every level sums to the revenue orders in CNY: 1000 + 500 + 710 (O4: 100 USD at 7.1) + 200 + 50 = 2460
    assert rows(built, "SELECT level, SUM(revenue) FROM marts.sales_performance_monthly GROUP BY level "
                       "ORDER BY level") == [("region", D("2460")), ("rep", D("2460")), ("team", D("2460"))]
    assert rows(built, "SELECT lifetime_revenue FROM marts.customer_360 ORDER BY golden_id") == [
        (D("1750"),), (D("710"),)]


def test_6_a_close_date_after_the_last_change_gives_way_and_is_flagged(built: Warehouse) -> None:
    assert rows(built, "SELECT opportunity_key, outcome, closed_at, closed_month, sales_cycle_days "
                       "FROM marts.fct_opportunities WHERE outcome <> 'open' ORDER BY opportunity_key") == [
        ("OP3", "won", dt.datetime(2024, 4, 2, 10), d(2024, 4, 1), 61),  # Feb 1 → Apr 2, not 2025-12-31
        ("OP4", "lost", dt.datetime(2024, 3, 10), d(2024, 3, 1), 24),
        ("OP5", "won", dt.datetime(2024, 2, 28), d(2024, 2, 1), 8),
    ]
    assert rows(built, "SELECT filled, checked, valid FROM marts.data_quality WHERE entity = 'opportunity' "
                       "AND field = 'closed_at'") == [(3, 3, 2)]  # OP3's close date is not valid


def test_7_iso_year_fiscal_year_and_working_days(built: Warehouse) -> None:
    got = rows(built, "SELECT date_day, year, iso_year, iso_week, fiscal_year, fiscal_quarter, fiscal_month, "
                      "is_holiday, holiday_name, is_working_day, working_days_in_month FROM marts.dim_date "
                      "WHERE date_day IN (DATE '2024-02-10', DATE '2024-02-12', DATE '2024-02-18', "
                      "DATE '2024-03-31', DATE '2024-04-01', DATE '2024-12-30') ORDER BY date_day")
    assert got == [
        # February 2024: 21 weekdays, less the 12th, plus Sunday the 18th (调休) = 21 working days
        (d(2024, 2, 10), 2024, 2024, 6, 2024, 4, 11, True, "春节", False, 21),  # a Saturday anyway
        (d(2024, 2, 12), 2024, 2024, 7, 2024, 4, 11, True, "春节", False, 21),
        (d(2024, 2, 18), 2024, 2024, 7, 2024, 4, 11, False, "调休上班", True, 21),
        # the fiscal year starts in April and is named by the year it ends in
        (d(2024, 3, 31), 2024, 2024, 13, 2024, 4, 12, False, None, False, 21),
        (d(2024, 4, 1), 2024, 2024, 14, 2025, 1, 1, False, None, True, 22),
        (d(2024, 12, 30), 2024, 2025, 1, 2025, 3, 9, False, None, True, 22),  # ISO week 1 of 2025
    ]


def test_8_amounts_carry_their_currency_and_convert_at_the_month_s_rate(built: Warehouse) -> None:
    # USD has a rate for March only: April takes it (7.1); CNY is the reporting currency
    assert rows(built, "SELECT order_key, amount, currency, fx_rate, reporting_amount FROM marts.fct_sales_orders "
                       "WHERE order_key IN ('O1', 'O4') ORDER BY order_key") == [
        ("O1", D("1000.00"), "CNY", D("1"), D("1000.00")), ("O4", D("100.00"), "USD", D("7.1"), D("710.00"))]
    assert rows(built, "SELECT month, rate, rate_month FROM marts.dim_fx_rate WHERE currency = 'USD' "
                       "AND month <= DATE '2024-05-01' ORDER BY month") == [
        (d(2024, 3, 1), D("7.1"), d(2024, 3, 1)), (d(2024, 4, 1), D("7.1"), d(2024, 3, 1)),
        (d(2024, 5, 1), D("7.1"), d(2024, 3, 1))]


def test_reps_and_owners_as_they_were_on_the_fact_date(built: Warehouse) -> None:
    assert rows(built, "SELECT rep_id, valid_from, valid_to, is_current, team, region FROM marts.dim_sales_rep "
                       "ORDER BY rep_id, valid_from") == sorted([
        (ZHAO, dt.datetime(1900, 1, 1), dt.datetime(2024, 3, 1), False, "华北", "北京"),
        (ZHAO, dt.datetime(2024, 3, 1), None, True, "华东", "上海"),
        (QIAN, dt.datetime(1900, 1, 1), None, True, "华南", "广州")])
    # orders without a rep go to the customer's owner on the order date: C1 was rep 1's until June
    assert rows(built, "SELECT order_key, rep_id, customer_owner_rep_id FROM marts.fct_sales_orders "
                       "WHERE order_key IN ('O5', 'O6') ORDER BY order_key") == [("O5", None, ZHAO), ("O6", None, QIAN)]
    # rep 1's February (O1, 1000) is 华北's, March on 华东's; May's O5 is rep 1's, July's O6 rep 2's
    assert monthly(built, "month, team, revenue", "level = 'team' AND revenue <> 0") == [
        (d(2024, 2, 1), "华北", D("1000")), (d(2024, 3, 1), "华东", D("500")), (d(2024, 4, 1), None, D("710")),
        (d(2024, 5, 1), "华东", D("200")), (d(2024, 7, 1), "华南", D("50"))]


def test_period_measures(built: Warehouse) -> None:
    got = monthly(built, "month, fiscal_year, fiscal_quarter, revenue, revenue_qtd, revenue_ytd, revenue_t12m, "
                         "win_rate_t12m_pct, avg_deal_size_t12m, avg_sales_cycle_t12m_days",
                  f"level = 'rep' AND rep_id = '{ZHAO}' AND month BETWEEN DATE '2024-02-01' AND DATE '2024-05-01'")
    assert got == [
        # fiscal 2024 ends in March: February 1000, March 500; the new fiscal year starts in April
        (d(2024, 2, 1), 2024, 4, D("1000"), D("1000"), D("1000"), D("1000"), None, None, None),
        # OP4 lost in March: win rate 0% over the 12 months
        (d(2024, 3, 1), 2024, 4, D("500"), D("1500"), D("1500"), D("1500"), D("0"), None, None),
        # OP3 won in April (6000 after 61 days): 1 won of 2 closed in the 12 months
        (d(2024, 4, 1), 2025, 1, D("0"), D("0"), D("0"), D("1500"), D("50"), D("6000"), D("61.0")),
        (d(2024, 5, 1), 2025, 1, D("200"), D("200"), D("200"), D("1700"), D("50"), D("6000"), D("61.0")),
    ]
    got = rows(built, "SELECT period, fiscal_year, fiscal_quarter, team, orders, revenue, opportunities_won, "
                      "opportunities_lost, win_rate_pct, avg_deal_size, avg_sales_cycle_days, open_pipeline_end "
                      f"FROM marts.sales_performance_period WHERE level = 'rep' AND rep_id = '{ZHAO}' "
                      "ORDER BY period, fiscal_year, fiscal_quarter")
    assert got == [
        # fiscal 2024 Q4 (January–March 2024): O1 + O2; OP4 lost; 14000 open at the end of March
        ("quarter", 2024, 4, "华东", 2, D("1500"), 0, 1, D("0"), None, None, D("14000")),
        # fiscal 2025 Q1 (April–June): O5; OP3 won; OP1's 8000 still open
        ("quarter", 2025, 1, "华东", 1, D("200"), 1, 0, D("100"), D("6000"), D("61.0"), D("8000")),
        ("quarter", 2025, 2, "华东", 0, D("0"), 0, 0, None, None, None, D("8000")),  # July, the last month
        ("year", 2024, None, "华东", 2, D("1500"), 0, 1, D("0"), None, None, D("14000")),
        ("year", 2025, None, "华东", 1, D("200"), 1, 0, D("100"), D("6000"), D("61.0"), D("8000")),
    ]

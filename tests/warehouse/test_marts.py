"""Every mart on a small hand-made warehouse, on DuckDB and on PostgreSQL, against rows written out by hand.

The fixture is a few staged records from three sources (an ERP, a CRM, WeCom), their golden customers and a
targets / channel-cost file, as `stage` and `match` would have left them. The expected rows below were worked
out by hand from it; the comments give the arithmetic.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.entities import ENTITIES
from pipelines.publish import MARTS, mart_columns, mart_inputs, publish
from pipelines.stage import ensure_staging, staging_columns, to_arrow
from predict.catalog import all_mart_docs
from warehouse.contract import MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse
from warehouse.marts.catalog import mart_docs, with_reference
from warehouse.raw import QUARANTINE_COLUMNS

REPO = Path(__file__).resolve().parents[2]
d = dt.date
ts = dt.datetime

# rep_id = 'R' + the first 10 hex digits of md5(name), upper-cased (md5(name + '#' + mobile) for namesakes)
ZHANG, LI, WANG = "R305BE79653", "RB1DB96A48B", "R1039106987"
LIU1, LIU2 = "R9149BB0F9D", "R39BE94D670"
USCC_OK, USCC_BAD = "91310115MA1K3Y4X0P", "91310115MA1K3Y4X0Q"  # same 17 characters, right / wrong check char

STAGING: dict[str, list[dict[str, Any]]] = {
    "sales_rep": [
        {"source_name": "erp", "stream": "reps", "source_key": "1", "rep_key": "1", "name": "张伟", "team": "华东",
         "updated_at": "2024-01-01"},
        {"source_name": "erp", "stream": "reps", "source_key": "2", "rep_key": "2", "name": "李娜", "team": "华南",
         "updated_at": "2024-01-01"},
        {"source_name": "wecom", "stream": "users", "source_key": "zhangwei", "rep_key": "zhangwei", "name": "张 伟",
         "region": "上海", "mobile": "138-0000-0001", "userid": "zhangwei", "updated_at": "2024-06-01"},
        {"source_name": "wecom", "stream": "users", "source_key": "wangfang", "rep_key": "wangfang", "name": "王芳",
         "team": "华东", "region": "杭州", "email": "wangfang@corp.example", "userid": "wangfang"},
        # two people called 刘洋, told apart by their mobiles
        {"source_name": "wecom", "stream": "users", "source_key": "liuyang1", "rep_key": "liuyang1", "name": "刘洋",
         "team": "华南", "mobile": "13900000001", "userid": "liuyang1"},
        {"source_name": "wecom", "stream": "users", "source_key": "liuyang2", "rep_key": "liuyang2", "name": "刘洋",
         "team": "华北", "mobile": "13900000002", "userid": "liuyang2"},
    ],
    "customer": [
        {"source_name": "erp", "stream": "customers", "source_key": "C1", "name": "甲公司", "uscc": USCC_OK,
         "phone": "021-12345678"},
        {"source_name": "erp", "stream": "customers", "source_key": "C2", "name": "乙公司", "uscc": USCC_BAD,
         "phone": "12345"},
        {"source_name": "crm", "stream": "accounts", "source_key": "A1", "name": "甲公司", "short_name": "甲",
         "phone": "+86 138 0013 8000", "owner": "李娜"},
        {"source_name": "crm", "stream": "accounts", "source_key": "A2", "name": "乙公司上海分公司",
         "phone": "0086 21 1234 5678", "owner": "ghost"},
        {"source_name": "crm", "stream": "accounts", "source_key": "A3", "name": "丙公司",
         "phone": "021-1234567 转 801"},
        {"source_name": "crm", "stream": "accounts", "source_key": "A4", "name": "甲公司（重复）", "phone": "n/a"},
    ],
    "sales_order": [  # total 1000.10 + 2000.20 + 300.30 + 50.05 + 10.00 = 3360.65
        {"source_name": "erp", "stream": "orders", "source_key": "O1", "order_number": "SO-1", "customer_key": "C1",
         "customer_stream": "customers", "order_date": "2024-01-10", "rep_key": "1", "amount": 1000.10},
        {"source_name": "erp", "stream": "orders", "source_key": "O2", "order_number": "SO-2", "customer_key": "C1",
         "customer_stream": "customers", "order_date": "2024-02-05", "rep_key": "2", "amount": 2000.20},
        {"source_name": "erp", "stream": "orders", "source_key": "O3", "order_number": "SO-3", "customer_key": "C2",
         "customer_stream": "customers", "order_date": "2024-02-20", "rep_key": "1", "amount": 300.30},
        {"source_name": "erp", "stream": "orders", "source_key": "O4", "order_number": "SO-4", "customer_key": "C2",
         "customer_stream": "customers", "order_date": "2025-01-15", "rep_key": "9", "amount": 50.05},
        {"source_name": "erp", "stream": "orders", "source_key": "O5", "order_number": "SO-5", "customer_key": "C99",
         "customer_stream": "customers", "order_date": "2024-02-28", "rep_key": "1", "amount": 10.00},
    ],
    "payment": [
        {"source_name": "erp", "stream": "receipts", "source_key": "P1", "payment_number": "SK-1", "customer_key": "C1",
         "customer_stream": "customers", "order_number": "SO-1", "payment_date": "2024-01-20", "amount": 600.00},
        {"source_name": "erp", "stream": "receipts", "source_key": "P2", "payment_number": "SK-2", "customer_key": "C1",
         "customer_stream": "customers", "order_number": "SO-1", "payment_date": "2024-02-10", "amount": 400.10},
        {"source_name": "erp", "stream": "receipts", "source_key": "P3", "payment_number": "SK-3", "customer_key": "C2",
         "customer_stream": "customers", "payment_date": "2024-03-01", "amount": 100.00, "rep_key": "2"},
    ],
    "receivable": [
        {"source_name": "erp", "stream": "ar", "source_key": "R1", "receivable_number": "AR-1", "customer_key": "C1",
         "customer_stream": "customers", "bill_date": "2024-01-10", "amount": 1000.10},
        {"source_name": "erp", "stream": "ar", "source_key": "R2", "receivable_number": "AR-2", "customer_key": "C2",
         "customer_stream": "customers", "bill_date": "2024-02-20", "amount": 300.30},
    ],
    "opportunity": [
        {"source_name": "crm", "stream": "opps", "source_key": "OP1", "customer_key": "A1",
         "customer_stream": "accounts", "lead_key": "L1", "amount": 5000, "status": "赢单", "owner": "李娜",
         "created_at": "2024-01-05 09:00:00", "closed_at": "2024-01-25 18:00:00"},
        {"source_name": "crm", "stream": "opps", "source_key": "OP2", "customer_key": "A3",
         "customer_stream": "accounts", "amount": 3000, "status": "输单", "owner": "zhangwei",
         "created_at": "2024-01-10 09:00:00", "closed_at": "2024-02-15 09:00:00"},
        {"source_name": "crm", "stream": "opps", "source_key": "OP3", "customer_key": "A3",
         "customer_stream": "accounts", "amount": 7000, "status": "进行中", "channel": "转介绍", "owner": "zhangwei",
         "created_at": "2024-02-01 00:00:00"},
        {"source_name": "crm", "stream": "opps", "source_key": "OP4", "customer_key": "A1",
         "customer_stream": "accounts", "amount": 1500, "status": "won", "owner": "李娜",
         "created_at": "2024-02-03 00:00:00", "closed_at": "2024-02-13 00:00:00"},
    ],
    "lead": [
        {"source_name": "crm", "stream": "leads", "source_key": "L1", "channel": "展会", "owner": "ghost",
         "customer_key": "A1", "customer_stream": "accounts", "created_at": "2024-01-02 10:00:00"},
        {"source_name": "crm", "stream": "leads", "source_key": "L2", "channel": "展会", "owner": "刘洋",
         "created_at": "2024-01-20 00:00:00"},
        {"source_name": "crm", "stream": "leads", "source_key": "L3", "channel": "官网", "owner": "zhangwei",
         "opportunity_key": "OP2", "created_at": "2024-01-08 00:00:00"},
        {"source_name": "crm", "stream": "leads", "source_key": "L4", "created_at": "2024-02-01 00:00:00"},
        {"source_name": "crm", "stream": "leads", "source_key": "L5", "channel": "转介绍", "customer_key": "A3",
         "customer_stream": "accounts", "created_at": "2024-01-20 00:00:00"},
    ],
    "contact": [  # WeCom contacts name their company only; the CRM contact has its customer's key
        {"source_name": "wecom", "stream": "external_contacts", "source_key": "EC1", "name": "赵六",
         "customer_name": "甲公司", "owner": "zhangwei"},
        {"source_name": "wecom", "stream": "external_contacts", "source_key": "EC2", "name": "赵六",
         "customer_name": "甲", "owner": "wangfang"},
        {"source_name": "wecom", "stream": "external_contacts", "source_key": "EC3", "name": "钱七",
         "customer_name": "不存在公司", "owner": "zhangwei"},
        {"source_name": "crm", "stream": "contacts", "source_key": "CC1", "name": "孙八", "customer_key": "A3",
         "customer_stream": "accounts", "owner": "李娜"},
    ],
    "target": [
        {"source_name": "marts_config", "stream": "targets", "source_key": "2", "rep_key": "张伟",
         "month": "2024-01-01", "amount": 4000},
        {"source_name": "marts_config", "stream": "targets", "source_key": "3", "rep_key": "wangfang",
         "month": "2024-01-15", "amount": 500},
        {"source_name": "marts_config", "stream": "targets", "source_key": "4", "team": "华南",
         "month": "2024-02-01", "amount": 2500},
        {"source_name": "marts_config", "stream": "targets", "source_key": "5", "rep_key": "nobody",
         "month": "2024-01-01", "amount": 999},
    ],
    "channel_cost": [
        {"source_name": "marts_config", "stream": "channel_costs", "source_key": "2", "channel": "展会",
         "month": "2024-01-01", "amount": 800},
        {"source_name": "marts_config", "stream": "channel_costs", "source_key": "3", "channel": "展会",
         "month": "2024-02-01", "amount": 200},
        {"source_name": "marts_config", "stream": "channel_costs", "source_key": "4", "channel": "广告",
         "amount": 300},
    ],
}

XREF = [("erp", "customers", "C1", "G1"), ("crm", "accounts", "A1", "G1"), ("crm", "accounts", "A4", "G1"),
        ("erp", "customers", "C2", "G2"), ("crm", "accounts", "A2", "G3"), ("crm", "accounts", "A3", "G4")]
GOLDEN = [
    {"golden_id": "G1", "name": "甲公司", "uscc": USCC_OK, "source_count": 3, "system_count": 2,
     "first_seen": "2023-01-15", "last_seen": "2024-01-01"},
    {"golden_id": "G2", "name": "乙公司", "source_count": 1, "system_count": 1},
    {"golden_id": "G3", "name": "乙公司上海分公司", "is_branch": True, "source_count": 1, "system_count": 1,
     "first_seen": "2023-06-01", "last_seen": "2023-06-01"},
    {"golden_id": "G4", "name": "丙公司", "source_count": 1, "system_count": 1},
]
QUARANTINE = [  # crm.accounts: one record rejected at staging, one refused at landing, one value nulled
    {"source": "crm", "stream": "accounts", "stage": "staging", "record_key": "A9", "field": "name",
     "reason": "required field is empty or missing", "action": "rejected"},
    {"source": "crm", "stream": "accounts", "stage": "load", "reason": "primary key field 'id' is missing",
     "action": "rejected"},
    {"source": "crm", "stream": "accounts", "stage": "staging", "record_key": "A3", "field": "created_at",
     "reason": "not a date-time", "action": "field_nulled"},
]


def fill(wh: Warehouse, staging: dict[str, list[dict[str, Any]]], xref: list[tuple[str, str, str, str]],
         golden: list[dict[str, Any]], quarantine: list[dict[str, Any]]) -> None:
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        for entity, rows in staging.items():
            wh.insert_frame(conn, "staging", entity, to_arrow(pd.DataFrame(rows), staging_columns(ENTITIES[entity])))
        x = pd.DataFrame(xref, columns=["source_name", "stream", "source_key", "golden_id"])
        wh.insert_frame(conn, "mdm", "xref", to_arrow(x, MDM_TABLES["xref"][0]))
        wh.insert_frame(conn, "mdm", "golden_customer",
                        to_arrow(pd.DataFrame(golden), MDM_TABLES["golden_customer"][0]))
        h = pd.DataFrame([{"child_golden_id": "G3", "parent_golden_id": "G2", "relation": "branch"}])
        wh.insert_frame(conn, "mdm", "customer_hierarchy", to_arrow(h, MDM_TABLES["customer_hierarchy"][0]))
        if quarantine:
            kinds = {c: "timestamp" if c == "quarantined_at" else "text" for c in QUARANTINE_COLUMNS}
            wh.insert_frame(conn, "raw", "_quarantine", to_arrow(pd.DataFrame(quarantine), kinds))


@pytest.fixture(scope="module")
def built(module_warehouse_url: str) -> Warehouse:
    """The fixture above, with every mart built: once per backend, the tests only read it."""
    wh = Warehouse(module_warehouse_url)
    fill(wh, STAGING, XREF, GOLDEN, QUARANTINE)
    publish(wh)
    return wh


def rows(wh: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    with wh.begin() as c:
        return [tuple(r) for r in c.exec_driver_sql(sql).fetchall()]


def test_dim_date_spans_the_years_of_the_facts(built: Warehouse) -> None:
    # earliest fact 2024-01-01 (a target), latest 2025-01-15 (order O4): 2024 and 2025, 366 + 365 days
    assert rows(built, "SELECT COUNT(*), MIN(date_day), MAX(date_day) FROM marts.dim_date") == [
        (731, d(2024, 1, 1), d(2025, 12, 31))]
    got = rows(built, "SELECT date_day, date_key, year, quarter, month, month_start, year_month, day_of_month, "
                      "day_of_week, iso_year, iso_week, week_start, is_weekend, fiscal_year, fiscal_quarter "
                      "FROM marts.dim_date WHERE date_day IN (DATE '2024-02-29', DATE '2024-12-30', "
                      "DATE '2025-12-28') ORDER BY date_day")
    assert got == [
        (d(2024, 2, 29), 20240229, 2024, 1, 2, d(2024, 2, 1), "2024-02", 29, 4, 2024, 9, d(2024, 2, 26), False,
         2024, 1),  # a Thursday
        # a Monday: ISO week 1 of 2025, although the calendar year is 2024
        (d(2024, 12, 30), 20241230, 2024, 4, 12, d(2024, 12, 1), "2024-12", 30, 1, 2025, 1, d(2024, 12, 30), False,
         2024, 4),
        (d(2025, 12, 28), 20251228, 2025, 4, 12, d(2025, 12, 1), "2025-12", 28, 7, 2025, 52, d(2025, 12, 22), True,
         2025, 4),  # a Sunday
    ]


def test_dim_customer_has_the_parent_and_first_and_last_seen(built: Warehouse) -> None:
    got = rows(built, "SELECT golden_id, name, parent_golden_id, parent_name, source_count, system_count, systems, "
                      "first_seen, last_seen FROM marts.dim_customer ORDER BY golden_id")
    assert got == [
        # last seen: its last order (2024-02-05) is later than its last change (2024-01-01)
        ("G1", "甲公司", None, None, 3, 2, "crm, erp", ts(2023, 1, 15), ts(2024, 2, 5)),
        # no dates in the sources: first and last order
        ("G2", "乙公司", None, None, 1, 1, "erp", ts(2024, 2, 20), ts(2025, 1, 15)),
        ("G3", "乙公司上海分公司", "G2", "乙公司", 1, 1, "crm", ts(2023, 6, 1), ts(2023, 6, 1)),
        ("G4", "丙公司", None, None, 1, 1, "crm", None, None),
    ]


def test_reps_are_unified_across_systems(built: Warehouse) -> None:
    got = rows(built, "SELECT rep_id, name, team, region, email, mobile, userid, source_records, system_count, "
                      "systems, rep_keys FROM marts.dim_sales_rep ORDER BY name, rep_id")
    assert got == [
        (LIU2, "刘洋", "华北", None, None, "13900000002", "liuyang2", 1, 1, "wecom", "wecom:liuyang2"),
        (LIU1, "刘洋", "华南", None, None, "13900000001", "liuyang1", 1, 1, "wecom", "wecom:liuyang1"),
        # 张伟 in the ERP and 张 伟 in WeCom: one rep; names tie 1:1, the more recently updated record wins
        (ZHANG, "张 伟", "华东", "上海", None, "138-0000-0001", "zhangwei", 2, 2, "erp, wecom",
         "erp:1, wecom:zhangwei"),
        (LI, "李娜", "华南", None, None, None, None, 1, 1, "erp", "erp:2"),
        (WANG, "王芳", "华东", "杭州", "wangfang@corp.example", None, "wangfang", 1, 1, "wecom", "wecom:wangfang"),
    ]
    bridge = rows(built, "SELECT source_name, rep_ref, rep_id, matched_by FROM marts.bridge_sales_rep "
                         "ORDER BY source_name, rep_ref")
    assert bridge == [
        ("crm", "ghost", None, None),
        ("crm", "zhangwei", ZHANG, "userid_other_source"),
        ("crm", "刘洋", None, None),  # two reps have that name
        ("crm", "李娜", LI, "name"),
        ("erp", "1", ZHANG, "rep_key"),
        ("erp", "2", LI, "rep_key"),
        ("erp", "9", None, None),
        ("marts_config", "nobody", None, None),
        ("marts_config", "wangfang", WANG, "userid_other_source"),
        ("marts_config", "张伟", ZHANG, "name"),
        ("wecom", "liuyang1", LIU1, "rep_key"),
        ("wecom", "liuyang2", LIU2, "rep_key"),
        ("wecom", "wangfang", WANG, "rep_key"),
        ("wecom", "zhangwei", ZHANG, "rep_key"),
    ]


def test_facts_carry_golden_customer_and_rep(built: Warehouse) -> None:
    assert rows(built, "SELECT order_key, order_month, amount, golden_id, rep_id, rep_name "
                       "FROM marts.fct_sales_orders ORDER BY order_key") == [
        ("O1", d(2024, 1, 1), D("1000.10"), "G1", ZHANG, "张 伟"),
        ("O2", d(2024, 2, 1), D("2000.20"), "G1", LI, "李娜"),
        ("O3", d(2024, 2, 1), D("300.30"), "G2", ZHANG, "张 伟"),
        ("O4", d(2025, 1, 1), D("50.05"), "G2", None, None),  # rep 9 is on no rep list
        ("O5", d(2024, 2, 1), D("10.00"), None, ZHANG, "张 伟"),  # customer C99 is unknown
    ]
    # the money reconciles to the cent with the staged orders: 3360.65
    assert rows(built, "SELECT SUM(amount) FROM marts.fct_sales_orders") == [(D("3360.65"),)]
    assert rows(built, "SELECT payment_key, payment_month, amount, golden_id, order_key, rep_id "
                       "FROM marts.fct_payments ORDER BY payment_key") == [
        ("P1", d(2024, 1, 1), D("600.00"), "G1", "O1", ZHANG),  # the rep of the order it pays
        ("P2", d(2024, 2, 1), D("400.10"), "G1", "O1", ZHANG),
        ("P3", d(2024, 3, 1), D("100.00"), "G2", None, LI),  # its own rep
    ]
    assert rows(built, "SELECT opportunity_key, golden_id, outcome, rep_id, created_month, closed_month, "
                       "sales_cycle_days FROM marts.fct_opportunities ORDER BY opportunity_key") == [
        ("OP1", "G1", "won", LI, d(2024, 1, 1), d(2024, 1, 1), 20),
        ("OP2", "G4", "lost", ZHANG, d(2024, 1, 1), d(2024, 2, 1), 36),
        ("OP3", "G4", "open", ZHANG, d(2024, 2, 1), None, None),
        ("OP4", "G1", "won", LI, d(2024, 2, 1), d(2024, 2, 1), 10),
    ]
    assert rows(built, "SELECT lead_key, channel, is_converted, rep_id, opportunity_key, opportunity_link, "
                       "golden_id, created_month FROM marts.fct_leads ORDER BY lead_key") == [
        ("L1", "展会", True, None, "OP1", "opportunity", "G1", d(2024, 1, 1)),  # OP1 names L1 as its lead
        ("L2", "展会", False, None, None, None, None, d(2024, 1, 1)),  # 刘洋 is ambiguous
        ("L3", "官网", True, ZHANG, "OP2", "lead", "G4", d(2024, 1, 1)),  # golden customer through its opportunity
        ("L4", "(unknown)", False, None, None, None, None, d(2024, 2, 1)),
        # converted to A3 (G4) on 2024-01-20: G4's first opportunity since then is OP3 (OP2 is older)
        ("L5", "转介绍", True, None, "OP3", "customer", "G4", d(2024, 1, 1)),
    ]


MAR_2024_TO_JAN_2025 = [d(2024 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(3, 14)]
PERFORMANCE_COLUMNS = ("level, rep_id, team, region, month, orders, revenue, payments_collected, target, "
                       "attainment_pct, new_customers, opportunities_won, opportunities_lost, win_rate_pct, "
                       "won_amount, avg_deal_size, avg_sales_cycle_days, open_pipeline")


def test_sales_performance_per_rep_then_team_and_region(built: Warehouse) -> None:
    got = rows(built, f"SELECT {PERFORMANCE_COLUMNS} FROM marts.sales_performance_monthly WHERE level = 'rep' "
                      "ORDER BY rep_id NULLS LAST, month")
    assert got == [
        # 王芳: only her target (500, month 2024-01-15 counts for January)
        ("rep", WANG, "华东", "杭州", d(2024, 1, 1), 0, D("0"), D("0"), D("500"), D("0"), 0, 0, 0, None, D("0"),
         None, None, D("0")),
        # 张伟, January: O1 1000.10 of a 4000 target = 25.00%; P1 600; G1 new; OP2 (3000) still open at month end
        ("rep", ZHANG, "华东", "上海", d(2024, 1, 1), 1, D("1000.10"), D("600.00"), D("4000"), D("25.00"), 1, 0, 0,
         None, D("0"), None, None, D("3000")),
        # February: O3 + O5 = 310.30; P2; G2 new; OP2 lost (win rate 0%); OP3 opened, 7000 open
        ("rep", ZHANG, "华东", "上海", d(2024, 2, 1), 2, D("310.30"), D("400.10"), None, None, 1, 0, 1, D("0"),
         D("0"), None, None, D("7000")),
        # OP3 stays open: a row per month up to January 2025, the last month with facts (O4), nothing but the
        # 7000 of open pipeline
        *[("rep", ZHANG, "华东", "上海", month, 0, D("0"), D("0"), None, None, 0, 0, 0, None, D("0"), None, None,
           D("7000")) for month in MAR_2024_TO_JAN_2025],
        # 李娜: OP1 won in January after 20 days; OP4 (1500) in February after 10 days, and O2
        ("rep", LI, "华南", None, d(2024, 1, 1), 0, D("0"), D("0"), None, None, 0, 1, 0, D("100"), D("5000"),
         D("5000"), D("20.0"), D("0")),
        ("rep", LI, "华南", None, d(2024, 2, 1), 1, D("2000.20"), D("0"), None, None, 0, 1, 0, D("100"), D("1500"),
         D("1500"), D("10.0"), D("0")),
        ("rep", LI, "华南", None, d(2024, 3, 1), 0, D("0"), D("100.00"), None, None, 0, 0, 0, None, D("0"), None,
         None, D("0")),
        # O4 without a known rep
        ("rep", None, None, None, d(2025, 1, 1), 1, D("50.05"), D("0"), None, None, 0, 0, 0, None, D("0"), None,
         None, D("0")),
    ]
    got = rows(built, "SELECT team, month, orders, revenue, payments_collected, target, attainment_pct, "
                      "new_customers, opportunities_won, open_pipeline FROM marts.sales_performance_monthly "
                      "WHERE level = 'team' ORDER BY team NULLS LAST, month")
    assert got == [
        # 华东 = 张伟 + 王芳; January target 4000 + 500; 1000.10 / 4500 = 22.22%
        ("华东", d(2024, 1, 1), 1, D("1000.10"), D("600.00"), D("4500"), D("22.22"), 1, 0, D("3000")),
        ("华东", d(2024, 2, 1), 2, D("310.30"), D("400.10"), None, None, 1, 0, D("7000")),
        *[("华东", month, 0, D("0"), D("0"), None, None, 0, 0, D("7000")) for month in MAR_2024_TO_JAN_2025],
        ("华南", d(2024, 1, 1), 0, D("0"), D("0"), None, None, 0, 1, D("0")),
        # the team's own February target, 2500: 2000.20 / 2500 = 80.01%
        ("华南", d(2024, 2, 1), 1, D("2000.20"), D("0"), D("2500"), D("80.01"), 0, 1, D("0")),
        ("华南", d(2024, 3, 1), 0, D("0"), D("100.00"), None, None, 0, 0, D("0")),
        (None, d(2025, 1, 1), 1, D("50.05"), D("0"), None, None, 0, 0, D("0")),
    ]
    got = rows(built, "SELECT region, month, orders, revenue, target, opportunities_won FROM "
                      "marts.sales_performance_monthly WHERE level = 'region' ORDER BY region NULLS LAST, month")
    assert got == [
        ("上海", d(2024, 1, 1), 1, D("1000.10"), D("4000"), 0),
        ("上海", d(2024, 2, 1), 2, D("310.30"), None, 0),
        *[("上海", month, 0, D("0"), None, 0) for month in MAR_2024_TO_JAN_2025],
        ("杭州", d(2024, 1, 1), 0, D("0"), D("500"), 0),
        (None, d(2024, 1, 1), 0, D("0"), None, 1),
        (None, d(2024, 2, 1), 1, D("2000.20"), None, 1),
        (None, d(2024, 3, 1), 0, D("0"), None, 0),
        (None, d(2025, 1, 1), 1, D("50.05"), None, 0),
    ]
    # every level sums to the orders: 3360.65
    assert rows(built, "SELECT level, SUM(revenue) FROM marts.sales_performance_monthly GROUP BY level "
                       "ORDER BY level") == [("region", D("3360.65")), ("rep", D("3360.65")), ("team", D("3360.65"))]


def test_customer_360(built: Warehouse) -> None:
    got = rows(built, "SELECT golden_id, parent_golden_id, systems, orders, lifetime_revenue, revenue_12m, "
                      "as_of_date, first_order_date, last_order_date, payments_total, receivables_total, "
                      "outstanding_receivables, open_opportunities, open_pipeline, contacts, followers, "
                      "follower_names FROM marts.customer_360 ORDER BY golden_id")
    assert got == [
        # 12 months up to 2025-01-15 (the last order) start after 2024-01-15: O2 only; billed 1000.10, paid 1000.10;
        # contacts EC1 (甲公司) and EC2 (甲, the short name of A1), followed by 张伟 and 王芳
        ("G1", None, "crm, erp", 2, D("3000.30"), D("2000.20"), d(2025, 1, 15), d(2024, 1, 10), d(2024, 2, 5),
         D("1000.10"), D("1000.10"), D("0"), 0, D("0"), 2, 2, "张 伟, 王芳"),
        # billed 300.30, paid 100.00: 200.30 outstanding
        ("G2", None, "erp", 2, D("350.35"), D("350.35"), d(2025, 1, 15), d(2024, 2, 20), d(2025, 1, 15),
         D("100.00"), D("300.30"), D("200.30"), 0, D("0"), 0, 0, None),
        ("G3", "G2", "crm", 0, D("0"), D("0"), d(2025, 1, 15), None, None, D("0"), None, None, 0, D("0"), 0, 0, None),
        # OP3 is open; CC1 (李娜) names A3 by key
        ("G4", None, "crm", 0, D("0"), D("0"), d(2025, 1, 15), None, None, D("0"), None, None, 1, D("7000"), 1, 1,
         "李娜"),
    ]


def test_lead_to_cash_funnel(built: Warehouse) -> None:
    got = rows(built, "SELECT * FROM marts.lead_to_cash ORDER BY month, channel")
    assert got == [
        # 官网: L3 → OP2 (2 days later), lost
        (d(2024, 1, 1), "官网", 1, 1, 0, 0, 0, D("0"), D("100"), D("0"), None, None, D("0"), D("2.0"), None, None,
         None),
        # 展会: L1 → OP1 after 3 days, won after 20; first order of G1 on or after the win: O2 (11 days), first
        # payment on or after O2: P2 (5 days). L2 goes nowhere.
        (d(2024, 1, 1), "展会", 2, 1, 1, 1, 1, D("5000"), D("50"), D("100"), D("100"), D("100"), D("50"), D("3.0"),
         D("20.0"), D("11.0"), D("5.0")),
        # 转介绍: L5 → OP3 12 days later, still open
        (d(2024, 1, 1), "转介绍", 1, 1, 0, 0, 0, D("0"), D("100"), D("0"), None, None, D("0"), D("12.0"), None, None,
         None),
        (d(2024, 2, 1), "(unknown)", 1, 0, 0, 0, 0, D("0"), D("0"), None, None, None, D("0"), None, None, None, None),
    ]


def test_channel_roi(built: Warehouse) -> None:
    got = rows(built, "SELECT * FROM marts.channel_roi ORDER BY channel, month NULLS FIRST")
    assert got == [
        ("(unknown)", d(2024, 2, 1), 1, 0, 0, D("0"), D("0"), None, None, None),  # L4 has no channel
        ("官网", d(2024, 1, 1), 1, 1, 0, D("0"), D("0"), None, None, None),  # L3 → OP2, lost in February
        # January: L1, L2; OP1 (through L1) created and won for 5000; cost 800: (5000 − 800) / 800 = 525%
        ("展会", d(2024, 1, 1), 2, 1, 1, D("5000"), D("50"), D("800"), D("400"), D("525")),
        # February: OP4 has no lead of its own, but L1 converted its customer (A1, G1) before it was created:
        # 展会; won for 1500 against a cost of 200: 650%
        ("展会", d(2024, 2, 1), 0, 1, 1, D("1500"), None, D("200"), None, D("650")),
        ("广告", None, 0, 0, 0, D("0"), None, D("300"), None, D("-100")),  # a cost not split by month
        ("转介绍", d(2024, 1, 1), 1, 0, 0, D("0"), D("0"), None, None, None),  # L5
        ("转介绍", d(2024, 2, 1), 0, 1, 0, D("0"), None, None, None, None),  # OP3, through L5
    ]


def test_data_quality(built: Warehouse) -> None:
    got = rows(built, "SELECT source_name, stream, entity, records, staged, quarantined, fields_nulled, "
                      "matched_other_system_pct, duplicates_in_source, field, filled, completeness_pct, checked, "
                      "valid, validity_pct FROM marts.data_quality WHERE field IN ('uscc', 'phone', 'owner') "
                      "AND entity = 'customer' ORDER BY source_name, field")
    crm = ("crm", "accounts", "customer", 5, 4, 2, 1, D("50"), 1)  # A9 rejected; A1, A4 also in the ERP (G1)
    erp = ("erp", "customers", "customer", 2, 2, 0, 0, D("50"), 0)  # C1 also in the CRM (G1), C2 not
    assert got == [
        (*crm, "owner", 2, D("50"), 2, 1, D("50")),  # 李娜 resolves, ghost does not
        # +86 mobile, 0086 landline without its 0, landline with an extension valid; 'n/a' not
        (*crm, "phone", 4, D("100"), 4, 3, D("75")),
        (*crm, "uscc", 0, D("0"), 0, None, None),
        (*erp, "owner", 0, D("0"), 0, None, None),
        (*erp, "phone", 2, D("100"), 2, 1, D("50")),  # 12345 is no phone number
        (*erp, "uscc", 2, D("100"), 2, 1, D("50")),  # USCC_BAD has the wrong check character
    ]
    got = rows(built, "SELECT field, filled, checked, valid FROM marts.data_quality WHERE entity = 'sales_order' "
                      "ORDER BY field")
    # every order has a currency (CNY, the reporting currency, when the source writes none) and its rate
    assert got == [("currency", 5, 5, 5), ("customer_key", 5, 5, 4), ("rep_key", 5, 5, 4), ("status", 0, 0, None)]


def test_customer_record_quality(built: Warehouse) -> None:
    """Each staged customer record's checks, what test_data_quality's figures count: G1 holds C1 (ERP) and A1, A4
    (CRM), so it is known to 2 systems and A4 repeats it in the CRM stream (A1 has the smaller key)."""
    got = rows(built, "SELECT source_name, source_key, golden_id, golden_system_count, is_duplicate_in_source, "
                      "has_name, has_short_name, has_uscc, has_phone, has_owner, uscc_valid, phone_valid, "
                      "mobile_valid, email_valid, owner_valid FROM marts.customer_record_quality "
                      "ORDER BY source_name, source_key")
    assert got == [
        ("crm", "A1", "G1", 2, False, True, True, False, True, True, None, True, None, None, True),  # +86 mobile; 李娜
        ("crm", "A2", "G3", 1, False, True, False, False, True, True, None, True, None, None, False),  # ghost: no rep
        ("crm", "A3", "G4", 1, False, True, False, False, True, False, None, True, None, None, None),  # extension
        ("crm", "A4", "G1", 2, True, True, False, False, True, False, None, False, None, None, None),  # 'n/a'
        ("erp", "C1", "G1", 2, False, True, False, True, True, False, True, True, None, None, None),
        ("erp", "C2", "G2", 1, False, True, False, True, True, False, False, False, None, None, None),  # 12345
    ]


def test_every_mart_builds_empty_from_an_empty_warehouse(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    counts = publish(wh)
    assert list(counts) == list(MARTS)
    # Without facts dim_date is the warehouse's current year, whole: read the year from the mart (the test's
    # clock and the server's may sit on either side of a New Year's midnight) and check it is complete.
    span = rows(wh, "SELECT min(date_day), max(date_day), count(DISTINCT date_day) FROM marts.dim_date")[0]
    first, last, n = (pd.Timestamp(span[0]).date(), pd.Timestamp(span[1]).date(), span[2])
    year = first.year
    assert (first, last) == (dt.date(year, 1, 1), dt.date(year, 12, 31))
    assert year in (dt.date.today().year - 1, dt.date.today().year)  # the current year, give or take midnight
    days = 366 if calendar.isleap(year) else 365
    # the calendar of that year, and the reporting currency's rate of 1 for each of its 12 months
    assert n == days and counts == {m: {"dim_date": days, "dim_fx_rate": 12}.get(m, 0) for m in MARTS}


def test_every_column_is_documented_and_every_documented_column_exists(built: Warehouse) -> None:
    assert set(mart_docs()) == {p.stem for p in (REPO / "warehouse" / "marts").glob("*.sql")}
    for mart, doc in mart_docs().items():
        assert [c for c, _ in mart_columns(built, mart)] == list(doc.columns), mart
        assert all(doc.columns.values()) and doc.description and doc.grain, mart


def test_a_mart_reads_and_references_only_marts_built_before_it() -> None:
    for i, mart in enumerate(MARTS):
        reads = {t for s, t in mart_inputs(mart) if s == "marts"} | {r.mart for r in mart_docs()[mart].references}
        assert reads <= set(MARTS[:i + 1]), f"{mart} reads {reads - set(MARTS[:i + 1])}, built later"


def test_the_docs_mart_reference_is_up_to_date() -> None:
    page = (REPO / "docs" / "marts.md").read_text(encoding="utf-8")
    assert with_reference(page, all_mart_docs()) == page, "run: python -m scripts.docs_reference"
    for mart, doc in all_mart_docs().items():
        assert f"`marts.{mart}`" in page and all(f"| `{c}` |" in page for c in doc.columns)

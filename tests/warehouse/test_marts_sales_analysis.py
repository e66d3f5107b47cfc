"""Win/loss analysis and cross-sell marts (issue 15) on a small hand-made warehouse, on DuckDB and PostgreSQL.

Three golden customers: G3 is a branch of G2 (the hierarchy), G1 shares a mobile number with G2 through a contact
(and a switchboard number with five more customers, G4-G8, which relates none of them).
G2 buys ERP and maintenance, G3 maintenance, G1 cloud servers. Opportunities: OP1 won (展会, 100k, 30 days), OP2
lost in 需求确定 (展会, 20k, 10 days, 价格过高), OP3 lost with no stage log and no reason (广告, 30k, 30 days), OP4
open. The comments give the arithmetic.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from pipelines.publish import publish
from tests.warehouse.test_marts import fill, rows
from warehouse.engine import Warehouse


def erp(stream: str, key: str, **values: Any) -> dict[str, Any]:
    return {"source_name": "erp", "stream": stream, "source_key": key, **values}


def order(key: str, customer: str, product: str, amount: str) -> dict[str, Any]:
    return erp("orders", key, order_number=key, customer_key=customer, customer_stream="customers",
               order_date="2024-02-10", amount=D(amount), product=product)


def opp(key: str, status: str, stage: str, created: str, closed: str | None, amount: int, channel: str,
        reason: str | None = None) -> dict[str, Any]:
    return erp("opps", key, status=status, stage=stage, created_at=created, closed_at=closed, amount=amount,
               channel=channel, lost_reason=reason, customer_key="C1", customer_stream="customers")


STAGING: dict[str, list[dict[str, Any]]] = {
    "customer": [erp("customers", "C1", name="甲公司", mobile="138 0013 8000", phone="010-12345678"),
                 erp("customers", "C2", name="乙集团"), erp("customers", "C3", name="乙集团上海分公司"),
                 # a switchboard of six customers (G1 and G4-G8) tells nothing: it relates none of them
                 *(erp("customers", f"C{i}", name=f"丙{i}公司", phone="010 1234 5678") for i in range(4, 9))],
    "contact": [erp("contacts", "K1", name="王五", customer_key="C2", customer_stream="customers",
                    mobile="+86 13800138000")],
    "sales_order": [order("O1", "C2", "ERP实施", "300000"), order("O2", "C2", "年度维保", "50000"),
                    order("O3", "C3", "年度维保", "40000"), order("O4", "C1", "云服务器", "80000")],
    "opportunity": [
        opp("OP1", "赢单", "赢单", "2024-01-01 09:00:00", "2024-01-31 09:00:00", 100000, "展会"),
        opp("OP2", "输单", "输单", "2024-01-01 09:00:00", "2024-01-11 09:00:00", 20000, "展会", "价格过高"),
        opp("OP3", "输单", "输单", "2024-02-01 09:00:00", "2024-03-02 09:00:00", 30000, "广告"),
        opp("OP4", "进行中", "初步接洽", "2024-03-01 09:00:00", None, 50000, "展会"),
    ],
    "opportunity_stage": [erp("opp_log", f"S{i}", opportunity_key="OP2", stage=s, entered_at=t)
                          for i, (s, t) in enumerate((("初步接洽", "2024-01-01 09:00:00"),
                                                      ("需求确定", "2024-01-05 09:00:00"),
                                                      ("输单", "2024-01-11 09:00:00")))],
}
XREF = [("erp", "customers", "C1", "G1"), ("erp", "customers", "C2", "G2"), ("erp", "customers", "C3", "G3"),
        *(("erp", "customers", f"C{i}", f"G{i}") for i in range(4, 9))]
GOLDEN = [{"golden_id": g, "name": n, "industry": "制造业", "source_count": 1, "system_count": 1}
          for g, n in (("G1", "甲公司"), ("G2", "乙集团"), ("G3", "乙集团上海分公司"),
                       *((f"G{i}", f"丙{i}公司") for i in range(4, 9)))]


@pytest.fixture(scope="module")
def built(module_warehouse_url: str) -> Warehouse:
    wh = Warehouse(module_warehouse_url)
    fill(wh, STAGING, XREF, GOLDEN, [])  # fill adds the hierarchy: G3 a branch of G2
    publish(wh)
    return wh


def test_win_rate_amounts_and_cycle_per_channel_and_band(built: Warehouse) -> None:
    got = rows(built, "SELECT value, closed, won, lost, win_rate, share_of_closed, won_amount, lost_amount, "
                      "avg_cycle_days_won, avg_cycle_days_lost FROM marts.win_loss WHERE dimension = 'channel' "
                      "ORDER BY value")
    # 展会: OP1 won (100k, 30 days), OP2 lost (20k, 10 days); 广告: OP3 lost (30k, 30 days); OP4 open: nowhere
    assert [(v, c, w, lo, round(r, 3), round(s, 3), float(wa), float(la), cw, cl)
            for v, c, w, lo, r, s, wa, la, cw, cl in got] == [
        ("展会", 2, 1, 1, 0.5, 0.667, 100000.0, 20000.0, 30.0, 10.0),
        ("广告", 1, 0, 1, 0.0, 0.333, 0.0, 30000.0, None, 30.0)]
    bands = rows(built, "SELECT value, closed, won FROM marts.win_loss WHERE dimension = 'amount_band' ORDER BY 1")
    assert bands == [("1: under 50k", 2, 0), ("2: 50k-200k", 1, 1)]
    assert rows(built, "SELECT value, closed, win_rate FROM marts.win_loss WHERE dimension = 'industry'") == [
        ("制造业", 3, pytest.approx(1 / 3))]


def test_lost_deals_by_the_stage_they_were_lost_in_and_their_reason(built: Warehouse) -> None:
    # OP2's log: 初步接洽 → 需求确定 → 输单: lost in 需求确定; OP3 has no log: the stage is not recorded
    assert rows(built, "SELECT value, lost FROM marts.win_loss WHERE dimension = 'lost_at_stage' ORDER BY 1") == [
        ("(not recorded)", 1), ("需求确定", 1)]
    assert rows(built, "SELECT value, lost FROM marts.win_loss WHERE dimension = 'lost_reason' ORDER BY 1") == [
        ("(not recorded)", 1), ("价格过高", 1)]


def test_cross_sell_suggests_what_related_customers_buy(built: Warehouse) -> None:
    got = rows(built, "SELECT golden_id, related_golden_id, relations, related_products, products_to_offer, "
                      "product_names, related_revenue FROM marts.cross_sell ORDER BY 1, 2")
    assert [(g, r, rel, rp, n, names, None if rev is None else float(rev)) for g, r, rel, rp, n, names, rev in got] == [
        # G1 and G2 share 13800138000 (G1's customer record, G2's contact): G2 buys ERP (300k) and maintenance
        ("G1", "G2", "shared phone", 2, 2, "ERP实施, 年度维保", 350000.0),
        ("G2", "G1", "shared phone", 1, 1, "云服务器", 80000.0),
        ("G2", "G3", "branch", 1, 0, None, None),  # its branch buys maintenance, which G2 buys too
        ("G3", "G2", "parent company", 2, 1, "ERP实施", 300000.0),
    ]

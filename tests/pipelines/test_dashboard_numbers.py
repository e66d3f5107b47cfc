"""The cockpit's funnel, days per stage, channel ROI and open opportunities by stage (pipelines/dashboards/sales.py)
on hand-made marts with figures worked out by hand (the demo's legacy sources have no leads or opportunities)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.dashboards import Filters, sales
from warehouse.engine import Warehouse

D = dt.date


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with wh.begin() as c:
        c.exec_driver_sql("CREATE SCHEMA marts")
        c.exec_driver_sql("""CREATE TABLE marts.lead_to_cash (month DATE, channel VARCHAR, leads BIGINT,
            opportunities BIGINT, won BIGINT, ordered BIGINT, paid BIGINT, median_days_lead_to_opportunity DOUBLE,
            median_days_opportunity_to_won DOUBLE, median_days_won_to_order DOUBLE,
            median_days_order_to_paid DOUBLE)""")
        c.exec_driver_sql("""INSERT INTO marts.lead_to_cash VALUES
            ('2025-01-01', '展会', 10, 6, 3, 2, 1, 5, 20, 3, 30),
            ('2025-01-01', '官网', 30, 9, 3, 3, 2, 2, 10, 1, 15),
            ('2025-02-01', '展会', 20, 5, 4, 2, 2, 4, 12, 2, 20),
            ('2024-12-01', '展会', 100, 50, 25, 10, 5, 1, 1, 1, 1)""")
        c.exec_driver_sql("""CREATE TABLE marts.channel_roi (channel VARCHAR, month DATE, leads BIGINT,
            opportunities BIGINT, won_opportunities BIGINT, won_revenue DECIMAL(18, 2), cost DECIMAL(18, 2))""")
        c.exec_driver_sql("""INSERT INTO marts.channel_roi VALUES
            ('展会', '2025-01-01', 10, 6, 3, 300000, 100000), ('展会', '2025-02-01', 20, 5, 4, 500000, 150000),
            ('官网', '2025-01-01', 30, 9, 3, 90000, 40000), ('官网', '2024-12-01', 99, 9, 9, 9999999, 1)""")
        c.exec_driver_sql("""CREATE TABLE marts.dim_sales_rep (rep_id VARCHAR, name VARCHAR, team VARCHAR,
            region VARCHAR, is_current BOOLEAN)""")
        c.exec_driver_sql("""INSERT INTO marts.dim_sales_rep VALUES ('r1', '张三', 'T1', '上海', false),
            ('r1', '张三', 'T1', '杭州', true), ('r2', '李四', 'T2', '北京', true)""")
        c.exec_driver_sql("""CREATE TABLE marts.fct_opportunities (opportunity_id VARCHAR, source_name VARCHAR,
            rep_id VARCHAR, stage VARCHAR, outcome VARCHAR, reporting_amount DECIMAL(18, 2))""")
        c.exec_driver_sql("""INSERT INTO marts.fct_opportunities VALUES ('o1', 's1', 'r1', '谈判', 'open', 100),
            ('o2', 's1', 'r1', '谈判', 'open', 200.5), ('o3', 's2', 'r2', '方案', 'open', 1000),
            ('o4', 's1', 'r1', '谈判', 'won', 5000), ('o5', 's2', NULL, NULL, 'open', 7)""")
    return wh


def period(**kw: str) -> Filters:
    return Filters.parse("2025-01", "2025-02", **kw)


def test_funnel_conversion_and_days_per_stage(wh: Warehouse) -> None:
    with wh.begin() as c:
        f = sales.funnel(c, period())
        assert f.rows == [("leads", 60, None, Decimal("100.00")),
                          ("opportunities", 20, Decimal("33.33"), Decimal("33.33")),
                          ("won", 10, Decimal("50.00"), Decimal("16.67")),
                          ("ordered", 7, Decimal("70.00"), Decimal("11.67")),
                          ("paid", 5, Decimal("71.43"), Decimal("8.33"))]
        assert [r[1] for r in sales.funnel(c, period(channel="展会")).rows] == [30, 11, 7, 4, 3]
        # medians averaged over months and channels, weighted by the leads reaching the stage
        days = sales.stage_days(c, period())
        assert [(s, float(d), n) for s, d, n in days.rows] == [
            ("lead_to_opportunity", 3.4, 20), ("opportunity_to_won", 13.8, 10), ("won_to_order", 1.9, 7),
            ("order_to_paid", 20.0, 5)]


def test_channel_roi_adds_up_the_periods_months(wh: Warehouse) -> None:
    with wh.begin() as c:
        roi = sales.channel_roi(c, period())
    assert roi.rows == [("展会", 30, 11, 7, Decimal("800000.00"), Decimal("250000.00"), Decimal("8333.33"),
                         Decimal("220.00")),
                        ("官网", 30, 9, 3, Decimal("90000.00"), Decimal("40000.00"), Decimal("1333.33"),
                         Decimal("125.00"))]


def test_open_opportunities_by_stage_follow_source_rep_and_team(wh: Warehouse) -> None:
    with wh.begin() as c:
        assert sales.pipeline_by_stage(c, Filters()).rows == [("方案", 1, Decimal("1000.00")),
                                                              ("谈判", 2, Decimal("300.50")), ("", 1, Decimal("7.00"))]
        assert sales.pipeline_by_stage(c, Filters(team="T1")).rows == [("谈判", 2, Decimal("300.50"))]
        assert sales.pipeline_by_stage(c, Filters(region="北京")).rows == [("方案", 1, Decimal("1000.00"))]
        assert sales.pipeline_by_stage(c, Filters(source="s2")).rows == [("方案", 1, Decimal("1000.00")),
                                                                        ("", 1, Decimal("7.00"))]
        assert sales.pipeline_by_stage(c, Filters(rep="r1", source="s2")).rows == []

"""The dashboards' numbers (pipelines/dashboards, hub/console/dashboards.py) against direct SQL over the marts and
mdm.run_metrics, through the console's CSV and Excel downloads; filters, bad filters, the language switch and the
number formats. The browser side (charts drawn, table views, downloads clicked) is test_dashboards_browser.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config_file import load_config
from hub.console import create_app
from hub.console.i18n import number, pick_lang
from warehouse.engine import Warehouse

PASSWORDS = {"vic": "viewer-pass-1", "alice": "steward-pass-1", "root": "admin-pass-01"}  # tests/hub/conftest.py


def logged_in(cfg_path: Path, name: str = "vic") -> TestClient:
    c = TestClient(create_app(load_config(cfg_path)), follow_redirects=False)
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": name, "password": PASSWORDS[name], "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/cockpit", r.text
    return c


def rows_of(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # a BOM, so Excel reads the Chinese labels as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def dec(text: str) -> Decimal | None:
    return Decimal(text) if text != "" else None


def sql_rows(cfg_path: Path, sql: str, params: dict | None = None) -> list[tuple]:
    wh = Warehouse(load_config(cfg_path).warehouse.url)
    try:
        return [tuple(r) for r in wh.read_frame(sql, params or {}).itertuples(index=False)]
    finally:
        wh.dispose()


@pytest.fixture
def viewer(dashboard_project: Path) -> TestClient:
    return logged_in(dashboard_project, "vic")


def test_revenue_against_target_equals_the_marts_for_the_company_a_team_a_rep_and_a_source(
        dashboard_project: Path, viewer: TestClient) -> None:
    q = "from=2024-01&to=2025-06"
    got = rows_of(viewer.get(f"/dashboards/cockpit/revenue_vs_target.csv?{q}").content)
    assert got[0] == ["Month", "Orders", "Revenue", "Target", "Attainment %"]
    months = [r[0] for r in got[1:]]
    assert months[0] == "2024-01" and months[-1] == "2025-06" and len(months) == 18
    # the company: every revenue order of the fact mart, by month; targets: the team rows of the monthly mart
    facts = dict(((m.strftime("%Y-%m"), (n, r)) for m, n, r in sql_rows(dashboard_project, """
        SELECT order_month, count(*), sum(reporting_amount) FROM marts.fct_sales_orders
        WHERE is_revenue AND order_month BETWEEN '2024-01-01' AND '2025-06-01' GROUP BY order_month""")))
    targets = dict(((m.strftime("%Y-%m"), t) for m, t in sql_rows(dashboard_project, """
        SELECT month, sum(target) FROM marts.sales_performance_monthly WHERE level = 'team'
        AND month BETWEEN '2024-01-01' AND '2025-06-01' GROUP BY month""")))
    assert sum(n for n, _ in facts.values()) > 50
    for month, orders, revenue, target, attainment in got[1:]:
        n, r = facts.get(month, (0, Decimal(0)))
        assert (int(orders), dec(revenue)) == (n, Decimal(r)), month
        assert dec(target) == targets[month]
        assert dec(attainment) == (Decimal(r) * 100 / targets[month]).quantize(Decimal("0.01")), month

    # a team: its own rows of the monthly mart, and the same from the fact mart with a source filter
    [(team,), *_] = sql_rows(dashboard_project, """
        SELECT team FROM marts.fct_sales_orders o JOIN marts.dim_sales_rep d ON d.rep_id = o.rep_id AND d.is_current
        GROUP BY team ORDER BY count(*) DESC""")
    by_team = rows_of(viewer.get(f"/dashboards/cockpit/revenue_vs_target.csv?{q}&team={team}").content)
    want = dict(((m.strftime("%Y-%m"), (o, r, t)) for m, o, r, t in sql_rows(dashboard_project, """
        SELECT month, orders, revenue, target FROM marts.sales_performance_monthly WHERE level = 'team'
        AND team = :t AND month BETWEEN '2024-01-01' AND '2025-06-01'""", {"t": team})))
    assert [(int(o), dec(r), dec(t)) for _, o, r, t, _ in by_team[1:]] == [want[m] for m in months]
    assert sum(dec(r[2]) for r in by_team[1:]) < sum(dec(r[2]) for r in got[1:])
    from_facts = rows_of(viewer.get(f"/dashboards/cockpit/revenue_vs_target.csv?{q}&team={team}&source=erp").content)
    assert from_facts[0] == ["Month", "Orders", "Revenue"]  # targets are not per source
    assert [r[:3] for r in from_facts[1:]] == [r[:3] for r in by_team[1:]]

    # a rep: the leaderboard's row and the rep's months agree with the rep rows of the mart
    board = rows_of(viewer.get(f"/dashboards/cockpit/leaderboard.csv?{q}").content)
    assert board[0] == ["Rep ID", "Sales rep", "Team", "Revenue", "Target", "Attainment %"]
    atts = [dec(r[5]) for r in board[1:] if r[5]]
    assert atts == sorted(atts, reverse=True) and len(board) - 1 == 20  # the best 20 of 40
    rep, revenue = board[1][0], dec(board[1][3])
    [(want_rev, want_target)] = sql_rows(dashboard_project, """
        SELECT sum(revenue), sum(target) FROM marts.sales_performance_monthly WHERE level = 'rep' AND rep_id = :r
        AND month BETWEEN '2024-01-01' AND '2025-06-01'""", {"r": rep})
    assert (revenue, dec(board[1][4])) == (want_rev, want_target)
    by_rep = rows_of(viewer.get(f"/dashboards/cockpit/revenue_vs_target.csv?{q}&rep={rep}").content)
    assert sum(dec(r[2]) for r in by_rep[1:]) == revenue

    # a source system without orders: zero revenue every month
    none = rows_of(viewer.get(f"/dashboards/cockpit/revenue_vs_target.csv?{q}&source=crm_a").content)
    assert len(none) == 19 and {r[2] for r in none[1:]} == {"0.00"}


def test_the_kpis_trend_and_year_over_year_add_up(dashboard_project: Path, viewer: TestClient) -> None:
    trend = rows_of(viewer.get("/dashboards/cockpit/revenue_trend.csv?from=2025-01&to=2025-06").content)
    facts = dict(((m.strftime("%Y-%m"), r) for m, r in sql_rows(dashboard_project, """
        SELECT order_month, sum(reporting_amount) FROM marts.fct_sales_orders WHERE is_revenue GROUP BY 1""")))
    for month, revenue, prior, yoy in trend[1:]:
        y, m = month.split("-")
        before = facts.get(f"{int(y) - 1}-{m}", Decimal(0))
        assert dec(revenue) == facts.get(month, Decimal(0)) and dec(prior) == before
        assert dec(yoy) == ((facts.get(month, 0) - before) * 100 / before).quantize(Decimal("0.01"))
    page = viewer.get("/cockpit?from=2025-01&to=2025-06")
    assert page.status_code == 200
    total = sum((dec(r[1]) for r in trend[1:]), Decimal(0))
    kpi = re.search(r'data-kpi="revenue">.*?class="kpi-value">([^<]+)<', page.text, re.S).group(1)  # type: ignore
    assert kpi == number(total, "money") and kpi.startswith("¥")


def test_top_customers_are_customer_360s_and_link_to_the_golden_record(dashboard_project: Path,
                                                                         viewer: TestClient) -> None:
    got = rows_of(viewer.get("/dashboards/customers/top_customers.csv?sort=revenue_12m").content)
    want = sql_rows(dashboard_project, """
        SELECT golden_id, revenue_12m FROM marts.customer_360 WHERE revenue_12m <> 0
        ORDER BY revenue_12m DESC, golden_id LIMIT 20""")
    assert [(r[0], dec(r[6])) for r in got[1:]] == want
    page = viewer.get("/cockpit/customers?sort=revenue_12m").text
    assert f'href="/customers/{want[0][0]}"' in page
    assert viewer.get(f"/customers/{want[0][0]}").status_code == 200


def test_mdm_health_draws_each_run_of_the_history(dashboard_project: Path, viewer: TestClient) -> None:
    runs = sql_rows(dashboard_project, """
        SELECT run_id, MIN(run_at), MAX(CASE WHEN measure = 'golden_customers' AND source_name IS NULL THEN value END),
               MAX(CASE WHEN measure = 'source_records' AND source_name IS NULL THEN value END),
               MAX(CASE WHEN measure = 'merged_ids' AND source_name IS NULL THEN value END)
        FROM mdm.run_metrics GROUP BY run_id ORDER BY 2""")
    assert len(runs) == 2  # the demo run, then the run after a steward's merge
    trend = rows_of(viewer.get("/dashboards/health/golden_trend.csv").content)
    assert [(int(r[1]), int(r[2])) for r in trend[1:]] == [(int(g), int(s)) for _, _, g, s, _ in runs]
    assert int(trend[2][1]) == int(trend[1][1]) - 1  # the merge: one golden customer fewer
    [(now,)] = sql_rows(dashboard_project, "SELECT count(*) FROM mdm.golden_customer")
    assert int(trend[-1][1]) == now
    dup = rows_of(viewer.get("/dashboards/health/duplicates_resolved.csv").content)
    assert [int(r[2]) for r in dup[1:]] == [int(runs[0][4]), int(runs[1][4] - runs[0][4])] == [0, 1]
    assert int(dup[2][1]) == 1  # one more record beyond one per golden customer
    per = rows_of(viewer.get("/dashboards/health/records_per_golden.csv").content)
    want = sql_rows(dashboard_project, "SELECT LEAST(source_count, 6), count(*) FROM marts.dim_customer "
                                       "GROUP BY 1 ORDER BY 1")
    assert [(r[0], int(r[1])) for r in per[1:]] == [("6+" if a == 6 else str(a), b) for a, b in want]
    assert want[-1][0] == 6  # the merged customer
    assert sum(dec(r[2]) for r in per[1:]) == pytest.approx(100, abs=0.05)
    comp = rows_of(viewer.get("/dashboards/health/completeness_now.csv?source=crm_b").content)
    want = sql_rows(dashboard_project, """
        SELECT stream, field, completeness_pct FROM marts.data_quality WHERE source_name = 'crm_b'
        AND entity = 'customer' AND field IN ('name', 'uscc', 'phone', 'mobile', 'email', 'address', 'contact_name',
        'owner') ORDER BY stream, field""")
    assert [(r[0], r[1], r[2], dec(r[3])) for r in comp[1:]] == [("crm_b", s, f, v) for s, f, v in want] and want
    # a period before the runs: no point
    assert len(rows_of(viewer.get("/dashboards/health/golden_trend.csv?from=2001-01&to=2001-12").content)) == 1
    throughput = rows_of(viewer.get("/dashboards/health/steward_throughput.csv").content)
    [(decisions,)] = sql_rows(dashboard_project, "SELECT count(*) FROM mdm.decisions")
    assert sum(int(r[2]) for r in throughput[1:]) == decisions


def test_excel_download_holds_the_same_numbers(viewer: TestClient) -> None:
    from openpyxl import load_workbook

    csv_rows = rows_of(viewer.get("/dashboards/cockpit/revenue_vs_target.csv?from=2025-01&to=2025-03").content)
    r = viewer.get("/dashboards/cockpit/revenue_vs_target.xlsx?from=2025-01&to=2025-03")
    assert r.headers["content-disposition"] == 'attachment; filename="cockpit-revenue_vs_target.xlsx"'
    sheet = load_workbook(io.BytesIO(r.content))["data"]
    xl = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert xl[0] == csv_rows[0]
    assert [[str(v) if isinstance(v, str) else Decimal(str(v)) for v in row] for row in xl[1:]] == \
        [[row[0], *(Decimal(v) for v in row[1:])] for row in csv_rows[1:]]


def test_the_forecast_is_the_pipeline_forecast_mart_with_its_interval(forecast_project: Path) -> None:
    """The pipeline page's forecast: per month ahead, the current forecast of the company, a team or a rep as
    marts.pipeline_forecast holds it (expected revenue, the 10th and 90th percentile, the stage-weighted
    pipeline), in the CSV and the Excel download alike; a source filter does not apply and says so."""
    from openpyxl import load_workbook

    c = logged_in(forecast_project)
    [(team,)] = sql_rows(forecast_project, "SELECT min(group_key) FROM marts.pipeline_forecast WHERE level = 'team'")
    [(rep,)] = sql_rows(forecast_project, "SELECT min(group_key) FROM marts.pipeline_forecast WHERE level = 'rep'")
    for query, level, key in (("", "total", "all"), (f"team={team}", "team", team), (f"rep={rep}", "rep", rep)):
        got = rows_of(c.get(f"/dashboards/pipeline/forecast.csv?{query}").content)
        assert got[0] == ["Month", "Open opportunities", "Pipeline amount", "Expected revenue",
                          "Low (10th percentile)", "High (90th percentile)", "Stage-weighted pipeline"]
        want = sql_rows(forecast_project, """
            SELECT period_start, open_opportunities, pipeline_amount, expected, low, high, stage_weighted
            FROM marts.pipeline_forecast WHERE forecast_type = 'current' AND period_type = 'month'
            AND level = :l AND group_key = :k ORDER BY period_start""", {"l": level, "k": key})
        assert len(want) == 6 and len(got) == 7, query
        cent = Decimal("0.01")
        assert [[r[0], int(r[1]), *(dec(v) for v in r[2:])] for r in got[1:]] == [
            [f"{m:%Y-%m}", n, *(Decimal(repr(v)).quantize(cent) for v in rest)] for m, n, *rest in want], query
        assert all(dec(r[4]) <= dec(r[5]) for r in got[1:]), query                         # low ≤ high
        assert any(dec(r[4]) < dec(r[5]) for r in got[1:]), query                          # an interval, not a point
    sheet = load_workbook(io.BytesIO(c.get("/dashboards/pipeline/forecast.xlsx").content))["data"]
    xl = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [[r[0], *(Decimal(str(v)) for v in r[1:])] for r in xl[1:]] == \
        [[r[0], *(Decimal(v) for v in r[1:])] for r in rows_of(c.get("/dashboards/pipeline/forecast.csv").content)[1:]]
    page = c.get("/cockpit/pipeline?source=erp").text
    assert 'id="chart-forecast"' in page and "The forecast is not per source system" in page
    assert "预测收入" in c.get("/lang/zh?next=/cockpit/pipeline", follow_redirects=True).text


def test_without_predictions_the_forecast_says_so(dashboard_project: Path) -> None:
    wh = Warehouse(load_config(dashboard_project).warehouse.url)
    with wh.begin() as conn:
        conn.exec_driver_sql("DROP TABLE marts.pipeline_forecast")
    wh.dispose()
    c = logged_in(dashboard_project)
    page = c.get("/cockpit/pipeline").text
    assert 'id="chart-forecast"' in page and "appears here once the predictive marts exist" in page
    assert rows_of(c.get("/dashboards/pipeline/forecast.csv").content) == [[
        "Month", "Open opportunities", "Pipeline amount", "Expected revenue", "Low (10th percentile)",
        "High (90th percentile)", "Stage-weighted pipeline"]]


def test_bad_filters_are_refused_with_the_field_named(viewer: TestClient) -> None:
    r = viewer.get("/cockpit?from=2025-13")
    assert r.status_code == 422 and "from: expected a month like 2025-01" in r.text
    r = viewer.get("/dashboards/cockpit/revenue_vs_target.csv?from=2025-06&to=2025-01")
    assert r.status_code == 422 and "after to" in r.text
    assert viewer.get("/dashboards/cockpit/nothing.csv").status_code == 404
    assert viewer.get("/dashboards/cockpit/revenue_vs_target.json").status_code == 404


def test_every_role_sees_every_dashboard_and_chinese_on_request(dashboard_project: Path) -> None:
    for name in PASSWORDS:
        c = logged_in(dashboard_project, name)
        for path in ("/cockpit", "/cockpit/funnel", "/cockpit/pipeline", "/cockpit/customers", "/health"):
            r = c.get(path)
            assert r.status_code == 200 and 'class="chart-spec"' in r.text, (name, path)
            assert re.match(r"db;dur=\d", r.headers["server-timing"])
    c = logged_in(dashboard_project)
    r = c.get("/lang/zh?next=/health")
    assert r.status_code == 303 and r.headers["location"] == "/health"
    page = c.get("/health").text
    assert "<h1>主数据健康</h1>" in page and 'lang="zh-CN"' in page
    head = rows_of(c.get("/dashboards/health/golden_trend.csv").content)[0]
    assert head == ["运行时间", "黄金客户数", "源记录数", "每客户记录数", "多系统客户占比 %"]
    assert c.get("/lang/en?next=//evil.example").headers["location"] == "/cockpit"  # no open redirect
    assert "<h1>MDM health</h1>" in c.get("/health").text


def test_numbers_are_written_for_chinese_readers() -> None:
    assert number(Decimal("1234567.891"), "money") == "¥1,234,567.89"
    assert number(Decimal("-1234567.891"), "money", "$") == "-$1,234,567.89"
    assert number(Decimal("1234567.891"), "money", units=True) == "¥123.46万"
    assert number(Decimal("123456789"), "money", units=True) == "¥1.23亿"
    assert number(Decimal("9999"), "money", units=True) == "¥9,999.00"
    assert number(Decimal("91.255"), "pct") == "91.26%" and number(12345, "int") == "12,345"
    assert number(dt.date(2025, 3, 1), "month") == "2025-03" and number(None, "money") == ""
    assert pick_lang(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh" and pick_lang("en", "zh-CN") == "en"
    assert pick_lang(None, "fr-FR") == "en"


@pytest.mark.postgres
def test_on_postgresql_the_pages_draw_and_the_sales_numbers_equal_duckdbs(dashboard_project: Path, pg_url: str,
                                                                         tmp_path: Path) -> None:
    """The same sources run into PostgreSQL: every page renders, every chart downloads, and the sales charts hold
    the numbers of the DuckDB warehouse (the steward's merge there changes only customer charts)."""
    from click.testing import CliRunner

    from hub.cli import main

    text = dashboard_project.read_text(encoding="utf-8")
    cfg = dashboard_project.parent / "hub-pg.yaml"
    cfg.write_text(text.replace("duckdb:///w.duckdb", pg_url), encoding="utf-8")
    run = CliRunner().invoke(main, ["run", "-c", str(cfg)])
    assert run.exit_code == 0, run.output
    pg, duck = logged_in(cfg), logged_in(dashboard_project)
    from hub.console.charts import PAGES as CHART_PAGES

    for key, page in CHART_PAGES.items():
        path = page.path
        assert pg.get(path).status_code == 200, path
        for chart in page.charts:
            r = pg.get(f"/dashboards/{key}/{chart.key}.csv?from=2024-01&to=2025-06")
            assert r.status_code == 200, (key, chart.key)
            if key in ("cockpit", "funnel", "pipeline"):
                assert rows_of(r.content) == rows_of(duck.get(
                    f"/dashboards/{key}/{chart.key}.csv?from=2024-01&to=2025-06").content), (key, chart.key)
    for q in ("team=华东大区", "source=erp", "source=erp&team=华东大区"):
        a = rows_of(pg.get(f"/dashboards/cockpit/revenue_vs_target.csv?from=2024-01&to=2025-06&{q}").content)
        b = rows_of(duck.get(f"/dashboards/cockpit/revenue_vs_target.csv?from=2024-01&to=2025-06&{q}").content)
        assert a == b and len(a) == 19, q
    trend = rows_of(pg.get("/dashboards/health/golden_trend.csv").content)
    [(golden,)] = sql_rows(cfg, "SELECT count(*) FROM mdm.golden_customer")
    assert len(trend) == 2 and int(trend[1][1]) == golden

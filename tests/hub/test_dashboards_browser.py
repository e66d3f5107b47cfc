"""The dashboards in a real headless Chromium (Debian's `chromium`, driven by Playwright): every page draws its
charts for every role with no console error; a chart's table view shows the marts' numbers, its CSV download holds
exactly those numbers; the period, team, rep and source filters; the language switch; the drill-down from the top
customers to the golden record. HUB_SCREENSHOTS=DIR saves the pages the docs show (docs/dashboards.md)."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config_file import load_config
from warehouse.engine import Warehouse

pytestmark = pytest.mark.browser

PAGES = ("/cockpit", "/cockpit/funnel", "/cockpit/pipeline", "/cockpit/customers", "/health")


def sql_rows(cfg_path: Path, sql: str, params: dict | None = None) -> list[tuple]:
    wh = Warehouse(load_config(cfg_path).warehouse.url)
    try:
        return [tuple(r) for r in wh.read_frame(sql, params or {}).itertuples(index=False)]
    finally:
        wh.dispose()


def amount(text: str) -> Decimal | None:
    """A cell as the page writes it (¥1,234.56, 1,234, 27.64%) as a number."""
    clean = text.replace("¥", "").replace(",", "").replace("%", "").strip()
    return Decimal(clean) if clean else None


def log_in(page: Any, server: str, name: str, password: str, path: str = "/cockpit") -> None:
    from playwright.sync_api import expect

    page.goto(server + path)
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")
    expect(page).to_have_url(server + path)
    page.wait_for_load_state("load")  # the scripts ran (charts drawn, the filter form's handler set)


def table_of(page: Any, chart: str) -> tuple[list[str], list[list[str]]]:
    """Switch a chart to its table view; (header, rows) as shown."""
    from playwright.sync_api import expect

    fig = page.locator(f"#chart-{chart}")
    fig.locator("button[data-view=table]").click()
    expect(fig.locator(".chart-table")).to_be_visible()
    expect(fig.locator(".chart-canvas")).to_be_hidden()
    head = fig.locator(".chart-table thead th").all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in fig.locator(".chart-table tbody tr").all()]
    return head, rows


def download(page: Any, chart: str, fmt: str = "csv") -> list[list[str]]:
    with page.expect_download() as got:
        page.locator(f"#chart-{chart} a.download[data-format={fmt}]").click()
    body = Path(got.value.path()).read_bytes().decode("utf-8")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_every_role_sees_every_dashboard_drawn(dashboard_server: str, passwords: dict[str, str],
                                              browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    for name in ("vic", "alice", "root"):
        log_in(page, dashboard_server, name, passwords[name])
        for path in PAGES:
            page.goto(dashboard_server + path)
            figures = page.locator("figure[data-chart]")
            with_data = page.locator("figure[data-chart] script.chart-spec").count()
            assert figures.count() >= 1 and with_data >= 1, (name, path)
            canvases = page.locator("figure[data-chart] .chart-canvas canvas")
            expect(canvases).to_have_count(with_data)  # ECharts drew every chart that has numbers
            box = canvases.first.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 150, (name, path, box)
        page.click("#logout")
        expect(page).to_have_url(dashboard_server + "/login")
    assert problems == []


def test_a_viewer_reads_tables_downloads_filters_and_switches_language(
        dashboard_server: str, dashboard_project: Path, passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    shots = os.environ.get("HUB_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    log_in(page, dashboard_server, "vic", passwords["vic"])
    if shots:
        page.screenshot(path=f"{shots}/cockpit.png", full_page=True)

    # The period: set in the form, applied; the table view shows the marts' revenue and targets per month.
    page.fill("#f-from", "2024-07")
    page.fill("#f-to", "2025-06")
    page.click("#f-apply")
    expect(page).to_have_url(f"{dashboard_server}/cockpit?from=2024-07&to=2025-06")
    head, rows = table_of(page, "revenue_vs_target")
    assert head == ["Month", "Orders", "Revenue", "Target", "Attainment %"]
    facts = {m.strftime("%Y-%m"): r for m, r in sql_rows(dashboard_project, """
        SELECT order_month, sum(reporting_amount) FROM marts.fct_sales_orders WHERE is_revenue
        AND order_month BETWEEN '2024-07-01' AND '2025-06-01' GROUP BY 1""")}
    targets = {m.strftime("%Y-%m"): t for m, t in sql_rows(dashboard_project, """
        SELECT month, sum(target) FROM marts.sales_performance_monthly WHERE level = 'team'
        AND month BETWEEN '2024-07-01' AND '2025-06-01' GROUP BY 1""")}
    assert [r[0] for r in rows] == sorted(targets) and len(rows) == 12
    for month, _, revenue, target, _ in rows:
        assert (amount(revenue), amount(target)) == (facts.get(month, Decimal(0)), targets[month]), month
        assert revenue.startswith("¥") and ("," in revenue or amount(revenue) < 1000)
    # Its CSV: exactly the numbers of the table view.
    got = download(page, "revenue_vs_target")
    assert got[0] == head
    assert [[r[0], *(amount(v) for v in r[1:])] for r in got[1:]] == \
        [[r[0], *(amount(v) for v in r[1:])] for r in rows]
    total = sum((v for m, v in facts.items()), Decimal(0))
    expect(page.locator("[data-kpi=revenue] .kpi-value")).to_have_text(f"¥{total:,.2f}")

    # A team: the KPIs and the table follow it, and the period stays.
    [(team, team_revenue)] = sql_rows(dashboard_project, """
        SELECT team, sum(revenue) FROM marts.sales_performance_monthly WHERE level = 'team'
        AND month BETWEEN '2024-07-01' AND '2025-06-01' GROUP BY team ORDER BY 2 DESC LIMIT 1""")
    page.select_option("#f-team", team)
    page.click("#f-apply")
    expect(page.locator("#f-team")).to_have_value(team)
    assert "from=2024-07" in page.url and "team=" in page.url
    expect(page.locator("[data-kpi=revenue] .kpi-value")).to_have_text(f"¥{team_revenue:,.2f}")
    _, rows = table_of(page, "revenue_vs_target")
    assert sum(amount(r[2]) for r in rows) == team_revenue
    # A rep of that team: the leaderboard holds that rep alone.
    [(rep, rep_name, rep_revenue)] = sql_rows(dashboard_project, """
        SELECT s.rep_id, d.name, sum(s.revenue) FROM marts.sales_performance_monthly s
        JOIN marts.dim_sales_rep d ON d.rep_id = s.rep_id AND d.is_current
        WHERE s.level = 'rep' AND s.team = :t AND s.month BETWEEN '2024-07-01' AND '2025-06-01'
        GROUP BY s.rep_id, d.name ORDER BY 3 DESC, 1 LIMIT 1""", {"t": team})
    page.select_option("#f-rep", rep)
    page.click("#f-apply")
    _, board = table_of(page, "leaderboard")
    assert [(r[0], r[1], amount(r[3])) for r in board] == [(rep, rep_name, rep_revenue)]
    # A source system (the filter offers those with sales facts: the ERP): revenue from its orders, no targets.
    page.goto(f"{dashboard_server}/cockpit?from=2024-07&to=2025-06")
    page.wait_for_load_state("load")
    assert page.locator("#f-source option").all_inner_texts() == ["All", "erp"]
    page.select_option("#f-source", "erp")
    page.click("#f-apply")
    expect(page).to_have_url(f"{dashboard_server}/cockpit?from=2024-07&to=2025-06&source=erp")
    head, rows = table_of(page, "revenue_vs_target")
    assert head == ["Month", "Orders", "Revenue"]
    assert [(r[0], amount(r[2])) for r in rows] == [(m, facts.get(m, Decimal(0))) for m in sorted(targets)]
    expect(page.locator("#chart-revenue_vs_target")).to_contain_text("Targets are not per source system")

    # MDM health: one point per run, as mdm.run_metrics has them.
    page.goto(dashboard_server + "/health")
    if shots:
        page.screenshot(path=f"{shots}/health.png", full_page=True)
    _, rows = table_of(page, "golden_trend")
    runs = sql_rows(dashboard_project, """
        SELECT MAX(CASE WHEN measure = 'golden_customers' AND source_name IS NULL THEN value END),
               MAX(CASE WHEN measure = 'source_records' AND source_name IS NULL THEN value END)
        FROM mdm.run_metrics GROUP BY run_id ORDER BY MIN(run_at)""")
    assert [(amount(r[1]), amount(r[2])) for r in rows] == [(Decimal(int(g)), Decimal(int(s))) for g, s in runs]
    page.select_option("#f-source", "crm_b")
    page.click("#f-apply")
    _, rows = table_of(page, "validity_now")
    want = sql_rows(dashboard_project, """
        SELECT stream, field, validity_pct FROM marts.data_quality WHERE source_name = 'crm_b' AND entity = 'customer'
        AND checked > 0 AND field IN ('name', 'uscc', 'phone', 'mobile', 'email', 'address', 'contact_name', 'owner')
        ORDER BY stream, field""")
    assert [(r[0], r[1], r[2], amount(r[3])) for r in rows] == [("crm_b", s, f, v) for s, f, v in want] and want

    # Top customers: the table's golden ID opens the golden record.
    page.goto(dashboard_server + "/cockpit/customers")
    [(first, name)] = sql_rows(dashboard_project, """
        SELECT golden_id, name FROM marts.customer_360 WHERE lifetime_revenue <> 0
        ORDER BY lifetime_revenue DESC, golden_id LIMIT 1""")
    table_of(page, "top_customers")
    page.locator("#chart-top_customers .chart-table tbody tr").first.locator("a").click()
    expect(page).to_have_url(f"{dashboard_server}/customers/{first}")
    expect(page.locator("main")).to_contain_text(name)
    # and so does a click on the chart's second bar
    [(_, second)] = sql_rows(dashboard_project, """
        SELECT lifetime_revenue, golden_id FROM marts.customer_360 WHERE lifetime_revenue <> 0
        ORDER BY lifetime_revenue DESC, golden_id LIMIT 1 OFFSET 1""")
    page.goto(dashboard_server + "/cockpit/customers")
    page.wait_for_load_state("load")
    x, y = page.evaluate("""() => {
        const fig = document.querySelector('#chart-top_customers'), spec = JSON.parse(
            fig.querySelector('script.chart-spec').textContent);
        const v = spec.rows[1][spec.columns.indexOf('lifetime_revenue')];
        return fig.chart.convertToPixel({seriesIndex: 0}, [v / 2, 1]);
    }""")
    box = page.locator("#chart-top_customers .chart-canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page).to_have_url(f"{dashboard_server}/customers/{second}")

    # 中文: the switch keeps the page; labels and headers in Chinese, the numbers the same.
    page.goto(f"{dashboard_server}/cockpit?from=2024-07&to=2025-06")
    page.click("#lang-zh")
    expect(page).to_have_url(f"{dashboard_server}/cockpit?from=2024-07&to=2025-06")
    expect(page.locator("h1")).to_have_text("销售驾驶舱")
    expect(page.locator("#chart-revenue_vs_target h2")).to_have_text("月度收入与目标")
    expect(page.locator("[data-kpi=revenue] .kpi-value")).to_have_text(f"¥{total:,.2f}")
    page.locator("#f-units").check()
    page.click("#f-apply")
    expect(page.locator("[data-kpi=revenue] .kpi-value")).to_have_text(
        f"¥{(total / 10000).quantize(Decimal('0.01')):,.2f}万")
    page.evaluate("window.scrollTo(0, 0)")
    if shots:
        page.uncheck("#f-units")
        page.click("#f-apply")
        page.screenshot(path=f"{shots}/cockpit_zh.png", full_page=True)
    head, _ = table_of(page, "revenue_vs_target")
    assert head == ["月份", "订单数", "收入", "目标", "达成率 %"]
    assert download(page, "revenue_vs_target")[0] == head
    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Sales cockpit")
    assert problems == []


def test_the_forecast_chart_draws_the_mart_with_its_interval(forecast_server: str, forecast_project: Path,
                                                             passwords: dict[str, str], browser: Any) -> None:
    """The pipeline page's forecast: drawn (expected revenue as bars, the 80% interval as its two bounds, the
    stage-weighted pipeline), its table view and CSV hold marts.pipeline_forecast's numbers, as does the chart."""
    import json

    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    log_in(page, forecast_server, "vic", passwords["vic"], "/cockpit/pipeline")
    expect(page.locator("#chart-forecast .chart-canvas canvas")).to_have_count(1)
    spec = json.loads(page.locator("#chart-forecast script.chart-spec").inner_text())
    assert [s["column"] for s in spec["series"]] == ["expected", "low", "high", "stage_weighted"]
    shots = os.environ.get("HUB_SCREENSHOTS")
    if shots:
        page.locator("#chart-forecast").screenshot(path=f"{shots}/forecast.png")
    want = sql_rows(forecast_project, """
        SELECT period_start, CAST(expected AS DECIMAL(18, 2)), CAST(low AS DECIMAL(18, 2)),
               CAST(high AS DECIMAL(18, 2)), CAST(stage_weighted AS DECIMAL(18, 2))
        FROM marts.pipeline_forecast WHERE forecast_type = 'current' AND period_type = 'month' AND level = 'total'
        ORDER BY period_start""")
    assert len(want) == 6 and any(lo < hi for _, _, lo, hi, _ in want)
    head, rows = table_of(page, "forecast")
    assert head == ["Month", "Open opportunities", "Pipeline amount", "Expected revenue", "Low (10th percentile)",
                    "High (90th percentile)", "Stage-weighted pipeline"]
    assert [(r[0], *(amount(v) for v in r[3:])) for r in rows] == [(f"{m:%Y-%m}", *rest) for m, *rest in want]
    got = download(page, "forecast")
    assert got[0] == head and [[r[0], *(amount(v) for v in r[1:])] for r in got[1:]] == \
        [[r[0], *(amount(v) for v in r[1:])] for r in rows]
    cols = spec["columns"]
    assert [tuple(Decimal(str(r[cols.index(c)])) for c in ("expected", "low", "high", "stage_weighted"))
            for r in spec["rows"]] == [tuple(rest) for _, *rest in want]  # the chart draws the same numbers
    assert not problems, problems

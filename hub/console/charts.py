"""The dashboards' pages and charts: which numbers (`pipelines.dashboards`), which filters, and how each chart
draws its table (the spec `static/charts.js` turns into an ECharts option). A chart draws exactly the rows and
columns of its table view and of its CSV and Excel downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from hub.console.i18n import column_label, number, text
from hub.console.labels import local_time
from pipelines.dashboards import health, sales
from pipelines.dashboards.table import Filters, Table

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Series:
    column: str
    type: str = "bar"  # bar | line
    axis: int = 0  # 0: left, 1: right
    dashed: bool = False
    area: bool = False


@dataclass(frozen=True)
class Chart:
    """One chart: its numbers, how they are drawn and which filters change them."""

    key: str
    data: Callable[[Connection, Filters], Table]
    draw: str  # combo (x and series) | hbar (categories down, bars across) | funnel | pivot (long table)
    x: str
    series: tuple[Series, ...] = ()
    pivot: tuple[tuple[str, ...], str] | None = None  # (columns naming a series, value column) of a long table
    series_type: str = "line"  # the pivot's series
    link: str | None = None  # a golden_id column: clicking opens the golden record
    wide: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    key: str
    path: str
    nav: str
    filters: tuple[str, ...]  # period, team, region, rep, source, channel, sort
    charts: tuple[Chart, ...]
    kpis: Callable[[Connection, Filters], Table] | None = None
    period_default: bool = True  # the last 12 months when no period is given (else: everything)
    notes: tuple[str, ...] = ()


SALES_FILTERS = ("period", "team", "region", "rep", "source")
PAGES: dict[str, Page] = {p.key: p for p in (
    Page("cockpit", "/cockpit", "cockpit", SALES_FILTERS, (
        Chart("revenue_vs_target", sales.revenue_vs_target, "combo", "month",
              (Series("revenue"), Series("target"), Series("attainment_pct", "line", 1)), wide=True),
        Chart("revenue_trend", sales.revenue_trend, "combo", "month",
              (Series("revenue", "line", area=True), Series("revenue_prior_year", "line", dashed=True),
               Series("yoy_pct", "bar", 1))),
        Chart("leaderboard", sales.leaderboard, "hbar", "rep_name",
              (Series("attainment_pct"),)),
    ), kpis=sales.kpis),
    Page("funnel", "/cockpit/funnel", "cockpit", ("period", "channel"), (
        Chart("funnel", sales.funnel, "funnel", "stage", (Series("leads"),)),
        Chart("stage_days", sales.stage_days, "combo", "stage", (Series("days"),)),
        Chart("channel_roi", sales.channel_roi, "combo", "channel",
              (Series("won_revenue"), Series("cost"), Series("roi_pct", "line", 1)), wide=True),
    )),
    Page("pipeline", "/cockpit/pipeline", "cockpit", SALES_FILTERS, (
        Chart("pipeline_trend", sales.pipeline_trend, "combo", "month",
              (Series("open_pipeline", "line", area=True), Series("won_amount"), Series("win_rate_pct", "line", 1)),
              wide=True),
        Chart("pipeline_by_stage", sales.pipeline_by_stage, "hbar", "stage", (Series("amount"),)),
        Chart("forecast", sales.forecast, "combo", "month",
              (Series("expected"), Series("low", "line", dashed=True), Series("high", "line", dashed=True),
               Series("stage_weighted", "line")), wide=True),
    )),
    Page("customers", "/cockpit/customers", "cockpit", ("source", "sort"), (
        Chart("top_customers", sales.top_customers, "hbar", "name", (Series("lifetime_revenue"),), link="golden_id",
              wide=True),
    )),
    Page("health", "/health", "health", ("period", "source"), (
        Chart("golden_trend", health.golden_trend, "combo", "run_at",
              (Series("golden_customers", "line"), Series("source_records", "line"),
               Series("multi_system_pct", "line", 1, dashed=True)), notes=("n.runs",)),
        Chart("records_per_golden", health.records_per_golden, "combo", "records",
              (Series("golden_customers"), Series("share_pct", "line", 1))),
        Chart("duplicates_resolved", health.duplicates_resolved, "combo", "run_at",
              (Series("duplicates_resolved"), Series("ids_merged"))),
        Chart("review_trend", health.review_trend, "combo", "run_at",
              (Series("review_open", "line", area=True), Series("decisions_active", "line", 1))),
        Chart("steward_throughput", health.steward_throughput, "pivot", "week", pivot=(("steward",), "decisions"),
              series_type="bar", notes=("n.week_utc",)),
        Chart("completeness_now", health.completeness_now, "pivot", "field",
              pivot=(("source_name", "stream"), "completeness_pct"), series_type="bar", wide=True),
        Chart("validity_now", health.validity_now, "pivot", "field",
              pivot=(("source_name", "stream"), "validity_pct"), series_type="bar"),
        Chart("quarantine_now", health.quarantine_now, "pivot", "source_name",
              pivot=(("stream",), "quarantined"), series_type="bar"),
        Chart("completeness_trend", health.completeness_trend, "pivot", "run_at",
              pivot=(("source_name", "stream", "field"), "completeness_pct"), notes=("n.runs",)),
        Chart("validity_trend", health.validity_trend, "pivot", "run_at",
              pivot=(("source_name", "stream", "field"), "validity_pct"), notes=("n.runs",)),
        Chart("quarantine_trend", health.quarantine_trend, "pivot", "run_at",
              pivot=(("source_name",), "quarantined"), notes=("n.runs",)),
    ), period_default=False),
)}
CHARTS: dict[tuple[str, str], Chart] = {(p.key, c.key): c for p in PAGES.values() for c in p.charts}


def chart_table(chart: Chart, conn: Connection, f: Filters) -> Table:
    return chart.data(conn, f)


# --- what the page, the table view and the downloads show -----------------------------------------------------

def plain(value: Any) -> Any:
    """A value for the chart's JSON: numbers as numbers, dates as text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return value


@dataclass
class Shown:
    """A chart as the page shows it: its table, labels, formatted cells and the spec for charts.js."""

    chart: Chart
    table: Table
    lang: str
    sign: str
    units: bool
    zone: str = "UTC"
    ms: float = 0.0
    notes: list[str] = field(default_factory=list)

    def labels(self) -> list[str]:
        return [column_label(c, self.lang) for c in self.table.columns]

    def cells(self) -> list[list[str]]:
        out = []
        for row in self.table.rows:
            out.append([self.cell(v, c, k) for v, c, k in zip(row, self.table.columns, self.table.kinds, strict=True)])
        return out

    def cell(self, value: Any, column: str, kind: str) -> str:
        if column == "stage" and self.chart.key in ("funnel", "stage_days"):
            return text(f"stage.{value}", self.lang)
        if kind == "time":
            return local_time(value, self.zone)
        return number(value, kind, self.sign, self.units)

    def exact(self, value: Any, column: str, kind: str) -> Any:
        """A value for a download: numbers exact (as the warehouse computed them), the rest as shown."""
        if value is None:
            return ""
        if kind in ("text", "month", "date", "time"):
            return self.cell(value, column, kind)
        if kind == "money" and isinstance(value, Decimal | int):
            return Decimal(value).quantize(CENT)  # PostgreSQL's numeric sums of no rows come back as 0, not 0.00
        return value

    def spec(self) -> dict[str, Any]:
        c = self.chart
        return {
            "key": c.key, "draw": c.draw, "x": c.x,
            "pivot": {"by": list(c.pivot[0]), "value": c.pivot[1]} if c.pivot else None,
            "seriesType": c.series_type, "link": c.link, "lang": self.lang, "sign": self.sign, "units": self.units,
            "series": [{"column": s.column, "type": s.type, "axis": s.axis, "dashed": s.dashed, "area": s.area,
                        "label": column_label(s.column, self.lang)} for s in c.series],
            "columns": list(self.table.columns), "kinds": list(self.table.kinds), "labels": self.labels(),
            "rows": [[plain(v) for v in r] for r in self.table.rows],
            "categories": [self.cell(r[self.table.columns.index(c.x)], c.x, self.table.kind(c.x))
                           for r in self.table.rows] if c.x in self.table.columns else [],
        }


def to_csv(shown: Shown) -> bytes:
    """The table as CSV (UTF-8 with a BOM, for Excel): the labels, then the exact values."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(shown.labels())
    for row in shown.table.rows:
        w.writerow([shown.exact(v, c, k) for v, c, k in zip(row, shown.table.columns, shown.table.kinds, strict=True)])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


XLSX_FORMATS = {"money": "#,##0.00", "pct": "0.00", "int": "#,##0", "days": "0.0", "ratio": "0.00"}


def to_xlsx(shown: Shown, title: str, filters: list[tuple[str, str]]) -> bytes:
    """The table as an Excel workbook: a sheet `data` (labels, then the values as numbers) and a sheet `about`
    (the chart's title, the filters, the notes, when it was made)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(shown.labels())
    for row in shown.table.rows:
        cells = []
        for v, c, k in zip(row, shown.table.columns, shown.table.kinds, strict=True):
            cell = WriteOnlyCell(data, value=shown.exact(v, c, k) if v is not None else None)
            if k in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[k]
            cells.append(cell)
        data.append(cells)
    about = book.create_sheet("about")
    about.append([title])
    for name, value in filters:
        about.append([name, value])
    for note in shown.notes:
        about.append([note])
    about.append(["made", dt.datetime.now().isoformat(timespec="seconds")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

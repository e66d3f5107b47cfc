"""Dashboard pages (any role): the sales cockpit (`/cockpit`, `/cockpit/funnel`, `/cockpit/pipeline`,
`/cockpit/customers`) and the MDM health view (`/health`); each chart's CSV and Excel download
(`/dashboards/{page}/{chart}.csv|xlsx` with the page's filters); the language switch (`/lang/{en|zh}`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.console.charts import PAGES, Chart, Page, Series, Shown, to_csv, to_xlsx
from hub.console.i18n import LANGS, currency_sign, pick_lang, text
from hub.console.web import LANG_COOKIE, Console, safe_next
from pipelines.dashboards import FilterError, Filters, health, sales
from pipelines.dashboards.table import add_months


def _shown_chart(chart: Chart, f: Filters) -> Chart:
    """The chart as these filters draw it (top customers: bars of what they are ranked by)."""
    if chart.key == "top_customers":
        sort = f.sort if f.sort in sales.CUSTOMER_SORTS else sales.CUSTOMER_SORTS[0]
        return replace(chart, series=(Series(sort),))
    return chart


def dashboards_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    sign = currency_sign(c.cfg.marts.currency)

    def lang_of(request: Request) -> str:
        return pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))

    def filters_of(request: Request, page: Page) -> Filters:
        q = request.query_params
        allowed = set(page.filters)
        return Filters.parse(q.get("from") if "period" in allowed else None,
                             q.get("to") if "period" in allowed else None,
                             **{k: q.get(k) if k in allowed else None
                                for k in ("team", "region", "rep", "source", "channel", "sort")})

    def notes_of(keys: tuple[str, ...], lang: str, table: Any = None) -> list[str]:
        out = []
        for key in keys:
            name = key if key.startswith("n.") else f"n.{key}"
            values = {"n": len(table.rows), "total": table.total_rows} if table is not None and table.total_rows \
                else {}
            out.append(text(name, lang, **values) if values or "{" not in text(name, "en") else text(name, lang))
        return out

    def compute(page: Page, f: Filters, lang: str, units: bool,
                only: str | None = None) -> tuple[Filters, list[Shown], Shown | None, dict[str, Any], float]:
        started = time.perf_counter()
        shown, kpis = [], None
        meta: dict[str, Any] = {}
        with c.wh.begin() as conn:
            if page.period_default:
                last = sales.last_month(conn)
                f = f.period(last)
                meta["last_month"] = last
                meta["fiscal_start"] = sales.fiscal_year_start(conn, last)
            if only is None:
                meta["choices"] = sales.choices(conn) if page.key != "health" else {"sources": health.sources(conn)}
                if page.kpis is not None:
                    kpi = Chart("kpis", page.kpis, "kpis", "")
                    kpis = Shown(kpi, page.kpis(conn, f), lang, sign, units, c.cfg.timezone)
            for chart in page.charts:
                if only is not None and chart.key != only:
                    continue
                t = time.perf_counter()
                drawn = _shown_chart(chart, f)
                got = drawn.data(conn, f)
                s = Shown(drawn, got, lang, sign, units, c.cfg.timezone, (time.perf_counter() - t) * 1000)
                s.notes = notes_of(chart.notes + got.notes, lang, got)
                shown.append(s)
        return f, shown, kpis, meta, (time.perf_counter() - started) * 1000

    def presets(page: Page, f: Filters, meta: dict[str, Any]) -> list[tuple[str, str]]:
        """(label key, query) of the period shortcuts."""
        if "period" not in page.filters or "last_month" not in meta:
            return [("f.all_runs", urlencode({k: v for k, v in f.query().items() if k not in ("from", "to")}))] \
                if "period" in page.filters else []
        last, fy = meta["last_month"], meta["fiscal_start"]
        rest = {k: v for k, v in f.query().items() if k not in ("from", "to")}
        spans = [("f.last12", add_months(last, -11), last), ("f.fytd", fy, last),
                 ("f.lastfy", add_months(fy, -12), add_months(fy, -1))]
        return [(key, urlencode({"from": f"{a:%Y-%m}", "to": f"{b:%Y-%m}", **rest})) for key, a, b in spans]

    def render(request: Request, key: str) -> Response:
        user = c.need(request)
        page, lang = PAGES[key], lang_of(request)
        units = request.query_params.get("units") == "1"
        try:
            f = filters_of(request, page)
        except FilterError as e:
            return c.page(request, "error.html", user, http_status=422, title=text("f.period", lang), message=str(e))
        f, shown, kpis, meta, ms = compute(page, f, lang, units)
        query = f.query()
        resp = c.page(request, "dashboard.html", user, nav=page.nav, page=page, pages=PAGES, lang=lang, t=text,
                      f=f, query=query, qs=urlencode(query), units=units, charts=shown, kpis=kpis, meta=meta,
                      presets=presets(page, f, meta), server_ms=ms, notes=notes_of(page.notes, lang),
                      sorts=sales.CUSTOMER_SORTS)
        resp.headers["server-timing"] = f"db;dur={ms:.1f}"
        return resp

    @router.get("/cockpit", response_class=HTMLResponse)
    def cockpit(request: Request) -> Response:
        return render(request, "cockpit")

    @router.get("/cockpit/{tab}", response_class=HTMLResponse)
    def cockpit_tab(request: Request, tab: str) -> Response:
        if tab not in ("funnel", "pipeline", "customers"):
            c.need(request)
            return c.page(request, "error.html", c.user_of(request), http_status=404, title="Not found",
                          message=f"no cockpit page {tab!r}")
        return render(request, tab)

    @router.get("/health", response_class=HTMLResponse)
    def health_page(request: Request) -> Response:
        return render(request, "health")

    @router.get("/dashboards/{page_key}/{name}")
    def download(request: Request, page_key: str, name: str) -> Response:
        user = c.need(request)
        chart_key, _, fmt = name.rpartition(".")
        page = PAGES.get(page_key)
        if page is None or fmt not in ("csv", "xlsx") or chart_key not in {x.key for x in page.charts}:
            return c.page(request, "error.html", user, http_status=404, title="Not found",
                          message=f"no chart {name!r} on {page_key!r}")
        lang = lang_of(request)
        try:
            f = filters_of(request, page)
        except FilterError as e:
            return c.page(request, "error.html", user, http_status=422, title="Bad request", message=str(e))
        f, [shown], _, _, ms = compute(page, f, lang, False, only=chart_key)
        filename = f"{page_key}-{chart_key}"
        if fmt == "csv":
            body, media = to_csv(shown), "text/csv; charset=utf-8"
        else:
            title = text(f"c.{chart_key}", lang)
            body = to_xlsx(shown, title, [(text(f"f.{k}", lang), v) for k, v in f.query().items()])
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, media_type=media, headers={
            "content-disposition": f'attachment; filename="{filename}.{fmt}"', "server-timing": f"db;dur={ms:.1f}"})

    @router.get("/lang/{code}")
    def switch_language(request: Request, code: str, next: str | None = None) -> Response:
        target = safe_next(next, "/cockpit")
        resp = RedirectResponse(target, status_code=303)
        if code in LANGS:
            resp.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                            secure=c.secure, path="/")
        return resp

    return router

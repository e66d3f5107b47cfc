"""Review pages: the queue, a review item (two records side by side), any pair of records, and deciding them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.auth import User
from hub.console.web import PAGE_SIZE, WHOLE_VALUE, Console, diff_marks, page_number, value_status
from mdm.stewardship import RAW_FIELDS, STD_FIELDS
from pipelines import steward


def _filters(source: str | None, band: str | None, q: str | None) -> dict[str, str]:
    return {k: v for k, v in {"source": source, "band": band, "q": q}.items() if v}


def _rows(left: dict[str, Any], right: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for f in fields:
        a, b = left.get(f), right.get(f)
        if a in (None, "") and b in (None, ""):
            continue
        ma, mb = diff_marks(a, b, whole=f in WHOLE_VALUE)
        rows.append({"field": f, "left": ma, "right": mb, "status": value_status(a, b)})
    return rows


def review_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cfg, wh = c.cfg, c.wh

    @router.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, source: str | None = None, band: str | None = None, q: str | None = None,
              status: str = "open", page_no: str = "1") -> Response:
        user = c.need(request)
        band = band if band in steward.BANDS else None
        status = status if status in ("open", "decided", "resolved", "all") else "open"
        number = page_number(page_no)
        data = steward.list_queue(cfg, wh, source=source, band_=band, search=q, status=status, limit=PAGE_SIZE,
                                  offset=(number - 1) * PAGE_SIZE)
        pages = max(1, -(-data["total"] // PAGE_SIZE))
        if number > pages:  # past the end: the last page
            number = pages
            data = steward.list_queue(cfg, wh, source=source, band_=band, search=q, status=status, limit=PAGE_SIZE,
                                      offset=(number - 1) * PAGE_SIZE)
        filters = _filters(source, band, q)
        return c.page(request, "queue.html", user, data=data, filters=filters, status=status, page_no=number,
                      pages=pages, sources=list(cfg.sources), query=urlencode(filters), nav="queue")

    def _pair_page(request: Request, user: User, detail: dict[str, Any], filters: dict[str, str],
                   nav_ids: list[str] | None = None) -> Response:
        left, right = detail["left"], detail["right"]
        pos, prev_id, next_id = None, None, None
        if nav_ids is not None and detail["item_id"] in nav_ids:
            pos = nav_ids.index(detail["item_id"])
            prev_id = nav_ids[pos - 1] if pos > 0 else None
            next_id = nav_ids[pos + 1] if pos + 1 < len(nav_ids) else None
        active = [d for d in detail["decisions"] if d.get("active")]
        return c.page(request, "pair.html", user, d=detail, rows=_rows(left, right, (*RAW_FIELDS, "golden_id")),
                      std_rows=_rows(left, right, STD_FIELDS), filters=filters, query=urlencode(filters), pos=pos,
                      total=len(nav_ids or []), prev_id=prev_id, next_id=next_id,
                      active_decision=active[-1] if active else None, nav="queue")

    @router.get("/queue/{item_id}", response_class=HTMLResponse)
    def queue_item(request: Request, item_id: str, source: str | None = None, band: str | None = None,
                   q: str | None = None) -> Response:
        user = c.need(request)
        detail = steward.queue_item(cfg, wh, item_id)
        filters = _filters(source, band, q)
        ids = steward.queue_ids(cfg, wh, source=source, band_=band, search=q)
        return _pair_page(request, user, detail, filters, ids)

    @router.post("/queue/{item_id}/decide")
    def queue_decide(request: Request, item_id: str, verdict: str = Form(...), reason: str = Form(""),
                     csrf: str = Form(""), source: str = Form(""), band: str = Form(""), q: str = Form(""),
                     pos: int = Form(0)) -> Response:
        user = c.change(request, csrf)
        filters = _filters(source or None, band or None, q or None)
        try:
            result = steward.decide(cfg, wh, item_id, verdict, user.name, reason.strip() or None)
        except steward.StewardError as e:
            return c.back(f"/queue/{item_id}?{urlencode(filters)}", str(e))
        c.matcher.invalidate()
        ids = steward.queue_ids(cfg, wh, source=source or None, band_=band or None, search=q or None)
        if ids:
            nxt = ids[min(max(pos, 0), len(ids) - 1)]
            return c.back(f"/queue/{nxt}?{urlencode(filters)}", result.message)
        return c.back(f"/queue?{urlencode(filters)}", result.message + " — the queue is empty")

    @router.get("/pair", response_class=HTMLResponse)
    def pair(request: Request, left: str, right: str) -> Response:
        user = c.need(request)
        return _pair_page(request, user, steward.pair_detail(cfg, wh, left, right), {})

    @router.post("/pair/decide")
    def pair_decide(request: Request, left: str = Form(...), right: str = Form(...), verdict: str = Form(...),
                    reason: str = Form(""), csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        where = f"/pair?{urlencode({'left': left, 'right': right})}"
        try:
            result = steward.decide_pair(cfg, wh, left, right, verdict, user.name, reason.strip() or None)
        except steward.StewardError as e:
            return c.back(where, str(e))
        c.matcher.invalidate()
        return c.back(where, result.message)

    return router

"""Review pages: the queue (filters, sorts, a short record's candidates as one entry, bulk decisions and
assignments), a review item (two records side by side, why they scored and what keeps them apart,
claims and comments), a short record's candidates side by side, any pair of records, and deciding them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.auth import User
from hub.console.web import PAGE_SIZE, WHOLE_VALUE, Console, diff_marks, page_number, safe_next, value_status
from mdm.stewardship import RAW_FIELDS, REASONS, STD_FIELDS, VERDICTS
from pipelines.steward import actions, errors, review_queue
from pipelines.steward import teamwork as review

FILTER_KEYS = ("q", "source", "band", "status", "reason", "decided_by", "assignee", "since", "until", "sort")
SORT_LABELS = {"priority": "priority", "score": "score, high first", "score_asc": "score, low first",
               "revenue": "revenue", "newest": "newest", "oldest": "oldest"}


def _clean(params: dict[str, str]) -> dict[str, str]:
    """The filter parameters that are set and valid enough to keep in links (bad values are dropped)."""
    out = {k: str(params[k]).strip() for k in FILTER_KEYS if params.get(k) and str(params[k]).strip()}
    if out.get("band") not in review_queue.BANDS:
        out.pop("band", None)
    if out.get("status") not in review_queue.STATUSES or out.get("status") == "open":
        out.pop("status", None)
    if out.get("reason") not in REASONS:
        out.pop("reason", None)
    if out.get("sort") not in review_queue.QUEUE_SORTS or out.get("sort") == "priority":
        out.pop("sort", None)
    for k in ("since", "until"):
        if k in out:
            try:
                review.parse_day(out[k])
            except errors.StewardError:
                out.pop(k)
    return out


def criteria_of(c: Console, user: User, params: dict[str, str]) -> review_queue.QueueFilter:
    """The QueueFilter of cleaned filter parameters (`assignee=me` is the user; `-` nobody)."""
    assignee = params.get("assignee")
    search = params.get("q")
    return review_queue.QueueFilter(
        source=params.get("source"), band=params.get("band"), search=search, status=params.get("status", "open"),
        reason=params.get("reason"), decided_by=params.get("decided_by"),
        assignee=user.name if assignee == "me" else assignee, since=review.parse_day(params.get("since")),
        until=review.parse_day(params.get("until")), sort=params.get("sort", "priority"),
        found=tuple(c.search.golden_ids(search)) if search else ())


def _shown(v: Any) -> Any:
    """A value as a person reads it (yes/no for flags)."""
    return {True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v


def _rows(left: dict[str, Any], right: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for f in fields:
        a, b = _shown(left.get(f)), _shown(right.get(f))
        if a in (None, "") and b in (None, ""):
            continue
        ma, mb = diff_marks(a, b, whole=f in WHOLE_VALUE)
        rows.append({"field": f, "left": ma, "right": mb, "status": value_status(a, b)})
    return rows


def review_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cfg, wh = c.cfg, c.wh

    @router.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, page_no: str = "1") -> Response:
        user = c.need(request)
        filters = _clean(dict(request.query_params))
        criteria = criteria_of(c, user, filters)
        number = page_number(page_no)
        data = review.queue_page(cfg, wh, criteria, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        pages = max(1, -(-data["total"] // PAGE_SIZE))
        if number > pages:  # past the end: the last page
            number = pages
            data = review.queue_page(cfg, wh, criteria, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        return c.page(request, "queue.html", user, data=data, filters=filters, status=criteria.status,
                      page_no=number, pages=pages, sources=list(cfg.sources), query=urlencode(filters),
                      reasons=REASONS, sorts=SORT_LABELS, stewards=c.stewards(), nav="queue")

    @router.post("/queue/bulk")
    async def queue_bulk(request: Request) -> Response:
        form = await request.form()
        user = c.change(request, str(form.get("csrf", "")))
        filters = _clean(dict(parse_qsl(str(form.get("filters", "")))))
        where = f"/queue?{urlencode(filters)}"
        what = str(form.get("do", ""))
        if form.get("all_matching"):
            ids = review_queue.queue_ids(cfg, wh, criteria=criteria_of(c, user, filters))
        else:
            ids = [i for v in form.getlist("item") for i in str(v).split(",") if i]  # a group: its items
        if not ids:
            return c.back(where, "select some items first")
        try:
            if what in VERDICTS:
                result = actions.decide_items(cfg, wh, ids, what, user.name, str(form.get("reason", "")).strip()
                                              or None)
                c.changed()
                return c.back(where, result.message)
            if what in ("claim", "assign", "release"):
                who = {"claim": user.name, "release": None}.get(what, str(form.get("assignee", "")).strip() or None)
                n = review.assign(wh, ids, who, user.name)
                return c.back(where, f"{n} item(s) " + (f"assigned to {who}" if who else "released"))
        except errors.StewardError as e:
            return c.back(where, str(e))
        return c.back(where, f"unknown bulk action {what!r}")

    def _pair_page(request: Request, user: User, detail: dict[str, Any], filters: dict[str, str],
                   nav_ids: list[str] | None = None) -> Response:
        left, right = detail["left"], detail["right"]
        pos, prev_id, next_id = None, None, None
        if nav_ids is not None and detail["item_id"] in nav_ids:
            pos = nav_ids.index(detail["item_id"])
            prev_id = nav_ids[pos - 1] if pos > 0 else None
            next_id = nav_ids[pos + 1] if pos + 1 < len(nav_ids) else None
        active = [d for d in detail["decisions"] if d.get("active")]
        subjects = [detail["item_id"], left["record_id"], right["record_id"]]
        return c.page(request, "pair.html", user, d=detail, rows=_rows(left, right, (*RAW_FIELDS, "golden_id")),
                      std_rows=_rows(left, right, STD_FIELDS), filters=filters, query=urlencode(filters), pos=pos,
                      total=len(nav_ids or []), prev_id=prev_id, next_id=next_id,
                      active_decision=active[-1] if active else None, notes=review.comments(wh, subjects),
                      stewards=c.stewards(), here=str(request.url.path) + (f"?{request.url.query}"
                                                                          if request.url.query else ""),
                      nav="queue")

    @router.get("/queue/{item_id}", response_class=HTMLResponse)
    def queue_item(request: Request, item_id: str) -> Response:
        user = c.need(request)
        detail = review_queue.queue_item(cfg, wh, item_id)
        filters = _clean(dict(request.query_params))
        ids = review_queue.queue_ids(cfg, wh, criteria=criteria_of(c, user, filters))
        return _pair_page(request, user, detail, filters, ids)

    @router.post("/queue/{item_id}/decide")
    def queue_decide(request: Request, item_id: str, verdict: str = Form(...), reason: str = Form(""),
                     csrf: str = Form(""), filters: str = Form(""), pos: int = Form(0)) -> Response:
        user = c.change(request, csrf)
        kept = _clean(dict(parse_qsl(filters)))
        try:
            result = actions.decide(cfg, wh, item_id, verdict, user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(f"/queue/{item_id}?{urlencode(kept)}", str(e))
        c.changed()
        ids = review_queue.queue_ids(cfg, wh, criteria=criteria_of(c, user, kept))
        if ids:
            nxt = ids[min(max(pos, 0), len(ids) - 1)]
            return c.back(f"/queue/{nxt}?{urlencode(kept)}", result.message)
        return c.back(f"/queue?{urlencode(kept)}", result.message + " — the queue is empty")

    @router.get("/candidates", response_class=HTMLResponse)
    def candidates(request: Request, record: str) -> Response:
        user = c.need(request)
        data = review.candidates(cfg, wh, record)
        own = {k: _shown(v) for k, v in data["record"]["values"].items()}
        rows = []
        for f in (*RAW_FIELDS, "city_any", "uscc_valid"):
            values = [_shown(x["record"]["values"].get(f)) for x in data["candidates"]]
            if own.get(f) in (None, "") and all(v in (None, "") for v in values):
                continue
            marked = [diff_marks(own.get(f), v, whole=f in WHOLE_VALUE)[1] for v in values]
            rows.append({"field": f, "own": own.get(f), "cands": marked,
                         "status": [value_status(own.get(f), v) for v in values]})
        return c.page(request, "candidates.html", user, d=data, rows=rows, stewards=c.stewards(),
                      here=f"/candidates?{urlencode({'record': record})}", nav="queue")

    @router.post("/candidates/resolve")
    def candidates_resolve(request: Request, record: str = Form(...), golden_id: str = Form(""),
                           reason: str = Form(""), csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        try:
            result = actions.resolve_record(cfg, wh, record, golden_id or None, user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(f"/candidates?{urlencode({'record': record})}", str(e))
        c.changed()
        return c.back("/queue", result.message)

    @router.post("/assign")
    async def assign(request: Request) -> Response:
        form = await request.form()
        user = c.change(request, str(form.get("csrf", "")))
        target = safe_next(str(form.get("back_to", "")), "/queue")
        what = str(form.get("do", "assign"))
        who = {"claim": user.name, "release": None}.get(what, str(form.get("assignee", "")).strip() or None)
        try:
            n = review.assign(wh, [str(i) for i in form.getlist("item")], who, user.name)
        except errors.StewardError as e:
            return c.back(target, str(e))
        return c.back(target, (f"claimed by {who}" if who == user.name else f"assigned to {who}" if who
                               else "released") + (f" ({n} items)" if n > 1 else ""))

    @router.post("/comments")
    def comment(request: Request, subject: str = Form(...), body: str = Form(""), csrf: str = Form(""),
                back_to: str = Form("/queue")) -> Response:
        user = c.change(request, csrf)
        target = safe_next(back_to, "/queue")
        try:
            review.add_comment(wh, subject, user.name, body)
        except errors.StewardError as e:
            return c.back(target, str(e))
        return c.back(target, "comment added")

    @router.get("/pair", response_class=HTMLResponse)
    def pair(request: Request, left: str, right: str) -> Response:
        user = c.need(request)
        return _pair_page(request, user, review_queue.pair_detail(cfg, wh, left, right), {})

    @router.post("/pair/decide")
    def pair_decide(request: Request, left: str = Form(...), right: str = Form(...), verdict: str = Form(...),
                    reason: str = Form(""), csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        where = f"/pair?{urlencode({'left': left, 'right': right})}"
        try:
            result = actions.decide_pair(cfg, wh, left, right, verdict, user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(where, str(e))
        c.changed()
        return c.back(where, result.message)

    return router

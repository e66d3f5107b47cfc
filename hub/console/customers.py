"""Customer pages: search, a golden customer (attributes and where they came from, records, hierarchy,
history, former names), merging another customer in, moving a record out and adding a former name."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.web import Console
from pipelines.steward import actions, errors
from pipelines.steward.customers import golden_detail, search_customers


def customers_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cfg, wh = c.cfg, c.wh

    @router.get("/customers", response_class=HTMLResponse)
    def customers(request: Request, q: str = "") -> Response:
        user = c.need(request)
        results = search_customers(wh, q, limit=50, search=c.search) if q.strip() else []
        return c.page(request, "customers.html", user, q=q, results=results, nav="customers")

    @router.get("/customers/{golden_id}", response_class=HTMLResponse)
    def customer(request: Request, golden_id: str) -> Response:
        user = c.need(request)
        detail = golden_detail(cfg, wh, golden_id)
        if detail["retired"]:  # (to its survivor; an ID whose records were deleted has none)
            return c.back(f"/customers/{detail['survivor_id']}" if detail["survivor_id"] else "/customers",
                          detail["message"])
        return c.page(request, "customer.html", user, d=detail, nav="customers")

    @router.post("/customers/{golden_id}/merge")
    def customer_merge(request: Request, golden_id: str, other: str = Form(...), reason: str = Form(""),
                       csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        try:
            result = actions.merge(cfg, wh, golden_id, other.strip(), user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(f"/customers/{golden_id}", str(e))
        c.changed()
        return c.back(f"/customers/{golden_id}", result.message)

    @router.post("/customers/{golden_id}/former-name")
    def customer_former_name(request: Request, golden_id: str, name: str = Form(...), reason: str = Form(""),
                             csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        try:
            result = actions.add_former_name(cfg, wh, golden_id, name, user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(f"/customers/{golden_id}", str(e))
        c.changed()
        return c.back(f"/customers/{golden_id}", result.message)

    @router.post("/customers/{golden_id}/unmerge")
    def customer_unmerge(request: Request, golden_id: str, record_id: str = Form(...), reason: str = Form(""),
                         csrf: str = Form("")) -> Response:
        user = c.change(request, csrf)
        try:
            result = actions.unmerge(cfg, wh, record_id, user.name, reason.strip() or None, golden_id=golden_id)
        except errors.StewardError as e:
            return c.back(f"/customers/{golden_id}", str(e))
        c.changed()
        return c.back(f"/customers/{golden_id}", result.message)

    return router

"""The audit log of steward actions, and undoing one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.web import PAGE_SIZE, Console, page_number, safe_next
from pipelines.steward import actions, errors
from pipelines.steward.audit import history


def audit_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cfg, wh = c.cfg, c.wh

    @router.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, actor: str | None = None, action: str | None = None, golden_id: str | None = None,
              page_no: str = "1") -> Response:
        user = c.need(request)
        number = page_number(page_no)
        args: dict[str, Any] = {"golden_id": golden_id or None, "actor": actor or None, "action": action or None,
                                "limit": PAGE_SIZE}
        data = history(wh, **args, offset=(number - 1) * PAGE_SIZE)
        pages = max(1, -(-data["total"] // PAGE_SIZE))
        if number > pages:  # past the end: the last page
            number = pages
            data = history(wh, **args, offset=(number - 1) * PAGE_SIZE)
        filters = {k: v for k, v in {"actor": actor, "action": action, "golden_id": golden_id}.items() if v}
        return c.page(request, "audit.html", user, data=data, filters=filters, query=urlencode(filters),
                      page_no=number, pages=pages, nav="audit")

    @router.post("/audit/{action_id}/undo")
    def audit_undo(request: Request, action_id: str, reason: str = Form(""), csrf: str = Form(""),
                   back_to: str = Form("/audit")) -> Response:
        user = c.change(request, csrf)
        target = safe_next(back_to, "/audit")
        try:
            result = actions.undo(cfg, wh, action_id, user.name, reason.strip() or None)
        except errors.StewardError as e:
            return c.back(target, str(e))
        c.changed()
        return c.back(target, result.message)

    return router

"""How the console and the API answer what went wrong: no session (to the login page), a role that may not (403),
a steward refusal (404) or a busy warehouse (503), a body over the limit (413), a request that failed validation
(422, never echoing the input) and anything else (500, the details only in the log). The API (`/api/...`) answers
JSON, the pages HTML."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from hub.console.web import Console, Forbidden, LoginRequired
from pipelines.steward.errors import StewardBusy, StewardError

log = logging.getLogger("hub.console")


def is_api(request: Request) -> bool:
    """A request to the match API, which answers JSON whatever happens."""
    return request.url.path.startswith("/api/") and request.url.path != "/api/docs"


def _printable(v: Any, limit: int = 200) -> str:
    """Text safe to put in a JSON answer: lone surrogates replaced, at most `limit` characters."""
    text = str(v).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The errors of a request that failed validation, without the input (never echoed back: it may be large
    or hold text that cannot be encoded) and with every string made safe to encode."""
    return [{"loc": [x if isinstance(x, int) else _printable(x, 100) for x in e.get("loc", ())],
             "msg": _printable(e.get("msg", "")), "type": _printable(e.get("type", ""), 60)}
            for e in exc.errors()[:20]]


def add_error_handlers(app: FastAPI, c: Console) -> None:
    """Register the answers above on `app`."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return c.page(request, "error.html", c.user_of(request), http_status=403, title="Not allowed",
                      message="Your role may not do this (or the form expired: reload the page and try again).")

    @app.exception_handler(StewardError)
    async def _steward_error(request: Request, exc: StewardError) -> Response:
        if isinstance(exc, StewardBusy):
            return c.page(request, "error.html", c.user_of(request), http_status=503, title="Warehouse busy",
                          message=str(exc))
        return c.page(request, "error.html", c.user_of(request), http_status=404, title="Not found",
                      message=str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 413 and not is_api(request):  # (a form over the body limit: a page, like the rest)
            return c.page(request, "error.html", c.user_of(request), http_status=413, title="Too large",
                          message=f"{str(exc.detail)[:1].upper()}{str(exc.detail)[1:]}.")
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        if is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return c.page(request, "error.html", c.user_of(request), http_status=422, title="Bad request",
                      message="; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors))

    @app.exception_handler(Exception)
    async def _busy(request: Request, exc: Exception) -> Response:
        if "Could not set lock" in str(exc):  # DuckDB: another process holds the warehouse file
            if is_api(request):
                return JSONResponse({"detail": "warehouse busy: another process is writing it; try again shortly"},
                                    status_code=503, headers={"Retry-After": "30"})
            return c.page(request, "error.html", c.user_of(request), http_status=503, title="Warehouse busy",
                          message="Another process (probably `hub run`) is writing the warehouse. Try again shortly.")
        log.exception("console error")
        if is_api(request):
            return JSONResponse({"detail": "internal error; the details are in the console's log"}, status_code=500)
        return c.page(request, "error.html", c.user_of(request), http_status=500, title="Error",
                      message="Something went wrong; the details are in the console's log.")

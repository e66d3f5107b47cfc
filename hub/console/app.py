"""The steward console and the match API: `create_app(cfg)` builds the FastAPI application.

Server-rendered pages (Jinja2 templates in `templates/`, one small CSS and one small JS file in
`static/`, no build step). Every page and action calls `pipelines.steward`, the same functions
as `hub steward`. Roles: a viewer reads everything; a steward also decides, merges, unmerges and
undoes; an admin also manages users. Pages without a session redirect to /login; a change by a
role that may not make it answers 403.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import HubConfig
from hub.console.admin import admin_router
from hub.console.api import api_router
from hub.console.audit import audit_router
from hub.console.auth import LOGIN_COOKIE, SESSION_COOKIE, LoggedOut, Sessions, UserStore, valid_api_token
from hub.console.customers import customers_router
from hub.console.dashboards import dashboards_router
from hub.console.review import review_router
from hub.console.web import HERE, Console, Forbidden, LoginRequired, safe_next
from pipelines.steward import customers, match_service
from pipelines.steward.errors import StewardBusy, StewardError
from warehouse.engine import Warehouse

log = logging.getLogger("hub.console")
MAX_BODY_BYTES = 256 * 1024  # a console form or an API request; larger bodies answer 413


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


class _DuckDBRelease:
    """With a DuckDB warehouse, close the connections when no request is running, so that
    `hub run` in another process can take the file's lock between requests."""

    def __init__(self, wh: Warehouse):
        self.wh, self.active, self.lock = wh, 0, threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.active += 1

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Count work outside a request (the search index's reads) as a request, so the file is released after."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active == 0 and self.wh.dialect.name == "duckdb":
                self.wh.dispose()


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class _Guard:
    """Pure ASGI middleware: security headers on every response, `no-store` on everything but static
    files, and the DuckDB release between requests."""

    def __init__(self, app: ASGIApp, release: _DuckDBRelease):
        self.app, self.release = app, release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        self.release.enter()
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.release.leave()


def create_app(cfg: HubConfig, wh: Warehouse | None = None) -> FastAPI:
    """The console and the API for one configuration (and its warehouse)."""
    wh = wh or Warehouse.from_config(cfg.warehouse)
    users = UserStore(cfg)
    key = cfg.console.secret_key
    if not key:
        key = secrets.token_urlsafe(32)
        log.warning("console.secret_key is not set: sessions end when the console restarts")
    sessions = Sessions(key, cfg.console.session_ttl_minutes, LoggedOut(wh))
    matcher = match_service.MatchService(cfg, wh)
    release = _DuckDBRelease(wh)
    c = Console.build(cfg, wh, users, sessions, matcher, customers.CustomerSearch(wh, reading=release.holding))

    app = FastAPI(title="customer hub match API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Find the golden customers a new customer record may duplicate.",
                  max_body_size=MAX_BODY_BYTES)
    app.state.cfg, app.state.wh, app.state.matcher, app.state.users = cfg, wh, matcher, users
    app.state.search = c.search
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api_router(cfg, matcher))
    for router in (dashboards_router(c), review_router(c), customers_router(c), audit_router(c), admin_router(c)):
        app.include_router(router)
    app.add_middleware(_Guard, release=release)

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

    # --- login ---------------------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str | None = None) -> Response:
        cookie, token = sessions.login_token()
        resp = c.page(request, "login.html", None, login_csrf=token, next=safe_next(next))
        resp.set_cookie(LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="lax", secure=c.secure, path="/")
        return resp

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
              next: str = Form("/cockpit")) -> Response:
        if not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf):
            return c.back("/login", "The login form expired; please try again.")
        client = request.client.host if request.client else "?"
        if c.throttle.blocked(username, client):
            return c.page(request, "login.html", None, http_status=429, login_csrf=csrf, next=safe_next(next),
                          error="Too many failed logins; wait a few minutes.")
        user = users.authenticate(username, password)
        if user is None:
            c.throttle.failed(username, client)
            log.info("failed console login for user %r", username)
            return c.page(request, "login.html", None, http_status=401, login_csrf=csrf, next=safe_next(next),
                          error="Wrong user name or password.")
        c.throttle.succeeded(username, client)
        value, _ = sessions.issue(user.name)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, value, max_age=sessions.ttl, httponly=True, samesite="lax", secure=c.secure,
                        path="/")
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        log.info("console login: %s (%s)", user.name, user.role)
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")) -> Response:
        c.change(request, csrf, "viewer")
        session = sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            sessions.end(session)  # a copy of the cookie no longer works either
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        c.need(request)
        return RedirectResponse("/cockpit", status_code=303)

    # --- API documentation ---------------------------------------------------------------------------------

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> Response:
        user = c.need(request)
        return c.page(request, "api.html", user, schema=app.openapi(), nav="api")

    @app.get("/api/openapi.json", include_in_schema=False)
    def api_schema(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and valid_api_token(cfg.console.api_tokens, token.strip())):
            c.need(request)
        return JSONResponse(app.openapi())

    return app

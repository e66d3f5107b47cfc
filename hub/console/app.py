"""The steward console and the match API: `create_app(cfg)` builds the FastAPI application.

Server-rendered pages (Jinja2 templates in `templates/`, one small CSS and one small JS file in
`static/`, no build step). Every page and action calls `pipelines.steward`, the same functions
as `hub steward`. Roles: a viewer reads everything; a steward also decides, merges, unmerges and
undoes; an admin also manages users. Pages without a session redirect to /login; a change by a
role that may not make it answers 403.
"""

from __future__ import annotations

import difflib
import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.config import ROLES, HubConfig
from hub.console.api import api_router
from hub.console.auth import (
    FLASH_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoggedOut,
    LoginThrottle,
    Sessions,
    User,
    UserStore,
    same_token,
    valid_api_token,
)
from hub.users import UserError, hash_password, remove_user, set_user
from mdm.stewardship import RAW_FIELDS, STD_FIELDS
from pipelines import steward
from warehouse.engine import Warehouse

log = logging.getLogger("hub.console")
HERE = Path(__file__).parent
PAGE_SIZE = 50
MAX_BODY_BYTES = 256 * 1024  # a console form or an API request; larger bodies answer 413


def page_number(text: str | None) -> int:
    """A `page_no` query parameter as a page number ≥ 1; anything else (text, 0, -3, a 30-digit number past any
    page) is page 1 or is clamped by the caller to the last page."""
    text = (text or "").strip()
    if not text.isdigit() or not text.isascii():
        return 1
    return max(1, min(int(text[:12]), 10**9))


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


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page."""


class Forbidden(Exception):
    """The user's role may not do this."""


WHOLE_VALUE = frozenset({"updated_at", "golden_id", "uscc_valid", "owner", "customer_number"})


def diff_marks(a: Any, b: Any, whole: bool = False) -> tuple[Markup, Markup]:
    """Both values as HTML with the characters that differ marked (<mark>); values that are not
    alike (or `whole`) are marked as a whole."""
    sa_, sb = "" if a is None else str(a), "" if b is None else str(b)
    if not sa_ or not sb or sa_ == sb:
        return Markup(escape(sa_)), Markup(escape(sb))
    matcher = difflib.SequenceMatcher(None, sa_, sb, autojunk=False)
    if whole or matcher.ratio() < 0.4:
        return (Markup("<mark>") + escape(sa_) + Markup("</mark>"), Markup("<mark>") + escape(sb) + Markup("</mark>"))
    left, right = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        x, y = escape(sa_[i1:i2]), escape(sb[j1:j2])
        if op == "equal":
            left.append(x)
            right.append(y)
        else:
            if x:
                left.append(Markup("<mark>") + x + Markup("</mark>"))
            if y:
                right.append(Markup("<mark>") + y + Markup("</mark>"))
    return Markup("").join(left), Markup("").join(right)


def _status(a: Any, b: Any) -> str:
    empty_a, empty_b = a in (None, ""), b in (None, "")
    if empty_a and empty_b:
        return "empty"
    if empty_a or empty_b:
        return "missing"
    return "same" if str(a) == str(b) else "diff"


class _DuckDBRelease:
    """With a DuckDB warehouse, close the connections when no request is running, so that
    `hub run` in another process can take the file's lock between requests."""

    def __init__(self, wh: Warehouse):
        self.wh, self.active, self.lock = wh, 0, threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.active += 1

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
    wh = wh or Warehouse(cfg.warehouse.url)
    users = UserStore(cfg)
    key = cfg.console.secret_key
    if not key:
        key = secrets.token_urlsafe(32)
        log.warning("console.secret_key is not set: sessions end when the console restarts")
    sessions = Sessions(key, cfg.console.session_ttl_minutes, LoggedOut(wh))
    throttle = LoginThrottle()
    matcher = steward.MatchService(cfg, wh)
    release = _DuckDBRelease(wh)
    secure = cfg.console.secure_cookies

    app = FastAPI(title="customer hub match API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Find the golden customers a new customer record may duplicate.",
                  max_body_size=MAX_BODY_BYTES)
    app.state.cfg, app.state.wh, app.state.matcher, app.state.users = cfg, wh, matcher, users
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(roles=ROLES, thresholds=cfg.mdm.customer.thresholds)
    templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=2, default=str)
    templates.env.filters["json_text"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api_router(cfg, matcher))

    app.add_middleware(_Guard, release=release)

    # --- sessions and roles -------------------------------------------------------------------------------

    def user_of(request: Request) -> User | None:
        got = sessions.read(request.cookies.get(SESSION_COOKIE))
        if got is None:
            return None
        u = users.get(got.user)
        return User(u.name, u.role, got.csrf) if u else None

    def need(request: Request, role: str = "viewer") -> User:
        user = user_of(request)
        if user is None:
            raise LoginRequired
        if not user.can(role):
            raise Forbidden
        return user

    def change(request: Request, csrf: str, role: str = "steward") -> User:
        """A POST that changes something: a session, the role and the form's CSRF token."""
        user = need(request, role)
        if not same_token(user.csrf, csrf):
            raise Forbidden
        return user

    def page(request: Request, name: str, user: User | None, http_status: int = 200, **ctx: Any) -> HTMLResponse:
        flash = sessions.read_flash(request.cookies.get(FLASH_COOKIE))
        resp = templates.TemplateResponse(request, name, {"user": user, "flash": flash, "config_name":
                                                          cfg.path.name if cfg.path else "hub.yaml", **ctx},
                                          status_code=http_status)
        if flash:
            resp.delete_cookie(FLASH_COOKIE, path="/")
        return resp

    def back(url: str, message: str | None = None) -> RedirectResponse:
        resp = RedirectResponse(url, status_code=303)
        if message:
            resp.set_cookie(FLASH_COOKIE, sessions.flash(message), max_age=120, httponly=True, samesite="lax",
                            secure=secure, path="/")
        return resp

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, "error.html", user_of(request), http_status=403, title="Not allowed",
                    message="Your role may not do this (or the form expired: reload the page and try again).")

    @app.exception_handler(steward.StewardError)
    async def _steward_error(request: Request, exc: steward.StewardError) -> Response:
        return page(request, "error.html", user_of(request), http_status=404, title="Not found", message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        if is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        return page(request, "error.html", user_of(request), http_status=422, title="Bad request",
                    message="; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors))

    @app.exception_handler(Exception)
    async def _busy(request: Request, exc: Exception) -> Response:
        if "Could not set lock" in str(exc):  # DuckDB: another process holds the warehouse file
            if is_api(request):
                return JSONResponse({"detail": "warehouse busy: another process is writing it; try again shortly"},
                                    status_code=503, headers={"Retry-After": "30"})
            return page(request, "error.html", user_of(request), http_status=503, title="Warehouse busy",
                        message="Another process (probably `hub run`) is writing the warehouse. Try again shortly.")
        log.exception("console error")
        if is_api(request):
            return JSONResponse({"detail": "internal error; the details are in the console's log"}, status_code=500)
        return page(request, "error.html", user_of(request), http_status=500, title="Error",
                    message="Something went wrong; the details are in the console's log.")

    # --- login ---------------------------------------------------------------------------------------------

    def _safe_next(target: str | None) -> str:
        return target if target and target.startswith("/") and not target.startswith("//") else "/queue"

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str | None = None) -> Response:
        cookie, token = sessions.login_token()
        resp = page(request, "login.html", None, login_csrf=token, next=_safe_next(next))
        resp.set_cookie(LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="lax", secure=secure, path="/")
        return resp

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
              next: str = Form("/queue")) -> Response:
        if not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf):
            return back("/login", "The login form expired; please try again.")
        client = request.client.host if request.client else "?"
        if throttle.blocked(username, client):
            return page(request, "login.html", None, http_status=429, login_csrf=csrf, next=_safe_next(next),
                        error="Too many failed logins; wait a few minutes.")
        user = users.authenticate(username, password)
        if user is None:
            throttle.failed(username, client)
            log.info("failed console login for user %r", username)
            return page(request, "login.html", None, http_status=401, login_csrf=csrf, next=_safe_next(next),
                        error="Wrong user name or password.")
        throttle.succeeded(username, client)
        value, _ = sessions.issue(user.name)
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, value, max_age=sessions.ttl, httponly=True, samesite="lax", secure=secure,
                        path="/")
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        log.info("console login: %s (%s)", user.name, user.role)
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")) -> Response:
        change(request, csrf, "viewer")
        session = sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            sessions.end(session)  # a copy of the cookie no longer works either
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        need(request)
        return RedirectResponse("/queue", status_code=303)

    # --- queue and pairs -----------------------------------------------------------------------------------

    def _filters(source: str | None, band: str | None, q: str | None) -> dict[str, str]:
        return {k: v for k, v in {"source": source, "band": band, "q": q}.items() if v}

    @app.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def queue(request: Request, source: str | None = None, band: str | None = None, q: str | None = None,
              status: str = "open", page_no: str = "1") -> Response:
        user = need(request)
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
        return page(request, "queue.html", user, data=data, filters=filters, status=status, page_no=number,
                    pages=pages, sources=list(cfg.sources), query=urlencode(filters), nav="queue")

    def _pair_page(request: Request, user: User, detail: dict[str, Any], filters: dict[str, str],
                   nav_ids: list[str] | None = None) -> Response:
        left, right = detail["left"], detail["right"]
        rows = []
        for f in (*RAW_FIELDS, "golden_id"):
            a, b = left.get(f), right.get(f)
            if a in (None, "") and b in (None, ""):
                continue
            ma, mb = diff_marks(a, b, whole=f in WHOLE_VALUE)
            rows.append({"field": f, "left": ma, "right": mb, "status": _status(a, b)})
        std_rows = []
        for f in STD_FIELDS:
            a, b = left.get(f), right.get(f)
            if a in (None, "") and b in (None, ""):
                continue
            ma, mb = diff_marks(a, b, whole=f in WHOLE_VALUE)
            std_rows.append({"field": f, "left": ma, "right": mb, "status": _status(a, b)})
        pos, prev_id, next_id = None, None, None
        if nav_ids is not None and detail["item_id"] in nav_ids:
            pos = nav_ids.index(detail["item_id"])
            prev_id = nav_ids[pos - 1] if pos > 0 else None
            next_id = nav_ids[pos + 1] if pos + 1 < len(nav_ids) else None
        active = [d for d in detail["decisions"] if d.get("active")]
        return page(request, "pair.html", user, d=detail, rows=rows, std_rows=std_rows, filters=filters,
                    query=urlencode(filters), pos=pos, total=len(nav_ids or []), prev_id=prev_id, next_id=next_id,
                    active_decision=active[-1] if active else None, nav="queue")

    @app.get("/queue/{item_id}", response_class=HTMLResponse, include_in_schema=False)
    def queue_item(request: Request, item_id: str, source: str | None = None, band: str | None = None,
                   q: str | None = None) -> Response:
        user = need(request)
        detail = steward.queue_item(cfg, wh, item_id)
        filters = _filters(source, band, q)
        ids = steward.queue_ids(cfg, wh, source=source, band_=band, search=q)
        return _pair_page(request, user, detail, filters, ids)

    @app.post("/queue/{item_id}/decide", include_in_schema=False)
    def queue_decide(request: Request, item_id: str, verdict: str = Form(...), reason: str = Form(""),
                     csrf: str = Form(""), source: str = Form(""), band: str = Form(""), q: str = Form(""),
                     pos: int = Form(0)) -> Response:
        user = change(request, csrf)
        filters = _filters(source or None, band or None, q or None)
        try:
            result = steward.decide(cfg, wh, item_id, verdict, user.name, reason.strip() or None)
        except steward.StewardError as e:
            return back(f"/queue/{item_id}?{urlencode(filters)}", str(e))
        matcher.invalidate()
        ids = steward.queue_ids(cfg, wh, source=source or None, band_=band or None, search=q or None)
        if ids:
            nxt = ids[min(max(pos, 0), len(ids) - 1)]
            return back(f"/queue/{nxt}?{urlencode(filters)}", result.message)
        return back(f"/queue?{urlencode(filters)}", result.message + " — the queue is empty")

    @app.get("/pair", response_class=HTMLResponse, include_in_schema=False)
    def pair(request: Request, left: str, right: str) -> Response:
        user = need(request)
        return _pair_page(request, user, steward.pair_detail(cfg, wh, left, right), {})

    @app.post("/pair/decide", include_in_schema=False)
    def pair_decide(request: Request, left: str = Form(...), right: str = Form(...), verdict: str = Form(...),
                    reason: str = Form(""), csrf: str = Form("")) -> Response:
        user = change(request, csrf)
        try:
            result = steward.decide_pair(cfg, wh, left, right, verdict, user.name, reason.strip() or None)
        except steward.StewardError as e:
            return back(f"/pair?{urlencode({'left': left, 'right': right})}", str(e))
        matcher.invalidate()
        return back(f"/pair?{urlencode({'left': left, 'right': right})}", result.message)

    # --- customers -----------------------------------------------------------------------------------------

    @app.get("/customers", response_class=HTMLResponse, include_in_schema=False)
    def customers(request: Request, q: str = "") -> Response:
        user = need(request)
        results = steward.search_customers(wh, q, limit=50) if q.strip() else []
        return page(request, "customers.html", user, q=q, results=results, nav="customers")

    @app.get("/customers/{golden_id}", response_class=HTMLResponse, include_in_schema=False)
    def customer(request: Request, golden_id: str) -> Response:
        user = need(request)
        detail = steward.golden_detail(cfg, wh, golden_id)
        if detail["retired"]:
            return back(f"/customers/{detail['survivor_id']}",
                        f"{golden_id} was retired into {detail['survivor_id']}")
        return page(request, "customer.html", user, d=detail, nav="customers")

    @app.post("/customers/{golden_id}/merge", include_in_schema=False)
    def customer_merge(request: Request, golden_id: str, other: str = Form(...), reason: str = Form(""),
                       csrf: str = Form("")) -> Response:
        user = change(request, csrf)
        try:
            result = steward.merge(cfg, wh, golden_id, other.strip(), user.name, reason.strip() or None)
        except steward.StewardError as e:
            return back(f"/customers/{golden_id}", str(e))
        matcher.invalidate()
        return back(f"/customers/{golden_id}", result.message)

    @app.post("/customers/{golden_id}/unmerge", include_in_schema=False)
    def customer_unmerge(request: Request, golden_id: str, record_id: str = Form(...), reason: str = Form(""),
                         csrf: str = Form("")) -> Response:
        user = change(request, csrf)
        try:
            result = steward.unmerge(cfg, wh, record_id, user.name, reason.strip() or None, golden_id=golden_id)
        except steward.StewardError as e:
            return back(f"/customers/{golden_id}", str(e))
        matcher.invalidate()
        return back(f"/customers/{golden_id}", result.message)

    # --- audit ---------------------------------------------------------------------------------------------

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request, actor: str | None = None, action: str | None = None, golden_id: str | None = None,
              page_no: str = "1") -> Response:
        user = need(request)
        number = page_number(page_no)
        args = {"golden_id": golden_id or None, "actor": actor or None, "action": action or None, "limit": PAGE_SIZE}
        data = steward.history(wh, **args, offset=(number - 1) * PAGE_SIZE)
        pages = max(1, -(-data["total"] // PAGE_SIZE))
        if number > pages:  # past the end: the last page
            number = pages
            data = steward.history(wh, **args, offset=(number - 1) * PAGE_SIZE)
        filters = {k: v for k, v in {"actor": actor, "action": action, "golden_id": golden_id}.items() if v}
        return page(request, "audit.html", user, data=data, filters=filters, query=urlencode(filters),
                    page_no=number, pages=pages, nav="audit")

    @app.post("/audit/{action_id}/undo", include_in_schema=False)
    def audit_undo(request: Request, action_id: str, reason: str = Form(""), csrf: str = Form(""),
                   back_to: str = Form("/audit")) -> Response:
        user = change(request, csrf)
        target = _safe_next(back_to)
        try:
            result = steward.undo(cfg, wh, action_id, user.name, reason.strip() or None)
        except steward.StewardError as e:
            return back(target, str(e))
        matcher.invalidate()
        return back(target, result.message)

    # --- users (admin) -------------------------------------------------------------------------------------

    @app.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request) -> Response:
        user = need(request, "admin")
        return page(request, "users.html", user, users=users.console.users, nav="users")

    @app.post("/users", include_in_schema=False)
    def users_set(request: Request, name: str = Form(...), role: str = Form(...), password: str = Form(...),
                  csrf: str = Form("")) -> Response:
        change(request, csrf, "admin")
        if cfg.path is None:
            return back("/users", "this configuration has no file to write users to")
        try:
            new = set_user(cfg.path, name.strip(), role, hash_password(password))
        except UserError as e:
            return back("/users", str(e))
        return back("/users", f"user {name.strip()} {'added' if new else 'updated'} ({role})")

    @app.post("/users/{name}/delete", include_in_schema=False)
    def users_delete(request: Request, name: str, csrf: str = Form("")) -> Response:
        user = change(request, csrf, "admin")
        if name == user.name:
            return back("/users", "you cannot remove yourself")
        if cfg.path is None:
            return back("/users", "this configuration has no file to write users to")
        try:
            remove_user(cfg.path, name)
        except UserError as e:
            return back("/users", str(e))
        return back("/users", f"user {name} removed")

    # --- API documentation ---------------------------------------------------------------------------------

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> Response:
        user = need(request)
        return page(request, "api.html", user, schema=app.openapi(), nav="api")

    @app.get("/api/openapi.json", include_in_schema=False)
    def api_schema(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and valid_api_token(cfg.console.api_tokens, token.strip())):
            need(request)
        return JSONResponse(app.openapi())

    return app

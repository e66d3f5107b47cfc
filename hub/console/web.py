"""What every console page needs: the configuration, the warehouse, sessions and roles, rendering and
redirects with a flash message. One `Console` per application; each page module's router takes it."""

from __future__ import annotations

import difflib
import json
import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from core.config import ROLES, HubConfig
from hub.console import labels
from hub.console.auth import (
    FLASH_COOKIE,
    SESSION_COOKIE,
    LoggedOut,
    LoginThrottle,
    Sessions,
    User,
    UserStore,
    same_token,
)
from hub.console.i18n import pick_lang, text
from pipelines.steward.customers import CustomerSearch
from pipelines.steward.match_service import MatchService
from warehouse.engine import Warehouse

log = logging.getLogger("hub.console")
HERE = Path(__file__).parent
PAGE_SIZE = 50
LANG_COOKIE = "hub_lang"  # the language switch's choice (en, zh)


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page."""


class Forbidden(Exception):
    """The user's role may not do this."""


def page_number(text: str | None) -> int:
    """A `page_no` query parameter as a page number ≥ 1; anything else (text, 0, -3, a 30-digit number past any
    page) is page 1 or is clamped by the caller to the last page."""
    text = (text or "").strip()
    if not text.isdigit() or not text.isascii():
        return 1
    return max(1, min(int(text[:12]), 10**9))


def safe_next(target: str | None, default: str = "/cockpit") -> str:
    """A local path to go back to (never another site: `//host` and absolute URLs are refused)."""
    return target if target and target.startswith("/") and not target.startswith("//") else default


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


def value_status(a: Any, b: Any) -> str:
    """`same`, `diff`, `missing` (one side empty) or `empty` (both)."""
    empty_a, empty_b = a in (None, ""), b in (None, "")
    if empty_a and empty_b:
        return "empty"
    if empty_a or empty_b:
        return "missing"
    return "same" if str(a) == str(b) else "diff"


@dataclass
class Console:
    """The application's shared parts, handed to every page router."""

    cfg: HubConfig
    wh: Warehouse
    users: UserStore
    sessions: Sessions
    throttle: LoginThrottle
    matcher: MatchService
    search: CustomerSearch
    templates: Jinja2Templates
    secure: bool

    @classmethod
    def build(cls, cfg: HubConfig, wh: Warehouse, reading: Callable[[], AbstractContextManager[Any]]) -> Console:
        """The parts for one configuration and its warehouse; `reading` wraps the search index's reads outside a
        request (`middleware.DuckDBRelease.holding`)."""
        users = UserStore(cfg)
        key = cfg.console.secret_key
        if not key:
            key = secrets.token_urlsafe(32)
            log.warning("console.secret_key is not set: sessions end when the console restarts")
        sessions = Sessions(key, cfg.console.session_ttl_minutes, LoggedOut(wh))
        matcher = MatchService(cfg, wh)
        search = CustomerSearch(wh, reading=reading)
        templates = Jinja2Templates(directory=str(HERE / "templates"))
        env = templates.env
        env.globals.update(roles=ROLES, thresholds=cfg.mdm.customer.thresholds, label=labels.label,
                           level_text=labels.level_text, matched_by=labels.matched_by, zone=cfg.timezone, t=text)
        env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=2, default=str)
        env.filters["json_text"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
        env.filters["local"] = lambda v: labels.local_time(v, cfg.timezone)
        env.filters["zip_self"] = lambda values: [(v, v) for v in values or ()]  # a select's (value, text)
        env.filters["rep_options"] = lambda reps: [(r[0], f"{r[1]} · {r[2]}" if r[2] else r[1] or r[0])
                                                   for r in reps or ()]
        return cls(cfg, wh, users, sessions, LoginThrottle(), matcher, search, templates,
                   cfg.console.secure_cookies)

    def changed(self) -> None:
        """After a steward action: the match API's and the search's indexes are rebuilt at their next use."""
        self.matcher.invalidate()
        self.search.invalidate()

    # --- sessions and roles -------------------------------------------------------------------------------

    def user_of(self, request: Request) -> User | None:
        got = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        if got is None:
            return None
        u = self.users.get(got.user)
        return User(u.name, u.role, got.csrf) if u else None

    def need(self, request: Request, role: str = "viewer") -> User:
        user = self.user_of(request)
        if user is None:
            raise LoginRequired
        if not user.can(role):
            raise Forbidden
        return user

    def change(self, request: Request, csrf: str, role: str = "steward") -> User:
        """A POST that changes something: a session, the role and the form's CSRF token."""
        user = self.need(request, role)
        if not same_token(user.csrf, csrf):
            raise Forbidden
        return user

    def stewards(self) -> list[str]:
        """Users who may decide (for assigning review items)."""
        return [u.name for u in self.users.console.users if u.role in ("steward", "admin")]

    # --- answers ------------------------------------------------------------------------------------------

    def page(self, request: Request, name: str, user: User | None, http_status: int = 200,
             **ctx: Any) -> HTMLResponse:
        flash = self.sessions.read_flash(request.cookies.get(FLASH_COOKIE))
        config_name = self.cfg.path.name if self.cfg.path else "hub.yaml"
        lang = pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        resp = self.templates.TemplateResponse(request, name, {"user": user, "flash": flash, "lang": lang,
                                                               "here": here, "config_name": config_name, **ctx},
                                               status_code=http_status)
        if flash:
            resp.delete_cookie(FLASH_COOKIE, path="/")
        return resp

    def back(self, url: str, message: str | None = None) -> RedirectResponse:
        resp = RedirectResponse(url, status_code=303)
        if message:
            resp.set_cookie(FLASH_COOKIE, self.sessions.flash(message), max_age=120, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
        return resp

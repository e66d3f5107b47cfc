"""Logging in and out: the login page (a CSRF token in a cookie of its own, failed logins throttled per user
and client), the session cookie, logout (the session refused from then on, copies of the cookie too), and `/`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.console.auth import LOGIN_COOKIE, SESSION_COOKIE
from hub.console.web import Console, safe_next

log = logging.getLogger("hub.console")


def login_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    sessions = c.sessions

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None) -> Response:
        cookie, token = sessions.login_token()
        resp = c.page(request, "login.html", None, login_csrf=token, next=safe_next(next))
        resp.set_cookie(LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="lax", secure=c.secure, path="/")
        return resp

    @router.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
              next: str = Form("/cockpit")) -> Response:
        if not sessions.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf):
            return c.back("/login", "The login form expired; please try again.")
        client = request.client.host if request.client else "?"
        if c.throttle.blocked(username, client):
            return c.page(request, "login.html", None, http_status=429, login_csrf=csrf, next=safe_next(next),
                          error="Too many failed logins; wait a few minutes.")
        user = c.users.authenticate(username, password)
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

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        c.change(request, csrf, "viewer")
        session = sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            sessions.end(session)  # a copy of the cookie no longer works either
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @router.get("/")
    def home(request: Request) -> Response:
        c.need(request)
        return RedirectResponse("/cockpit", status_code=303)

    return router

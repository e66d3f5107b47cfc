"""The users page (admins only): add a user, change a role or password, remove a user, in the config file."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from hub.console.web import Console
from hub.users import UserError, hash_password, remove_user, set_user


def admin_router(c: Console) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cfg = c.cfg

    @router.get("/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        user = c.need(request, "admin")
        return c.page(request, "users.html", user, users=c.users.console.users, nav="users")

    @router.post("/users")
    def users_set(request: Request, name: str = Form(...), role: str = Form(...), password: str = Form(...),
                  csrf: str = Form("")) -> Response:
        c.change(request, csrf, "admin")
        if cfg.path is None:
            return c.back("/users", "this configuration has no file to write users to")
        try:
            new = set_user(cfg.path, name.strip(), role, hash_password(password))
        except UserError as e:
            return c.back("/users", str(e))
        return c.back("/users", f"user {name.strip()} {'added' if new else 'updated'} ({role})")

    @router.post("/users/{name}/delete")
    def users_delete(request: Request, name: str, csrf: str = Form("")) -> Response:
        user = c.change(request, csrf, "admin")
        if name == user.name:
            return c.back("/users", "you cannot remove yourself")
        if cfg.path is None:
            return c.back("/users", "this configuration has no file to write users to")
        try:
            remove_user(cfg.path, name)
        except UserError as e:
            return c.back("/users", str(e))
        return c.back("/users", f"user {name} removed")

    return router

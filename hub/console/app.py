"""The steward console and the match API: `create_app(cfg)` assembles the FastAPI application.

Server-rendered pages (Jinja2 templates in `templates/`, one small CSS and one small JS file in
`static/`, no build step). Every page and action calls `pipelines.steward`, the same functions
as `hub steward`. Roles: a viewer reads everything; a steward also decides, merges, unmerges and
undoes; an admin also manages users. Pages without a session redirect to /login; a change by a
role that may not make it answers 403.

Where things are: the parts every page shares (configuration, warehouse, users, sessions, templates) in
`web.py`; one router per area (`login.py`, `dashboards.py`, `review.py`, `customers.py`, `audit.py`, `admin.py`,
`api.py`); error answers in `errors.py`; headers and the DuckDB release around each request in `middleware.py`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from core.config import HubConfig
from hub.console.admin import admin_router
from hub.console.api import MAX_MATCH_BODY_BYTES, api_docs_router, api_router
from hub.console.audit import audit_router
from hub.console.customers import customers_router
from hub.console.dashboards import dashboards_router
from hub.console.errors import add_error_handlers
from hub.console.login import login_router
from hub.console.middleware import BodyLimit, DuckDBRelease, Guard
from hub.console.review import review_router
from hub.console.web import HERE, Console
from warehouse.engine import Warehouse

MAX_BODY_BYTES = 256 * 1024  # a console form or an API request; larger bodies answer 413


def create_app(cfg: HubConfig, wh: Warehouse | None = None) -> FastAPI:
    """The console and the API for one configuration (and its warehouse)."""
    wh = wh or Warehouse.from_config(cfg.warehouse)
    release = DuckDBRelease(wh)
    c = Console.build(cfg, wh, reading=release.holding)

    app = FastAPI(title="customer hub match API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Find the golden customers a new customer record may duplicate.")
    app.state.cfg, app.state.wh, app.state.matcher, app.state.users = cfg, wh, c.matcher, c.users
    app.state.search = c.search
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api_router(cfg, c.matcher))
    for router in (dashboards_router(c), review_router(c), customers_router(c), audit_router(c), admin_router(c),
                   login_router(c), api_docs_router(c)):
        app.include_router(router)
    app.add_middleware(BodyLimit, default=MAX_BODY_BYTES, limits={"/api/match": MAX_MATCH_BODY_BYTES})
    app.add_middleware(Guard, release=release)  # (added last: outermost, so its headers are on every answer)
    add_error_handlers(app, c)
    return app

"""What wraps every request: security headers, `no-store` on everything but static files, a limit on the body,
and with a DuckDB warehouse the file released between requests (so that `hub run` in another process can take its
lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warehouse.engine import Warehouse

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class DuckDBRelease:
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


class Guard:
    """Pure ASGI middleware: security headers on every response, `no-store` on everything but static
    files, and the DuckDB release between requests."""

    def __init__(self, app: ASGIApp, release: DuckDBRelease):
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


class BodyLimit:
    """Pure ASGI middleware: a request body over its path's limit (`limits`, else `default` bytes) fails where the
    app reads it, with an HTTPException 413, before more than the limit is read. Raised there, it reaches the app's
    error handlers: the API answers JSON and the console its error page, with the security headers (Starlette's own
    limit answers plain text from outside every handler and middleware)."""

    def __init__(self, app: ASGIApp, default: int, limits: dict[str, int] | None = None):
        self.app, self.default, self.limits = app, default, dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length")
        total = int(declared) if declared and declared.isdigit() else 0

        async def limited() -> Message:
            nonlocal total
            if total <= limit:
                message = await receive()
                if message["type"] == "http.request" and declared is None:  # (chunked: counted as it comes)
                    total += len(message.get("body", b""))
                if total <= limit:
                    return message
            raise HTTPException(413, detail=f"the request body is over the limit of {limit // 1024} KiB")

        await self.app(scope, limited, send)

"""The machinery of the vendor fake servers: HTTP app, background serving, fault pipeline, control API.

A fake is a Starlette app run by uvicorn in a background thread. It serves a vendor's documented HTTP
contract (the project's ``source-apis.md`` notes) over a ``Dataset`` (``connectors.fakes.dataset``), and
injects switchable ``Faults`` (``connectors.fakes.faults``) into *data* calls only (never into token calls or
the control API; the one exception is a vendor's documented token-endpoint limit under ``enforce_limits``).
A fault never changes what a successful call returns, so a connector that retries correctly
neither loses nor duplicates a record.

Control API (JSON, on every fake):

- ``GET /_fake/faults`` / ``POST /_fake/faults`` (partial update, 400 on an unknown or
  ill-typed field),
- ``GET /_fake/stats``: calls per endpoint, faults injected by kind, auth errors, tokens issued,
  the ids of the malformed records,
- ``POST /_fake/reset``: faults back to their construction values, counters to zero, tokens
  dropped, clock offset cleared,
- ``POST /_fake/clock {"advance_s": 7300}``: move the clock forward (expire tokens and close
  rate-limit windows without waiting); ``{"freeze": true}`` stops it where it is (then only
  ``advance_s`` moves it: tests of time windows that cannot depend on how fast calls run),
- ``POST /_fake/config {"token_ttl_s": 5}``: TTL of tokens issued from now on,
- ``POST /_fake/upsert {"object": ..., "record": {...}}``: add or modify a record (same as
  ``server.dataset.upsert``),
- ``POST /_fake/delete {"object": ..., "record": {<its key fields>}}``: remove a record, as one deleted in the
  vendor's system is no longer listed (same as ``server.dataset.delete``; 404 when there is none).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import importlib
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.fakes.dataset import Dataset
from connectors.fakes.faults import Faults, Stats
from connectors.fakes.tokens import Token, TokenState, TokenStore

VENDORS = {
    "wecom": "WeComFake",
    "dingtalk": "DingTalkFake",
    "fxiaoke": "FxiaokeFake",
    "kingdee": "KingdeeFake",
}


class VendorError(Exception):
    """Raised by a handler to answer with a vendor-shaped error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class ErrorStyle:
    """How one API family answers auth, rate-limit and quota faults."""

    auth: Callable[[TokenState], Response]
    rate_limited: Callable[[], Response]
    quota: Callable[[], Response] | None = None


_GATEWAY_TITLES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


def gateway_error(status: int) -> Response:
    """What a reverse proxy in front of the vendor answers when the backend fails."""
    title = f"{status} {_GATEWAY_TITLES[status]}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return HTMLResponse(body, status_code=status)


async def read_json(request: Request) -> Any:
    """The request's JSON body, or None when it is missing or not JSON."""
    body = await request.body()
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def as_int(value: Any, default: int | None = None) -> int | None:
    """An int from a JSON number or numeric string (vendors accept both), else ``default``."""
    if value is None or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return int(number) if number.is_integer() else default


class FakeServer:
    """Base of the vendor fakes: HTTP app, background serving, faults, counters, control API."""

    vendor: ClassVar[str] = ""
    malformable: ClassVar[tuple[str, ...]] = ()
    """Objects in which ``malformed_record`` corrupts one record."""
    limits: ClassVar[Mapping[str, tuple[int, float]]] = {}
    """Endpoint -> (calls, window seconds), enforced when ``Faults.enforce_limits``."""

    def __init__(
        self, dataset: Dataset | None = None, *, faults: Faults | None = None, token_ttl_s: float = 7200.0
    ) -> None:
        self.dataset = dataset if dataset is not None else self.default_dataset()
        self._lock = threading.RLock()
        self._initial_faults = faults or Faults()
        self._faults = self._initial_faults
        self._rng = random.Random(self._faults.seed)
        self._malformed_keys: dict[str, Hashable | None] = {}
        self._windows: dict[str, deque[float]] = {}
        self._stats = Stats()
        self._ok_calls = 0  # data calls answered, for ``quota_after``
        self.tokens = TokenStore(token_ttl_s)
        self.app = Starlette(routes=[*self.routes(), *self._control_routes()])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url: str | None = None

    # ----- to implement per vendor

    @classmethod
    def default_dataset(cls) -> Dataset:
        """The dataset served when none is given (the demo universe)."""
        raise NotImplementedError

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def malform(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """A realistically malformed copy of ``record`` of object ``name``."""
        raise NotImplementedError

    # ----- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL (port 0 picks a free port)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.vendor} fake already started at {self.url}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"fake-{self.vendor}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"{self.vendor} fake failed to start on {host}:{port}")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.url = None

    def __enter__(self) -> Self:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- control

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, **changes: Any) -> Faults:
        """Apply fault changes (validated); a new ``seed`` reseeds the fault RNG, a new ``quota_after``
        counts the data calls from now."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            if "seed" in changes:
                self._rng = random.Random(self._faults.seed)
            if "quota_after" in changes:
                self._ok_calls = 0
            self._malformed_keys.clear()
            return self._faults

    @property
    def token_ttl_s(self) -> float:
        return self.tokens.ttl_s

    @token_ttl_s.setter
    def token_ttl_s(self, value: float) -> None:
        with self._lock:
            self.tokens.ttl_s = float(value)

    def advance_clock(self, seconds: float) -> None:
        """Move the clock forward: tokens expire and rate-limit windows close without waiting."""
        with self._lock:
            self.tokens.offset_s += seconds

    def freeze_clock(self) -> None:
        """Stop the clock where it is; from now on only `advance_clock` moves it."""
        with self._lock:
            if self.tokens.frozen_at is None:
                self.tokens.frozen_at = time.time()

    def reset(self) -> None:
        """Faults back to their construction values; counters, tokens and clock cleared."""
        with self._lock:
            self._faults = self._initial_faults
            self._rng = random.Random(self._faults.seed)
            self._malformed_keys.clear()
            self._windows.clear()
            self.tokens.clear()
            self._stats.reset()
            self._ok_calls = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            malformed = (
                {name: self._malformed_key(name) for name in self.malformable}
                if self._faults.malformed_record
                else {}
            )
        return {
            "vendor": self.vendor,
            **self._stats.snapshot(),
            "malformed_ids": {name: _jsonable_key(key) for name, key in malformed.items() if key is not None},
            "token_ttl_s": self.tokens.ttl_s,
        }

    def _control_routes(self) -> list[BaseRoute]:
        return [
            Route("/_fake/faults", self._get_faults, methods=["GET"]),
            Route("/_fake/faults", self._post_faults, methods=["POST"]),
            Route("/_fake/stats", self._get_stats, methods=["GET"]),
            Route("/_fake/reset", self._post_reset, methods=["POST"]),
            Route("/_fake/clock", self._post_clock, methods=["POST"]),
            Route("/_fake/config", self._post_config, methods=["POST"]),
            Route("/_fake/upsert", self._post_upsert, methods=["POST"]),
            Route("/_fake/delete", self._post_delete, methods=["POST"]),
        ]

    async def _get_faults(self, request: Request) -> Response:
        return JSONResponse(self._faults.to_dict())

    async def _post_faults(self, request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            return JSONResponse({"error": "expected a JSON object of faults"}, status_code=400)
        try:
            return JSONResponse(self.set_faults(**body).to_dict())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def _get_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _post_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _post_clock(self, request: Request) -> Response:
        body = await read_json(request)
        seconds = body.get("advance_s", 0) if isinstance(body, dict) else None
        freeze = body.get("freeze", False) if isinstance(body, dict) else None
        if (not isinstance(seconds, int | float) or isinstance(seconds, bool) or freeze not in (True, False)
                or not (seconds or freeze)):
            return JSONResponse({"error": 'expected {"advance_s": seconds} and/or {"freeze": true}'},
                                status_code=400)
        if freeze:
            self.freeze_clock()
        self.advance_clock(float(seconds))
        return JSONResponse({"offset_s": self.tokens.offset_s, "frozen": self.tokens.frozen_at is not None})

    async def _post_config(self, request: Request) -> Response:
        body = await read_json(request)
        ttl = body.get("token_ttl_s") if isinstance(body, dict) else None
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            return JSONResponse({"error": 'expected {"token_ttl_s": seconds > 0}'}, status_code=400)
        self.token_ttl_s = float(ttl)
        return JSONResponse({"token_ttl_s": self.tokens.ttl_s})

    async def _post_upsert(self, request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
            return JSONResponse({"error": 'expected {"object": name, "record": {...}}'}, status_code=400)
        try:
            return JSONResponse(self.dataset.upsert(str(body.get("object")), body["record"]))
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def _post_delete(self, request: Request) -> Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
            return JSONResponse({"error": 'expected {"object": name, "record": {<its key fields>}}'}, status_code=400)
        name = str(body.get("object"))
        if name not in self.dataset.tables:
            return JSONResponse({"error": f"unknown object {name!r}; known: {self.dataset.names()}"},
                                status_code=400)
        try:
            return JSONResponse(self.dataset.delete(name, body["record"]))
        except KeyError as exc:
            return JSONResponse({"error": str(exc.args[0])}, status_code=404)

    # ----- helpers for vendor handlers

    def count_call(self, endpoint: str) -> None:
        """Count a non-data call (token endpoints)."""
        self._stats.call(endpoint, data=False)

    def count_fault(self, kind: str) -> None:
        """Count a fault answered outside :meth:`data_call` (a token-endpoint limit)."""
        self._stats.fault(kind)

    def issue_token(self, subject: Hashable, **kwargs: Any) -> tuple[Token, bool]:
        with self._lock:
            token, new = self.tokens.issue(subject, **kwargs)
        if new:
            self._stats.token_issued()
        return token, new

    def over_limit(self, endpoint: str) -> bool:
        """True when ``enforce_limits`` is on and the endpoint's documented window is full."""
        limit = self.limits.get(endpoint)
        if not self._faults.enforce_limits or limit is None:
            return False
        calls, window_s = limit
        with self._lock:
            now = self.tokens.now()
            stamps = self._windows.setdefault(endpoint, deque())
            while stamps and now - stamps[0] >= window_s:
                stamps.popleft()
            if len(stamps) >= calls:
                return True
            stamps.append(now)
            return False

    async def data_call(
        self,
        endpoint: str,
        token_value: str | None,
        errors: ErrorStyle,
        serve: Callable[[Token], Response],
    ) -> Response:
        """Run one data call through the fault pipeline, then ``serve`` it.

        Order: slow (sleep, then go on), HTTP 5xx, token check, revocation, quota, rate limit.
        Only a call that ``serve`` answers successfully counts towards ``revoke_token_after``.
        """
        self._stats.call(endpoint, data=True)
        with self._lock:
            faults = self._faults
            slow = faults.slow_ms > 0 and faults.slow_rate > 0 and self._rng.random() < faults.slow_rate
            status = None
            if faults.error_5xx_rate > 0 and self._rng.random() < faults.error_5xx_rate:
                status = self._rng.choice((500, 502, 503))
        if slow:
            self._stats.fault("slow")
            await asyncio.sleep(faults.slow_ms / 1000)
        if status is not None:
            self._stats.fault("http_5xx")
            return gateway_error(status)
        with self._lock:
            state, token = self.tokens.check(token_value)
            if state is not TokenState.OK or token is None:
                self._stats.auth_error(state)
                return errors.auth(state)
            if self._revoke_now(token):
                token.revoked = True
                self._stats.fault("token_revoked")
                return errors.auth(TokenState.REVOKED)
            quota_after = self._faults.quota_after
            exhausted = self._faults.quota_exhausted or (quota_after is not None and self._ok_calls >= quota_after)
            if exhausted and errors.quota is not None:
                self._stats.fault("quota_exceeded")
                return errors.quota()
            if self._rate_limited_now(endpoint):
                self._stats.fault("rate_limited")
                return errors.rate_limited()
        try:
            response = serve(token)
        except VendorError as exc:
            return exc.response
        with self._lock:
            token.ok_calls += 1
            self._ok_calls += 1
        return response

    def _revoke_now(self, token: Token) -> bool:
        faults = self._faults
        if faults.revoke_token_after is not None and token.ok_calls >= faults.revoke_token_after:
            return True
        return faults.revoke_rate > 0 and self._rng.random() < faults.revoke_rate

    def _rate_limited_now(self, endpoint: str) -> bool:
        faults = self._faults
        if faults.rate_limit_burst > 0:
            self._faults = dataclasses.replace(faults, rate_limit_burst=faults.rate_limit_burst - 1)
            return True
        if faults.rate_limit_rate > 0 and self._rng.random() < faults.rate_limit_rate:
            return True
        return self.over_limit(endpoint)

    def present(self, name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records as served: with ``malformed_record`` on, the object's chosen record is
        replaced by its malformed copy (the same one on every call)."""
        with self._lock:
            if not self._faults.malformed_record or name not in self.malformable:
                return records
            bad_key = self._malformed_key(name)
        spec = self.dataset.tables[name].spec
        out = []
        for record in records:
            if bad_key is not None and spec.key_of(record) == bad_key:
                record = self.malform(name, copy.deepcopy(record))
                self._stats.fault("malformed")
            out.append(record)
        return out

    def _malformed_key(self, name: str) -> Hashable | None:
        if name not in self._malformed_keys:
            with self.dataset.lock:
                keys = sorted(self.dataset.tables[name].records, key=str)
            rng = random.Random(f"{self._faults.seed}:{name}")
            self._malformed_keys[name] = keys[rng.randrange(len(keys))] if keys else None
        return self._malformed_keys[name]


def _jsonable_key(key: Hashable) -> Any:
    return list(key) if isinstance(key, tuple) else key


def make_server(vendor: str, dataset: Dataset | None = None, **kwargs: Any) -> FakeServer:
    """The fake of ``vendor`` (one of :data:`VENDORS`), imported lazily."""
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}; known: {sorted(VENDORS)}")
    module = importlib.import_module(f"{__package__}.{vendor}")
    cls: type[FakeServer] = getattr(module, VENDORS[vendor])
    return cls(dataset, **kwargs)

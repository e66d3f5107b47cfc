"""Shared machinery of the vendor fake servers.

A fake is a Starlette app run by uvicorn in a background thread. It serves a vendor's
documented HTTP contract (the project's ``source-apis.md`` notes) over a :class:`Dataset`, and
injects switchable :class:`Faults` into *data* calls only (never into token calls or the control
API; the one exception is a vendor's documented token-endpoint limit under ``enforce_limits``).
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
  ``server.dataset.upsert``).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import enum
import importlib
import json
import math
import random
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, ClassVar, Self

import pandas as pd
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

TZ = timezone(timedelta(hours=8))
"""All vendors run on China time."""
DATA_START = datetime(2019, 1, 1, tzinfo=TZ)
AS_OF = datetime(2026, 9, 30, 18, 0, tzinfo=TZ)
"""Generated data lies between DATA_START and AS_OF; upserts are stamped later than any record."""

VENDORS = {
    "wecom": "WeComFake",
    "dingtalk": "DingTalkFake",
    "fxiaoke": "FxiaokeFake",
    "kingdee": "KingdeeFake",
}
FAULT_KINDS = ("token_revoked", "rate_limited", "http_5xx", "slow", "malformed", "quota_exceeded")


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Faults:
    """Switchable faults; the random ones draw from ``random.Random(seed)``.

    ``revoke_token_after=N`` revokes every token after its N-th successful data call (the
    (N+1)-th call gets the vendor's token-expired error). ``rate_limit_burst=N`` answers the
    next N data calls with the vendor's rate-limit error. ``enforce_limits`` turns on the
    vendor's documented real limits (QPS windows, token-endpoint limits; counted as
    ``rate_limited``). ``quota_exhausted`` answers every data call with the vendor's
    daily/monthly quota error, where it has one; ``quota_after=N`` does so once N data calls
    (of every token together, counted from when it was set) have been answered, for a source
    that fails part-way through a read. ``malformed_record`` serves one record per
    malformable object in a malformed form, the same record on every read (counted per record
    served).
    """

    revoke_token_after: int | None = None
    revoke_rate: float = 0.0
    rate_limit_burst: int = 0
    rate_limit_rate: float = 0.0
    enforce_limits: bool = False
    quota_exhausted: bool = False
    quota_after: int | None = None
    error_5xx_rate: float = 0.0
    slow_ms: int = 0
    slow_rate: float = 0.0
    malformed_record: bool = False
    seed: int = 0

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with ``changes`` applied; ValueError on an unknown or ill-typed field."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(kinds)}")
            clean[name] = _check_fault_value(name, kind, value)
        return dataclasses.replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_fault_value(name: str, kind: str, value: Any) -> Any:
    if kind == "int | None" and value is None:
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind in ("int", "int | None"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith("_rate") and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")
        return float(value)
    raise ValueError(f"{name} must be {kind} (non-negative), got {value!r}")


class Stats:
    """Thread-safe counters of calls, injected faults and auth errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._faults: Counter[str] = Counter({kind: 0 for kind in FAULT_KINDS})
            self._auth_errors: Counter[str] = Counter()
            self._data_calls = 0
            self._tokens_issued = 0

    def call(self, endpoint: str, *, data: bool) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._data_calls += data

    def fault(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._faults[kind] += n

    def auth_error(self, state: TokenState) -> None:
        with self._lock:
            self._auth_errors[state.value] += 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "data_calls": self._data_calls,
                "faults": dict(self._faults),
                "auth_errors": dict(self._auth_errors),
                "tokens_issued": self._tokens_issued,
            }


# --------------------------------------------------------------------------- tokens


class TokenState(enum.Enum):
    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass
class Token:
    value: str
    subject: Hashable
    issued_at: float
    expires_at: float
    revoked: bool = False
    ok_calls: int = 0
    scopes: frozenset[str] = frozenset()


class TokenStore:
    """Tokens (or sessions) with a TTL measured on a clock that tests may advance or freeze."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.offset_s = 0.0
        self.frozen_at: float | None = None
        self._tokens: dict[str, Token] = {}

    def now(self) -> float:
        """The fake's clock: wall time (or the moment it was frozen) plus the offset tests added."""
        return (time.time() if self.frozen_at is None else self.frozen_at) + self.offset_s

    def issue(
        self,
        subject: Hashable,
        *,
        reuse_for: float | None = None,
        renew: bool = False,
        scopes: Iterable[str] = (),
        make: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> tuple[Token, bool]:
        """The subject's current token if younger than ``reuse_for`` seconds, else a new one.

        ``renew`` extends a reused token's expiry (DingTalk). Returns ``(token, is_new)``.
        """
        now = self.now()
        if reuse_for is not None:
            for token in reversed(self._tokens.values()):
                if (
                    token.subject == subject
                    and not token.revoked
                    and token.expires_at > now
                    and now - token.issued_at < reuse_for
                ):
                    if renew:
                        token.expires_at = now + self.ttl_s
                    return token, False
        token = Token(make(), subject, now, now + self.ttl_s, scopes=frozenset(scopes))
        self._tokens[token.value] = token
        return token, True

    def check(self, value: str | None) -> tuple[TokenState, Token | None]:
        if not value:
            return TokenState.MISSING, None
        token = self._tokens.get(value)
        if token is None:
            return TokenState.INVALID, None
        if token.revoked:
            return TokenState.REVOKED, token
        if token.expires_at <= self.now():
            return TokenState.EXPIRED, token
        return TokenState.OK, token

    def clear(self) -> None:
        self._tokens.clear()
        self.offset_s = 0.0
        self.frozen_at = None


# --------------------------------------------------------------------------- dataset

Path = tuple[str, ...]


def get_path(record: Mapping[str, Any], path: Path) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def set_path(record: dict[str, Any], path: Path, value: Any) -> None:
    for part in path[:-1]:
        record = record.setdefault(part, {})
    record[path[-1]] = value


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def format_time(moment: datetime, fmt: str) -> int | str:
    """``ms``/``s`` epoch numbers, else a strftime pattern in China time."""
    if fmt == "ms":
        return int(moment.timestamp() * 1000)
    if fmt == "s":
        return int(moment.timestamp())
    return moment.astimezone(TZ).strftime(fmt)


def parse_time(value: Any, fmt: str) -> datetime | None:
    """Inverse of :func:`format_time`; None when the value doesn't parse."""
    try:
        if fmt == "ms":
            return datetime.fromtimestamp(int(value) / 1000, TZ)
        if fmt == "s":
            return datetime.fromtimestamp(int(value), TZ)
        return datetime.strptime(str(value), fmt).replace(tzinfo=TZ)
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class ObjectSpec:
    """How a dataset object is keyed and time-stamped.

    ``keys`` are the paths whose values identify a record (several for a composite key);
    ``new_key`` makes a key for a record upserted without one (single-path keys only).
    """

    keys: tuple[Path, ...]
    modified: Path | None = None
    created: Path | None = None
    time_format: str = "ms"
    new_key: Callable[[Table], Any] | None = None

    def key_of(self, record: Mapping[str, Any]) -> Hashable | None:
        values = tuple(get_path(record, path) for path in self.keys)
        if any(v is None for v in values):
            return None
        return values[0] if len(values) == 1 else values


@dataclass
class Table:
    spec: ObjectSpec
    records: dict[Hashable, dict[str, Any]] = field(default_factory=dict)


class Dataset:
    """Named objects of records, safe to read and mutate from several threads.

    Records are replaced, never mutated in place, so a snapshot stays consistent.
    """

    def __init__(
        self, specs: Mapping[str, ObjectSpec], records: Mapping[str, Iterable[dict[str, Any]]]
    ) -> None:
        self.lock = threading.RLock()
        self.version = 0
        """Bumped by every upsert: a cache key for derived views."""
        self.tables = {name: Table(spec) for name, spec in specs.items()}
        for name, rows in records.items():
            table = self.tables[name]
            for row in rows:
                key = table.spec.key_of(row)
                if key is None:
                    raise ValueError(f"{name}: record without a key: {row}")
                table.records[key] = row

    def names(self) -> list[str]:
        return list(self.tables)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {name: len(table.records) for name, table in self.tables.items()}

    def records(self, name: str) -> list[dict[str, Any]]:
        """A snapshot of one object's records in insertion order (do not mutate them)."""
        with self.lock:
            return list(self.tables[name].records.values())

    def get(self, name: str, key: Hashable) -> dict[str, Any] | None:
        with self.lock:
            record = self.tables[name].records.get(key)
            return copy.deepcopy(record) if record is not None else None

    def upsert(self, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Insert or merge ``record``; returns the stored record.

        A record without its modified-time field is stamped later than every record of the
        object (and, when new, gets the same created time), so incremental reads see it.
        """
        with self.lock:
            if name not in self.tables:
                raise KeyError(f"unknown object {name!r}; known: {self.names()}")
            table = self.tables[name]
            spec = table.spec
            changes = copy.deepcopy(dict(record))
            key = spec.key_of(changes)
            if key is None:
                if spec.new_key is None or len(spec.keys) != 1:
                    raise ValueError(f"{name}: record needs its key {spec.keys}")
                set_path(changes, spec.keys[0], spec.new_key(table))
                key = spec.key_of(changes)
            old = table.records.get(key)
            merged = deep_merge(old, changes) if old is not None else changes
            stamp = self._next_stamp(table)
            if spec.modified is not None and get_path(changes, spec.modified) is None:
                set_path(merged, spec.modified, format_time(stamp, spec.time_format))
            if old is None and spec.created is not None and get_path(changes, spec.created) is None:
                set_path(merged, spec.created, format_time(stamp, spec.time_format))
            table.records[key] = merged
            self.version += 1
            return copy.deepcopy(merged)

    @staticmethod
    def _next_stamp(table: Table) -> datetime:
        spec = table.spec
        unit = timedelta(milliseconds=1) if spec.time_format == "ms" else timedelta(seconds=1)
        latest = datetime.now(TZ)
        for path in (spec.modified, spec.created):
            if path is None:
                continue
            for row in table.records.values():
                moment = parse_time(get_path(row, path), spec.time_format)
                if moment is not None and moment + unit > latest:
                    latest = moment + unit
        return latest


# --------------------------------------------------------------------------- responses


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


# --------------------------------------------------------------------------- server


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


# --------------------------------------------------------------------------- data helpers

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌玉兰鹏辉宇浩凯俊峰欣怡子轩梓涵雨"
POSITIONS = ("采购经理", "总经理", "财务主管", "技术总监", "行政专员", "项目经理", "销售总监", "董事长助理")


def rng_for(seed: int, *parts: object) -> random.Random:
    """A random stream keyed by seed and parts: stable whatever else is generated."""
    return random.Random(":".join(map(str, (seed, *parts))))


def draw_count(rng: random.Random, mean: float) -> int:
    """floor(mean) plus one with probability frac(mean): an integer count with that mean."""
    whole = math.floor(mean)
    return whole + (rng.random() < mean - whole)


def moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end] to the second (start when the range is empty)."""
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def entity_created(value: Any) -> datetime:
    """The universe's ``created_at`` (timestamp, date or string) as China time, within the data window."""
    stamp = pd.Timestamp(value) if value is not None and not pd.isna(value) else pd.Timestamp(DATA_START)
    moment = stamp.to_pydatetime()
    moment = moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)
    return min(max(moment, DATA_START), AS_OF - timedelta(days=30))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def mobile_number(rng: random.Random) -> str:
    return rng.choice(("13", "15", "17", "18", "19")) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def phone_variant(phone: str, rng: random.Random) -> str:
    """The same number as people type it: spaces, dashes, +86, area code in parentheses."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        a, b, c = digits[:3], digits[3:7], digits[7:]
        forms = [digits, f"{a} {b} {c}", f"{a}-{b}-{c}", f"+86 {a} {b} {c}", f"+86{digits}", f"86-{digits}"]
    elif digits.startswith("0") and 10 <= len(digits) <= 12:
        area_len = 3 if digits[1] in "12" else 4
        area, local = digits[:area_len], digits[area_len:]
        forms = [f"{area}-{local}", f"({area}){local}", digits, f"{area} {local}", f"+86 {area[1:]} {local}"]
    else:
        return str(phone)
    return rng.choice(forms)


def name_variant(row: Mapping[str, Any], rng: random.Random) -> str:
    """A company name as a salesperson writes it: legal, short, city-prefixed, form swapped."""
    legal, short = str(row["legal_name"]), str(row.get("short_name") or row["legal_name"])
    city = str(row.get("city") or "").removesuffix("市")
    forms = [legal, legal, short, f"{city}{short}", f"{short}（{city}）" if city else short]
    if legal.endswith("有限责任公司"):
        forms.append(legal.removesuffix("有限责任公司") + "有限公司")
    elif legal.endswith("有限公司") and not legal.endswith("股份有限公司"):
        forms.append(legal.removesuffix("有限公司") + "有限责任公司")
    forms.append(legal.replace("（", "(").replace("）", ")"))
    return rng.choice(forms)


def sales_departments(reps: Iterable[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The sales organisation below the root, parents first: ``(team,)`` then ``(team, region)``."""
    paths: dict[tuple[str, ...], None] = {}
    for rep in sorted(reps, key=lambda r: int(r["rep_id"])):
        team, region = str(rep["team"]), str(rep["region"])
        paths.setdefault((team,), None)
        paths.setdefault((team, region), None)
    return list(paths)


def rep_department(rep: Mapping[str, Any]) -> tuple[str, str]:
    """The department path of a rep's office in :func:`sales_departments`."""
    return str(rep["team"]), str(rep["region"])


def demo_dataset(
    build: Callable[[pd.DataFrame, pd.DataFrame, int, Any], Dataset], n_entities: int, seed: int, sizes: Any
) -> Dataset:
    """``build`` over the demo universe; ``connectors.fakes.universe`` is imported only here, when asked for."""
    from connectors.fakes.universe import make_sales_reps, make_universe

    return build(make_universe(n_entities=n_entities, seed=seed), make_sales_reps(seed=seed), seed, sizes)


def reps_by_id(reps: pd.DataFrame) -> dict[int, dict[str, Any]]:
    return {int(rep["rep_id"]): rep for rep in reps.to_dict("records")}


def rep_of(reps: Mapping[int, dict[str, Any]], rep_id: Any) -> dict[str, Any]:
    """The rep owning an entity (a deterministic stand-in when the id is unknown)."""
    ids = sorted(reps)
    key = int(rep_id) if rep_id is not None and not pd.isna(rep_id) else ids[0]
    return reps.get(key) or reps[ids[key % len(ids)]]


# --------------------------------------------------------------------------- sample universe

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CITIES = (
    ("北京市", "北京市", "朝阳区", "110105", "010"),
    ("上海市", "上海市", "浦东新区", "310115", "021"),
    ("广东省", "广州市", "天河区", "440106", "020"),
    ("广东省", "深圳市", "南山区", "440305", "0755"),
    ("浙江省", "杭州市", "西湖区", "330106", "0571"),
    ("湖北省", "武汉市", "洪山区", "420111", "027"),
    ("四川省", "成都市", "武侯区", "510107", "028"),
    ("湖南省", "长沙市", "岳麓区", "430104", "0731"),
    ("江苏省", "南京市", "鼓楼区", "320106", "025"),
)
_BRANDS = (
    "华信",
    "同腾",
    "立正",
    "方安",
    "顺德",
    "恒通",
    "金盛",
    "天润",
    "博远",
    "嘉禾",
    "瑞丰",
    "中科",
    "宏达",
    "远景",
    "新锐",
    "联创",
    "盛世",
    "海纳",
    "启明",
    "卓越",
)
_TRADES = (
    ("科技", "信息技术"),
    ("电子", "制造业"),
    ("食品", "食品饮料"),
    ("建设工程", "建筑业"),
    ("物流", "交通运输"),
    ("医药", "医药健康"),
    ("机械", "制造业"),
    ("贸易", "批发零售"),
)
_FORMS = ("有限公司", "股份有限公司", "有限责任公司")
_STREETS = ("人民路", "建设大道", "科技园路", "中山路", "解放路", "长江路")
_TEAMS = (
    ("华北大区", "北京"),
    ("华北大区", "天津"),
    ("华南大区", "广州"),
    ("华东大区", "上海"),
    ("华中大区", "武汉"),
    ("西南大区", "成都"),
)
"""(team, region) as ``connectors.fakes.universe`` has them: a sales region (大区) and its city office."""


def uscc_for(rng: random.Random, region_code: str) -> str:
    """A valid 统一社会信用代码 (both the org-code and the final check characters)."""
    org_body = "".join(
        rng.choice(_USCC_CHARS[:10]) if rng.random() < 0.8 else rng.choice(_USCC_CHARS[10:]) for _ in range(8)
    )
    values = [int(ch) if ch.isdigit() else ord(ch) - 55 for ch in org_body]
    org_check = (11 - sum(v * w for v, w in zip(values, _ORG_WEIGHTS, strict=True)) % 11) % 11
    body = "91" + region_code + org_body + ("X" if org_check == 10 else str(org_check))
    total = sum(_USCC_CHARS.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


def sample_universe(
    n_entities: int = 40, n_reps: int = 6, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small universe and rep table with ``connectors.fakes.universe``'s columns, for tests and offline use."""
    rng = random.Random(f"sample:{seed}")
    reps = []
    for rep_id in range(1, n_reps + 1):
        team, region = _TEAMS[(rep_id - 1) % len(_TEAMS)]
        reps.append(
            {
                "rep_id": rep_id,
                "name": person_name(rng),
                "team": team,
                "region": region,
                "mobile": mobile_number(rng),
                "email": f"rep{rep_id:03d}@example.com",
                "userid": f"rep{rep_id:03d}",
            }
        )
    entities: list[dict[str, Any]] = []
    for i in range(1, n_entities + 1):
        province, city, district, region_code, area = rng.choice(_CITIES)
        brand, (trade, industry) = rng.choice(_BRANDS), rng.choice(_TRADES)
        form = rng.choice(_FORMS)
        parent = rng.choice(entities) if entities and rng.random() < 0.1 else None
        short = f"{brand}{trade}"
        if parent is not None:
            brand, trade, industry, form = (parent[k] for k in ("brand", "trade", "industry", "form"))
            short = parent["short_name"]
            legal, kind = f"{parent['legal_name']}{city.removesuffix('市')}分公司", "branch"
        else:
            legal, kind = f"{city.removesuffix('市')}{short}{form}", "base"
        street = f"{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
        phone = mobile_number(rng) if rng.random() < 0.6 else f"{area}-{rng.randint(10**7, 10**8 - 1)}"
        entities.append(
            {
                "entity_id": f"E{i:07d}",
                "legal_name": legal,
                "short_name": short,
                "brand": brand,
                "trade": trade,
                "form": form,
                "province": province,
                "city": city,
                "district": district,
                "street": street,
                "address": f"{'' if province == city else province}{city}{district}{street}",
                "uscc": uscc_for(rng, region_code),
                "phone": phone,
                "contact_name": person_name(rng),
                "kind": kind,
                "parent_entity_id": parent["entity_id"] if parent else None,
                "rep_id": rng.randint(1, n_reps),
                "industry": industry,
                "created_at": pd.Timestamp(date(2018, 1, 1)) + pd.Timedelta(days=rng.randint(0, 2500)),
            }
        )
    return pd.DataFrame(entities), pd.DataFrame(reps)

"""Console sessions, roles, CSRF and API tokens.

- Users and roles come from the config's `console.users` (argon2 hashes); the file is re-read
  when it changes, so `hub users add` or the admin page take effect without a restart, and a
  removed user or a changed role applies to running sessions at their next request.
- A session is a cookie signed with `console.secret_key` (itsdangerous), HttpOnly, SameSite=Lax
  (Secure with `console.secure_cookies`), holding the user name, a random session id, a per-session
  CSRF token and the login time; it expires `session_ttl_minutes` after login. Logging out ends it on
  the server too: its id is kept in `mdm.console_logout` until it would have expired, so a copy of the
  cookie taken before the logout is refused, also by a restarted console or another process.
- Failed logins are limited per user name and client, and per client whatever the name.
- Every POST form carries the session's CSRF token (`csrf` field), compared in constant time.
- The match API takes `Authorization: Bearer TOKEN`, compared with each configured token by
  `hmac.compare_digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core.config import ROLES, ConfigError, ConsoleConfig, ConsoleUser, HubConfig
from core.config_file import load_config
from hub.users import hash_password, verify_password
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse

log = logging.getLogger("hub.console")

SESSION_COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login"
FLASH_COOKIE = "hub_flash"
RANK = {r: i for i, r in enumerate(ROLES)}


@dataclass(frozen=True)
class User:
    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        """Does this user have `role` or a higher one (viewer < steward < admin)?"""
        return RANK[self.role] >= RANK[role]


class UserStore:
    """The configured users, re-read from the config file when it changes."""

    def __init__(self, cfg: HubConfig):
        self.path: Path | None = cfg.path
        self._console = cfg.console
        self._seen = self._stat()
        self._lock = threading.Lock()

    def _stat(self) -> tuple[int, ...]:
        """What tells a changed file: modification and change times in nanoseconds, size, inode and device.
        The modification time alone misses a file rewritten within its granularity or with its old time
        restored (`cp -p`, an editor, `touch -r`); the change time, size or inode (an atomic replace) do not."""
        try:
            st = self.path.stat() if self.path else None
        except OSError:
            return ()
        return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev) if st else ()

    @property
    def console(self) -> ConsoleConfig:
        seen = self._stat()
        if seen != self._seen:
            with self._lock:
                if seen != self._seen and self.path is not None:
                    try:
                        self._console = load_config(self.path).console
                    except ConfigError as e:
                        log.warning("console users not reloaded, the config does not load: %s", e)
                    self._seen = seen
        return self._console

    def get(self, name: str) -> ConsoleUser | None:
        return self.console.user(name)

    def authenticate(self, name: str, password: str) -> ConsoleUser | None:
        user = self.get(name)
        if user is None:
            verify_password(_dummy_hash(), password)  # same work whether or not the user exists
            return None
        return user if verify_password(user.password_hash, password) else None


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    session_id: str
    issued: int          # login time, epoch seconds


class Sessions:
    """Signed session and login cookies; sessions ended by a logout (`LoggedOut`) are refused."""

    def __init__(self, secret_key: str, ttl_minutes: int, logged_out: LoggedOut | None = None):
        self.ttl = ttl_minutes * 60
        self.logged_out = logged_out
        self._session = URLSafeTimedSerializer(secret_key, salt="hub-session")
        self._login = URLSafeTimedSerializer(secret_key, salt="hub-login")
        self._flash = URLSafeTimedSerializer(secret_key, salt="hub-flash")

    def issue(self, name: str) -> tuple[str, str]:
        """A new session cookie value and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        data = {"u": name, "c": csrf, "s": secrets.token_urlsafe(18), "t": int(time.time())}
        return self._session.dumps(data), csrf

    def read(self, cookie: str | None) -> Session | None:
        """The session of a valid, unexpired cookie that was not logged out."""
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=self.ttl)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None  # a cookie from before sessions had ids: log in again
        session = Session(str(data["u"]), str(data["c"]), data["s"], int(data.get("t", 0)))
        if self.logged_out is not None and self.logged_out.contains(session.session_id):
            return None
        return session

    def end(self, session: Session) -> None:
        """Log a session out: its cookie is refused from now on, wherever it is presented."""
        if self.logged_out is not None:
            self.logged_out.add(session.session_id, session.user, session.issued + self.ttl)

    def login_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(24)
        return self._login.dumps(token), token

    def check_login_token(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=3600)
        except (BadSignature, SignatureExpired):
            return False
        return hmac.compare_digest(str(expected), token)

    def flash(self, message: str) -> str:
        return self._flash.dumps(message)

    def read_flash(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return str(self._flash.loads(cookie, max_age=120))
        except (BadSignature, SignatureExpired):
            return None


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def valid_api_token(tokens: list[str], given: str | None) -> bool:
    """Constant-time check of a bearer token against every configured one."""
    if not given:
        return False
    ok = False
    for t in tokens:
        ok |= hmac.compare_digest(t.encode(), given.encode())
    return ok


class LoginThrottle:
    """At most `limit` failed logins per user name and client, and `client_limit` per client whatever the
    names tried (one password sprayed over many user names), within `window` seconds."""

    def __init__(self, limit: int = 5, client_limit: int = 20, window: float = 600.0):
        self.limit, self.client_limit, self.window = limit, client_limit, window
        self._fails: dict[tuple[str, str], list[float]] = {}
        self._client_fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._pruned = time.monotonic()

    def _recent(self, times: list[float] | None, now: float) -> list[float]:
        return [t for t in times or () if now - t < self.window]

    def blocked(self, name: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            mine = self._recent(self._fails.get((name, client)), now)
            theirs = self._recent(self._client_fails.get(client), now)
            return len(mine) >= self.limit or len(theirs) >= self.client_limit

    def failed(self, name: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._fails.setdefault((name, client), []).append(now)
            self._client_fails.setdefault(client, []).append(now)

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            self._fails.pop((name, client), None)  # the client's count stays: a success does not reset a spray

    def _prune(self, now: float) -> None:
        """Forget what is older than the window (so many names tried cannot grow memory without end)."""
        if now - self._pruned < 60:
            return
        self._pruned = now
        tables: tuple[dict[Any, list[float]], ...] = (self._fails, self._client_fails)
        for table in tables:
            for key in [k for k, v in table.items() if not self._recent(v, now)]:
                del table[key]


class LoggedOut:
    """Ids of sessions ended by a logout, until the time they would have expired anyway.

    Kept in memory and in `mdm.console_logout` (a hash of each id only), which every request that is not
    already refused in memory asks, so a restarted console or another console process refuses a
    logged-out cookie as well. While the warehouse cannot be reached (a DuckDB file busy with `hub run`),
    the memory answers and the logout is written at the next request that reaches it.
    """

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self._ids: dict[str, float] = {}            # hashed id → expiry (epoch seconds)
        self._pending: list[dict[str, object]] = []
        self._lock = threading.Lock()

    @staticmethod
    def _hash(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()[:32]

    def add(self, session_id: str, user: str, expires: float) -> None:
        h = self._hash(session_id)
        with self._lock:
            self._ids[h] = expires
            self._pending.append({"session_hash": h, "user_name": user, "logged_out_at": _utc(time.time()),
                                  "expires_at": _utc(expires)})
        self._ask(h)

    def contains(self, session_id: str) -> bool:
        h = self._hash(session_id)
        known = h in self._ids
        if known and not self._pending:
            return True
        return self._ask(h) or known  # also writes logouts the warehouse could not take before

    def _ask(self, h: str) -> bool:
        """Write pending logouts, drop expired ones, and look `h` up in the warehouse."""
        with self._lock:
            pending, self._pending = self._pending, []
            try:
                with self.wh.begin() as conn:
                    ensure_mdm(self.wh, conn)
                    now = _utc(time.time())
                    if pending:
                        conn.execute(sa.text("DELETE FROM mdm.console_logout WHERE session_hash IN :h OR "
                                             "expires_at < :t").bindparams(sa.bindparam("h", expanding=True)),
                                     {"h": [r["session_hash"] for r in pending], "t": now})
                        self.wh.insert_frame(conn, "mdm", "console_logout",
                                             pa.Table.from_pylist(pending, schema=_LOGOUT_SCHEMA))
                    found = conn.execute(sa.text("SELECT expires_at FROM mdm.console_logout WHERE session_hash = :h "
                                                 "AND expires_at >= :t"), {"h": h, "t": now}).all()
            except Exception as e:  # a busy or unreachable warehouse must not fail the request
                self._pending = pending + self._pending
                (log.warning if pending else log.debug)(
                    "logged-out sessions not %s the warehouse (memory only until it can be reached): %s",
                    "written to" if pending else "checked in", str(e).splitlines()[0])
                return False
            if found:
                self._ids[h] = found[0][0].replace(tzinfo=dt.UTC).timestamp()
            now_s = time.time()
            self._ids = {k: x for k, x in self._ids.items() if x > now_s}
            return bool(found)


_LOGOUT_SCHEMA = pa.schema([("session_hash", pa.string()), ("user_name", pa.string()),
                            ("logged_out_at", pa.timestamp("us")), ("expires_at", pa.timestamp("us"))])


def _utc(epoch: float) -> dt.datetime:
    """Epoch seconds as the warehouse's naive UTC timestamp."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)

"""Console sessions, roles, CSRF and API tokens.

- Users and roles come from the config's `console.users` (argon2 hashes); the file is re-read
  when it changes, so `hub users add` or the admin page take effect without a restart, and a
  removed user or a changed role applies to running sessions at their next request.
- A session is a cookie signed with `console.secret_key` (itsdangerous), HttpOnly, SameSite=Lax
  (Secure with `console.secure_cookies`), holding the user name, a per-session CSRF token and the
  login time; it expires `session_ttl_minutes` after login.
- Every POST form carries the session's CSRF token (`csrf` field), compared in constant time.
- The match API takes `Authorization: Bearer TOKEN`, compared with each configured token by
  `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hub.config import ROLES, ConfigError, ConsoleConfig, ConsoleUser, HubConfig, load_config
from hub.users import hash_password, verify_password

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
        self._mtime = self._stat()
        self._lock = threading.Lock()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime if self.path else 0.0
        except OSError:
            return 0.0

    @property
    def console(self) -> ConsoleConfig:
        mtime = self._stat()
        if mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime and self.path is not None:
                    try:
                        self._console = load_config(self.path).console
                    except ConfigError as e:
                        log.warning("console users not reloaded, the config does not load: %s", e)
                    self._mtime = mtime
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


class Sessions:
    """Signed session and login cookies."""

    def __init__(self, secret_key: str, ttl_minutes: int):
        self.ttl = ttl_minutes * 60
        self._session = URLSafeTimedSerializer(secret_key, salt="hub-session")
        self._login = URLSafeTimedSerializer(secret_key, salt="hub-login")
        self._flash = URLSafeTimedSerializer(secret_key, salt="hub-flash")

    def issue(self, name: str) -> tuple[str, str]:
        """A new session cookie value and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        return self._session.dumps({"u": name, "c": csrf, "t": int(time.time())}), csrf

    def read(self, cookie: str | None) -> tuple[str, str] | None:
        """(user name, csrf) of a valid, unexpired session cookie."""
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=self.ttl)
        except (BadSignature, SignatureExpired):
            return None
        return data["u"], data["c"]

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
    """At most `limit` failed logins per user name and client within `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 600.0):
        self.limit, self.window = limit, window
        self._fails: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, name: str, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get((name, client), []) if now - t < self.window]
            self._fails[(name, client)] = recent
            return len(recent) >= self.limit

    def failed(self, name: str, client: str) -> None:
        with self._lock:
            self._fails.setdefault((name, client), []).append(time.monotonic())

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            self._fails.pop((name, client), None)

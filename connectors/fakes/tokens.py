"""The tokens (or sessions) a vendor fake issues, on a clock tests may advance or freeze."""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass


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

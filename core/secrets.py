"""The one registry of secret values, the one masking function, and a logging filter that uses it.

The config loader registers every value it read from the environment, a secret file or a command; the
connectors register their config's secret fields and the session tokens they obtain. Anything that prints,
logs or stores text passes it through `mask`. Other registries (the airbyte-cdk's) follow this one through
`subscribe`: core imports nothing of them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

MIN_LENGTH = 4
"""Shorter values are not secrets worth masking: replacing "1" or "ab" everywhere would garble every text."""

_SECRET_PARAMS = re.compile(
    r"(?i)((?:access_token|corpsecret|appsecret|app_secret|secret|password|permanentcode|"
    r"corpaccesstoken|token)=)[^&\s'\"]+"
)
"""A secret-looking query parameter of a URL (some vendors take the secret or token in the query string)."""

_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()
_listeners: list[Callable[[list[str]], None]] = []


def register(values: Iterable[object]) -> None:
    """Remember secret values (None, booleans and values shorter than `MIN_LENGTH` are ignored); every
    subscriber hears of the new ones."""
    global _longest_first
    texts = {str(v) for v in values if v is not None and not isinstance(v, bool)}
    with _lock:
        new = sorted(t for t in texts if len(t) >= MIN_LENGTH and t not in _secrets)
        if not new:
            return
        _secrets.update(new)
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))
        listeners = list(_listeners)
    for listener in listeners:
        listener(new)


def registered() -> tuple[str, ...]:
    """Every registered value, longest first."""
    return _longest_first


def subscribe(listener: Callable[[list[str]], None]) -> None:
    """Call `listener` with every value registered so far, and from now on with the values each `register` adds.

    A listener is kept once: subscribing it again only hands it the whole registry again (for a registry that
    may have forgotten what it was given)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)
        values = list(_longest_first)
    if values:
        listener(values)


def mask(text: str, values: Iterable[str] | None = None) -> str:
    """`text` with every registered secret (or every one of `values`, when given) and the value of every
    secret-looking URL query parameter (`token=`, `secret=`, `password=`…) replaced by `****`."""
    if not isinstance(text, str):
        return text
    secrets = _longest_first if values is None else tuple(sorted((v for v in values if v), key=len, reverse=True))
    for value in secrets:
        if value in text:
            text = text.replace(value, "****")
    if "=" in text:
        text = _SECRET_PARAMS.sub(r"\1****", text)
    return text


class SecretFilter(logging.Filter):
    """Masks registered secrets in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _longest_first:
            record.msg = mask(record.getMessage())
            record.args = None
        return True


def install_filter(logger: logging.Logger | None = None) -> None:
    """Attach the filter to a logger's handlers (root by default); idempotent."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())

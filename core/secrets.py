"""One registry of secret values, and a logging filter that masks them everywhere.

The config loader registers every value it read from the environment or a secret file;
anything that prints, logs or stores text passes it through `mask`.
"""

from __future__ import annotations

import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()


def register(values: set[str] | list[str]) -> None:
    """Remember secret values (those shorter than 4 characters are ignored: too common to mask)."""
    with _lock:
        _secrets.update(v for v in values if isinstance(v, str) and len(v) >= 4)


def mask(text: str) -> str:
    """`text` with every registered secret replaced by `****`."""
    if not _secrets or not isinstance(text, str):
        return text
    for value in sorted(_secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "****")
    return text


class SecretFilter(logging.Filter):
    """Masks registered secrets in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = mask(record.getMessage())
            record.args = None
        return True


def install_filter(logger: logging.Logger | None = None) -> None:
    """Attach the filter to a logger's handlers (root by default); idempotent."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())

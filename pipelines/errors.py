"""Error texts of connectors for people: the message and, when it adds something, the cause."""

from __future__ import annotations

from typing import Any

_EMPTY = {"", "None", "error"}


def trace_text(error: Any) -> str:
    """An Airbyte error trace (or AirbyteTracedException) as one line: its message, then its internal message
    (the cause: `'updatedat'` of a KeyError) when the message does not already say it. Never a bare
    `AirbyteTracedException(None)`."""
    message = str(getattr(error, "message", None) or "").strip()
    internal = str(getattr(error, "internal_message", None) or "").strip()
    if message.endswith("(None)") or message in _EMPTY:
        message = ""
    if internal in _EMPTY:
        internal = ""
    if message and internal and internal not in message:
        return f"{message} (cause: {internal})"
    return message or internal or (str(getattr(error, "stack_trace", "") or "").strip().splitlines() or ["error"])[-1]

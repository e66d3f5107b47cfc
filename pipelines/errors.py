"""Error texts of connectors for people: the message and, when it adds something, the cause."""

from __future__ import annotations

import re
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
        return _tidy(f"{message} (cause: {internal})")
    return _tidy(message or internal
                 or (str(getattr(error, "stack_trace", "") or "").strip().splitlines() or ["error"])[-1])


_SYNC_FAILED = "During the sync, the following streams did not sync successfully: "
_TRACED = re.compile(r"AirbyteTracedException\((['\"])(.*?)\1\)")


def _tidy(text: str) -> str:
    """The CDK's list of failed streams, once per failure: it names a stream's error again for every slice that
    failed (a login refused: nineteen times), each as `AirbyteTracedException('…')`."""
    text = _TRACED.sub(r"\2", text)
    head = _SYNC_FAILED if text.startswith(_SYNC_FAILED) else ""
    parts = [p.strip() for p in text[len(head):].splitlines() if p.strip()]
    return head + "; ".join(dict.fromkeys(parts))

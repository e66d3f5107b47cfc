"""Progress of long work: messages, and counters with counts and rates.

`Progress` is what every pipeline step takes as `progress`: call it with a message for a line of its
own, or open a `counter` for work that advances (records synced, staged, compared). On a terminal a
counter is a live line redrawn in place (with a bar when the total is known); elsewhere (logs, Dagster)
it writes a line every `interval` seconds, and always a final line with the count, the time and the rate.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

_BAR = 24


def _rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s" if seconds > 0.05 else "-"


class Counter:
    """One advancing count; `update` often (it throttles itself), `close` once."""

    def __init__(self, progress: Progress, label: str, total: int | None, unit: str):
        self.p, self.label, self.total, self.unit = progress, label, total, unit
        self.started = self.last = time.monotonic()
        self.done = 0
        self.closed = False

    def _text(self, note: str = "") -> str:
        elapsed = time.monotonic() - self.started
        count = f"{self.done:,}" + (f" of {self.total:,}" if self.total else "")
        text = f"{self.label}: {count} {self.unit} ({_rate(self.done, elapsed)})"
        return f"{text}, {note}" if note else text

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if self.p.live:
            if now - self.last >= 0.2:
                self.last = now
                bar = ""
                if self.total:
                    filled = int(_BAR * min(done / self.total, 1.0))
                    bar = "[" + "#" * filled + "-" * (_BAR - filled) + f"] {done / self.total:4.0%} "
                self.p.redraw(f"  {bar}{self._text(note)}")
        elif now - self.last >= self.p.interval:
            self.last = now
            self.p(self._text(note))

    def add(self, n: int, note: str = "") -> None:
        self.update(self.done + n, note)

    def close(self, note: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        elapsed = time.monotonic() - self.started
        if self.p.live:
            self.p.redraw("")
        summary = f"{self.label}: {note}" if note else f"{self.label}: {self.done:,} {self.unit}"
        if elapsed >= 1.0:
            summary += f" in {elapsed:.1f} s ({_rate(self.done, elapsed)})"
        self.p(summary)


class Progress:
    """Messages and counters for one run; see the module docstring."""

    def __init__(self, emit: Callable[[str], None], live: bool = False, interval: float = 10.0,
                 stream: TextIO | None = None):
        self.emit, self.live, self.interval = emit, live, interval
        self.stream = stream or sys.stderr
        self._drawn = 0

    def __call__(self, message: str) -> None:
        if self._drawn:
            self.redraw("")
        self.emit(message)

    def redraw(self, line: str) -> None:
        """Replace the live line (a terminal only)."""
        pad = max(self._drawn - len(line), 0)
        self.stream.write("\r" + line + " " * pad + ("\r" if not line else ""))
        self.stream.flush()
        self._drawn = len(line)

    def counter(self, label: str, total: int | None = None, unit: str = "records") -> Counter:
        return Counter(self, label, total, unit)


def as_progress(progress: Callable[[str], None] | Progress | None, logger: logging.Logger) -> Progress:
    """A `Progress` from what a caller passed: itself, a function taking messages, or None (the logger)."""
    if isinstance(progress, Progress):
        return progress
    return Progress(progress or logger.info)

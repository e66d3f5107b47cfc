"""Cursor safety for incremental reads: a lookback window before the saved cursor value (rows that arrive late
with an older value), and cursor values too far in the future (a typo in legacy data, 2027) left out of the saved
state so that they cannot freeze a stream.

A cursor value is a timestamp or date (as the driver gives it, or ISO text such as `2024-03-01 10:00:00`) or a
number (a version or an auto-increment); durations are `90s`, `30m`, `2h`, `1d` or a number of seconds (for a
numeric cursor: a number of units).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
DEFAULT_FUTURE_TOLERANCE = "1d"


def seconds(duration: str | float | int | None) -> float | None:
    """`2h` → 7200.0; None stays None. A value of another form is a ValueError naming it."""
    if duration is None or duration == "":
        return None
    if isinstance(duration, int | float):
        return float(duration)
    m = _DURATION.match(str(duration))
    if not m:
        raise ValueError(f"duration {duration!r}: expected a number of seconds or e.g. 90s, 30m, 2h, 1d")
    return float(m.group(1)) * _UNIT[m.group(2)]


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str) and _ISO.match(value.strip()):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def looked_back(last: Any, lookback: str | float | None) -> Any:
    """The saved cursor value moved back by the lookback window, in its own type and text form."""
    secs = seconds(lookback)
    if not secs or last is None or isinstance(last, bool):
        return last
    if isinstance(last, int | float):
        return type(last)(last - secs)
    when = _as_datetime(last)
    if when is None:
        return last
    back = when - dt.timedelta(seconds=secs)
    if isinstance(last, str):
        text = last.strip()
        if len(text) == 10:  # a date
            return back.date().isoformat()
        return back.isoformat(sep=text[10], timespec="microseconds" if "." in text else "seconds")
    return back


def _now_plus(tolerance: str | float | None, aware: bool) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    limit = now + dt.timedelta(seconds=seconds(tolerance) or 0)
    return limit if aware else limit.replace(tzinfo=None)


def is_future(value: Any, tolerance: str | float | None = DEFAULT_FUTURE_TOLERANCE) -> bool:
    """A timestamp or date later than now + tolerance (numbers never are)."""
    when = _as_datetime(value)
    return when is not None and when > _now_plus(tolerance, when.tzinfo is not None)


def future_mask(column: pa.ChunkedArray | pa.Array, tolerance: str | float | None = DEFAULT_FUTURE_TOLERANCE
                ) -> pa.Array | None:
    """Which values of a cursor column lie beyond now + tolerance (null: not), or None for a column that holds
    no time (numbers, free text). Vectorized: one comparison of the column."""
    typ = column.type
    if pa.types.is_timestamp(typ):
        limit = _now_plus(tolerance, typ.tz is not None)
        if typ.tz is None:
            return pc.fill_null(pc.greater(column, pa.scalar(limit, typ)), False)
        return pc.fill_null(pc.greater(column, pa.scalar(limit, pa.timestamp("us", "UTC"))), False)
    if pa.types.is_date(typ):
        return pc.fill_null(pc.greater(column, pa.scalar(_now_plus(tolerance, False).date(), typ)), False)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        valid = column.drop_null() if hasattr(column, "drop_null") else column
        first = valid[0].as_py() if len(valid) else None
        if not isinstance(first, str) or not _ISO.match(first.strip()):
            return None
        limit = _now_plus(tolerance, False)
        text = first.strip()
        bound = limit.date().isoformat() if len(text) == 10 else limit.isoformat(sep=text[10])
        return pc.fill_null(pc.greater(column, pa.scalar(bound, typ)), False)
    return None

"""What a dashboard query returns (`Table`), the filters it takes (`Filters`) and how a query is run."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# The kinds of a column: how it is formatted and charted.
KINDS = frozenset({"text", "month", "date", "time", "int", "money", "pct", "days", "ratio"})
NUMERIC = frozenset({"int", "money", "pct", "days", "ratio"})


@dataclass(frozen=True)
class Table:
    """A dashboard's numbers: named columns of a kind, rows of values (Decimal for money and rates, exact as the
    warehouse computed them), and notes (keys) on what the numbers leave out."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    notes: tuple[str, ...] = ()
    total_rows: int | None = None  # rows before a limit, when one cut them

    def __post_init__(self) -> None:
        assert len(self.columns) == len(self.kinds), (self.columns, self.kinds)
        assert set(self.kinds) <= KINDS, self.kinds

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def kind(self, name: str) -> str:
        return self.kinds[self.columns.index(name)]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def with_notes(self, *notes: str) -> Table:
        return replace(self, notes=self.notes + tuple(n for n in notes if n not in self.notes))


class FilterError(ValueError):
    """A filter value that cannot be used, with the parameter's name."""


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str | None, name: str) -> dt.date | None:
    """`2025-03` (or `2025-03-01`) as the first day of the month; empty is None."""
    text = (text or "").strip()
    if not text:
        return None
    m = _MONTH.match(text[:7] if re.match(r"^\d{4}-\d{2}-\d{2}$", text) else text)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise FilterError(f"{name}: expected a month like 2025-01, got {text[:20]!r}")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def add_months(day: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `day`'s month."""
    k = day.year * 12 + day.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    """A dashboard's filters. `start`/`end`: first and last month of the period (both included); `team`, `region`,
    `rep` (a rep_id), `source` (a source system), `channel` (a lead source); `sort`: what a ranking ranks by.
    Empty means all."""

    start: dt.date | None = None
    end: dt.date | None = None
    team: str | None = None
    region: str | None = None
    rep: str | None = None
    source: str | None = None
    channel: str | None = None
    sort: str | None = None

    @classmethod
    def parse(cls, start: str | None = None, end: str | None = None, **values: str | None) -> Filters:
        s, e = parse_month(start, "from"), parse_month(end, "to")
        if s and e and s > e:
            raise FilterError(f"from: {s:%Y-%m} is after to: {e:%Y-%m}")
        clean = {k: (v.strip() or None) if isinstance(v, str) else None for k, v in values.items()}
        for k, v in clean.items():
            if v is not None and len(v) > 200:
                raise FilterError(f"{k}: at most 200 characters")
        return cls(s, e, **{k: clean.get(k) for k in ("team", "region", "rep", "source", "channel", "sort")})

    def period(self, default_end: dt.date, months: int = 12) -> Filters:
        """These filters with the period filled in: `months` months up to `default_end` unless set."""
        end = self.end or (add_months(self.start, months - 1) if self.start else default_end)
        start = self.start or add_months(end, -(months - 1))
        return replace(self, start=start, end=end)

    @property
    def end_exclusive(self) -> dt.date | None:
        return add_months(self.end, 1) if self.end else None

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links and downloads)."""
        out = {"from": f"{self.start:%Y-%m}" if self.start else None, "to": f"{self.end:%Y-%m}" if self.end else None,
               "team": self.team, "region": self.region, "rep": self.rep, "source": self.source,
               "channel": self.channel, "sort": self.sort}
        return {k: v for k, v in out.items() if v}


def fetch(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sa.text(sql), params or {}).fetchall()]


def table(conn: Connection, sql: str, params: dict[str, Any], columns: Sequence[tuple[str, str]],
          notes: Sequence[str] = ()) -> Table:
    """Run a query whose columns are `columns` ((name, kind) in order) into a Table."""
    rows = fetch(conn, sql, params)
    return Table(tuple(c for c, _ in columns), tuple(k for _, k in columns), [_clean(r) for r in rows], tuple(notes))


def _clean(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates as dates (DuckDB and PostgreSQL give datetimes for some date arithmetic), floats that are whole counts
    as ints."""
    out = []
    for v in row:
        if isinstance(v, dt.datetime) and v.time() == dt.time(0) and v.tzinfo is None:
            v = v.date()
        out.append(v)
    return tuple(out)


def pct(part: Decimal | int | None, whole: Decimal | int | None) -> Decimal | None:
    """part / whole × 100, rounded half up to the hundredth (as the marts' CAST(... AS DECIMAL(…, 2)))."""
    if part is None or not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)

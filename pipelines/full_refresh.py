"""Periodic full refresh per stream (`full_refresh_every: 7d`): an incremental stream is read whole again once
its last whole read is older than that, catching rows its cursor missed (updates that did not touch the cursor
column, rows restored from a backup). The time of each stream's last whole read is kept in `raw._full_reads`;
unchanged rows land nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import sqlalchemy as sa

from core.config import SourceConfig
from warehouse.engine import Warehouse

TABLE = "_full_reads"
_COLUMNS = {"source": "text", "stream": "text", "read_at": "timestamp"}
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def every_seconds(text: str | float | None) -> float | None:
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def due(wh: Warehouse, source: str, src: SourceConfig, streams: Iterable[str]) -> set[str]:
    """The streams of `source` whose `full_refresh_every` has passed since their last whole read (or that have no
    recorded whole read: the option is new)."""
    every = {n: every_seconds(src.streams[n].full_refresh_every) for n in streams
             if n in src.streams and src.streams[n].full_refresh_every}
    if not every:
        return set()
    with wh.begin() as conn:
        wh.create_table(conn, "raw", TABLE, _COLUMNS, ["source", "stream"])
        rows = conn.execute(sa.text(f"SELECT stream, read_at FROM raw.{TABLE} WHERE source = :s"),
                            {"s": source}).fetchall()
    last = {r[0]: r[1] for r in rows}
    now = _now()
    return {n for n, secs in every.items()
            if secs and (last.get(n) is None or (now - last[n]).total_seconds() >= secs)}


def record(wh: Warehouse, source: str, src: SourceConfig, streams: Iterable[str]) -> None:
    """Remember that these streams were just read whole (without a saved state); only streams with
    `full_refresh_every` are kept track of."""
    names = sorted(n for n in set(streams) if n in src.streams and src.streams[n].full_refresh_every)
    if not names:
        return
    with wh.begin() as conn:
        wh.create_table(conn, "raw", TABLE, _COLUMNS, ["source", "stream"])
        conn.execute(sa.text(f"DELETE FROM raw.{TABLE} WHERE source = :s AND stream IN :n")
                     .bindparams(sa.bindparam("n", expanding=True)), {"s": source, "n": names})
        conn.execute(sa.text(f"INSERT INTO raw.{TABLE} (source, stream, read_at) VALUES (:s, :n, :t)"),
                     [{"s": source, "n": n, "t": _now()} for n in names])

"""What changed since whom: a version per warehouse table and a position per consumer.

Every step that writes a table bumps its version (one sequence for all tables, so versions compare
across tables); a step that reads tables remembers the versions it read, and skips its work when none
moved (the marts). Watermarks are a consumer's position in a producer's numbering (staging's in the raw
batches of a stream, matching's in staging's change log), with a `detail` document for what else must
hold for the position to stay valid (a mapping's fingerprint).

The golden customers also keep a log of which golden IDs each write changed (`bump_golden`): a write of
`GOLDEN_TABLES` under version v, from version p, names the golden IDs whose record, members or hierarchy link it
changed. A reader that last saw version p' follows the chain back from the current version to p'
(`golden_changes_since`); a write that logged nothing (a full rebuild) breaks the chain, and the reader reads
everything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse, value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def bump(conn: Connection, *tables: str) -> int:
    """A new version for each of `tables` (`schema.table`), in the caller's transaction."""
    version = int(value(conn, "SELECT COALESCE(MAX(version), 0) + 1 FROM raw._versions") or 1)
    for table in tables:
        conn.execute(sa.text("DELETE FROM raw._versions WHERE table_name = :t"), {"t": table})
        conn.execute(sa.text("INSERT INTO raw._versions (table_name, version, changed_at) VALUES (:t, :v, :n)"),
                     {"t": table, "v": version, "n": _now()})
    return version


def versions(conn: Connection, tables: Iterable[str]) -> dict[str, int]:
    """The version of each table (0 when it was never bumped)."""
    wanted = sorted(set(tables))
    rows: dict[str, int] = dict(conn.execute(sa.text("SELECT table_name, version FROM raw._versions")).fetchall())
    return {t: int(rows.get(t) or 0) for t in wanted}


def watermark(conn: Connection, consumer: str) -> tuple[int, dict[str, Any]] | None:
    """(position, detail) of a consumer, or None before its first run."""
    rows = conn.execute(sa.text("SELECT position, detail FROM raw._watermarks WHERE consumer = :c"),
                        {"c": consumer}).fetchall()  # (all: DuckDB refuses an Arrow read while a result is open)
    row = rows[0] if rows else None
    return None if row is None else (int(row[0] or 0), json.loads(row[1]) if row[1] else {})


def set_watermark(conn: Connection, consumer: str, position: int, detail: dict[str, Any] | None = None) -> None:
    params = {"c": consumer, "p": int(position), "d": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
              "n": _now()}
    conn.execute(sa.text("DELETE FROM raw._watermarks WHERE consumer = :c"), params)
    conn.execute(sa.text("INSERT INTO raw._watermarks (consumer, position, detail, updated_at) "
                         "VALUES (:c, :p, :d, :n)"), params)


def clear_watermarks(conn: Connection, prefix: str) -> None:
    """Forget every consumer whose name starts with `prefix` (their next run starts over)."""
    conn.execute(sa.text("DELETE FROM raw._watermarks WHERE substr(consumer, 1, :n) = :p"),
                 {"p": prefix, "n": len(prefix)})


GOLDEN_TABLES = ("mdm.golden_customer", "mdm.xref", "mdm.customer_hierarchy")
"""The tables a write of golden customers changes together, under one version, logging the golden IDs."""
KEEP_GOLDEN_WRITES = 30  # writes kept in the log: a reader further behind reads everything


def bump_golden(wh: Warehouse, conn: Connection, golden_ids: Iterable[str], *others: str) -> int:
    """A new version for `GOLDEN_TABLES` (and `others`), logging the golden IDs this write changed: those whose
    golden record, members or hierarchy link may differ now (retired ones included). Returns the version."""
    previous = versions(conn, GOLDEN_TABLES)
    version = bump(conn, *GOLDEN_TABLES, *others)
    before = set(previous.values())
    chained = before.pop() if len(before) == 1 else -1  # (tables written apart before: no chain through them)
    ids = sorted(set(golden_ids))
    wh.insert_frame(conn, "raw", "_golden_log", pa.table({
        "version": pa.array([version] * (len(ids) + 1), pa.int64()),
        "previous": pa.array([chained] * (len(ids) + 1), pa.int64()),
        "golden_id": pa.array([None, *ids], pa.string())}))
    kept = [r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT version FROM raw._golden_log ORDER BY version DESC")).fetchall()][:KEEP_GOLDEN_WRITES]
    conn.execute(sa.text("DELETE FROM raw._golden_log WHERE version < :v"), {"v": min(kept)})
    return version


def golden_changes_since(conn: Connection, seen: int, now: int) -> list[int] | None:
    """The logged writes (versions) that took the golden tables from version `seen` to `now`, newest first;
    None when a write between them logged nothing (the caller reads everything)."""
    links: dict[int, int] = {int(v): int(p) for v, p in conn.execute(sa.text(
        "SELECT version, previous FROM raw._golden_log WHERE golden_id IS NULL")).fetchall()}
    chain, at = [], now
    while at != seen:
        if at not in links or at < seen:
            return None
        chain.append(at)
        at = links[at]
    return chain

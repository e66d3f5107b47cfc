"""Refresh a mart for the golden customers that changed, instead of building it again.

A mart whose rows each belong to one golden customer (`refresh: <column>` in marts.yaml) marks in its SQL where
its inputs can be narrowed to the changed golden customers: each `TRUE /* changed: EXPR */` is `TRUE` in a whole
build and, in a refresh, tests that the golden ID `EXPR` is one that changed (or empty). When only the golden
tables moved (`warehouse.changes.GOLDEN_TABLES`; every other input kept what the mart reads of it) and their log
covers every write since the mart was built, the rows of the changed golden customers (and of the children of
changed parents in the hierarchy, and the rows without a golden ID) are deleted and selected again, in one
transaction. `staging.customer` counts as a golden table when a logged match came after its last change and
consumed every staged customer change (a changed record's golden customers are logged). A refresh leaves the
mart equal to a whole build (tests/pipelines/test_mart_refresh.py holds it so).

A mart that reads only marts (`cross_sell`) follows the same log: when none of them was built whole since it read
them (each records the version of its last whole build), every row that changed in them belongs to a golden ID
logged since the golden version they reflected then. A mart reading both (`customer_360`) follows the golden
tables' log when each of its marts that moved was only refreshed since it read them, and they reflected then the
golden version its golden tables were at (`marts_follow_golden`).

A row may name several golden IDs (`refresh: golden_id, related_golden_id`): it is selected again when any of them
changed. What a mart's rows depend on beyond its own golden IDs adds to the changed ones (`pipelines.mart_states`:
numbers that began or stopped relating customers, names that name another customer now).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy.engine import Connection

from warehouse.changes import GOLDEN_TABLES, golden_changes_since, watermark
from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote
from warehouse.marts.catalog import mart_docs

CHANGED = re.compile(r"TRUE\s*/\*\s*changed:\s*(?P<expr>[^*]+?)\s*\*/")
REFRESH_SHARE = 0.3
"""Beyond this share of a mart's rows changed, it is built whole (one pass costs less than finding them)."""


def refreshed_by(name: str) -> tuple[str, ...]:
    """The columns holding the golden IDs of a row of a mart refreshed by golden ID (empty for other marts)."""
    doc = mart_docs().get(name)
    return doc.refresh if doc is not None else ()


def changed_sql(sql: str) -> str:
    """A mart's SELECT narrowed to the golden IDs of the temporary table `_hub_changed` (and rows with none)."""
    return CHANGED.sub(lambda m: f"({m['expr']} IN (SELECT golden_id FROM _hub_changed) OR {m['expr']} IS NULL)",
                       sql)


def follows_golden_log(conn: Connection, table: str, version: int, chain: list[int]) -> bool:
    """Whether the logged writes `chain` (newest first) cover what changed in `table` (now at `version`): the golden
    tables are logged; `staging.customer` too when a logged write came after its last change and matching consumed
    every customer change staged (each one reached the golden IDs of its record, which the match logged)."""
    if table in GOLDEN_TABLES:
        return True
    return (table == "staging.customer" and bool(chain) and version < chain[0]
            and not value(conn, "SELECT count(*) FROM staging._changes WHERE entity = 'customer'"))


def golden_chain(conn: Connection, tables: list[str], before: dict[str, int], seen: dict[str, int]
                 ) -> list[int] | None:
    """The logged writes of the golden tables among a mart's inputs `tables` since it read them at versions
    `before` (now `seen`), or None when they cannot be followed: tables written apart, or a write that logged
    nothing."""
    golden = [t for t in tables if t in GOLDEN_TABLES]
    old, new = {before.get(t) for t in golden}, {seen[t] for t in golden}
    if not golden or len(old) != 1 or len(new) != 1 or None in old:
        return None
    return golden_changes_since(conn, int(old.pop() or 0), new.pop())


def _input_marks(conn: Connection, tables: list[str]) -> dict[str, dict | None]:
    """The watermark of each mart among `tables` (None for one never written)."""
    marks = {t: watermark(conn, f"mart:{t.removeprefix('marts.')}") for t in tables}
    return {t: mark[1] if mark is not None else None for t, mark in marks.items()}


def _agreed_golden(marks: dict[str, dict | None]) -> int | None:
    """The golden version the marts of `marks` were last written from, when they agree (None otherwise)."""
    found: set[int] = set()
    for mark in marks.values():
        if mark is None:
            return None
        inputs = mark.get("inputs") or {}
        found |= {int(inputs[t]) for t in GOLDEN_TABLES if t in inputs}
        found |= {int(mark["golden"])} if mark.get("golden") is not None else set()
    return found.pop() if len(found) == 1 else None


def reflected_golden(conn: Connection, tables: list[str]) -> int | None:
    """The golden version the marts `tables` were last written from, when they agree (None otherwise)."""
    return _agreed_golden(_input_marks(conn, tables))


def reads_marts_only(tables: list[str]) -> bool:
    """Whether a mart's inputs `tables` are all marts (its refresh follows theirs: `marts_chain`)."""
    return bool(tables) and all(t.startswith("marts.") for t in tables)


def marts_chain(conn: Connection, tables: list[str], before: dict, seen: dict[str, int]) -> list[int] | None:
    """For a mart reading only the marts `tables` (now at versions `seen`), last written as `before` (its
    watermark): the logged golden writes since the golden version its inputs reflected then, or None when they
    cannot be followed (an input built whole since the mart read it, inputs reflecting different versions, a write
    that logged nothing)."""
    marks = _input_marks(conn, tables)
    golden, now = before.get("golden"), _agreed_golden(marks)
    if golden is None or now is None:
        return None
    read = before.get("inputs") or {}
    for table in (t for t in tables if seen[t] != read.get(t)):  # (written since it read them)
        whole = (marks[table] or {}).get("whole")
        if whole is None or int(whole) > int(read.get(table, -1)):  # (built whole since: rows beyond the log)
            return None
    return golden_changes_since(conn, int(golden), now)


def marts_follow_golden(conn: Connection, marts: list[str], before: dict) -> bool:
    """For a mart reading the golden tables and marts, last written as `before` (its watermark): whether each of
    the marts `marts` (written since it read them) changed only rows of golden IDs logged since its golden tables'
    version then: when the mart was written, its marts reflected that version, and each was refreshed since, not
    built whole (a refresh selects the rows of the golden IDs logged since the version it reflected)."""
    read = before.get("inputs") or {}
    then = {int(read[t]) for t in GOLDEN_TABLES if t in read}
    if len(then) != 1 or before.get("golden") is None or int(before["golden"]) not in then:
        return False  # (they reflected another version: what changed in them since is not all in the log since)
    marks = _input_marks(conn, marts)
    for table in marts:
        whole = (marks[table] or {}).get("whole")
        if whole is None or int(whole) > int(read.get(table, -1)):  # (built whole since: rows beyond the log)
            return False
    return True


def refresh_changed(wh: Warehouse, conn: Connection, name: str, sql: str, chain: list[int],
                    more: Callable[[Connection], None] | None = None) -> tuple[int, int] | None:
    """Delete and select again the rows of `marts.<name>` of the golden IDs the writes `chain` changed (with the
    children of changed parents, and those `more` adds to `_hub_changed`); returns (golden IDs refreshed, rows
    now), or None, having changed nothing, when more than `REFRESH_SHARE` of the mart changed."""
    columns = refreshed_by(name)
    assert columns and CHANGED.search(sql), f"marts.{name}: no `refresh` column or no changed marker"
    written = ", ".join(str(int(v)) for v in chain) or "NULL"  # (no write: nothing logged to refresh)
    logged = f"SELECT golden_id FROM raw._golden_log WHERE version IN ({written}) AND golden_id IS NOT NULL"
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_changed")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_changed AS {logged} UNION SELECT child_golden_id "
                         f"FROM mdm.customer_hierarchy WHERE parent_golden_id IN ({logged})")
    if more is not None:
        more(conn)
    changed = int(value(conn, "SELECT count(*) FROM _hub_changed") or 0)
    rows = int(value(conn, f"SELECT count(*) FROM marts.{quote(name)}") or 0)
    if changed > REFRESH_SHARE * rows:
        conn.exec_driver_sql("DROP TABLE _hub_changed")
        return None
    which = " OR ".join(f"{quote(c)} IN (SELECT golden_id FROM _hub_changed) OR {quote(c)} IS NULL" for c in columns)
    conn.exec_driver_sql(f"DELETE FROM marts.{quote(name)} WHERE {which}")
    conn.exec_driver_sql(wh.dialect.driver_sql(f"INSERT INTO marts.{quote(name)} {changed_sql(sql)}"))
    conn.exec_driver_sql("DROP TABLE _hub_changed")
    wh.dialect.analyze(conn, f"marts.{name}")
    return changed, int(value(conn, f"SELECT count(*) FROM marts.{quote(name)}") or 0)

"""Publish: build the marts from their SQL files, each swapped in atomically, only when its inputs changed.

Each mart remembers the versions of the tables its SQL reads (`warehouse.changes`) when it was built; a
mart whose inputs kept their versions (and whose SQL did not change) is not built again. It also remembers a
digest of the columns it reads of each staging, mdm and mart input (the columns the warehouse's own plan of its
SQL scans): an input whose version moved but whose digest did not (a phone changed, and the mart reads no
phone) does not rebuild it. A mart refreshed by golden ID (`pipelines.mart_refresh`) whose only moved inputs
are the golden tables (or marts that were refreshed so) gets the rows of the changed golden customers selected
again instead. A mart that is
rebuilt or refreshed gets a new version, so the marts reading it follow. Every build is one set-based
`CREATE TABLE … AS SELECT` in the warehouse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.mart_refresh import (
    follows_golden_log,
    golden_chain,
    marts_chain,
    marts_follow_golden,
    reads_marts_only,
    reflected_golden,
    refresh_changed,
    refreshed_by,
)
from pipelines.mart_states import STATES
from pipelines.progress import Progress, as_progress
from pipelines.stage import ensure_staging
from warehouse.changes import bump, set_watermark, versions, watermark
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse, value
from warehouse.marts.catalog import mart_docs

log = logging.getLogger("hub.publish")

_TABLE_REF = re.compile(r"\b(raw|staging|mdm|marts)\.([a-z_][a-z0-9_]*)\b")
_DIGESTED = ("staging", "mdm", "marts")  # (raw tables: wide JSON documents, versions only)

# Build order, the order of warehouse/marts/marts.yaml: a mart may read the marts before it.
MARTS: tuple[str, ...] = tuple(mart_docs())


def mart_sql(name: str) -> str:
    """The SELECT of a mart, from `warehouse/marts/<name>.sql`."""
    return resources.files("warehouse.marts").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def mart_inputs(name: str) -> set[tuple[str, str]]:
    """The `(schema, table)` of every raw, staging, mdm and mart table a mart's SQL reads (comments ignored)."""
    sql = re.sub(r"--[^\n]*", "", mart_sql(name))
    return {(m.group(1), m.group(2)) for m in _TABLE_REF.finditer(sql)} - {("marts", name)}


def _sql_hash(name: str) -> str:
    return hashlib.sha1(mart_sql(name).encode()).hexdigest()[:12]


def _input_tables(name: str) -> list[str]:
    """`schema.table` of a mart's inputs, as `raw._versions` names them."""
    return sorted(f"{s}.{t}" for s, t in mart_inputs(name))


Key = tuple[str, int, tuple[str, ...]]


class Digests:
    """Digests of the columns each mart reads of its staging, mdm and mart inputs, for one publish. What a mart
    reads of a table comes from the warehouse's plan of its SQL (`Dialect.scanned_columns`), or from its last build
    when its SQL and the table's columns are the same (the plan is not asked again); a table at a version is
    scanned once for all the column sets the marts read of it (as their last builds recorded them). Safe for marts
    published at once: the columns are read under a lock, and a table is digested by one session at a time."""

    def __init__(self, wh: Warehouse, conn: Connection) -> None:
        self.wh = wh
        self._lock = threading.Lock()
        self._table_locks: dict[str, threading.Lock] = {}
        self.known: dict[Key, str] = {}
        self.columns: dict[str, list[str]] = {}
        self.wanted: dict[str, set[tuple[str, ...]]] = {}
        rows = conn.execute(sa.text("SELECT detail FROM raw._watermarks WHERE substr(consumer, 1, 5) = 'mart:'")
                            ).fetchall()
        for (detail,) in rows:
            for table, read in (json.loads(detail or "{}").get("read") or {}).items():
                if read.get("columns"):
                    self.wanted.setdefault(table, set()).add(tuple(read["columns"]))

    def read(self, conn: Connection, name: str, tables: list[str], last: dict | None) -> dict[str, dict]:
        """For each staging, mdm and mart input among `tables`: the columns the mart reads of it (empty when the plan
        does not scan it: then the mart is built whenever its version moves) and a fingerprint of the table's
        columns. `last`: what its last build of the same SQL recorded (taken while a table's columns are the same)."""
        wanted = [t for t in tables if t.partition(".")[0] in _DIGESTED]
        with self._lock:
            missing = [t for t in wanted if t not in self.columns]
            if missing:
                for schema, table, column in conn.execute(sa.text(
                        "SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE "
                        "table_schema IN ('staging', 'mdm', 'marts') ORDER BY column_name")).fetchall():
                    if f"{schema}.{table}" in missing:
                        self.columns.setdefault(f"{schema}.{table}", []).append(column)
            columns = {t: self.columns.get(t, []) for t in wanted}
        last = last or {}
        out: dict[str, dict] = {}
        scanned: dict[str, set[str]] | None = None
        for table in wanted:
            have = columns[table]
            print_ = hashlib.sha1("\x1f".join(have).encode()).hexdigest()[:12]
            if table in last and last[table].get("all") == print_:
                out[table] = last[table]
                continue
            if scanned is None:
                scanned = self.wh.dialect.scanned_columns(conn, mart_sql(name).strip().rstrip(";"))
            words = scanned.get(table) or set()
            out[table] = {"columns": [c for c in have if c.lower() in words], "all": print_}
        return out

    def digests(self, conn: Connection, read: dict[str, dict], seen: dict[str, int]) -> dict[str, str]:
        """The digest of the columns read of each table of `read` (those with any) at its version in `seen`; a table
        not digested yet at that version is digested for every column set the marts read of it, in one scan."""
        out = {}
        for table, what in read.items():
            cols = tuple(what["columns"])
            if not cols:
                continue
            version = seen.get(table, -1)
            key = (table, version, cols)
            with self._lock:
                table_lock = self._table_locks.setdefault(table, threading.Lock())
            with table_lock:
                if version < 0 or key not in self.known:
                    with self._lock:
                        have = set(self.columns.get(table, []))
                    others = sorted(c for c in self.wanted.get(table, set()) - {cols} if set(c) <= have)
                    sets = [cols, *(others if version >= 0 else [])]
                    row = conn.exec_driver_sql(self.wh.dialect.digest_sql(table, [list(c) for c in sets])
                                               ).fetchall()[0]
                    for c, total in zip(sets, row[1:], strict=True):
                        self.known[(table, version, c)] = f"{int(row[0])}:{total}"
                out[table] = self.known[key]
        return out

    def forget(self, table: str) -> None:
        """Read the columns of `table` again when next asked (it was built again)."""
        with self._lock:
            self.columns.pop(table, None)


def build_mart(wh: Warehouse, name: str) -> int:
    """(Re)build one mart in a single transaction; returns its row count."""
    sql = mart_sql(name).strip().rstrip(";")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS marts")
        wh.swap_table(conn, "marts", name, sql)
        wh.dialect.analyze(conn, f"marts.{name}")  # PostgreSQL: statistics, or the marts after it plan blind
        if name in STATES:
            STATES[name].keep(wh, conn, False)  # (what its next refresh compares with)
        return int(value(conn, f"SELECT count(*) FROM marts.{name}") or 0)


def mart_columns(wh: Warehouse, name: str) -> list[tuple[str, str]]:
    """(column, type) of a built mart, in order."""
    rows = wh.read_frame("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = 'marts' AND table_name = :t ORDER BY ordinal_position", {"t": name})
    return list(zip(rows["column_name"], rows["data_type"], strict=True))


MART_SESSIONS = {"postgresql": 4, "duckdb": 2}
"""Marts one publish builds at once, by warehouse: a mart starts when the marts it reads are done, on a session of
its own (PostgreSQL runs each session's statements on a core of their own; DuckDB's smaller refreshes leave cores
idle)."""


def publish(wh: Warehouse, marts: tuple[str, ...] = MARTS,
            progress: Callable[[str], None] | Progress | None = None, force: bool = False) -> dict[str, int]:
    """Build the marts whose inputs changed since they were built (all of them with `force`); returns the row
    count of every mart. Marts that do not read each other are built at once (`MART_SESSIONS`); a failed mart
    stops those reading it, the others finish, and its error is raised."""
    prog = as_progress(progress, log)
    with wh.begin() as conn:  # the staging and mdm tables the marts read exist, even before any data
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS marts")
    with wh.begin() as conn:
        digester = Digests(wh, conn)
    said = threading.Lock()

    def say(message: str) -> None:
        with said:
            prog(message)

    counts = run_in_order(marts, {m: [t for s, t in mart_inputs(m) if s == "marts"] for m in marts},
                          lambda name: _publish_one(wh, name, digester, force, say),
                          MART_SESSIONS.get(wh.dialect.name, 1))
    return {name: counts[name] for name in marts}


def run_in_order(names: tuple[str, ...], reads: dict[str, list[str]], work: Callable[[str], int],
                 sessions: int) -> dict[str, int]:
    """`work(name)` for each name, at most `sessions` at once, each once the names it reads (among `names`) are
    done, taken in `names`' order; the results by name. The first error (in `names`' order) is raised after the
    work under way finished, and nothing that reads a failed name starts."""
    if sessions <= 1:
        return {name: work(name) for name in names}
    done: dict[str, int] = {}
    failed: dict[str, BaseException] = {}
    running: dict[Future[int], str] = {}
    waiting = list(names)
    with ThreadPoolExecutor(sessions, thread_name_prefix="mart") as pool:
        while waiting or running:
            for name in list(waiting):
                deps = [d for d in reads.get(name, []) if d in names]
                if any(d in failed for d in deps):
                    waiting.remove(name)  # (reads a name that failed: not worked on)
                    failed[name] = _Skipped(name)
                elif len(running) < sessions and all(d in done for d in deps):
                    waiting.remove(name)
                    running[pool.submit(work, name)] = name
            if not running:
                assert not waiting, f"names that read each other in a circle: {waiting}"
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    done[name] = future.result()
                except BaseException as exc:  # (raised below, after the work under way)
                    failed[name] = exc
    for name in names:
        if name in failed and not isinstance(failed[name], _Skipped):
            raise failed[name]
    return done


class _Skipped(Exception):
    """A name not worked on: it reads one that failed."""


def _publish_one(wh: Warehouse, name: str, digester: Digests, force: bool, prog: Callable[[str], None]) -> int:
    """Build, refresh or keep one mart; returns its row count."""
    tables = _input_tables(name)
    chain = None
    with wh.begin() as conn:
        seen = versions(conn, tables)
        mark = watermark(conn, f"mart:{name}")
        exists = wh.table_exists(conn, "marts", name)
        same_sql = mark is not None and mark[1].get("sql") == _sql_hash(name)
        if not force and exists and mark is not None and same_sql and mark[1].get("inputs") == seen:
            return int(mark[1].get("rows", 0))
        read = digester.read(conn, name, tables, mark[1].get("read") if mark is not None and same_sql else None)
        if not force and exists and mark is not None and same_sql:
            before = mark[1]
            moved = [t for t in tables if (before.get("inputs") or {}).get(t) != seen[t]]
            kept = before.get("digests") or {}
            if all(t in kept for t in moved):
                now = digester.digests(conn, {t: read[t] for t in moved if t in read}, seen)
                if all(now.get(t) == kept[t] for t in moved):  # what it reads of them did not change
                    set_watermark(conn, f"mart:{name}", 0, {**before, "inputs": seen})
                    prog(f"marts.{name}: kept (the columns it reads of {', '.join(moved)} did not change)")
                    return int(before.get("rows", 0))
            if refreshed_by(name) and reads_marts_only(tables):  # its marts were refreshed: their golden IDs
                chain = marts_chain(conn, tables, before, seen)
            elif refreshed_by(name):  # only the golden tables changed what it reads: their changed golden IDs
                chain = golden_chain(conn, tables, before.get("inputs") or {}, seen)
                if chain is not None:
                    others = [t for t in moved if not follows_golden_log(conn, t, seen[t], chain)]
                    now = digester.digests(conn, {t: read[t] for t in others if t in read}, seen)
                    others = [t for t in others if not (t in kept and now.get(t) == kept[t])]
                    marts = [t for t in others if t.startswith("marts.")]  # (refreshed by the same golden IDs?)
                    if len(marts) < len(others) or (marts and not marts_follow_golden(conn, marts, before)):
                        chain = None
        kept_digests = _unmoved_digests(mark[1], seen) if mark is not None and same_sql else {}
        digests = {**kept_digests, **digester.digests(
            conn, {t: r for t, r in read.items() if t not in kept_digests}, seen)}
        if chain is not None and mark is not None:
            started = time.monotonic()
            state = STATES.get(name)
            sql = mart_sql(name).strip().rstrip(";")
            done = refresh_changed(wh, conn, name, state.counted_sql(sql) if state else sql, chain,
                                   state.add_changed if state else None)
            if state is not None and done is not None:
                state.keep(wh, conn, True)
            elif state is not None:
                state.discard(conn)
            if done is not None:
                _record(conn, name, seen, digests, done[1], read, refreshed=mark[1])
                prog(f"refreshed marts.{name}: the rows of {done[0]:,} changed golden customers "
                     f"({done[1]:,} rows) in {time.monotonic() - started:.1f} s")
                return done[1]
    started = time.monotonic()
    rows = build_recorded(wh, name, seen, digests, read)
    digester.forget(f"marts.{name}")  # (built again: its columns as its SQL makes them now)
    prog(f"built marts.{name}: {rows:,} rows in {time.monotonic() - started:.1f} s")
    return rows


def _unmoved_digests(before: dict, seen: dict[str, int]) -> dict[str, str]:
    """The digests a mart's last build recorded for the inputs that kept their versions since (the same rows: the
    same digest, not computed again)."""
    inputs = before.get("inputs") or {}
    return {t: d for t, d in (before.get("digests") or {}).items() if t in seen and inputs.get(t) == seen[t]}


def build_recorded(wh: Warehouse, name: str, seen: dict[str, int] | None = None,
                   digests: dict[str, str] | None = None, read: dict[str, dict] | None = None) -> int:
    """`build_mart`, then a new version for the mart and, as its watermark, the versions of the inputs it read
    (`seen`, read now when not given) and the digests of the columns it reads of them: what `publish` checks to
    skip it next time (the Dagster asset builds through here too, so a `hub run` after a materialization does
    not build the mart again)."""
    if seen is None or digests is None or read is None:
        with wh.begin() as conn:
            seen = versions(conn, _input_tables(name)) if seen is None else seen
            digester = Digests(wh, conn)
            read = digester.read(conn, name, _input_tables(name), None)
            digests = digester.digests(conn, read, seen)
    rows = build_mart(wh, name)
    with wh.begin() as conn:
        _record(conn, name, seen, digests, rows, read)
    return rows


def _record(conn: Connection, name: str, seen: dict[str, int], digests: dict[str, str], rows: int,
            read: dict[str, dict], refreshed: dict | None = None) -> None:
    """A new version for a mart just written, and its watermark: the inputs' versions, the columns it reads of them
    and their digests, the version of its last whole build (this one unless it was `refreshed` from that
    watermark) and, for a mart refreshed by golden ID, the golden version the marts it reads reflect
    (`mart_refresh.marts_chain`, `marts_follow_golden`)."""
    version = bump(conn, f"marts.{name}")
    marts = [t for t in _input_tables(name) if t.startswith("marts.")]
    set_watermark(conn, f"mart:{name}", 0, {
        "inputs": seen, "sql": _sql_hash(name), "rows": rows, "digests": digests, "read": read,
        "whole": version if refreshed is None else refreshed.get("whole") or version,  # (unknown: not since now)
        "golden": reflected_golden(conn, marts) if refreshed_by(name) else None})

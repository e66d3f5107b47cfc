"""One writer at a time per warehouse, with a message naming the holder; a dead holder's lock is free.

Every face that writes takes it: `hub run`, `hub connectors sync`, the Dagster assets (which wait
their turn) and the stewards' actions (which wait a few seconds for another steward's action and
fail at once, with the holder's name, while a run holds the warehouse).

- DuckDB: an exclusive `flock` on `<warehouse file>.lock`, which holds the holder's description.
  The operating system drops the lock when its process dies, so a stale lock is recovered by
  construction; only the description is left behind, and it is overwritten.
- PostgreSQL: a session advisory lock on a dedicated connection, with the holder's description
  in `raw._run_lock`. PostgreSQL drops the lock when the session ends (a killed process's
  connection is closed by the server), so here too a stale lock frees itself.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from warehouse.engine import Warehouse

LOCK_KEY = 0x48554221  # "HUB!": the advisory lock id of customer hub runs


class RunLocked(RuntimeError):
    """Another run holds the warehouse."""


def holder_description(what: str) -> dict[str, object]:
    return {"what": what, "pid": os.getpid(), "host": socket.gethostname(),
            "since": dt.datetime.now().isoformat(timespec="seconds")}


def _describe(h: dict[str, object]) -> str:
    return f"{h.get('what', 'a hub run')} (pid {h.get('pid')} on {h.get('host')}, since {h.get('since')})"


class _Waiting:
    """When to give up on a lock another process holds: after `wait` seconds, or at once when `keep_waiting`
    says the holder (its description) is not worth waiting for; `on_wait` hears the first wait."""

    def __init__(self, wh: Warehouse, wait: float, keep_waiting: Callable[[dict[str, object]], bool] | None,
                 on_wait: Callable[[str], None] | None):
        self.wh, self.wait, self.keep_waiting, self.on_wait = wh, wait, keep_waiting, on_wait
        self.deadline: float | None = None  # counted from the first refusal, not from connecting
        self.told = False

    def busy(self, holder: dict[str, object]) -> None:
        """Another process holds the lock: raise RunLocked, or return to try again shortly."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.wait
        if time.monotonic() >= self.deadline or (self.keep_waiting is not None and not self.keep_waiting(holder)):
            raise RunLocked(f"the warehouse {self.wh.location} is in use by {_describe(holder)}; "
                            "wait for it to finish")
        if self.on_wait is not None and not self.told:
            self.on_wait(f"waiting for the warehouse {self.wh.location}: in use by {_describe(holder)}")
            self.told = True
        time.sleep(0.2)


@contextmanager
def run_lock(wh: Warehouse, what: str = "hub run", wait: float = 0.0,
             keep_waiting: Callable[[dict[str, object]], bool] | None = None,
             on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block. While another process holds it, wait up to `wait`
    seconds (`float("inf")`: until it is free), and only while `keep_waiting(holder)` (holder: the
    description of who holds it, `what` among others) is true; then RunLocked naming the holder.
    `on_wait(message)` is called once when waiting starts."""
    waiting = _Waiting(wh, wait, keep_waiting, on_wait)
    if wh.dialect.name == "duckdb":
        with _file_lock(wh, what, waiting):
            yield
    else:
        with _advisory_lock(wh, what, waiting):
            yield


_DUCKDB_BUSY = re.compile(r'Could not set lock on file "([^"]+)"')


def busy_message(exc: BaseException) -> str | None:
    """For DuckDB's refusal to open a warehouse file another process holds (`Could not set lock on file`): who
    holds it, from the writer lock's description (`<file>.lock`); None for any other error."""
    m = _DUCKDB_BUSY.search(str(exc))
    if m is None:
        return None
    try:
        holder = json.loads(Path(m.group(1) + ".lock").read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    # The description is of the last process that took the lock: this one (it took the lock, then found the file
    # open) or one that has ended, and the file is held by a process that does not take the hub's lock.
    here = holder.get("host") == socket.gethostname()
    gone = here and (holder.get("pid") == os.getpid() or not _alive(holder.get("pid")))
    if holder and not gone:
        return f"the warehouse {m.group(1)} is in use by {_describe(holder)}; wait for it to finish"
    return (f"the warehouse {m.group(1)} is open in another process, one that does not take the hub's writer lock "
            "(a DuckDB client, a notebook, a BI tool reading the file?); close it there and try again")


def _alive(pid: object) -> bool:
    """Whether a process of this machine with that id runs (a pid this process may not signal: yes)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_by(*prefixes: str) -> Callable[[dict[str, object]], bool]:
    """A `keep_waiting` that waits only for holders whose `what` starts with one of `prefixes`."""
    return lambda holder: str(holder.get("what", "")).startswith(prefixes)


@contextmanager
def _file_lock(wh: Warehouse, what: str, waiting: _Waiting) -> Iterator[None]:
    path = Path(wh.location + ".lock") if wh.location != ":memory:" else None
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                try:
                    holder = json.loads(path.read_text(encoding="utf-8") or "{}")
                except (OSError, ValueError):
                    holder = {}
                waiting.busy(holder)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_description(what)).encode(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def _advisory_lock(wh: Warehouse, what: str, waiting: _Waiting) -> Iterator[None]:
    conn = wh.engine.connect()
    try:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS raw")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS raw._run_lock (lock_key BIGINT PRIMARY KEY, holder TEXT)")
        conn.commit()
        while True:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).fetchall()[0][0]
            conn.commit()
            if got:
                break
            rows = conn.execute(sa.text("SELECT holder FROM raw._run_lock WHERE lock_key = :k"),
                                {"k": LOCK_KEY}).fetchall()
            conn.commit()
            waiting.busy(json.loads(rows[0][0]) if rows else {})
        conn.execute(sa.text("DELETE FROM raw._run_lock WHERE lock_key = :k"), {"k": LOCK_KEY})
        conn.execute(sa.text("INSERT INTO raw._run_lock (lock_key, holder) VALUES (:k, :h)"),
                     {"k": LOCK_KEY, "h": json.dumps(holder_description(what))})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY}).fetchall()
            conn.commit()
    finally:
        conn.close()

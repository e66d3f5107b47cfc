"""One run at a time per warehouse, with a message naming the holder; a dead holder's lock is free.

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
import socket
import time
from collections.abc import Iterator
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


@contextmanager
def run_lock(wh: Warehouse, what: str = "hub run", wait: float = 0.0) -> Iterator[None]:
    """Hold the warehouse's run lock for the block; `wait` seconds to wait for it, else RunLocked."""
    if wh.dialect.name == "duckdb":
        with _file_lock(wh, what, wait):
            yield
    else:
        with _advisory_lock(wh, what, wait):
            yield


@contextmanager
def _file_lock(wh: Warehouse, what: str, wait: float) -> Iterator[None]:
    path = Path(wh.location + ".lock") if wh.location != ":memory:" else None
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
                    except (OSError, ValueError):
                        holder = {}
                    raise RunLocked(f"the warehouse {wh.location} is in use by {_describe(holder)}; "
                                    "wait for it to finish") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_description(what)).encode(), 0)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def _advisory_lock(wh: Warehouse, what: str, wait: float) -> Iterator[None]:
    deadline = time.monotonic() + wait
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
            if time.monotonic() >= deadline:
                rows = conn.execute(sa.text("SELECT holder FROM raw._run_lock WHERE lock_key = :k"),
                                    {"k": LOCK_KEY}).fetchall()
                holder = json.loads(rows[0][0]) if rows else {}
                raise RunLocked(f"the warehouse {wh.location} is in use by {_describe(holder)}; "
                                "wait for it to finish")
            time.sleep(0.2)
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

"""One run at a time per warehouse: a clear message naming the holder, and a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from warehouse.engine import Warehouse
from warehouse.lock import RunLocked, run_lock

HOLD = """
import sys, time
from warehouse.engine import Warehouse
from warehouse.lock import run_lock
with run_lock(Warehouse(sys.argv[1]), "test holder"):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holder(url: str, tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "hold.py"
    script.write_text(HOLD, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_is_refused_naming_the_holder_and_a_killed_holder_frees_the_lock(
        warehouse_url: str, tmp_path: Path) -> None:
    proc = _holder(warehouse_url, tmp_path)
    try:
        with pytest.raises(RunLocked) as e, run_lock(Warehouse(warehouse_url), "second run", wait=0.5):
            pass
        msg = str(e.value)
        assert "in use by test holder" in msg and f"pid {proc.pid}" in msg
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while True:  # the server notices the dead session within moments
        try:
            with run_lock(Warehouse(warehouse_url), "after the kill", wait=1):
                break
        except RunLocked:
            if time.monotonic() > deadline:
                raise


def test_the_lock_is_released_after_each_run(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with run_lock(wh, "first"):
        pass
    with run_lock(wh, "second"):
        pass


def test_a_file_held_open_without_the_lock_is_not_blamed_on_the_last_lock_holder(tmp_path: Path) -> None:
    """The DuckDB file open in a process that does not take the hub's lock (a DuckDB client): the message names
    neither this process (which took the lock, then found the file open) nor an ended holder, but says so."""
    import duckdb

    from warehouse.lock import busy_message

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "c.execute('CREATE TABLE t AS SELECT 1'); print('open', flush=True); time.sleep(60)",
                               str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        wh = Warehouse(f"duckdb:///{path}")
        for last in ("this", "ended"):
            with run_lock(wh, "hub run"):  # (this process's description in the lock file)
                if last == "ended":  # (the description of a process that has ended)
                    Path(str(path) + ".lock").write_text('{"what": "hub run", "pid": 999999999, "host": "'
                                                         + socket.gethostname() + '"}')
                with pytest.raises(duckdb.IOException) as e:
                    duckdb.connect(str(path))
                message = busy_message(e.value)
            assert message is not None and "open in another process, one that does not take" in message, message
            assert f"pid {os.getpid()}" not in message and "999999999" not in message
    finally:
        holder.kill()
        holder.wait()

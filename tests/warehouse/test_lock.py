"""One run at a time per warehouse: a clear message naming the holder, and a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
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

"""The `hub` process leaves without tearing the interpreter down (`hub.cli.leave`), and loses nothing by it: the
exit code, everything printed, the exit handlers and a DuckDB warehouse folded into its file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.hub.test_cli_run import write_project
from warehouse.engine import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_leaving_keeps_the_code_what_was_printed_and_the_exit_handlers(tmp_path: Path) -> None:
    r = python("""
        import atexit, sys
        from hub.cli.leave import leave
        atexit.register(lambda: print("handler ran"))
        print("buffered, no newline", end="")
        sys.stderr.write("to stderr")
        leave(4)
    """, tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (4, "buffered, no newlinehandler ran\n", "to stderr")


def test_leaving_reads_the_code_as_sys_exit_does(tmp_path: Path) -> None:
    none = python("from hub.cli.leave import leave\nleave(None)", tmp_path)
    text = python("from hub.cli.leave import leave\nleave('refused: the file is gone')", tmp_path)
    assert (none.returncode, none.stderr) == (0, "")
    assert (text.returncode, text.stderr) == (1, "refused: the file is gone\n")


def test_leaving_waits_for_a_thread_still_running(tmp_path: Path) -> None:
    r = python("""
        import threading, time
        from hub.cli.leave import leave
        gate = threading.Event()
        def late():
            gate.wait()
            time.sleep(0.2)
            print("the thread finished")
        threading.Thread(target=late).start()
        gate.set()
        leave(3)
    """, tmp_path)
    assert (r.returncode, r.stdout) == (3, "the thread finished\n")


def test_leaving_folds_a_duckdb_warehouse_into_its_file(tmp_path: Path) -> None:
    r = python("""
        from hub.cli.leave import leave
        from warehouse.engine import Warehouse
        wh = Warehouse("duckdb:///w.duckdb")
        with wh.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t AS SELECT range AS n FROM range(1000)")
        leave(0)
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    # Closed before the process ended: no write-ahead log left beside the file (a copy of the file alone is whole).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert wh.read_frame("SELECT count(*) AS n, sum(n) AS s FROM t").values.tolist() == [[1000, 499500]]
    wh.dispose()


def test_hub_run_as_a_process_exits_with_its_code_and_leaves_the_warehouse_whole(tmp_path: Path) -> None:
    cfg = write_project(tmp_path, {"O1": ("C1", "10.00"), "O9": ("C9", "20.00")})  # O9: a check fails, exit 4
    r = subprocess.run([sys.executable, "-m", "hub.cli", "run", "-c", str(cfg)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 4, r.stderr
    assert "marts.fct_sales_orders (2 rows)" in r.stdout
    assert "check fct_sales_orders.not_null.golden_id FAILED: 1 of 2 rows have no golden_id" in r.stdout
    assert not (tmp_path / "w.duckdb.wal").exists()
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert wh.read_frame("SELECT order_key FROM marts.fct_sales_orders ORDER BY 1")["order_key"].tolist() == [
        "O1", "O9"]
    wh.dispose()

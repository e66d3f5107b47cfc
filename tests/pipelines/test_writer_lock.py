"""Every face that writes the warehouse takes the writer lock `hub run` takes (`warehouse.lock`):
`hub connectors sync` refuses while a run holds it, a Dagster step waits its turn, and a steward's
action fails at once, saying who holds the warehouse and that nothing was saved; steward actions wait
for each other a few seconds, and `hub run` waits for a steward's action."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from core.config_file import load_config
from dagster_project.assets.raw import source_assets
from dagster_project.resources import HubResource
from hub.cli import main
from pipelines.steward import actions, errors, review_queue
from warehouse.engine import Warehouse
from warehouse.lock import RunLocked, held_by, run_lock

REPO = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from warehouse.engine import Warehouse
from warehouse.lock import run_lock
wh = Warehouse(sys.argv[1])
with run_lock(wh, sys.argv[2]):
    if sys.argv[4:] == ["open"]:  # the warehouse open too, as a run holds it (DuckDB: no other process opens it)
        conn = wh.engine.connect()
        conn.exec_driver_sql("SELECT 1")
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
"""


@contextmanager
def held(url: str, what: str, tmp_path: Path, seconds: float = 60, open_too: bool = False
         ) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the warehouse's writer lock as `what` (and, `open_too`, the warehouse open)."""
    script = tmp_path / "hold.py"
    script.write_text(HOLD, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), url, what, str(seconds), *(["open"] if open_too else [])],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def file_source_config(tmp_path: Path, url: str) -> Path:
    (tmp_path / "c.csv").write_text("id,name\n1,上海甲有限公司\n2,北京乙有限公司\n", encoding="utf-8")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"warehouse: {{url: '{url}'}}\nsources:\n  crm:\n    connector: file\n    config: {{path: c.csv}}\n"
                   "    streams:\n      customers: {primary_key: id, entity: customer, mapping: {name: name}}\n",
                   encoding="utf-8")
    return cfg


def test_the_lock_waits_only_for_the_holders_it_is_told_to(warehouse_url: str, tmp_path: Path) -> None:
    wh = Warehouse(warehouse_url)
    heard: list[str] = []
    with held(warehouse_url, "hub steward merge by alice", tmp_path):
        t0 = time.monotonic()
        with pytest.raises(RunLocked, match="in use by hub steward merge by alice"), \
                run_lock(wh, "hub run", wait=0.6, keep_waiting=held_by("hub steward"), on_wait=heard.append):
            pass
        assert time.monotonic() - t0 >= 0.6 and len(heard) == 1 and "waiting for the warehouse" in heard[0]
    with held(warehouse_url, "hub run", tmp_path):
        t0 = time.monotonic()
        with pytest.raises(RunLocked, match="in use by hub run"), \
                run_lock(wh, "hub steward decide by bob", wait=30, keep_waiting=held_by("hub steward")):
            pass
        assert time.monotonic() - t0 < 5  # no waiting for a run
    with held(warehouse_url, "hub steward decide by alice", tmp_path, seconds=0.5), \
            run_lock(wh, "hub run", wait=30, keep_waiting=held_by("hub steward")):  # waits, then gets it
        pass


def test_connectors_sync_refuses_while_a_run_holds_the_warehouse(warehouse_url: str, tmp_path: Path) -> None:
    cfg = file_source_config(tmp_path, warehouse_url)
    with held(warehouse_url, "hub run", tmp_path) as proc:
        r = CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])
        assert r.exit_code == 3, r.output
        assert "in use by hub run" in r.output and f"pid {proc.pid}" in r.output
    wh = Warehouse(warehouse_url)
    with wh.begin() as conn:
        assert not wh.table_exists(conn, "raw", "crm__customers")  # nothing landed
    r = CliRunner().invoke(main, ["connectors", "sync", "-c", str(cfg)])
    assert r.exit_code == 0, r.output
    assert wh.read_frame("SELECT count(*) AS n FROM raw.crm__customers")["n"][0] == 2


def test_a_dagster_sync_step_waits_for_the_lock_and_then_runs(warehouse_url: str, tmp_path: Path) -> None:
    cfg_path = file_source_config(tmp_path, warehouse_url)
    cfg = load_config(cfg_path)
    wh = Warehouse(warehouse_url)
    release = threading.Event()

    def hold() -> None:
        with run_lock(Warehouse(warehouse_url), "hub run"):
            started.set()
            release.wait(300)  # (a bound for a broken step only: the watcher releases it)

    started = threading.Event()
    holder = threading.Thread(target=hold)
    holder.start()
    started.wait(60)
    instance = dg.DagsterInstance.ephemeral()

    def release_once_waiting() -> None:  # the holder lets go only after the step said it waits (no timing)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not release.is_set():
            for run in instance.get_runs():
                if any((e.user_message or "").startswith("waiting for the warehouse")
                       for e in instance.all_logs(run.run_id)):
                    release.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=release_once_waiting)
    watcher.start()
    result = dg.materialize(source_assets(cfg), resources={"hub": HubResource(config_path=str(cfg_path))},
                            instance=instance)
    holder.join()
    watcher.join()
    assert result.success and release.is_set()  # it ran only after the holder, which it waited for, let go
    logged = [e.user_message for e in instance.all_logs(result.run_id)]  # the run's log in Dagster's UI
    assert any(m.startswith("waiting for the warehouse") and "in use by hub run" in m for m in logged)
    assert wh.read_frame("SELECT count(*) AS n FROM raw.crm__customers")["n"][0] == 2


def test_a_steward_action_during_a_run_fails_clearly_and_saves_nothing(steward_project: Path,
                                                                         tmp_path: Path) -> None:
    cfg = load_config(steward_project)
    wh = Warehouse(cfg.warehouse.url)
    item = review_queue.list_queue(cfg, wh, limit=1)["items"][0]
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    before = wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3")
    wh.dispose()
    with held(cfg.warehouse.url, "hub run", tmp_path) as proc:
        t0 = time.monotonic()
        for act in (lambda: actions.decide(cfg, wh, item["item_id"], "same", "alice"),
                    lambda: actions.merge(cfg, wh, g["golden_id"].iloc[0], g["golden_id"].iloc[1], "alice"),
                    lambda: actions.unmerge(cfg, wh, item["left"]["record_id"], "alice")):
            with pytest.raises(errors.StewardBusy, match=rf"not saved: .* in use by hub run \(pid {proc.pid}"):
                act()
        assert time.monotonic() - t0 < 10  # no waiting for a run
        r = CliRunner().invoke(main, ["steward", "decide", "-c", str(steward_project), item["item_id"], "same",
                                      "--by", "alice"])
        assert r.exit_code == 3 and "not saved" in r.output and "in use by hub run" in r.output
    assert wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3").equals(before)
    for table in ("decisions", "merge_log"):
        assert not len(wh.read_frame(f"SELECT * FROM mdm.{table}")), table
    actions.decide(cfg, wh, item["item_id"], "same", "alice")  # once the run is over
    assert len(wh.read_frame("SELECT * FROM mdm.merge_log")) == 1


def test_a_steward_command_finding_the_duckdb_file_held_by_a_run_exits_3_naming_it(steward_project: Path,
                                                                                     tmp_path: Path) -> None:
    """A run holds its DuckDB file open: another process cannot even read it. Every `hub steward` command (an
    action looking its item up first, a listing) says who holds it and exits 3, with no traceback."""
    cfg = load_config(steward_project)
    assert cfg.warehouse.url.startswith("duckdb")
    wh = Warehouse(cfg.warehouse.url)
    item = review_queue.list_queue(cfg, wh, limit=1)["items"][0]
    wh.dispose()
    with held(cfg.warehouse.url, "hub run", tmp_path, open_too=True) as proc:
        for args in (["decide", item["item_id"], "different", "--by", "alice"], ["queue"],
                     ["show", item["item_id"]]):
            r = CliRunner().invoke(main, ["steward", args[0], "-c", str(steward_project), *args[1:]])
            assert r.exit_code == 3, (args, r.output)
            assert f"not done: the warehouse {cfg.warehouse.url.removeprefix('duckdb:///')} is in use by hub run " \
                   f"(pid {proc.pid}" in r.output, r.output
            assert "Traceback" not in r.output
        r = CliRunner().invoke(main, ["show", "marts.dim_customer", "-c", str(steward_project)])
        assert r.exit_code == 3 and "cannot read marts.dim_customer: the warehouse" in r.output and \
            f"in use by hub run (pid {proc.pid}" in r.output, r.output
    # free again: the first rows in the order of the first column, whatever order the rows are stored in
    r = CliRunner().invoke(main, ["show", "marts.dim_customer", "-c", str(steward_project), "--limit", "3"])
    with Warehouse(cfg.warehouse.url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE marts.dim_customer__r AS SELECT * FROM marts.dim_customer "
                             "ORDER BY golden_id DESC")
        conn.exec_driver_sql("DROP TABLE marts.dim_customer")
        conn.exec_driver_sql("ALTER TABLE marts.dim_customer__r RENAME TO dim_customer")
    again = CliRunner().invoke(main, ["show", "marts.dim_customer", "-c", str(steward_project), "--limit", "3"])
    assert r.exit_code == again.exit_code == 0 and r.output == again.output and "G0000000001" in r.output


def test_hub_run_waits_for_a_stewards_action_but_not_for_another_run(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    cfg = load_config(file_source_config(tmp_path, url))
    from pipelines.run import run_all

    with held(url, "hub steward merge by alice", tmp_path, seconds=1.0):
        summary = run_all(cfg, Warehouse(url))
    assert not summary.failed_sources and summary.match is not None and summary.match.records == 2
    with held(url, "hub run", tmp_path), pytest.raises(RunLocked, match="in use by hub run"):
        run_all(cfg, Warehouse(url))

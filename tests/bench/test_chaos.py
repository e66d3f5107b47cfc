"""The chaos suite's accounting fails on a lost or doubled record, and a sync killed at any of its commits
resumes with every record exactly once (`bench/chaos.py`, `bench/crash_point.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import account, ledger, main
from bench.crash_point import KILLED
from core.config_file import load_config
from pipelines.sync import sync_source
from warehouse.engine import Warehouse

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  crm:
    connector: file
    config: {path: data/customers.csv, batch_size: 2}
    streams:
      customers:
        primary_key: id
        entity: customer
        mapping: {name: name, phone: phone}
  lines:
    connector: file
    config: {path: data/lines.jsonl, batch_size: 2}
    streams:
      customers:
        primary_key: id
        entity: customer
        mapping: {name: name}
        health: {warn_quarantined_share: 0.5, max_quarantined_share: 0.5}  # one broken line is expected here
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two small file sources checkpointed every 2 records: 5 clean CSV rows, and 6 JSON lines of which
    line 3 is broken (the file source flags it; the sync quarantines it)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(
        "id,name,phone\n" + "".join(f"C{i},客户{i}有限公司,1380000000{i}\n" for i in range(1, 6)), encoding="utf-8")
    lines = [f'{{"id": "L{i}", "name": "线路{i}公司"}}' for i in range(1, 7)]
    lines[2] = '{"id": "L3", "name": "断'
    (data / "lines.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg


def synced(cfg_path: Path, url: str, *sources: str) -> str:
    cfg = load_config(cfg_path, warehouse_url=url)
    wh = Warehouse(url)
    for name in sources or tuple(cfg.sources):
        r = sync_source(cfg, wh, name)
        assert r.status == "succeeded", (r.error, r.warnings)
    wh.dispose()
    return url


def execute(url: str, sql: str) -> None:
    wh = Warehouse(url)
    with wh.begin() as c:
        c.exec_driver_sql(sql)
    wh.dispose()


def test_an_identical_warehouse_accounts_for_every_record(project: Path, tmp_path: Path) -> None:
    ref = synced(project, f"duckdb:///{tmp_path / 'ref.duckdb'}")
    got = synced(project, f"duckdb:///{tmp_path / 'got.duckdb'}")
    # 5 CSV rows landed + 5 good JSON lines landed + 1 broken line quarantined = 11 records.
    assert account(ledger(ref), ledger(got)) == {"expected": 11, "landed": 10, "quarantined": 1, "lost": 0,
                                                 "doubled": 0}
    with pytest.raises(SystemExit) as done:
        main(["--compare", ref, got])
    assert done.value.code == 0


MUTATIONS = {
    "a landed record deleted": ("DELETE FROM raw.crm__customers WHERE _key = 'C2'", 1, 0),
    "a landed record changed": ("UPDATE raw.crm__customers SET _hash = 'x' WHERE _key = 'C2'", 1, 0),
    "a record landed twice": ("INSERT INTO raw.crm__customers SELECT * FROM raw.crm__customers WHERE _key = 'C2'",
                              0, 1),
    "a quarantined record dropped": ("DELETE FROM raw._quarantine", 1, 0),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_lost_or_doubled_record_fails_the_chaos_run(project: Path, tmp_path: Path, mutation: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    sql, lost, doubled = MUTATIONS[mutation]
    ref = synced(project, f"duckdb:///{tmp_path / 'ref.duckdb'}")
    got = synced(project, f"duckdb:///{tmp_path / 'got.duckdb'}")
    execute(got, sql)
    counts = account(ledger(ref), ledger(got))
    assert (counts["lost"], counts["doubled"]) == (lost, doubled)
    with pytest.raises(SystemExit) as done:
        main(["--compare", ref, got])
    assert done.value.code == 1
    assert f"{lost:,} record(s) lost, {doubled:,} doubled (of 11)" in capsys.readouterr().err


def test_the_chaos_command_exits_non_zero_on_a_loss(project: Path, tmp_path: Path) -> None:
    """What `scripts/run-tests.sh` (`set -e`) sees: the process's exit status."""
    ref = synced(project, f"duckdb:///{tmp_path / 'ref.duckdb'}")
    got = synced(project, f"duckdb:///{tmp_path / 'got.duckdb'}")
    execute(got, "DELETE FROM raw.lines__customers WHERE _key = 'L5'")
    proc = subprocess.run([sys.executable, "-m", "bench.chaos", "--compare", ref, got], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "1 record(s) lost, 0 doubled" in proc.stderr


def crash_points(project: Path, source: str, kill_at: str, url: str) -> subprocess.CompletedProcess[str]:
    """`hub connectors sync` of `source` through `python -m bench.crash_point` (`kill_at`: N or A-B)."""
    return subprocess.run([sys.executable, "-m", "bench.crash_point", kill_at, "connectors", "sync", "-c",
                           str(project), "--warehouse", url, "--source", source], cwd=REPO, capture_output=True,
                          text=True)


def commits_of(project: Path, tmp_path: Path, source: str) -> int:
    counted = crash_points(project, source, "0", f"duckdb:///{tmp_path / 'count.duckdb'}")
    assert counted.returncode == 0, counted.stderr
    return int(counted.stderr.rsplit("commits:", 1)[1].split()[0])


def sweep(project: Path, tmp_path: Path, source: str) -> tuple[int, list[str]]:
    """Kill a sync of `source` just before each of its commits (a fresh warehouse each time), sync it whole
    again, and account for its records: (commits swept, the points that lost or doubled a record)."""
    ref = ledger(synced(project, f"duckdb:///{tmp_path / 'ref.duckdb'}", source))
    commits = commits_of(project, tmp_path, source)
    killed = crash_points(project, source, f"1-{commits}", f"duckdb:///{tmp_path}/k{{n}}.duckdb")
    assert killed.stdout.split() == [str(x) for k in range(1, commits + 1) for x in (k, KILLED)], killed.stderr
    failing = []
    for k in range(1, commits + 1):
        url = synced(project, f"duckdb:///{tmp_path / f'k{k}.duckdb'}", source)  # the next sync resumes
        r = account(ref, ledger(url), source=source)
        if r["lost"] or r["doubled"]:
            failing.append(f"killed before commit {k}: {r}")
    return commits, failing


def test_a_crash_point_run_dies_at_the_commit_it_is_given(project: Path, tmp_path: Path) -> None:
    commits = commits_of(project, tmp_path, "crm")
    url = f"duckdb:///{tmp_path / 'killed.duckdb'}"
    assert crash_points(project, "crm", str(commits), url).returncode == KILLED
    # Killed before its last commit, the one that closes the sync log: the sync is still `running` there,
    # and every record (the commits before) has landed.
    wh = Warehouse(url)
    assert wh.read_frame("SELECT status FROM raw._syncs")["status"].tolist() == ["running"]
    assert wh.read_frame("SELECT _key FROM raw.crm__customers ORDER BY _key")["_key"].tolist() == [
        "C1", "C2", "C3", "C4", "C5"]


def test_a_sync_killed_at_any_commit_resumes_with_every_record_once(project: Path, tmp_path: Path) -> None:
    commits, failing = sweep(project, tmp_path, "crm")
    # At least: the sync log opened, three checkpointed batches (2 + 2 + 1 rows), the sync log closed.
    assert commits >= 5
    assert failing == []


def test_a_sync_killed_between_a_batch_and_its_quarantine_rows_loses_nothing(project: Path, tmp_path: Path) -> None:
    # A batch, its quarantine rows and its state commit together (issue 16, item 9): no commit in between
    # can be the one a kill lands before. Lost before that fix: the quarantine row of the broken line.
    commits, failing = sweep(project, tmp_path, "lines")
    assert commits >= 5  # the sync log opened, three batches of two lines, the sync log closed
    assert failing == []

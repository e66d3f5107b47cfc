"""`make chaos`: faults injected everywhere, then every source record accounted for exactly once.

    python -m bench.chaos [--min-faults 100] [--kills 100] [--pg-restarts 100] [--fault-rate 0.05]
                          [--entities 300] [--quick]

The demo's seven sources (three legacy systems and the WeCom, DingTalk, Fxiaoke and Kingdee
fakes) are synced by `hub run` processes that are killed with SIGKILL at random moments, while
the fakes answer a share of calls with HTTP 5xx, rate limits, revoked tokens and slow pages
(and serve one malformed record each), and, with a PostgreSQL warehouse, the server is stopped
and started again under the running sync. Runs go on until every fault kind was injected at
least `--min-faults` times; then runs finish undisturbed.

The reference is a fault-free `hub run` of the same sources into a fresh warehouse. Every
record of the reference must be in the chaos warehouse exactly once: landed in raw with the
same content, or quarantined with its reason; nothing lost, nothing doubled (raw, staging and
the xref are checked). The table of faults and records is printed and written to bench/results/,
and the command exits with 1 when a record was lost or doubled (so `make test` fails on it).

Crash points: for every source and every transaction its sync commits, a `hub connectors sync` is
killed just before that commit (`bench/crash_point.py`), then synced whole, and what the source's
records became is accounted against the reference. A JSON Lines export with broken lines is one of
the sources, so a kill between a batch's commit and the quarantine of its broken lines is among the
points. The short form (`--quick`) skips the sweep: `tests/bench/test_chaos.py` sweeps a small source.

    python -m bench.chaos --compare REFERENCE_URL URL [URL ...]

accounts warehouses already built against a reference (no faults, no runs) and exits like the suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
API_FAULTS = ("http_5xx", "rate_limited", "token_revoked", "slow")
LINES_SOURCE = "crm_lines"  # a JSON Lines export with broken lines: quarantined at extraction


@dataclass
class Tally:
    faults: Counter = field(default_factory=Counter)
    runs_started: int = 0
    runs_completed: int = 0
    runs_failed: int = 0


def _hub(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _project(tmp: Path, entities: int, url: str) -> Path:
    """The demo's sources over a fresh copy of its data, into `url`; the API connectors retry quickly
    (the fakes fail on purpose, and a slow back-off would only make the suite slower)."""
    import yaml

    from demo.generate import generate, write_demo

    if not (tmp / "data").exists():
        write_demo(tmp / "data", generate(n_entities=entities, seed=7))
    cfg = yaml.safe_load((REPO / "demo" / "hub.yaml").read_text(encoding="utf-8"))
    cfg["warehouse"] = {"url": url}
    # Client-side pacing lifted and long time windows: fewer, bigger requests, the same records.
    pacing = {"fxiaoke": {"calls_per_20s": 10_000, "logins_per_minute": 10_000, "slice_step": "P3650D"},
              "kingdee": {"slice_step": "P3650D"}, "dingtalk": {"qps_per_api": 10_000}}
    for src in cfg["sources"].values():
        if src["connector"] not in ("sql", "file"):
            src["config"].update({"max_retries": 8, "backoff_factor": 0.05, **pacing.get(src["connector"], {})})
    cfg.pop("marts", None)  # reference files are not what this suite is about
    lines = tmp / "data" / "crm_lines.jsonl"
    if not lines.exists():
        write_broken_lines(lines, entities)
    cfg["sources"][LINES_SOURCE] = {
        "connector": "file", "config": {"path": str(lines), "batch_size": 25},
        "streams": {"customers": {"primary_key": "id", "entity": "customer",
                                  "mapping": {"name": "name", "phone": "phone", "updated_at": "updated_at"}}}}
    path = tmp / f"hub-{abs(hash(url)) % 10_000}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_broken_lines(path: Path, n: int) -> None:
    """`n` customers as JSON Lines, every seventh line broken (cut off, or bytes that are not UTF-8)."""
    out = bytearray()
    for i in range(1, n + 1):
        line = json.dumps({"id": f"L{i:05d}", "name": f"线路测试{i}号贸易有限公司", "phone": f"1380000{i:04d}",
                           "updated_at": f"2024-03-{i % 28 + 1:02d} 10:00:00"}, ensure_ascii=False).encode()
        if i % 7 == 0:
            line = line[:-12] if i % 14 else line[:20] + b"\xff\xfe" + line[20:-1]
        out += line + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))


def _fault_counts(servers: dict) -> Counter:
    total: Counter = Counter()
    for srv in servers.values():
        total.update({k: int(v) for k, v in srv.stats().get("faults", {}).items()})
    return total


def _enough(tally: Tally, servers: dict, minimum: int, kills: int, pg_restarts: int, pg: bool) -> bool:
    counts = _fault_counts(servers)
    api = all(counts.get(k, 0) >= minimum for k in API_FAULTS)
    return api and tally.faults["sigkill"] >= kills and (not pg or tally.faults["postgres_restart"] >= pg_restarts)


def chaos_phase(cfg: Path, env: dict[str, str], servers: dict, tally: Tally, rng: random.Random,
                minimum: int, kills: int, pg_restarts: int, pg_dir: Path | None, max_minutes: float) -> None:
    """Runs disturbed by kills (and PostgreSQL restarts) at random moments until enough faults of every
    kind happened; runs after the last kill go undisturbed (the APIs keep failing at their rate)."""
    deadline = time.monotonic() + max_minutes * 60
    started = time.monotonic()
    finish(cfg, env, tally)  # one whole run first: its length sets the window for the kills
    span = time.monotonic() - started
    while not _enough(tally, servers, minimum, kills, pg_restarts, pg_dir is not None):
        if time.monotonic() > deadline:
            raise SystemExit(f"chaos: not enough faults after {max_minutes} minutes: {dict(tally.faults)} "
                             f"{dict(_fault_counts(servers))}")
        proc = _hub(["run", "-c", str(cfg)], env)
        tally.runs_started += 1
        want_pg = pg_dir is not None and tally.faults["postgres_restart"] < pg_restarts
        want_kill = tally.faults["sigkill"] < kills
        if want_pg or want_kill:
            time.sleep(rng.uniform(0.05, 0.95) * span)
            if proc.poll() is None and want_pg and (not want_kill or rng.random() < 0.5):
                assert pg_dir is not None
                subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "stop", str(pg_dir)], check=True)
                tally.faults["postgres_restart"] += 1
                time.sleep(rng.uniform(0.2, 1.0))
                subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "resume", str(pg_dir)], check=True)
            elif proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                tally.faults["sigkill"] += 1
        code = proc.wait()
        if code in (0, 4):
            tally.runs_completed += 1
        else:
            tally.runs_failed += 1
        print(f"chaos: {tally.runs_started} runs, injected {dict(tally.faults + _fault_counts(servers))}",
              file=sys.stderr, flush=True)


def finish(cfg: Path, env: dict[str, str], tally: Tally, attempts: int = 6) -> None:
    """Undisturbed runs until one ends with every source succeeded (faults in the APIs continue)."""
    for _ in range(attempts):
        tally.runs_started += 1
        if _hub(["run", "-c", str(cfg)], env).wait() in (0, 4):  # 4: ran, a data check failed
            tally.runs_completed += 1
            return
        tally.runs_failed += 1
    raise SystemExit(f"chaos: no clean run of {cfg} after {attempts} attempts")


def ledger(url: str) -> dict[str, object]:
    """What a warehouse holds: per raw table the latest (key, hash) of each record and how many copies of
    it landed; the distinct records quarantined before staging; and the doubles in staging and the xref."""
    from warehouse.engine import Warehouse

    wh = Warehouse(url)
    listed = wh.read_frame("SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "
                           "WHERE table_schema IN ('raw', 'staging', 'mdm')")["t"]
    tables = [t.split(".", 1)[1] for t in listed if t.startswith("raw.")]
    latest = {}
    for t in [t for t in tables if not t.startswith("_")]:
        latest[t] = wh.read_frame(
            f'SELECT _key, _hash, (SELECT count(*) FROM raw."{t}" c WHERE c._key = r._key AND c._hash = r._hash) '
            f'AS copies FROM raw."{t}" r WHERE _sync_id = (SELECT max(_sync_id) FROM raw."{t}" r2 '
            f"WHERE r2._key = r._key)")
    q = wh.read_frame("SELECT DISTINCT source || '__' || stream AS t, record FROM raw._quarantine "
                      "WHERE stage <> 'staging' AND reason NOT LIKE 'duplicate primary key%'")
    doubles = 0
    if "staging.customer" in set(listed):  # a warehouse that was only synced has no staging or xref yet
        d = wh.read_frame(
            "SELECT (SELECT count(*) FROM (SELECT source_name, stream, source_key FROM staging.customer "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d) AS staging, "
            "(SELECT count(*) FROM mdm.xref) - (SELECT count(*) FROM staging.customer) AS xref").iloc[0]
        doubles = int(d["staging"]) + abs(int(d["xref"]))
    wh.dispose()
    return {"latest": latest, "quarantine": set(zip(q["t"], q["record"], strict=True)), "doubles": doubles}


def account(reference: dict[str, object], chaos: dict[str, object], source: str | None = None) -> dict[str, int]:
    """Each record of the reference must be landed with the same content or quarantined, exactly once
    (of one `source` only, for a warehouse that synced only that source)."""
    ref_latest, got_latest = reference["latest"], chaos["latest"]
    assert isinstance(ref_latest, dict) and isinstance(got_latest, dict)
    mine = (lambda t: True) if source is None else (lambda t: t.startswith(f"{source}__"))
    expected = landed = lost = doubled = 0
    for table, ref in ref_latest.items():
        if not mine(table):
            continue
        got = got_latest.get(table, pd.DataFrame(columns=["_key", "_hash", "copies"]))
        want = set(zip(ref["_key"], ref["_hash"], strict=True))
        have = set(zip(got["_key"], got["_hash"], strict=True))
        expected += len(want)
        landed += len(want & have)
        lost += len(want - have)
        doubled += int((got.drop_duplicates("_key")["copies"] > 1).sum())  # records, not rows
    ref_q, got_q = reference["quarantine"], chaos["quarantine"]
    assert isinstance(ref_q, set) and isinstance(got_q, set)
    ref_q = {q for q in ref_q if mine(q[0])}
    expected += len(ref_q)
    quarantined = len(ref_q & got_q)
    lost += len(ref_q - got_q)
    doubled += int(chaos["doubles"])  # type: ignore[call-overload]
    return {"expected": expected, "landed": landed, "quarantined": quarantined, "lost": lost, "doubled": doubled}


def verdict(results: dict[str, dict[str, int]]) -> int:
    """0 when every warehouse holds every record exactly once; else 1, each loss or double said on stderr."""
    bad = {wh: r for wh, r in results.items() if r["lost"] or r["doubled"]}
    for wh, r in bad.items():
        print(f"chaos: FAILED on {wh}: {r['lost']:,} record(s) lost, {r['doubled']:,} doubled "
              f"(of {r['expected']:,})", file=sys.stderr)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.chaos")
    ap.add_argument("--min-faults", type=int, default=100, help="API faults of each kind to inject at least")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--pg-restarts", type=int, default=100)
    ap.add_argument("--fault-rate", type=float, default=0.05)
    ap.add_argument("--entities", type=int, default=300)
    ap.add_argument("--max-minutes", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-crash-points", dest="crash_points", action="store_false",
                    help="skip the sweep that kills a sync at each of its commits")
    ap.add_argument("--only-crash-points", action="store_true", help="only the sweep (no faults, no kills)")
    ap.add_argument("--quick", action="store_true", help="the short form run by `make test`")
    ap.add_argument("--compare", nargs="+", metavar="URL",
                    help="account the warehouses at the second and later URLs against the first and exit")
    args = ap.parse_args(argv)
    if args.compare:
        if len(args.compare) < 2:
            ap.error("--compare needs a reference URL and at least one URL to check")
        reference = ledger(args.compare[0])
        results = {_display(url): account(reference, ledger(url)) for url in args.compare[1:]}
        print("\n".join(_result_rows(results)))
        raise SystemExit(verdict(results))
    if args.quick:
        args.min_faults, args.kills, args.pg_restarts, args.fault_rate, args.entities = 3, 2, 1, 0.04, 60
        args.crash_points = False
    report, results = run(args)
    print(report)
    if not args.quick:  # the short form runs in every `make test`: its table is not kept
        out = REPO / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
        kind = "crash-points" if args.only_crash_points else "full"
        (out / f"chaos-{kind}-{stamp}.md").write_text(report, encoding="utf-8")
    raise SystemExit(verdict(results))


def _display(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def crash_sweep(tmp: Path, cfg: Path, env: dict[str, str], reference: dict[str, object], sources: list[str],
                tally: Tally) -> tuple[dict[str, int], list[str]]:
    """For each source and each commit k of its sync: a fresh DuckDB warehouse, `hub connectors sync` killed
    just before commit k, then a whole sync; the source's records are accounted against the reference.
    Returns the summed account and the crash points that lost or doubled records."""
    from bench.crash_point import KILLED
    from core.config_file import load_config
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    def crash_point(kill_at: str, url: str, source: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench.crash_point", kill_at, "connectors", "sync", "-c",
                               str(cfg), "--warehouse", url, "--source", source], cwd=REPO, env=env,
                              capture_output=True, text=True)

    logging.disable(logging.CRITICAL)  # the resumed syncs' connector logs, the fakes' disconnected clients
    total: Counter = Counter()
    failing: list[str] = []
    for source in sources:
        counted = crash_point("0", f"duckdb:///{tmp / f'count-{source}.duckdb'}", source)
        commits = int(counted.stderr.rsplit("commits:", 1)[1].split()[0])
        killed = crash_point(f"1-{commits}", f"duckdb:///{tmp}/crash-{source}-{{n}}.duckdb", source)
        status = dict(line.split() for line in killed.stdout.splitlines())
        for k in range(1, commits + 1):
            db = tmp / f"crash-{source}-{k}.duckdb"
            tally.runs_started += 2
            tally.faults["crash_point"] += status.get(str(k)) == str(KILLED)
            tally.runs_failed += 1
            wh = Warehouse(f"duckdb:///{db}")
            resumed = sync_source(load_config(cfg, env=env, warehouse_url=wh.url), wh, source)  # the next sync
            wh.dispose()
            if resumed.status == "succeeded":
                tally.runs_completed += 1
            else:
                tally.runs_failed += 1
            r = account(reference, ledger(f"duckdb:///{db}"), source=source)
            total.update(r)
            if r["lost"] or r["doubled"]:
                failing.append(f"{source} killed before commit {k} of {commits}: {r['lost']} lost, "
                               f"{r['doubled']} doubled")
            db.unlink(missing_ok=True)
            Path(f"{db}.wal").unlink(missing_ok=True)
        print(f"chaos: crash points of {source}: {commits} commits swept", file=sys.stderr, flush=True)
    logging.disable(logging.NOTSET)
    return dict(total), failing


def run(args: argparse.Namespace) -> tuple[str, dict[str, dict[str, int]]]:
    from connectors.fakes.serve import VENDOR_NAMES, build_server, demo_env

    rng = random.Random(args.seed)
    faults = {"error_5xx_rate": args.fault_rate, "rate_limit_rate": args.fault_rate, "revoke_rate": args.fault_rate,
              "slow_rate": args.fault_rate, "slow_ms": 300, "malformed_record": True, "seed": args.seed}
    failing: list[str] = []
    ledgers: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="hub-chaos-") as d:
        tmp = Path(d)
        os.chmod(tmp, 0o755)
        servers = {v: build_server(v, entities=args.entities, seed=7, faults=faults) for v in VENDOR_NAMES}
        for srv in servers.values():
            srv.start()
        try:
            env = {**os.environ, **demo_env({v: srv.url for v, srv in servers.items()})}
            tally = Tally()
            if not args.only_crash_points:
                # Phase 1: the embedded DuckDB warehouse.
                duck = f"duckdb:///{tmp / 'chaos.duckdb'}"
                cfg = _project(tmp, args.entities, duck)
                chaos_phase(cfg, env, servers, tally, rng, args.min_faults // 2, args.kills // 2, 0, None,
                            args.max_minutes)
                finish(cfg, env, tally)
                ledgers["DuckDB"] = ledger(duck)
                # Phase 2: PostgreSQL, killed and restarted under the runs.
                pg_dir = tmp / "pg"
                pg_url = subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "start", str(pg_dir)],
                                        check=True, capture_output=True, text=True).stdout.strip()
                try:
                    pg_cfg = _project(tmp, args.entities, pg_url)
                    chaos_phase(pg_cfg, env, servers, tally, rng, args.min_faults, args.kills, args.pg_restarts,
                                pg_dir, args.max_minutes)
                    finish(pg_cfg, env, tally)
                    ledgers["PostgreSQL"] = ledger(pg_url)
                finally:
                    subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "stop", str(pg_dir)], check=False)
            # The reference: the same sources, no faults at all, a fresh warehouse.
            for srv in servers.values():
                srv.set_faults(error_5xx_rate=0, rate_limit_rate=0, revoke_rate=0, slow_rate=0)
            ref_url = f"duckdb:///{tmp / 'reference.duckdb'}"
            ref_cfg = _project(tmp, args.entities, ref_url)
            finish(ref_cfg, env, Tally(), attempts=2)
            reference = ledger(ref_url)
            results = {name: account(reference, got) for name, got in ledgers.items()}
            # Phase 3: a sync killed at each of its commits, source by source (the APIs without faults).
            if args.crash_points:
                import yaml

                sources = list(yaml.safe_load(ref_cfg.read_text(encoding="utf-8"))["sources"])
                results["DuckDB, crash points"], failing = crash_sweep(tmp, ref_cfg, env, reference, sources, tally)
            injected = _fault_counts(servers) + tally.faults
        finally:
            for srv in servers.values():
                srv.stop()
    return table(args, injected, tally, results, failing), results


def _result_rows(results: dict[str, dict[str, int]]) -> list[str]:
    rows = ["| warehouse | records expected | landed | quarantined | lost | doubled |",
            "|---|---:|---:|---:|---:|---:|"]
    for wh, r in results.items():
        rows.append(f"| {wh} | {r['expected']:,} | {r['landed']:,} | {r['quarantined']:,} | **{r['lost']}** "
                    f"| **{r['doubled']}** |")
    return rows


def table(args: argparse.Namespace, injected: Counter, tally: Tally, results: dict[str, dict[str, int]],
          failing: list[str]) -> str:
    lines = [f"# chaos — {dt.datetime.now():%Y-%m-%d %H:%M}", "",
             f"Command: `python -m bench.chaos{' --quick' if args.quick else ''}"
             f"{' --only-crash-points' if args.only_crash_points else ''}` (fault rate {args.fault_rate}, "
             f"{args.entities} companies in the demo universe)", "",
             "| fault | injected |", "|---|---:|"]
    names = {"sigkill": "SIGKILL of `hub run`", "postgres_restart": "PostgreSQL stopped and restarted mid-run",
             "crash_point": "sync killed just before one of its commits (each commit of each source)",
             "http_5xx": "HTTP 5xx from an API", "rate_limited": "rate limit (429 / vendor code)",
             "token_revoked": "token revoked before its expiry", "slow": "slow response",
             "malformed": "malformed record"}
    for k, label in names.items():
        lines.append(f"| {label} | {injected.get(k, 0):,} |")
    lines += ["", f"Runs: {tally.runs_started} started, {tally.runs_completed} completed, {tally.runs_failed} killed "
                  "or failed; every killed run was followed by one that resumed.", "", *_result_rows(results)]
    if failing:
        lines += ["", "Crash points that lost or doubled records:", "", *[f"- {f}" for f in failing]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

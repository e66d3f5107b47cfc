"""The scale benchmark: `hub run` on generated sources of 1M, 3M, 10M customer records, first and nightly runs.

    python -m bench.scale [--records 1000000,3000000] [--postgres] [--no-splink] [--workdir bench/work]

For each size, the demo generator writes the three legacy systems of `../shared/data/b2b_dev` (CRM A in
SQLite, CRM B as a GBK CSV export, the ERP in SQLite with about one order per customer) under `--workdir`
(kept between runs: generating 10M records takes minutes), with a hub.yaml of the same shape (orders read
incrementally on their modification time). Then, each `hub run` in its own process (wall time and its own
peak memory, phases from its summary):

1. the first run, and the pairwise F1 of `mdm.xref` against the generator's truth;
2. a rerun with nothing changed;
3. a rerun after 1% of the customer records changed (CRM A rows: a phone and the change time);
4. a rerun after 0.1% of the customer records were deleted (rows removed from CRM B's export).

With `--postgres` the smallest size also runs on a throw-away PostgreSQL server. Splink 5 runs on the same
files in the same run (`bench/splink_files.py`: load, standardize, train, predict, cluster) for the first-run
row of the smallest size. The table is printed and written to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from bench.__main__ import machine, run_child, save_results

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
RECORDS_PER_ENTITY = 2.4515  # the generator's customer records per company (CRM A + CRM B + ERP, duplicates incl.)
HUB_YAML = """\
warehouse: {url: "duckdb:///hub.duckdb"}
sources:
  crm_a:
    connector: sql
    config: {url: "sqlite:///crm_a.sqlite"}
    streams:
      customers:
        table: t_customer
        primary_key: cust_id
        cursor_field: updated_at
        entity: customer
        mapping: {name: cust_name, uscc: tax_code, phone: tel, address: address, contact_name: contact_name,
                  owner: owner, updated_at: updated_at}
  crm_b:
    connector: file
    config: {path: crm_b_export.csv, format: csv, encoding: gbk}
    streams:
      customers:
        primary_key: 客户编号
        entity: customer
        mapping: {name: 客户名称, uscc: 统一社会信用代码, phone: 联系电话, address: 详细地址, contact_name: 联系人,
                  owner: 所属销售, updated_at: 最后修改时间}
  erp:
    connector: sql
    config: {url: "sqlite:///erp.sqlite"}
    streams:
      customers:
        table: T_BD_CUSTOMER
        primary_key: FCUSTID
        cursor_field: FMODIFYDATE
        entity: customer
        mapping: {name: FNAME, short_name: FSHORTNAME, uscc: FTAXREGISTERCODE, address: FADDRESS, phone: FTEL,
                  customer_number: FNUMBER, updated_at: FMODIFYDATE}
      sales_reps:
        table: T_BD_SALESMAN
        primary_key: FID
        entity: sales_rep
        mapping: {rep_key: FID, name: FNAME, team: FDEPT}
      sales_orders:
        table: T_SAL_ORDER
        primary_key: FID
        cursor_field: FMODIFYDATE
        entity: sales_order
        mapping: {order_number: FBILLNO, customer_key: FCUSTID, order_date: FDATE, rep_key: FSALERID,
                  amount: FAMOUNT, status: FSTATUS}
mdm:
  customer:
    source_priority: [erp, crm_a, crm_b]
"""


def generate(records: int, folder: Path) -> Path:
    """The sources of about `records` customer records (generated once, in a child process: `in_child`; reused
    while the folder exists)."""
    done = folder / "generated.json"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        in_child(write_sources, records, folder)
        done.write_text(json.dumps({"records": records}), encoding="utf-8")
    for name in ("crm_a.sqlite", "crm_b_export.csv"):  # pristine copies: every benchmark starts from them
        pristine = folder / f"{name}.pristine"
        if not pristine.exists():
            pristine.write_bytes((folder / name).read_bytes())
    return folder


def in_child(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a fresh process: what it allocates (gigabytes for 10M generated records or their F1) is not
    kept by the benchmark's own process, whose memory the measured `hub run`s would otherwise not have."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def write_sources(records: int, folder: Path) -> None:
    """Generate the sources of about `records` customer records into `folder`."""
    from demo.generate import generate as make
    from demo.generate import write_demo

    entities = math.ceil(records / RECORDS_PER_ENTITY)
    if entities <= CHUNK_ENTITIES:
        write_demo(folder, make(n_entities=entities, seed=7))
    else:
        write_in_chunks(folder, entities)


CHUNK_ENTITIES = 1_300_000  # one generator call holds a whole universe: 4M companies took 18.8 GB and were killed


def write_in_chunks(folder: Path, entities: int) -> None:
    """The sources of `entities` companies as universes of at most CHUNK_ENTITIES each (seeds 7000, 7001, …),
    appended to the same files with keys, order numbers and entity IDs made unique by the chunk's number. Companies
    of different chunks are different companies (a few may share a name or a tax code by chance, as in life)."""
    from demo.generate import _SCHEMAS
    from demo.generate import generate as make

    n_chunks = math.ceil(entities / CHUNK_ENTITIES)
    for path in ("crm_a.sqlite", "erp.sqlite", "crm_b_export.csv", "truth.csv", "entities.csv"):
        (folder / path).unlink(missing_ok=True)
    with sqlite3.connect(folder / "crm_a.sqlite") as a, sqlite3.connect(folder / "erp.sqlite") as e:
        for name, con in (("t_customer", a), ("t_user", a), ("T_BD_CUSTOMER", e), ("T_BD_SALESMAN", e),
                          ("T_SAL_ORDER", e)):
            con.execute(f"CREATE TABLE {name} ({_SCHEMAS[name]})")
    for i in range(n_chunks):
        n = min(CHUNK_ENTITIES, entities - i * CHUNK_ENTITIES)
        print(f"  generating chunk {i + 1} of {n_chunks}: {n:,} companies ...", flush=True)
        d = make(n_entities=n, seed=7000 + i)
        off = i * 100_000_000
        d.crm_a["cust_id"] += off
        d.crm_b["客户编号"] = f"KH{i:02d}" + d.crm_b["客户编号"].str.removeprefix("KH")
        d.erp_customers["FCUSTID"] += off
        d.erp_customers["FNUMBER"] = f"CUST{i:02d}" + d.erp_customers["FNUMBER"].str.removeprefix("CUST")
        d.erp_orders["FID"] += off
        d.erp_orders["FCUSTID"] += off
        d.erp_orders["FBILLNO"] = d.erp_orders["FBILLNO"] + f"-{i:02d}"
        for src in ("crm_a", "crm_b", "erp"):
            rows = d.truth["source_name"] == src
            k = d.truth.loc[rows, "source_key"]
            d.truth.loc[rows, "source_key"] = (f"KH{i:02d}" + k.str.removeprefix("KH") if src == "crm_b"
                                               else (k.astype(int) + off).astype(str))
        d.truth["entity_id"] = f"C{i:02d}" + d.truth["entity_id"]
        u = d.universe[["entity_id", "legal_name", "uscc", "kind", "parent_entity_id", "city"]].copy()
        u["entity_id"] = f"C{i:02d}" + u["entity_id"]
        parent = u["parent_entity_id"]
        u["parent_entity_id"] = (f"C{i:02d}" + parent.astype(str)).where(parent.notna() & (parent != ""), None)
        with sqlite3.connect(folder / "crm_a.sqlite") as a, sqlite3.connect(folder / "erp.sqlite") as e:
            for name, con, df in (("t_customer", a, d.crm_a), ("T_BD_CUSTOMER", e, d.erp_customers),
                                  ("T_SAL_ORDER", e, d.erp_orders)) + ((("t_user", a, d.crm_a_users),
                                                                        ("T_BD_SALESMAN", e, d.erp_salesmen))
                                                                       if i == 0 else ()):
                con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * df.shape[1])})",
                                df.astype(object).itertuples(index=False, name=None))
        first = i == 0
        d.crm_b.to_csv(folder / "crm_b_export.csv", index=False, encoding="gbk", mode="w" if first else "a",
                       header=first)
        d.truth.to_csv(folder / "truth.csv", index=False, mode="w" if first else "a", header=first)
        u.to_csv(folder / "entities.csv", index=False, mode="w" if first else "a", header=first)
        del d, u


def reset(folder: Path, url: str) -> Path:
    """A fresh scenario in `folder`: sources as generated, an empty warehouse; returns the config."""
    for name in ("crm_a.sqlite", "crm_b_export.csv"):
        (folder / name).write_bytes((folder / f"{name}.pristine").read_bytes())
    for f in folder.glob("hub.duckdb*"):
        f.unlink()
    cfg = folder / "hub.yaml"
    cfg.write_text(HUB_YAML.replace("duckdb:///hub.duckdb", url), encoding="utf-8")
    return cfg


def hub_run(cfg: Path) -> dict:
    """One `hub run`: wall, peak memory, phases, golden customers, and what the run says it did."""
    hub = str(Path(sys.executable).parent / "hub")
    wall, peak, out = run_child([hub, "run", "-c", str(cfg)])
    phases = dict(re.findall(r"(\w+) ([\d.]+)s", (re.search(r"^phases: (.*)$", out, re.M) or [""])[0]))
    golden = re.search(r"golden customers: ([\d,]+) from ([\d,]+)", out)
    result = {"wall_s": wall, "peak_mb": peak, "phases": {k: float(v) for k, v in phases.items()},
              "golden": int(golden.group(1).replace(",", "")) if golden else None,
              "records": int(golden.group(2).replace(",", "")) if golden else None}
    print(f"    {wall:.1f} s, {peak:,} MB, phases {result['phases']}", flush=True)
    return result


def change_one_percent(folder: Path, records: int) -> int:
    """1% of all customer records changed in CRM A (a phone digit and the change time)."""
    k = records // 100
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # (a cursor value in the future is not saved)
    with sqlite3.connect(folder / "crm_a.sqlite") as con:
        con.execute("UPDATE t_customer SET tel = COALESCE(tel, '') || '9', updated_at = ? "
                    "WHERE cust_id IN (SELECT cust_id FROM t_customer ORDER BY cust_id LIMIT ?)", (now, k))
    return k


def delete_a_tenth_of_a_percent(folder: Path, records: int) -> int:
    """0.1% of all customer records removed from CRM B's export (every n-th row)."""
    path = folder / "crm_b_export.csv"
    lines = path.read_bytes().split(b"\n")
    header, rows = lines[0], [r for r in lines[1:] if r]
    k = max(records // 1000, 1)
    step = max(len(rows) // k, 1)
    keep = [r for i, r in enumerate(rows) if i % step or i // step >= k]
    path.write_bytes(b"\n".join([header, *keep]) + b"\n")
    return len(rows) - len(keep)


def f1(cfg: Path, folder: Path, url: str) -> dict:
    from mdm.evaluate import pairwise_scores
    from warehouse.engine import Warehouse

    wh = Warehouse(url if not url.startswith("duckdb:///") else f"duckdb:///{folder / url[len('duckdb:///'):]}")
    x = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    wh.dispose()
    truth = pd.read_csv(folder / "truth.csv", dtype=str)
    both = truth.merge(x, on=["source_name", "stream", "source_key"])
    s = pairwise_scores(both["golden_id"], both["entity_id"])
    return {"f1": s.f1, "precision": s.precision, "recall": s.recall}


PENDING_AUTOVACUUM = """
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database())
     + (SELECT count(*) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE c.relpersistence = 'p' AND (
              s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float
                + current_setting('autovacuum_vacuum_scale_factor')::float * GREATEST(c.reltuples, 0)
           OR s.n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float
                + current_setting('autovacuum_vacuum_insert_scale_factor')::float * GREATEST(c.reltuples, 0)
           OR s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float
                + current_setting('autovacuum_analyze_scale_factor')::float * GREATEST(c.reltuples, 0)))
"""


def settle(url: str, limit: float = 600.0) -> float:
    """On PostgreSQL, wait until autovacuum has caught up with the last run (no worker at work, no table past its
    vacuum or analyze threshold), as a nightly run finds the server a day after the last; returns the seconds waited
    (0 on DuckDB, which has no background work: its checkpoints are inside the runs)."""
    if not url.startswith("postgres"):
        return 0.0
    import time

    from warehouse.engine import make_engine, value

    engine = make_engine(url)
    started, quiet = time.monotonic(), 0
    try:
        while time.monotonic() - started < limit and quiet < 2:
            with engine.connect() as conn:
                pending = int(value(conn, PENDING_AUTOVACUUM) or 0)
            quiet = quiet + 1 if not pending else 0
            time.sleep(5)
    finally:
        engine.dispose()
    waited = time.monotonic() - started
    print(f"    (autovacuum caught up after {waited:.0f} s)", flush=True)
    return waited


def scenario(folder: Path, records: int, url: str) -> dict:
    """The four runs of one size and warehouse; on PostgreSQL each rerun starts once autovacuum has caught up with
    the run before (`settle`)."""
    cfg = reset(folder, url)
    out: dict = {"records": records, "warehouse": url.split(":", 1)[0], "settled_s": []}
    print(f"  first run ({url.split(':', 1)[0]}) ...", flush=True)
    out["first"] = hub_run(cfg)
    out["quality"] = in_child(f1, cfg, folder, url)
    out["settled_s"].append(settle(url))
    print("  rerun, nothing changed ...", flush=True)
    out["nochange"] = hub_run(cfg)
    out["changed"] = change_one_percent(folder, records)
    out["settled_s"].append(settle(url))
    print(f"  rerun, {out['changed']:,} changed ...", flush=True)
    out["change"] = hub_run(cfg)
    out["deleted"] = delete_a_tenth_of_a_percent(folder, records)
    out["settled_s"].append(settle(url))
    print(f"  rerun, {out['deleted']:,} deleted ...", flush=True)
    out["delete"] = hub_run(cfg)
    return out


def splink(folder: Path, workdir: Path) -> dict:
    from mdm.evaluate import pairwise_scores

    res = workdir / "splink.json"
    wall, peak, _ = run_child([sys.executable, "-m", "bench.splink_files", "--data", str(folder), "--output",
                               str(res)])
    sp = json.loads(res.read_text())
    labels = pd.read_parquet(res.with_suffix(".labels.parquet"))
    truth = pd.read_csv(folder / "truth.csv", dtype=str)
    truth["record_id"] = truth["source_name"] + ":" + truth["stream"] + ":" + truth["source_key"]
    both = truth.merge(labels, on="record_id")
    s = pairwise_scores(both["cluster_id"], both["entity_id"])
    return {"wall_s": wall, "peak_mb": peak, "standardize_s": sp["standardize_s"], "load_s": sp["load_s"],
            "f1": s.f1, "precision": s.precision, "recall": s.recall}


def postgres_url(tmp: Path) -> tuple[str, Path]:
    url = subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "start", str(tmp / "pg")], check=True,
                         capture_output=True, text=True).stdout.strip()
    return url, tmp / "pg"


def markdown(results: list[dict], sp: dict | None, command: str) -> str:
    lines = [f"# customer hub scale benchmark — {dt.datetime.now():%Y-%m-%d %H:%M}", "",
             f"Machine: {machine()}", "", f"Command: `{command}`", "",
             "| records | warehouse | run | wall | peak memory | sync | stage | match | marts | F1 |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        first = r["first"]["wall_s"]
        for key, label in (("first", "first run"), ("nochange", "rerun, nothing changed"),
                           ("change", f"rerun, {r['changed']:,} changed (1%)"),
                           ("delete", f"rerun, {r['deleted']:,} deleted (0.1%)")):
            run = r[key]
            p = run["phases"]
            share = "" if key == "first" else f" ({run['wall_s'] / first:.0%})"
            quality = f"{r['quality']['f1']:.4f}" if key == "first" else ""
            lines.append(f"| {r['records']:,} | {r['warehouse']} | {label} | {run['wall_s']:.1f} s{share} | "
                         f"{run['peak_mb']:,} MB | {p.get('sync', 0):.1f} | {p.get('stage', 0):.1f} | "
                         f"{p.get('match', 0):.1f} | {p.get('marts', 0):.1f} | {quality} |")
    if sp:
        lines.append(f"| {results[0]['records']:,} | Splink 5 (DuckDB) | from the files: load {sp['load_s']:.1f} s, "
                     f"standardize {sp['standardize_s']:.1f} s, train, predict, cluster | {sp['wall_s']:.1f} s | "
                     f"{sp['peak_mb']:,} MB | | | | | {sp['f1']:.4f} |")
    waits = [f"{', '.join(f'{w:.0f}' for w in r['settled_s'])} s" for r in results if any(r.get("settled_s") or [])]
    lines += ["", "Percentages: the rerun's wall time against the first run of the same size and warehouse. "
              "Phases in seconds as `hub run` reports them; the wall time also counts start-up." + (
                  " On PostgreSQL each rerun starts once autovacuum has caught up with the run before, as a nightly "
                  f"run finds the server (waited {'; '.join(waits)})." if waits else "")]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scale")
    ap.add_argument("--records", default="1000000", help="comma-separated sizes, e.g. 1000000,3000000,10000000")
    ap.add_argument("--postgres", action="store_true", help="the smallest size on PostgreSQL too")
    ap.add_argument("--no-splink", action="store_true")
    ap.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB runs (with --postgres: PostgreSQL only)")
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "work")
    args = ap.parse_args()
    sizes = [int(s) for s in args.records.split(",")]
    results, sp = [], None
    for n in sizes:
        folder = generate(n, args.workdir / f"scale-{n}")
        print(f"{n:,} customer records in {folder}", flush=True)
        if not args.no_duckdb:
            results.append(scenario(folder, n, "duckdb:///hub.duckdb"))
        if n == min(sizes) and not args.no_splink:
            print("  Splink 5 on the same files ...", flush=True)
            try:
                sp = splink(folder, folder)
            except RuntimeError as e:  # (splink comes with `make bench`: pip install -e '.[bench]')
                print(f"  Splink failed: {str(e)[-500:]}", flush=True)
        if n == min(sizes) and args.postgres:
            with tempfile.TemporaryDirectory(prefix="hub-bench-pg-") as d:
                os.chmod(d, 0o755)
                url, pg = postgres_url(Path(d))
                try:
                    results.append(scenario(folder, n, url))
                finally:
                    subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "stop", str(pg)], check=False)
    text = markdown(results, sp, "python -m bench.scale " + " ".join(sys.argv[1:]))
    print(text)
    save_results("scale", text, {"results": results, "splink": sp})


if __name__ == "__main__":
    main()

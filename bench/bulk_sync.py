"""Bulk connector throughput: a CSV export, a SQLite table and a PostgreSQL table of N rows synced into DuckDB.

    python -m bench.bulk_sync [--rows 1000000] [--no-postgres]

Each source is synced twice through `pipelines.sync.sync_source` into a fresh DuckDB warehouse: the first
sync lands every row, the second (nothing changed) reads the table again (no cursor) or skips the unchanged
file. The CSV is GBK-encoded with Chinese headers, as the legacy exports are. The PostgreSQL table is on a
throw-away server on loopback (`scripts/pg-test-server.sh`, as the tests start it). CPU seconds (all threads of
the process, not the database server's) are printed beside wall seconds: on a shared machine they are the steadier
figure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


def make_rows(n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    return pa.table({
        "客户编号": pa.array([f"KH{i:08d}" for i in ids]),
        "客户名称": pa.array([f"厦门优润{i % 9973}包装材料有限公司" for i in ids]),
        "联系电话": pa.array([f"0592-{x:08d}" for x in rng.integers(0, 10**8, n)]),
        "金额": pa.array([f"{x / 100:.2f}" for x in rng.integers(0, 10**9, n)]),
        "最后修改时间": pa.array([f"2024-{(i % 12) + 1:02d}-{(i % 28) + 1:02d} 10:00:00" for i in ids]),
    })


def write_sources(folder: Path, n: int) -> tuple[Path, Path]:
    table = make_rows(n)
    csv = folder / "export.csv"
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="none"))
    csv.write_bytes(buf.getvalue().to_pybytes().decode("utf-8").encode("gbk"))
    db = folder / "crm.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t_customer (cust_id TEXT PRIMARY KEY, cust_name TEXT, tel TEXT, amount NUMERIC, "
                "updated_at TEXT)")
    con.executemany("INSERT INTO t_customer VALUES (?, ?, ?, ?, ?)", zip(*[c.to_pylist() for c in table.columns],
                                                                       strict=True))
    con.commit()
    con.close()
    return csv, db


def fill_postgres(url: str, n: int) -> None:
    """The same rows in a PostgreSQL table `t_customer`, loaded by COPY."""
    import psycopg

    table = make_rows(n)
    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        con.execute("DROP TABLE IF EXISTS t_customer")
        con.execute("CREATE TABLE t_customer (cust_id TEXT PRIMARY KEY, cust_name TEXT, tel TEXT, amount NUMERIC, "
                    "updated_at TEXT)")
        with con.cursor().copy("COPY t_customer FROM STDIN (FORMAT csv)") as copy:
            copy.write(buf.getvalue().to_pybytes())
        con.execute("ANALYZE t_customer")


def sync_twice(cfg_data: dict, source: str, folder: Path) -> dict[str, float]:
    from core.config import HubConfig
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    cfg = HubConfig.model_validate(cfg_data)
    wh = Warehouse(f"duckdb:///{folder / f'{source}.duckdb'}")
    out: dict[str, float] = {}
    try:
        for run in ("first", "unchanged"):
            t, cpu = time.perf_counter(), time.process_time()
            r = sync_source(cfg, wh, source, progress=lambda _: None)
            if r.status != "succeeded":
                raise RuntimeError(f"{source}: {r.error}")
            out[run] = time.perf_counter() - t
            out[f"{run}_cpu"] = time.process_time() - cpu
            out[f"{run}_loaded"] = r.stats.loaded
    finally:
        wh.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL table")
    args = parser.parse_args(argv)
    import pipelines.sync  # noqa: F401 - importing airbyte-cdk sets its logger to INFO

    logging.getLogger("airbyte").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hub-bench-bulk-") as tmp:
        folder = Path(tmp)
        csv, db = write_sources(folder, args.rows)
        runs = {
            "csv (GBK)": sync_twice({"sources": {"exp": {"connector": "file", "config": {
                "path": str(csv), "encoding": "gbk"}, "streams": {"customers": {"primary_key": "客户编号"}}}}},
                "exp", folder),
            "sqlite table": sync_twice({"sources": {"crm": {"connector": "sql", "config": {
                "url": f"sqlite:///{db}"}, "streams": {"customers": {"table": "t_customer",
                                                                      "primary_key": "cust_id"}}}}}, "crm", folder),
        }
        if not args.no_postgres:
            from bench.scale import REPO, postgres_url

            os.chmod(folder, 0o755)  # (the server runs as the postgres user when we are root)
            url, pg = postgres_url(folder)
            try:
                fill_postgres(url, args.rows)
                runs["postgresql table"] = sync_twice({"sources": {"pg": {"connector": "sql", "config": {
                    "url": url}, "streams": {"customers": {"table": "t_customer", "primary_key": "cust_id"}}}}},
                    "pg", folder)
            finally:
                subprocess.run([str(REPO / "scripts" / "pg-test-server.sh"), "stop", str(pg)], check=False)
    print("| source | rows | first sync: wall s | CPU s | rows/s | unchanged re-sync: wall s | CPU s |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {int(r['first_loaded']):,} | {r['first']:.1f} | {r['first_cpu']:.1f} "
              f"| {r['first_loaded'] / r['first']:,.0f} | {r['unchanged']:.1f} | {r['unchanged_cpu']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

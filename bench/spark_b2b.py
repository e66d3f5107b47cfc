"""b2b_dev on both engines: `hub run --engine duckdb` and `hub run --engine spark` (local[2]) on its three sources,
every row of the contract tables compared (DuckDB engine = Spark engine), then the Spark run again (nothing rebuilt).

    python -m bench.spark_b2b [--data ../shared/data/b2b_dev] [--master 'local[2]']

Each engine builds its own warehouse in a temporary folder (b2b_dev's folder is only read). Compared as multisets,
every column but the run's time stamp (`updated_at`): mdm.xref, mdm.golden_customer, mdm.customer_hierarchy and every
mart (as `tests/pipelines/test_spark_engine.py` does on the demo). Writes bench/results/spark-b2b_dev-<stamp>.md and
exits 1 when a table differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
B2B = REPO.parent / "shared" / "data" / "b2b_dev"
RUN_STAMPS = {"updated_at"}


def config_for(data: Path, tmp: Path, master: str) -> Path:
    """b2b_dev's hub.yaml with its paths made absolute, the warehouse in `tmp` and the Spark engine."""
    from core.config_file import _resolve_paths

    cfg = yaml.safe_load((data / "hub.yaml").read_text(encoding="utf-8"))
    _resolve_paths(cfg, data)
    cfg["warehouse"]["url"] = f"duckdb:///{tmp / 'spark_w.duckdb'}"
    cfg["engine"] = {"kind": "spark", "master": master, "location": str(tmp / "lake")}
    path = tmp / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def hub_run(args: list[str]) -> tuple[float, int, str]:
    """`hub run ARGS`: wall seconds, exit code, the output's tail."""
    hub = str(Path(sys.executable).parent / "hub")
    started = time.perf_counter()
    proc = subprocess.run([hub, "run", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, proc.returncode, (proc.stdout + proc.stderr)[-2000:]


def compare(duck: Path, lake: Path) -> list[dict]:
    """Per contract table: rows, rows only the DuckDB engine's has, rows only the Spark engine's has."""
    import duckdb

    from pipelines.publish import MARTS

    con = duckdb.connect()
    con.execute(f"ATTACH '{duck}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{lake / 'lakehouse.duckdb'}' AS s (READ_ONLY)")
    out = []
    for schema, table in [("mdm", "xref"), ("mdm", "golden_customer"), ("mdm", "customer_hierarchy"),
                          *[("marts", m) for m in MARTS]]:
        try:
            cols = [r[0] for r in con.execute(f"DESCRIBE d.{schema}.{table}").fetchall() if r[0] not in RUN_STAMPS]
            sel = ", ".join(f'"{c}"' for c in cols)
            n = con.execute(f"SELECT count(*) FROM d.{schema}.{table}").fetchone()[0]
            only_d, only_s = (con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM {a}.{schema}.{table} EXCEPT ALL "
                                          f"SELECT {sel} FROM {b}.{schema}.{table})").fetchone()[0]
                              for a, b in (("d", "s"), ("s", "d")))
            out.append({"table": f"{schema}.{table}", "rows": n, "only_duckdb": only_d, "only_spark": only_s})
        except duckdb.Error as e:
            out.append({"table": f"{schema}.{table}", "error": str(e).splitlines()[0][:200]})
    con.close()
    return out


def table(r: dict) -> str:
    same = [t for t in r["tables"] if t.get("only_duckdb") == 0 and t.get("only_spark") == 0]
    lines = [f"## b2b_dev on both engines (`hub run --engine duckdb` against `--engine spark`, {r['master']})", "",
             f"{r['machine']}; {r['when']}.", "",
             f"- DuckDB engine: {r['duckdb_wall_s']:.1f} s (exit {r['duckdb_exit']}); Spark engine: "
             f"{r['spark_wall_s']:.1f} s (exit {r['spark_exit']}); Spark run again: {r['rerun_wall_s']:.1f} s "
             f"(exit {r['rerun_exit']}, {'nothing rebuilt' if r['rerun_nothing_rebuilt'] else 'REBUILT'})",
             f"- {len(same)} of {len(r['tables'])} tables identical (every column but `updated_at`, as multisets)", "",
             "| table | rows (DuckDB engine) | only DuckDB's | only Spark's |", "|---|---:|---:|---:|"]
    for t in r["tables"]:
        if "error" in t:
            lines.append(f"| {t['table']} | error: {t['error']} | | |")
        else:
            lines.append(f"| {t['table']} | {t['rows']:,} | {t['only_duckdb']:,} | {t['only_spark']:,} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=B2B)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    if not (args.data / "hub.yaml").exists():
        print(f"no b2b_dev at {args.data}: skipped")
        return
    from bench.__main__ import machine, save_results

    r: dict = {"machine": machine(), "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "master": args.master}
    with tempfile.TemporaryDirectory(prefix="hub-bench-spark-b2b-") as tmp_:
        tmp = Path(tmp_)
        config = config_for(args.data.resolve(), tmp, args.master)
        duck = tmp / "duck.duckdb"
        print("DuckDB engine ...", flush=True)
        r["duckdb_wall_s"], r["duckdb_exit"], out_d = hub_run(["-c", str(config), "--warehouse", f"duckdb:///{duck}",
                                                               "--engine", "duckdb"])
        print(out_d, flush=True)
        print(f"Spark engine ({args.master}) ...", flush=True)
        r["spark_wall_s"], r["spark_exit"], out_s = hub_run(["-c", str(config), "--engine", "spark"])
        print(out_s, flush=True)
        r["tables"] = compare(duck, tmp / "lake")
        print("Spark engine again ...", flush=True)
        r["rerun_wall_s"], r["rerun_exit"], out_r = hub_run(["-c", str(config), "--engine", "spark"])
        r["rerun_nothing_rebuilt"] = "nothing rebuilt" in out_r
    text = table(r)
    save_results("spark-b2b_dev", text + "\n", r)
    print(text)
    if any(t.get("only_duckdb") != 0 or t.get("only_spark") != 0 for t in r["tables"]):
        sys.exit(1)


if __name__ == "__main__":
    main()

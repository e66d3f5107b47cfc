"""The console's dashboards at scale: server time of each dashboard page on a warehouse of N customer records.

    python -m bench.dashboards [--records 1000000] [--workdir bench/work/dashboards] [--repeat 5]

The demo generator writes the three legacy systems (CRM A, CRM B, the ERP with about one order per customer) of
`--records` customer records under `--workdir` (kept between runs) with the reference files of the marts
(monthly targets per rep from the ERP's orders, channel costs, exchange rates) and the demo's hub.yaml (legacy
sources only); `hub run` builds the warehouse (once; its wall time is reported). Then each page of the sales
cockpit and the MDM health view is requested `--repeat` times by a logged-in viewer through the console in this
process: the first (cold) and the median of the others, as the page's `server-timing` (the dashboard queries)
and as the whole request. The table is printed and written to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from bench.__main__ import RESULTS, machine, run_child
from core.config_file import keep_sources

REPO = Path(__file__).resolve().parents[1]
RECORDS_PER_ENTITY = 2.4515  # as bench/scale.py
PAGES = ("/cockpit", "/cockpit?source=erp", "/cockpit/funnel", "/cockpit/pipeline", "/cockpit/customers",
         "/health")
PASSWORD = "bench-viewer-pass"


def build(folder: Path, records: int) -> float | None:
    """Generate the sources and reference files and run them once (skipped when done); `hub run`'s wall time."""
    from demo.generate import generate, write_demo
    from demo.targets import channel_costs, fx_rates, rep_revenue, targets
    from hub.users import hash_password

    done = folder / "built.json"
    if done.exists():
        return None
    data = folder / "data"
    write_demo(data, generate(n_entities=math.ceil(records / RECORDS_PER_ENTITY), seed=7))
    import sqlite3

    with sqlite3.connect(data / "erp.sqlite") as con:
        salesmen = pd.read_sql("SELECT FID, FNAME, FDEPT FROM T_BD_SALESMAN ORDER BY FID", con)
        orders = pd.read_sql("SELECT FDATE, FSALERID, FAMOUNT, FSTATUS, FCURRENCY FROM T_SAL_ORDER", con)
    period = pd.PeriodIndex(orders["FDATE"].str[:7], freq="M")
    months = [str(p) for p in pd.period_range(period.min(), period.max(), freq="M")]
    rates = fx_rates(months)
    none = pd.DataFrame({"rep": [], "day": pd.Series([], dtype=str), "amount": []})
    targets(salesmen, rep_revenue(orders, salesmen, none, rates)).to_csv(data / "targets.csv", index=False,
                                                                         encoding="utf-8-sig")
    channel_costs(months).to_csv(data / "channel_costs.csv", index=False, encoding="utf-8-sig")
    rates.to_csv(data / "fx_rates.csv", index=False, encoding="utf-8-sig")
    cfg = yaml.safe_load((REPO / "demo" / "hub.yaml").read_text(encoding="utf-8"))
    cfg["warehouse"]["url"] = "duckdb:///w.duckdb"
    keep_sources(cfg, lambda _, s: s["connector"] in ("sql", "file"))
    cfg["console"] = {"users": [{"name": "viewer", "role": "viewer", "password_hash": hash_password(PASSWORD)}],
                      "secret_key": "bench-dashboards-secret"}
    (folder / "hub.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    wall, peak, _ = run_child([str(Path(sys.executable).parent / "hub"), "run", "-c", str(folder / "hub.yaml")])
    done.write_text(json.dumps({"records": records, "run_wall_s": wall, "run_peak_mb": peak}), encoding="utf-8")
    return wall


def measure(folder: Path, repeat: int) -> list[dict]:
    from fastapi.testclient import TestClient

    from core.config_file import load_config
    from hub.console import create_app

    client = TestClient(create_app(load_config(folder / "hub.yaml")), follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf": csrf.group(1)})
    assert r.status_code == 303, r.text
    rows = []
    for path in PAGES:
        server, wall = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            r = client.get(path)
            wall.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 200, (path, r.status_code, r.text[:500])
            server.append(float(r.headers["server-timing"].split("dur=")[1]))
        rest, rest_wall = server[1:] or server, wall[1:] or wall
        rows.append({"page": path, "cold_ms": server[0], "server_ms": statistics.median(rest),
                     "server_min_ms": min(rest), "request_ms": statistics.median(rest_wall),
                     "request_min_ms": min(rest_wall), "charts": r.text.count('class="chart-spec"')})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "work" / "dashboards")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    folder = args.workdir / str(args.records)
    folder.mkdir(parents=True, exist_ok=True)
    run_wall = build(folder, args.records)
    built = json.loads((folder / "built.json").read_text(encoding="utf-8"))
    from core.config_file import load_config
    from warehouse.engine import Warehouse

    wh = Warehouse(load_config(folder / "hub.yaml").warehouse.url)
    sizes = {t: int(wh.scalar(f"SELECT count(*) FROM {t}")) for t in (
        "mdm.xref", "marts.customer_360", "marts.fct_sales_orders", "marts.sales_performance_monthly")}
    wh.dispose()
    load_before = os.getloadavg()[0]
    rows = measure(folder, args.repeat)
    load_after = os.getloadavg()[0]
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    lines = [f"# customer hub dashboards benchmark — {stamp}", "", f"Machine: {machine()}; load average "
             f"{load_before:.1f} before, {load_after:.1f} after (other work on the machine slows every figure)", "",
             f"Command: `python -m bench.dashboards --records {args.records} --repeat {args.repeat}`", "",
             "Warehouse (DuckDB): " + ", ".join(f"{t} {n:,} rows" for t, n in sizes.items())
             + f"; built by `hub run` in {built['run_wall_s']:.1f} s" + ("" if run_wall else " (earlier)"), "",
             "| page | charts | first request: server ms | server ms: median (best) | whole request ms: median (best) "
             "|",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| `{r['page']}` | {r['charts']} | {r['cold_ms']:.0f} | {r['server_ms']:.0f} ({r['server_min_ms']:.0f}) "
              f"| {r['request_ms']:.0f} ({r['request_min_ms']:.0f}) |" for r in rows]
    lines += ["", "Server ms: the page's `server-timing` (its dashboard queries); whole request: the console's "
                  "response in this process (session check, queries, template)."]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"dashboards-{args.records}-{stamp}.md").write_text(text, encoding="utf-8")
    (RESULTS / f"dashboards-{args.records}-{stamp}.json").write_text(
        json.dumps({"sizes": sizes, "built": built, "pages": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Latency of the match API (`POST /api/match`) on the b2b_dev warehouse.

    python -m bench.match_api [--requests 1000] [--warehouse duckdb:///PATH] [--data ../shared/data/b2b_dev]

Builds the b2b_dev warehouse with `hub run` (unless --warehouse names one that has it), starts the
console app with uvicorn on 127.0.0.1 in a thread, and sends N requests one after the other over one
keep-alive connection, as a CRM checking new customers would: records drawn (seeded) from the
sources, each with some fields left out (no tax code, no phone, short name only). Latency is
measured at the client, HTTP included. `measure()` returns a dict, `markdown()` the bench table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
B2B = REPO.parent / "shared" / "data" / "b2b_dev"
TOKEN = "bench-token-0123456789abcdef"


def _queries(wh: Any, n: int, seed: int = 7) -> list[tuple[dict[str, str], str]]:
    """(request body, the golden ID of the record it came from) for n sampled records."""
    recs = wh.read_frame("SELECT record_id, golden_id, name, short_name, uscc, phone, address, contact_name "
                         f"FROM mdm.customer_records ORDER BY md5(record_id || '{seed}') LIMIT {int(n) * 2}")
    recs = recs.sort_values("record_id", ignore_index=True)  # a seeded sample, whatever the warehouse's size
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(recs), size=n, replace=len(recs) < n):
        r = recs.iloc[int(i)]
        body = {k: str(r[k]) for k in ("name", "uscc", "phone", "address", "contact_name")
                if r[k] is not None and str(r[k]) not in ("", "nan", "None")}
        for k in ("uscc", "phone", "address", "contact_name"):
            if k in body and rng.random() < 0.3:  # a CRM user rarely types everything
                del body[k]
        if not body.get("name"):
            body["name"] = str(r["short_name"] or r["record_id"])
        out.append((body, str(r["golden_id"])))
    return out


def measure(data: Path = B2B, requests: int = 1000, warehouse_url: str | None = None,
            workdir: Path | None = None) -> dict[str, Any]:
    """p50/p95/p99 latency of POST /api/match over `requests` sequential requests."""
    import requests as http
    import uvicorn

    from core.config_file import load_config
    from hub.console import create_app
    from pipelines.run import run_all
    from warehouse.engine import Warehouse

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        url = warehouse_url or f"duckdb:///{Path(tmp) / 'api.duckdb'}"
        cfg = load_config(data / "hub.yaml", warehouse_url=url)
        wh = Warehouse(url)
        if warehouse_url is None:
            run_all(cfg, wh)
        queries = _queries(wh, requests)
        records = int(wh.scalar("SELECT count(*) FROM mdm.customer_records") or 0)
        cfg.console.api_tokens = [TOKEN]
        app = create_app(cfg, wh)
        start = time.perf_counter()
        app.state.matcher.model()
        index_s = time.perf_counter() - start
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        while not srv.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}"
        session = http.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        for body, _ in queries[:20]:  # warm-up
            session.post(base + "/api/match", json=body, timeout=30).raise_for_status()
        lat, found, matched = [], 0, 0
        for body, golden in queries:
            t0 = time.perf_counter()
            r = session.post(base + "/api/match", json=body, timeout=30)
            lat.append(time.perf_counter() - t0)
            r.raise_for_status()
            cands = r.json()["candidates"]
            found += bool(cands) and cands[0]["golden_id"] == golden
            matched += bool(cands) and cands[0]["band"] == "match"
        srv.should_exit = True
        thread.join(timeout=10)
        wh.dispose()
    ms = np.array(lat) * 1000
    import resource

    return {"requests": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "records": records, "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "mean_ms": float(ms.mean()),
            "cold_start_s": index_s, "top_is_own_golden": found / len(ms), "top_in_match_band": matched / len(ms)}


def markdown(r: dict[str, Any]) -> str:
    return (f"## Match API on {r.get('name', 'b2b_dev')} (`POST /api/match`, sequential, HTTP included)\n\n"
            "| records | requests | p50 | p95 | p99 | max | top candidate = own golden customer | cold start | "
            "peak memory |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {r.get('records', 0):,} | {r['requests']:,} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms | "
            f"{r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms | {r['top_is_own_golden']:.1%} | {r['cold_start_s']:.2f} s | "
            f"{r['peak_rss_mb']:,} MB |\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warehouse", default=None, help="a warehouse that already holds the b2b_dev run")
    ap.add_argument("--data", type=Path, default=B2B)
    args = ap.parse_args()
    r = measure(args.data, args.requests, args.warehouse) | {"name": args.data.resolve().name}
    print(markdown(r))
    print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()

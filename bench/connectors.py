"""API connector throughput: each connector syncs everything its fake serves, through the hub's pipeline.

    python -m bench.connectors [--entities 5000] [--seed 7]

For WeCom, DingTalk, Fxiaoke and Kingdee: the fake runs in its own process (`python -m connectors.fakes
serve`, as a remote API would), the connector reads every stream at the API's largest page size with the
client-side pacing lifted, and `pipelines.sync.sync_source` lands the records in a temporary DuckDB
warehouse. Records per second are the records landed over the sync's wall time, so they include the fake's
own serving time (a Python web app on the same machine) and the raw layer's writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from connectors.fakes.serve import VENDOR_NAMES, demo_env

REPO = Path(__file__).resolve().parents[1]

# The largest page each API allows, and the connector options that lift client-side pacing.
PAGE_SIZES = {"wecom": 100, "dingtalk": 100, "fxiaoke": 100, "kingdee": 10_000}
UNPACED: dict[str, dict[str, Any]] = {
    "dingtalk": {"qps_per_api": 1_000_000},
    "fxiaoke": {"calls_per_20s": 1_000_000, "logins_per_minute": 1_000_000},
}
# Config key → the demo variable holding its value (see connectors.fakes.serve.DEMO_VARIABLES).
CONFIG_KEYS = {
    "wecom": {"corp_id": "WECOM_CORP_ID", "secret": "WECOM_SECRET", "base_url": "WECOM_BASE_URL"},
    "dingtalk": {"app_key": "DINGTALK_APP_KEY", "app_secret": "DINGTALK_APP_SECRET",
                 "operator_user_id": "DINGTALK_OPERATOR_USER_ID", "base_url": "DINGTALK_BASE_URL",
                 "oapi_base_url": "DINGTALK_OAPI_BASE_URL"},
    "fxiaoke": {"app_id": "FXIAOKE_APP_ID", "app_secret": "FXIAOKE_APP_SECRET",
                "permanent_code": "FXIAOKE_PERMANENT_CODE", "open_user_id": "FXIAOKE_OPEN_USER_ID",
                "base_url": "FXIAOKE_BASE_URL"},
    "kingdee": {"base_url": "KINGDEE_BASE_URL", "acct_id": "KINGDEE_ACCT_ID", "username": "KINGDEE_USERNAME",
                "password": "KINGDEE_PASSWORD"},
}


@contextmanager
def fake_process(vendor: str, entities: int, seed: int) -> Iterator[str]:
    """A fake in its own process on a free loopback port; yields its base URL, stops it after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.fakes", "serve", vendor, "--entities", str(entities), "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env={**os.environ})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the {vendor} fake did not start (exit code {proc.wait(timeout=10)})")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def connector_config(vendor: str, url: str) -> dict[str, Any]:
    """The vendor's connector config against its fake at `url`: demo credentials, largest page, no pacing."""
    env = demo_env({vendor: url})
    config: dict[str, Any] = {key: env[var] for key, var in CONFIG_KEYS[vendor].items()}
    config.update(page_size=PAGE_SIZES[vendor], **UNPACED.get(vendor, {}))
    if vendor in ("fxiaoke", "kingdee"):
        config["start_date"] = "2018-01-01"
    return config


def sync_once(vendor: str, url: str, workdir: Path) -> dict[str, float | int]:
    """Sync every stream of the vendor's connector from its fake into a fresh DuckDB warehouse."""
    from core.config import HubConfig
    from pipelines.sync import sync_source
    from warehouse.engine import Warehouse

    cfg = HubConfig.model_validate({"sources": {vendor: {"connector": vendor,
                                                        "config": connector_config(vendor, url)}}})
    wh = Warehouse(f"duckdb:///{workdir / f'{vendor}.duckdb'}")
    try:
        result = sync_source(cfg, wh, vendor, progress=lambda _: None)
    finally:
        wh.dispose()
    if result.status != "succeeded":
        raise RuntimeError(f"{vendor}: {result.error}")
    calls = requests.get(f"{url}/_fake/stats", timeout=10).json()["data_calls"]
    records = result.stats.loaded
    return {"records": records, "requests": int(calls), "streams": len(result.streams),
            "page_size": PAGE_SIZES[vendor], "seconds": round(result.seconds, 2),
            "records_per_s": round(records / result.seconds, 1) if result.seconds else 0.0}


def connector_throughput(entities: int = 5000, seed: int = 7) -> dict[str, dict[str, float | int]]:
    """Per connector (wecom, dingtalk, fxiaoke, kingdee): records landed, data requests made, streams, page
    size, sync seconds and records per second, syncing everything its fake serves over `entities` companies."""
    import pipelines.sync  # noqa: F401 - importing airbyte-cdk sets its logger to INFO (JSON lines on stdout)

    logging.getLogger("airbyte").setLevel(logging.WARNING)
    results: dict[str, dict[str, float | int]] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-connectors-") as tmp:
        for vendor in VENDOR_NAMES:
            with fake_process(vendor, entities, seed) as url:
                results[vendor] = sync_once(vendor, url, Path(tmp))
    return results


def markdown(results: dict[str, dict[str, float | int]]) -> str:
    """The results as a small markdown table."""
    lines = ["| connector | streams | page size | records | requests | seconds | records/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for vendor, r in results.items():
        lines.append(f"| {vendor} | {r['streams']} | {r['page_size']:,} | {r['records']:,} | {r['requests']:,} "
                     f"| {r['seconds']:.2f} | {r['records_per_s']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connectors", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=5000, help="companies in the fakes' universe")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(markdown(connector_throughput(args.entities, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

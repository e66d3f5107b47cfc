"""The Dagster code location: only assembles. The asset graph follows the hub config in HUB_CONFIG
(default: the demo's `demo/hub.yaml`); HUB_WAREHOUSE_URL, read at run launch, overrides its warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dagster_project.assets import all_assets
from dagster_project.resources import HubResource
from hub.config import load_config

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "demo" / "hub.yaml"


def build_definitions(config_path: str | Path) -> dg.Definitions:
    """Definitions for one hub config file (reads the YAML; no network, no warehouse access)."""
    cfg = load_config(config_path)
    hub = HubResource(config_path=str(Path(config_path).resolve()))
    # An embedded DuckDB file takes one writing process at a time: run its steps in one process.
    executor = dg.in_process_executor if cfg.warehouse.url.startswith("duckdb") else dg.multiprocess_executor
    return dg.Definitions(assets=all_assets(cfg), resources={"hub": hub}, executor=executor)


defs = build_definitions(os.environ.get("HUB_CONFIG", str(DEFAULT_CONFIG)))

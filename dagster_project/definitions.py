"""The Dagster code location: only assembles. The asset graph follows the hub config in HUB_CONFIG (default: the
demo's `demo/hub.yaml`); the config's `${VAR}` secrets and HUB_WAREHOUSE_URL are read at run launch."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dagster_project.assets import all_assets, data_checks
from dagster_project.assets.predict import retrain_job
from dagster_project.jobs import hub_jobs
from dagster_project.resources import hub_resource, load_structure, spark_resource
from dagster_project.schedules import daily_schedule, retrain_schedule, source_schedules
from dagster_project.sensors import file_sensor

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "demo" / "hub.yaml"


def build_definitions(config_path: str | Path) -> dg.Definitions:
    """Definitions for one hub config file (reads the YAML; no network, no warehouse access, no secret)."""
    cfg = load_structure(config_path)
    jobs = hub_jobs(cfg)
    resources: dict[str, object] = {"hub": hub_resource(config_path)}
    retraining = [retrain_job()]  # (the predictions are the DuckDB engine's: no retraining on Spark)
    if cfg.engine.kind == "spark":
        resources["spark"], retraining = spark_resource(cfg), []
    # An embedded DuckDB file takes one writing process at a time: run its steps in one process.
    executor = dg.in_process_executor if cfg.warehouse.url.startswith("duckdb") else dg.multiprocess_executor
    return dg.Definitions(
        assets=all_assets(cfg),
        asset_checks=data_checks(cfg),
        jobs=[*jobs, *retraining],
        schedules=[daily_schedule(jobs[0]), *[retrain_schedule(j) for j in retraining], *source_schedules(cfg)],
        sensors=[file_sensor(cfg, jobs)],
        resources=resources,
        executor=executor,
    )


defs = build_definitions(os.environ.get("HUB_CONFIG", str(DEFAULT_CONFIG)))

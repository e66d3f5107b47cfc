"""The Dagster resources: the hub configuration and its warehouse (the config's secrets from `dg.EnvVar`), and,
when the config's engine is Spark, the PySpark session the golden records and marts are built with."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from core.config import HubConfig
from core.config_file import env_references, load_config
from warehouse.engine import Warehouse
from warehouse.lock import run_lock


class HubResource(dg.ConfigurableResource):
    """Points the assets at a hub YAML file.

    `env` holds the environment variables the file's `${VAR}` references need, each bound to
    `dg.EnvVar(VAR)` so Dagster reads them at run launch and never shows their values;
    `warehouse_url` overrides the file's warehouse (HUB_WAREHOUSE_URL in the run's environment does too).
    """

    config_path: str
    warehouse_url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    def load(self) -> HubConfig:
        return load_config(self.config_path, env={**os.environ, **self.env}, warehouse_url=self.warehouse_url or None)

    def warehouse(self, cfg: HubConfig | None = None) -> Warehouse:
        return Warehouse.from_config((cfg or self.load()).warehouse)

    @contextmanager
    def holding(self, wh: Warehouse, step: str, log: logging.Logger | dg.DagsterLogManager) -> Iterator[None]:
        """Hold the warehouse's writer lock (`warehouse.lock`, as `hub run` does) while a step works in it, and close
        a DuckDB file before letting go (DuckDB lets one process at a time open it: a step keeping it open would
        refuse `hub run`, a steward's action or the next step). A step, the checks included, waits its turn behind
        `hub run`, a sync, a steward's action or another step, and logs who it waits for."""
        with run_lock(wh, f"dagster {step}", wait=float("inf"), on_wait=log.info):
            try:
                yield
            finally:
                if wh.dialect.name == "duckdb":
                    wh.dispose()


class SparkResource(dg.ConfigurableResource):
    """The PySpark session of `engine: {kind: spark}`: its master, its Spark settings and the lakehouse location
    (checkpoints go there: a path every executor sees). One session per process, built on first use."""

    master: str = "local[2]"
    conf: dict[str, str] = Field(default_factory=dict)
    location: str

    def session(self) -> Any:
        from warehouse.spark.lakehouse import CHECKPOINTS
        from warehouse.spark.session import spark_session

        spark = spark_session(self.master, self.conf)
        spark.sparkContext.setCheckpointDir((Path(self.location) / CHECKPOINTS).as_uri())
        return spark


def spark_resource(cfg: HubConfig) -> SparkResource:
    """The resource for a config whose engine is Spark."""
    assert cfg.engine.location, "engine.location"
    return SparkResource(master=cfg.engine.master, conf={k: str(v) for k, v in cfg.engine.conf.items()},
                         location=str(cfg.engine.location))


def hub_resource(config_path: str | Path) -> HubResource:
    """The resource for a config file: its `${VAR}` secrets as `dg.EnvVar`s (read at run launch, not now)."""
    path = Path(config_path).resolve()
    names = env_references(path.read_text(encoding="utf-8"))
    return HubResource(config_path=str(path), env={n: dg.EnvVar(n) for n in names})


def load_structure(config_path: str | Path) -> HubConfig:
    """The config's sources, streams and files, read without its secrets (placeholders stand in for `${VAR}`, and
    `${cmd:…}` commands are not run)."""
    path = Path(config_path)
    placeholders = {n: f"${{{n}}}" for n in env_references(path.read_text(encoding="utf-8"))}
    return load_config(path, env={**placeholders, **os.environ}, commands=False)

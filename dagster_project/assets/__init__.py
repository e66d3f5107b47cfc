"""The asset graph of a hub config: raw per source stream, staging per entity, golden records, marts,
predictions; checks beside."""

from __future__ import annotations

import dagster as dg

from core.config import HubConfig
from dagster_project.assets.marts import mart_assets, mart_checks
from dagster_project.assets.mdm import mdm_assets, mdm_checks
from dagster_project.assets.predict import predict_assets
from dagster_project.assets.raw import source_assets
from dagster_project.assets.spark import spark_assets
from dagster_project.assets.staging import staging_assets

__all__ = ["all_assets", "data_checks"]


def all_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    if cfg.engine.kind == "spark":  # golden records and marts on Spark (dagster_project/assets/spark.py)
        return source_assets(cfg) + staging_assets(cfg) + spark_assets(cfg)
    return source_assets(cfg) + staging_assets(cfg) + mdm_assets() + mart_assets(cfg) + predict_assets()


def data_checks(cfg: HubConfig) -> list[dg.AssetChecksDefinition]:
    """The checks on the data itself (golden IDs, xref; each mart's generated checks and the reconciliations with
    raw); the blocking ones stop downstream assets. They read the warehouse's golden records and marts: none when
    those are built on Spark."""
    if cfg.engine.kind == "spark":
        return []
    return mdm_checks() + mart_checks(cfg)

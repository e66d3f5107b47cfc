"""Asset keys and group names of the code location: `[layer, system_or_entity, table]`, one group per layer."""

from __future__ import annotations

import dagster as dg

STAGING_GROUP = "staging"
MDM_GROUP = "mdm"
MARTS_GROUP = "marts"
GOLDEN_KEY = dg.AssetKey(["mdm", "customer", "golden"])
METRICS_KEY = dg.AssetKey(["mdm", "health", "run_metrics"])  # mdm.run_metrics, after the marts
REMOVED_KEY = dg.AssetKey(["raw", "removed_sources"])  # the records of sources gone from the config, before staging
REMOVED_GROUP = "sources_removed"


def source_group(source: str) -> str:
    """The group of a source's raw assets."""
    return f"source_{source}"


def raw_key(source: str, stream: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source, stream])


def staging_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", entity, "records"])


def mart_key(mart: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", mart])

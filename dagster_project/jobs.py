"""Jobs, by asset selection: everything, and the part downstream of each file source or reference file."""

from __future__ import annotations

from typing import Any, TypeAlias

import dagster as dg

from core.config import REFERENCE_FILES, HubConfig
from dagster_project.keys import source_group, staging_key

AssetJob: TypeAlias = Any  # what dg.define_asset_job returns; its class is not part of dagster's public API

ALL_JOB = "hub_all"
REFERENCE_JOB = "refresh_reference_files"


def refresh_job_name(source: str) -> str:
    return f"refresh_{source}"


def file_sources(cfg: HubConfig) -> dict[str, list[str]]:
    """Each enabled `file` source and the paths or globs it reads (source-level and per stream)."""
    out: dict[str, list[str]] = {}
    for name, src in cfg.sources.items():
        if src.enabled and src.connector == "file":
            paths = [src.config["path"]] if isinstance(src.config.get("path"), str) else []
            paths += [s.path for s in src.streams.values() if s.path and s.path not in paths]
            out[name] = paths
    return out


def reference_files(cfg: HubConfig) -> list[str]:
    return [ref.path for key in REFERENCE_FILES if (ref := getattr(cfg.marts, key)) is not None]


def hub_jobs(cfg: HubConfig) -> list[AssetJob]:
    """`hub_all` (every asset and check), one `refresh_<source>` per file source and per source with a `schedule`,
    and one for the reference files."""
    jobs = [dg.define_asset_job(ALL_JOB, selection=dg.AssetSelection.all(),
                                description="sync every source, stage, match and build every mart, with the checks")]
    scheduled = [n for n, s in cfg.sources.items() if s.enabled and s.schedule and n not in file_sources(cfg)]
    for source in [*file_sources(cfg), *scheduled]:
        jobs.append(dg.define_asset_job(
            refresh_job_name(source), selection=dg.AssetSelection.groups(source_group(source)).downstream(),
            description=f"sync {source} and rebuild everything downstream of it"))
    if reference_files(cfg):
        entities = {REFERENCE_FILES[k] for k in REFERENCE_FILES if getattr(cfg.marts, k) is not None}
        jobs.append(dg.define_asset_job(
            REFERENCE_JOB, selection=dg.AssetSelection.assets(*[staging_key(e) for e in sorted(entities)]).downstream(),
            description="restage the targets / channel-cost files and rebuild the marts that read them"))
    return jobs

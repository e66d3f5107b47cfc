"""Staging assets: one per canonical entity, from every stream mapped to it (and the marts' reference files and
settings). The histories of rep-list records and customer owners are part of the sales_rep and customer assets."""

from pathlib import Path

import dagster as dg

from core.config import REFERENCE_FILES, HubConfig
from dagster_project.keys import REMOVED_KEY, STAGING_GROUP, raw_key, staging_key
from dagster_project.resources import HubResource
from pipelines.history import TRACKED, stage_history
from pipelines.reference import stage_reference
from pipelines.stage import stage_all


def staged_entities(cfg: HubConfig) -> dict[str, list[dg.AssetKey]]:
    """Each entity some stream or reference file fills, with the raw assets it is staged from."""
    entities: dict[str, list[dg.AssetKey]] = {}
    for name, src in cfg.sources.items():
        for stream, sc in src.streams.items():
            if sc.entity and src.enabled:
                entities.setdefault(sc.entity, []).append(raw_key(name, stream))
    for key, entity in REFERENCE_FILES.items():
        if getattr(cfg.marts, key) is not None:
            entities.setdefault(entity, [])
    for entity in ALWAYS_STAGED:
        entities.setdefault(entity, [])
    return entities


# staged from the config's `marts` section whatever it says (holidays: from the `holidays` package by default)
ALWAYS_STAGED = ("holiday", "order_status", "mart_setting")
# staging tables written by the asset of another entity
STAGED_WITH = {history: entity for entity, (history, _) in TRACKED.items()}


def _staging_asset(entity: str, deps: list[dg.AssetKey], files: list[str]) -> dg.AssetsDefinition:
    description = f"staging.{entity}: every stream mapped to the {entity} entity, typed"
    if files:
        description += "; and the file(s) " + ", ".join(files)

    @dg.asset(key=staging_key(entity), deps=[*deps, REMOVED_KEY], group_name=STAGING_GROUP, kinds={"sql"},
              description=description)
    def _stage(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        cfg = hub.load()
        wh = hub.warehouse(cfg)
        with hub.holding(wh, f"stage {entity}", context.log):
            results = stage_all(cfg, wh, entity=entity, progress=context.log.info)
            results += stage_reference(cfg, wh, progress=context.log.info, entity=entity)
            if entity in TRACKED:
                stage_history(cfg, wh, progress=context.log.info, entity=entity)
        return dg.MaterializeResult(metadata={
            "staged": sum(r.staged for r in results), "rejected": sum(r.rejected for r in results),
            "fields_nulled": sum(r.fields_nulled for r in results)})

    return _stage


def staging_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    out = []
    for entity, deps in staged_entities(cfg).items():
        files = [Path(ref.path).name for key, ent in REFERENCE_FILES.items()
                 if ent == entity and (ref := getattr(cfg.marts, key)) is not None]
        out.append(_staging_asset(entity, deps, files))
    return out

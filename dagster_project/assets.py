"""Assets built from the hub config: raw per source stream, staging per entity, matching, marts.

Asset keys follow `[layer, system_or_entity, table]`. Every asset calls the same pipeline
function as the CLI.
"""

from collections.abc import Callable, Iterator

import dagster as dg

from dagster_project.resources import HubResource
from hub.config import HubConfig
from pipelines.match import run_match
from pipelines.publish import MARTS, build_mart
from pipelines.stage import stage_all
from pipelines.sync import sync_source

STAGING_GROUP = "staging"
MDM_GROUP = "mdm"
MARTS_GROUP = "marts"
GOLDEN_KEY = dg.AssetKey(["mdm", "customer", "golden"])

# Which staging entities each mart reads, besides the golden records.
MART_INPUTS: dict[str, tuple[str, ...]] = {
    "dim_customer": (),
    "fct_sales_orders": ("sales_order", "sales_rep"),
}


def _progress(context: dg.AssetExecutionContext) -> Callable[[str], None]:
    return lambda msg: context.log.info(msg)


def source_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    """One multi-asset per source: a sync materializes each of its streams' raw tables."""
    out = []
    for name, src in cfg.sources.items():
        specs = [dg.AssetSpec(key=["raw", name, stream], group_name=f"source_{name}", kinds={"airbyte"},
                              description=f"{src.connector} stream {stream} of {name}, landed append-only")
                 for stream in src.streams]

        def _make(source: str, specs: list[dg.AssetSpec]) -> dg.AssetsDefinition:
            @dg.multi_asset(name=f"sync_{source}", specs=specs)
            def _sync(context: dg.AssetExecutionContext, hub: HubResource) -> Iterator[dg.MaterializeResult]:
                c = hub.load()
                result = sync_source(c, hub.warehouse(c), source, progress=_progress(context))
                if result.status != "succeeded":
                    raise dg.Failure(description=result.error or f"sync of {source} failed")
                for stream in c.sources[source].streams:
                    st = result.streams.get(stream)
                    meta = {"read": st.stats.read, "new_or_changed": st.stats.loaded,
                            "quarantined": st.stats.quarantined} if st else {}
                    yield dg.MaterializeResult(asset_key=["raw", source, stream], metadata=meta)

            return _sync

        out.append(_make(name, specs))
    return out


def staging_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    entities: dict[str, list[dg.AssetKey]] = {}
    for name, src in cfg.sources.items():
        for stream, sc in src.streams.items():
            if sc.entity:
                entities.setdefault(sc.entity, []).append(dg.AssetKey(["raw", name, stream]))
    out = []
    for entity, deps in entities.items():

        def _make(ent: str, ent_deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
            @dg.asset(key=["staging", ent, "records"], deps=ent_deps, group_name=STAGING_GROUP, kinds={"sql"},
                      description=f"staging.{ent}: every stream mapped to the {ent} entity, typed")
            def _stage(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
                c = hub.load()
                results = stage_all(c, hub.warehouse(c), entity=ent, progress=_progress(context))
                return dg.MaterializeResult(metadata={
                    "staged": sum(r.staged for r in results), "rejected": sum(r.rejected for r in results)})

            return _stage

        out.append(_make(entity, deps))
    return out


def mdm_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    @dg.asset(key=GOLDEN_KEY, deps=[dg.AssetKey(["staging", "customer", "records"])], group_name=MDM_GROUP,
              description="mdm.xref and mdm.golden_customer: matched, stable golden IDs, survived attributes")
    def golden(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        c = hub.load()
        r = run_match(c, hub.warehouse(c), progress=_progress(context))
        return dg.MaterializeResult(metadata={"records": r.records, "golden": r.golden, "new_ids": r.new_ids})

    return [golden]


def mart_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    staged = {sc.entity for src in cfg.sources.values() for sc in src.streams.values() if sc.entity}
    out = []
    for mart in MARTS:
        deps = [GOLDEN_KEY] + [dg.AssetKey(["staging", e, "records"]) for e in MART_INPUTS.get(mart, ())
                               if e in staged]

        def _make(name: str, mart_deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
            @dg.asset(key=["marts", name], deps=mart_deps, group_name=MARTS_GROUP, kinds={"sql"},
                      description=f"marts.{name}")
            def _mart(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
                rows = build_mart(hub.warehouse(), name)
                return dg.MaterializeResult(metadata={"rows": rows})

            return _mart

        out.append(_make(mart, deps))
    return out


def all_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    return source_assets(cfg) + staging_assets(cfg) + mdm_assets(cfg) + mart_assets(cfg)

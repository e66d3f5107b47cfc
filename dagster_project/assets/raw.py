"""Raw assets: one per source stream, grouped per source; one sync materializes all streams of a source. And the
sources and streams removed from the config (`raw/removed_sources`), before staging.

As in `hub run`, a source that fails does not stop the others: its streams' raw tables keep what they had,
their `sync_succeeded` check fails with the error, and staging goes on with the data that is there.
"""

from collections.abc import Iterator

import dagster as dg

from core.config import HubConfig
from dagster_project.keys import REMOVED_GROUP, REMOVED_KEY, raw_key, source_group
from dagster_project.resources import HubResource
from pipelines.stage import unstage_removed
from pipelines.sync import forget_removed, sync_source

SYNC_CHECK = "sync_succeeded"
REMOVED_CHECK = "removed_sources_deleted"
ALLOW_MASS_DELETE = dg.Field(bool, default_value=False, description="apply deletes above a stream's "
                             "max_delete_share, and of sources removed from the config (hub run --allow-mass-delete)")


def _sync_asset(source: str, streams: list[str], specs: list[dg.AssetSpec]) -> dg.AssetsDefinition:
    checks = [dg.AssetCheckSpec(SYNC_CHECK, asset=raw_key(source, s), description=f"the last sync of {source} "
                                "succeeded (a failed source keeps its earlier raw data)") for s in streams]

    @dg.multi_asset(name=f"sync_{source}", specs=specs, check_specs=checks, config_schema={
        "allow_mass_delete": ALLOW_MASS_DELETE,
        "full_refresh": dg.Field(bool, default_value=False, description="ignore the saved state and read every "
                                 "stream whole (hub connectors sync --full-refresh)")})
    def _sync(context: dg.AssetExecutionContext,
              hub: HubResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        cfg = hub.load()
        wh = hub.warehouse(cfg)
        with hub.holding(wh, f"sync {source}", context.log):
            result = sync_source(cfg, wh, source, progress=context.log.info,
                                 full_refresh=bool(context.op_config["full_refresh"]),
                                 allow_mass_delete=bool(context.op_config["allow_mass_delete"]))
        ok = result.status != "failed"  # a health warning is in the metadata
        if not ok:
            context.log.error(f"sync of {source} failed: {result.error}")
        for stream in streams:
            st = result.streams.get(stream)
            meta: dict[str, str | int] = {"status": result.status}
            if st:
                meta.update(read=st.stats.read, new_or_changed=st.stats.loaded, quarantined=st.stats.quarantined)
            yield dg.MaterializeResult(asset_key=raw_key(source, stream), metadata=meta)
            yield dg.AssetCheckResult(asset_key=raw_key(source, stream), check_name=SYNC_CHECK, passed=ok,
                                      description=None if ok else (result.error or f"sync of {source} failed"))

    return _sync


@dg.asset(key=REMOVED_KEY, group_name=REMOVED_GROUP, kinds={"sql"}, config_schema={
    "allow_mass_delete": ALLOW_MASS_DELETE},
    check_specs=[dg.AssetCheckSpec(REMOVED_CHECK, asset=REMOVED_KEY, description="the records of the sources and "
                                   "streams removed from the config are deleted (a removal needs allow_mass_delete)")],
    description="The sources and streams removed from the config, as `hub run` treats them: their records "
                "tombstoned in raw (history stays) and taken out of staging, only when the run allows it "
                "(`allow_mass_delete`); until then they stay and the check fails saying so.")
def removed_sources(context: dg.AssetExecutionContext,
                    hub: HubResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    cfg = hub.load()
    wh = hub.warehouse(cfg)
    with hub.holding(wh, "delete the records of removed sources", context.log):
        results = forget_removed(cfg, wh, bool(context.op_config["allow_mass_delete"]), context.log.info)
        unstaged = unstage_removed(cfg, wh)
    errors = [r.error for r in results if r.error]
    deleted = sum(r.stats.deleted for r in results)
    yield dg.MaterializeResult(metadata={"deleted": deleted, "removed_from_staging": sum(u.deleted for u in unstaged),
                                         "refused": len(errors)})
    yield dg.AssetCheckResult(check_name=REMOVED_CHECK, passed=not errors, description="; ".join(errors) or (
        f"{deleted:,} records of removed sources deleted" if results else "no source or stream left the config"))


def source_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    """One multi-asset per enabled source, with an asset per stream (`raw/<source>/<stream>`)."""
    out = []
    for name, src in cfg.sources.items():
        if not src.enabled:
            continue
        specs = [dg.AssetSpec(key=raw_key(name, stream), group_name=source_group(name), kinds={"airbyte"},
                              description=f"{src.connector} stream {stream} of {name}, landed append-only in "
                                          f"raw.{name}__{stream}")
                 for stream in src.streams]
        out.append(_sync_asset(name, list(src.streams), specs))
    return [*out, removed_sources]

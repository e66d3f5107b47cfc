"""Raw assets: one per source stream, grouped per source; one sync materializes all streams of a source.

As in `hub run`, a source that fails does not stop the others: its streams' raw tables keep what they had,
their `sync_succeeded` check fails with the error, and staging goes on with the data that is there.
"""

from collections.abc import Iterator

import dagster as dg

from core.config import HubConfig
from dagster_project.keys import raw_key, source_group
from dagster_project.resources import HubResource
from pipelines.sync import sync_source

SYNC_CHECK = "sync_succeeded"


def _sync_asset(source: str, streams: list[str], specs: list[dg.AssetSpec]) -> dg.AssetsDefinition:
    checks = [dg.AssetCheckSpec(SYNC_CHECK, asset=raw_key(source, s), description=f"the last sync of {source} "
                                "succeeded (a failed source keeps its earlier raw data)") for s in streams]

    @dg.multi_asset(name=f"sync_{source}", specs=specs, check_specs=checks)
    def _sync(context: dg.AssetExecutionContext,
              hub: HubResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        cfg = hub.load()
        wh = hub.warehouse(cfg)
        with hub.holding(wh, f"sync {source}", context.log):
            result = sync_source(cfg, wh, source, progress=context.log.info)
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
    return out

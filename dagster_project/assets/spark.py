"""The golden records and marts when the config's engine is Spark (`engine: {kind: spark}`): the same asset keys as
the DuckDB engine's, built on Spark into the lakehouse by `pipelines.spark_run`'s steps, with the `spark` resource.
Raw and staging stay the warehouse's assets. Not on Spark (as with `hub run --engine spark`): the data checks,
the run metrics and the predictions, which read the warehouse's marts."""

import dagster as dg

from core.config import HubConfig
from dagster_project.assets.marts import column_schema, freshness_policy, mart_deps
from dagster_project.assets.staging import staged_entities
from dagster_project.keys import GOLDEN_KEY, MARTS_GROUP, MDM_GROUP, mart_key, staging_key
from dagster_project.resources import HubResource, SparkResource
from pipelines.publish import MARTS
from pipelines.spark_run import mart_step, match_step
from warehouse.marts.catalog import mart_docs


@dg.asset(key=GOLDEN_KEY, deps=[staging_key("customer")], group_name=MDM_GROUP, kinds={"spark"},
          description="mdm.xref, mdm.golden_customer, mdm.customer_hierarchy in the lakehouse, matched on Spark")
def spark_golden(context: dg.AssetExecutionContext, hub: HubResource, spark: SparkResource) -> dg.MaterializeResult:
    cfg = hub.load()
    wh = hub.warehouse(cfg)
    with hub.holding(wh, "match customers on Spark", context.log):
        state = match_step(cfg, wh, spark.session(), context.log.info)
    return dg.MaterializeResult(metadata={"records": int(state.get("records") or 0),
                                          "golden": int(state.get("golden") or 0), "location": spark.location})


def _spark_mart(mart: str, deps: list[dg.AssetKey], freshness: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    doc = mart_docs()[mart]

    @dg.asset(key=mart_key(mart), deps=deps, group_name=MARTS_GROUP, kinds={"spark"}, freshness_policy=freshness,
              description=f"{doc.description} Grain: {doc.grain}.",
              metadata={"dagster/column_schema": column_schema(mart), "dagster/table_name": f"marts.{mart}"})
    def _mart(context: dg.AssetExecutionContext, hub: HubResource, spark: SparkResource) -> dg.MaterializeResult:
        wh = hub.warehouse()
        with hub.holding(wh, f"build marts.{mart} on Spark", context.log):
            rows = mart_step(hub.load(), spark.session(), mart, context.log.info)
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _mart


def spark_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    """The golden records and every mart, on Spark."""
    staged, freshness = set(staged_entities(cfg)), freshness_policy(cfg)
    return [spark_golden, *[_spark_mart(m, mart_deps(m, staged), freshness) for m in MARTS]]

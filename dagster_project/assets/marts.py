"""Mart assets, one per `warehouse/marts/<name>.sql`, with their inputs read from the SQL; their checks beside."""

import datetime as dt

import dagster as dg

from dagster_project.assets.mdm import check_result
from dagster_project.assets.staging import staged_entities
from dagster_project.keys import GOLDEN_KEY, MARTS_GROUP, mart_key, staging_key
from dagster_project.resources import HubResource
from hub.config import HubConfig
from pipelines.checks import orders_have_customers, revenue_reconciles
from pipelines.publish import MARTS, build_mart, mart_columns, mart_inputs
from warehouse.marts.catalog import mart_docs


def mart_deps(mart: str, staged: set[str]) -> list[dg.AssetKey]:
    """The assets a mart reads: golden records for `mdm.*`, staging assets present in the graph, earlier marts."""
    deps: set[dg.AssetKey] = set()
    for schema, table in mart_inputs(mart):
        if schema == "mdm":
            deps.add(GOLDEN_KEY)
        elif schema == "staging" and table in staged:
            deps.add(staging_key(table))
        elif schema == "marts":
            deps.add(mart_key(table))
    return sorted(deps, key=lambda k: k.to_user_string())


def column_schema(mart: str, types: dict[str, str] | None = None) -> dg.TableSchema:
    """The documented columns of a mart (with their warehouse types once built)."""
    doc = mart_docs()[mart]
    return dg.TableSchema(columns=[dg.TableColumn(name=c, type=(types or {}).get(c, "unknown"), description=d)
                                   for c, d in doc.columns.items()])


def _mart_asset(mart: str, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    doc = mart_docs()[mart]

    @dg.asset(key=mart_key(mart), deps=deps, group_name=MARTS_GROUP, kinds={"sql"},
              description=f"{doc.description} Grain: {doc.grain}.",
              metadata={"dagster/column_schema": column_schema(mart), "dagster/table_name": f"marts.{mart}"})
    def _mart(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        wh = hub.warehouse()
        with hub.writing(wh, f"build marts.{mart}", context.log):
            rows = build_mart(wh, mart)
        types = dict(mart_columns(wh, mart))
        return dg.MaterializeResult(metadata={"dagster/row_count": rows,
                                              "dagster/column_schema": column_schema(mart, types)})

    return _mart


def mart_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    staged = set(staged_entities(cfg))
    return [_mart_asset(mart, mart_deps(mart, staged)) for mart in MARTS]


@dg.asset_check(asset=mart_key("fct_sales_orders"), blocking=True,
                description="every order has a golden customer")
def no_order_without_customer(hub: HubResource) -> dg.AssetCheckResult:
    return check_result(orders_have_customers(hub.warehouse()))


@dg.asset_check(asset=mart_key("fct_sales_orders"), blocking=True,
                description="the order total equals the staged source orders' total, to the cent")
def revenue_equals_source_total(hub: HubResource) -> dg.AssetCheckResult:
    return check_result(revenue_reconciles(hub.warehouse()))


def freshness_checks(cfg: HubConfig) -> list[dg.AssetChecksDefinition]:
    """Each mart must have been rebuilt within `marts.freshness_hours` (a warning, not blocking)."""
    return list(dg.build_last_update_freshness_checks(
        assets=[mart_key(m) for m in MARTS], lower_bound_delta=dt.timedelta(hours=cfg.marts.freshness_hours)))


def mart_checks() -> list[dg.AssetChecksDefinition]:
    return [no_order_without_customer, revenue_equals_source_total]

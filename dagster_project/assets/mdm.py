"""The golden customer records (mdm.xref, mdm.golden_customer, …) and their blocking checks."""

import dagster as dg

from dagster_project.keys import GOLDEN_KEY, MDM_GROUP, staging_key
from dagster_project.resources import HubResource
from pipelines.checks import CheckOutcome, golden_ids_unique, staged_customers_in_xref
from pipelines.match import run_match
from pipelines.match_lookup import refresh as refresh_lookup
from pipelines.match_lookup import warehouse_version


def check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    """A hub check outcome as Dagster's check result (severity ERROR: a blocking check stops downstream)."""
    return dg.AssetCheckResult(passed=outcome.passed, description=outcome.description, metadata=outcome.metadata)


@dg.asset(key=GOLDEN_KEY, deps=[staging_key("customer")], group_name=MDM_GROUP, kinds={"sql"},
          description="mdm.xref, mdm.golden_customer, mdm.customer_hierarchy: matched customers with stable golden "
                      "IDs and survived attributes")
def golden(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
    cfg = hub.load()
    wh = hub.warehouse(cfg)
    with hub.holding(wh, "match customers", context.log):
        before = warehouse_version(wh)
        r = run_match(cfg, wh, progress=context.log.info)
        did = refresh_lookup(cfg, wh, r.changed_ids, r.deleted_ids, r.affected_ids, not r.incremental, before)
        if did:  # (the match API's index follows, as in `hub run`)
            context.log.info(did)
    return dg.MaterializeResult(metadata={"records": r.records, "golden": r.golden, "new_ids": r.new_ids,
                                          "merged_ids": r.merged_ids, "revived_ids": r.revived_ids,
                                          "review_items": r.review_items})


@dg.asset_check(asset=golden, blocking=True, description="each golden ID has exactly one golden record, and every "
                                                         "golden ID of mdm.xref has one")
def golden_ids_are_unique(hub: HubResource) -> dg.AssetCheckResult:
    wh = hub.warehouse()
    with hub.holding(wh, "check the golden IDs", dg.get_dagster_logger()):
        return check_result(golden_ids_unique(wh))


@dg.asset_check(asset=golden, blocking=True, description="every staged customer record is in mdm.xref")
def every_staged_customer_in_xref(hub: HubResource) -> dg.AssetCheckResult:
    wh = hub.warehouse()
    with hub.holding(wh, "check mdm.xref", dg.get_dagster_logger()):
        return check_result(staged_customers_in_xref(wh))


def mdm_assets() -> list[dg.AssetsDefinition]:
    return [golden]


def mdm_checks() -> list[dg.AssetChecksDefinition]:
    return [golden_ids_are_unique, every_staged_customer_in_xref]

"""Mart assets, one per `warehouse/marts/<name>.sql`, with their inputs read from the SQL; their checks beside:
the checks `marts.yaml` declares (unique key, not-null, references) and the reconciliations with raw, generated
by `pipelines/checks.py` as in `hub run`. Every mart has a freshness policy (`marts.freshness_hours`), which the
Dagster daemon evaluates."""

import datetime as dt
import re
from collections.abc import Iterator

import dagster as dg

from core.config import HubConfig
from dagster_project.assets.staging import STAGED_WITH, staged_entities
from dagster_project.keys import GOLDEN_KEY, MARTS_GROUP, MDM_GROUP, METRICS_KEY, mart_key, staging_key
from dagster_project.resources import HubResource
from pipelines.checks import CheckSpec, planned_checks, run_checks_if_changed
from pipelines.metrics import record_run_metrics
from pipelines.publish import MARTS, mart_columns, mart_inputs, publish
from predict.catalog import predicted_mart_docs
from warehouse.compaction import compact
from warehouse.marts.catalog import mart_docs


def mart_deps(mart: str, staged: set[str]) -> list[dg.AssetKey]:
    """The assets a mart reads: golden records for `mdm.*`, staging assets present in the graph, earlier marts."""
    deps: set[dg.AssetKey] = set()
    for schema, table in mart_inputs(mart):
        if schema == "mdm":
            deps.add(GOLDEN_KEY)
        elif schema == "staging" and STAGED_WITH.get(table, table) in staged:
            deps.add(staging_key(STAGED_WITH.get(table, table)))
        elif schema == "marts":
            deps.add(mart_key(table))
    return sorted(deps, key=lambda k: k.to_user_string())


def column_schema(mart: str, types: dict[str, str] | None = None) -> dg.TableSchema:
    """The documented columns of a mart (with their warehouse types once built)."""
    doc = mart_docs()[mart]
    return dg.TableSchema(columns=[dg.TableColumn(name=c, type=(types or {}).get(c, "unknown"), description=d)
                                   for c, d in doc.columns.items()])


def freshness_policy(cfg: HubConfig) -> dg.FreshnessPolicy:
    """A mart not rebuilt within `marts.freshness_hours` fails its freshness (a state in the UI, not blocking)."""
    return dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=cfg.marts.freshness_hours))  # (≥ 1 min)


def _mart_asset(mart: str, deps: list[dg.AssetKey], freshness: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    doc = mart_docs()[mart]

    @dg.asset(key=mart_key(mart), deps=deps, group_name=MARTS_GROUP, kinds={"sql"}, freshness_policy=freshness,
              description=f"{doc.description} Grain: {doc.grain}.",
              metadata={"dagster/column_schema": column_schema(mart), "dagster/table_name": f"marts.{mart}"})
    def _mart(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
        wh = hub.warehouse()
        said: list[str] = []

        def say(message: str) -> None:
            said.append(message)
            context.log.info(message)

        with hub.holding(wh, f"build marts.{mart}", context.log):
            rows = publish(wh, (mart,), progress=say)[mart]  # (as `hub run`: kept, refreshed or built)
            types = dict(mart_columns(wh, mart))
        done = "built" if any(m.startswith("built ") for m in said) else \
            "refreshed" if any(m.startswith("refreshed ") for m in said) else "kept"
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "action": done,
                                              "dagster/column_schema": column_schema(mart, types)})

    return _mart


@dg.asset(key=METRICS_KEY, group_name=MDM_GROUP, kinds={"sql"},
          deps=[GOLDEN_KEY, *(mart_key(m) for m in (*MARTS, *predicted_mart_docs()))],  # (the end of the graph)
          description="The master data's health after each run that changed something (mdm.run_metrics): the "
                      "history the console's MDM health page draws.")
def run_metrics(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult:
    wh = hub.warehouse()
    with hub.holding(wh, "record mdm.run_metrics", context.log):
        rows = record_run_metrics(wh)
        compacted = compact(wh, context.log.info)  # the end of the graph: what `hub run` does after its checks
    return dg.MaterializeResult(metadata={"measures_recorded": rows,
                                          "tables_compacted": ", ".join(b.table for b in compacted) or "none"})


def mart_assets(cfg: HubConfig) -> list[dg.AssetsDefinition]:
    """Every mart, and the run metrics read from the golden records and marts.data_quality."""
    staged, freshness = set(staged_entities(cfg)), freshness_policy(cfg)
    return [_mart_asset(mart, mart_deps(mart, staged), freshness) for mart in MARTS] + [run_metrics]


def check_name(spec: CheckSpec) -> str:
    """A hub check's name as a Dagster check name on its mart: `fct_sales_orders.not_null.golden_id` →
    `not_null__golden_id`, `reconcile.erp.sales_orders` → `reconcile__erp__sales_orders`."""
    name = spec.name.removeprefix(f"{spec.asset}.")
    return re.sub(r"[^A-Za-z0-9_]", "_", name.replace(".", "__").replace("+", "_and_"))


def _mart_check(mart: str, specs: list[CheckSpec]) -> dg.AssetChecksDefinition:
    names = {check_name(s): s.name for s in specs}

    @dg.multi_asset_check(
        name=f"{mart}_data_checks",
        specs=[dg.AssetCheckSpec(check_name(s), asset=mart_key(mart), description=s.description,
                                 blocking=s.severity == "error",
                                 additional_deps=[mart_key(m) for m in s.reads if m != mart]) for s in specs])
    def _checks(context: dg.AssetCheckExecutionContext, hub: HubResource) -> Iterator[dg.AssetCheckResult]:
        cfg = hub.load()
        wh = hub.warehouse(cfg)
        with hub.holding(wh, f"check marts.{mart}", context.log):  # (those whose tables did not change: kept)
            outcomes = run_checks_if_changed(wh, cfg, list(names.values()), consumer=f"checks:{mart}")
        for dagster_name, name in names.items():
            outcome = outcomes[name]
            yield dg.AssetCheckResult(
                asset_key=mart_key(mart), check_name=dagster_name, passed=outcome.passed,
                severity=dg.AssetCheckSeverity.WARN if outcome.severity == "warn" else dg.AssetCheckSeverity.ERROR,
                description=outcome.description, metadata=outcome.metadata)

    return _checks


def mart_checks(cfg: HubConfig) -> list[dg.AssetChecksDefinition]:
    """Per mart, its generated checks (severity error: blocking; warn: not)."""
    by_mart: dict[str, list[CheckSpec]] = {}
    for spec in planned_checks(cfg).values():
        by_mart.setdefault(spec.asset, []).append(spec)
    return [_mart_check(mart, specs) for mart, specs in by_mart.items()]

"""The prediction marts as one Dagster multi-asset (they are written together by `pipelines.predict`), downstream
of the marts they read; and the weekly job that retrains the models."""

from collections.abc import Iterator

import dagster as dg

from dagster_project.jobs import AssetJob
from dagster_project.keys import MARTS_GROUP, mart_key
from dagster_project.resources import HubResource
from pipelines.predict import run_predictions
from predict.catalog import predicted_mart_docs
from predict.inputs import INPUT_MARTS

PREDICT_ASSET = "predictions"
RETRAIN_JOB = "retrain_predictions"


def predict_assets() -> list[dg.AssetsDefinition]:
    docs = predicted_mart_docs()

    @dg.multi_asset(
        name=PREDICT_ASSET,
        specs=[dg.AssetSpec(mart_key(name), description=f"{doc.description} Grain: {doc.grain}.",
                            metadata={"dagster/table_name": f"marts.{name}"}, group_name=MARTS_GROUP,
                            kinds={"python"}, deps=[mart_key(m) for m in INPUT_MARTS]) for name, doc in docs.items()],
        config_schema={"retrain": dg.Field(bool, default_value=False, description="train new models first")})
    def _predictions(context: dg.AssetExecutionContext, hub: HubResource) -> Iterator[dg.MaterializeResult]:
        cfg = hub.load()
        wh = hub.warehouse(cfg)
        with hub.holding(wh, "predictions", context.log):
            result = run_predictions(wh, cfg, progress=context.log.info, retrain=bool(context.op_config["retrain"]))
        for name in docs:
            yield dg.MaterializeResult(asset_key=mart_key(name),
                                       metadata={"dagster/row_count": result.rows.get(name, 0),
                                                 "models_trained": ", ".join(result.trained) or "none"})

    return [_predictions]


def retrain_job() -> AssetJob:
    """Retrain the win and lead models and score again (the models' schedule; `hub run` only scores)."""
    return dg.define_asset_job(
        RETRAIN_JOB, selection=dg.AssetSelection.assets(*[mart_key(n) for n in predicted_mart_docs()]),
        config={"ops": {PREDICT_ASSET: {"config": {"retrain": True}}}},
        description="retrain the prediction models, with their backtests, and score again")

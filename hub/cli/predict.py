"""`hub predict`: score and forecast again, and the models' backtest report."""

from __future__ import annotations

import click

from core import exit_codes
from hub.cli.common import CONFIG_OPT, WAREHOUSE_OPT, fail, load, open_warehouse, progress


@click.group()
def predict() -> None:
    """Predictions: win probability, lead scores, the pipeline forecast and their backtests."""


@predict.command("run")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--retrain", is_flag=True, help="train new models (with their backtests) before scoring")
def predict_run(config_path: str, warehouse_url: str | None, retrain: bool) -> None:
    """Score the open opportunities and leads and forecast the pipeline again (`hub run` does it when the marts
    changed), training the models that need it."""
    from pipelines.predict import run_predictions
    from warehouse.lock import RunLocked, held_by, run_lock

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg)
    try:
        with run_lock(wh, "hub predict run", wait=30, keep_waiting=held_by("hub steward")):
            result = run_predictions(wh, cfg, progress=progress, force=True, retrain=retrain)
    except RunLocked as e:
        fail(e, exit_codes.LOCKED)
    for name, n in result.rows.items():
        click.echo(f"marts.{name}: {n:,} rows")


@predict.command("report")
@CONFIG_OPT
@WAREHOUSE_OPT
@click.option("--all", "every", is_flag=True, help="every model kept, not only the current ones")
def predict_report(config_path: str, warehouse_url: str | None, every: bool) -> None:
    """The backtest of the models (AUC, Brier score and calibration against the baseline; the forecast's error
    against the stage-weighted pipeline), as Markdown."""
    from predict.report import backtest_markdown

    cfg = load(config_path, warehouse_url)
    wh = open_warehouse(cfg)
    with wh.begin() as conn:
        built = wh.table_exists(conn, "marts", "prediction_models")
    if not built:
        fail("no predictions in this warehouse yet: run `hub run` (or `hub predict run`)", exit_codes.CONFIG)
    models = wh.read_frame("SELECT * FROM marts.prediction_models" + ("" if every else " WHERE is_current")
                           + " ORDER BY trained_at, kind")
    calibration = wh.read_frame("SELECT * FROM marts.prediction_calibration")
    click.echo(backtest_markdown(models, calibration), nl=False)
    for m in models.itertuples(index=False):
        click.echo(f"\n{m.model_id}: {m.method}; {m.guard}")

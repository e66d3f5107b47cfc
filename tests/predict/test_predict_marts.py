"""The prediction marts in the warehouse (DuckDB and PostgreSQL): written with their checks passing, rebuilt only
when the marts they read changed, a model trained once per change at most and kept with its backtest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from core.config import HubConfig, PredictConfig
from demo.deals import generated_inputs
from hub.cli import main
from pipelines.checks import planned_checks
from pipelines.export import export_mart
from pipelines.predict import open_opportunity_features, run_predictions
from predict.catalog import predicted_mart_docs
from predict.inputs import Inputs, read_inputs
from warehouse.changes import bump, versions
from warehouse.engine import Warehouse
from warehouse.raw import RawStore

_KIND = {"b": "boolean", "i": "integer", "f": "float", "M": "timestamp"}
_MARTS = {"opportunities": "fct_opportunities", "stages": "fct_opportunity_stages", "leads": "fct_leads",
          "orders": "fct_sales_orders", "payments": "fct_payments", "customers": "dim_customer",
          "reps": "dim_sales_rep"}


def load_marts(wh: Warehouse, inputs: Inputs) -> None:
    """The input marts as the SQL marts would hold them (the columns the predictions read), each bumped."""
    frames = {
        "opportunities": inputs.opportunities.assign(reporting_amount=inputs.opportunities["amount"]),
        "stages": inputs.stages, "leads": inputs.leads,
        "orders": inputs.orders.rename(columns={"at": "order_date", "amount": "reporting_amount"}).assign(
            is_revenue=True),
        "payments": inputs.payments.rename(columns={"at": "payment_date", "amount": "reporting_amount"}),
        "customers": inputs.customers, "reps": inputs.reps.assign(is_current=True)}
    with wh.begin() as conn:
        RawStore(wh).ensure(conn)
        for key, frame in frames.items():
            frame = frame.copy()
            for c in frame.columns:
                if frame[c].dtype == object:
                    frame[c] = frame[c].astype("string").where(frame[c].notna(), None).astype(object)
            kinds = {c: _KIND.get(frame[c].dtype.kind, "text") for c in frame.columns}
            wh.replace_table(conn, "marts", _MARTS[key], kinds, None, frame)
            bump(conn, f"marts.{_MARTS[key]}")


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return generated_inputs(2500, seed=5)


def config(**predict: object) -> HubConfig:
    return HubConfig(predict=PredictConfig(**predict))


def test_the_marts_are_written_checked_and_rebuilt_only_when_their_inputs_change(warehouse_url: str,
                                                                                 inputs: Inputs) -> None:
    wh = Warehouse(warehouse_url)
    load_marts(wh, inputs)
    cfg = config(min_leads=200, min_converted=30)
    now = pd.Timestamp("2026-10-01 08:00")

    first = run_predictions(wh, cfg, now=now, simulations=200)

    assert not first.skipped and len(first.trained) == 2
    n_open = int((inputs.opportunities["outcome"] == "open").sum())
    assert first.rows["opportunity_scores"] == n_open > 20
    scores = wh.read_frame("SELECT * FROM marts.opportunity_scores")
    assert scores["probability"].between(0, 1).all() and scores["score"].between(1, 99).all()
    assert (scores["method"] == "model").all() and scores["top_positive"].str.contains("pts").mean() > 0.5
    leads = wh.read_frame("SELECT * FROM marts.lead_scores")
    assert len(leads) == int(inputs.leads["is_open"].sum()) and (leads["method"] == "model").all()
    models = wh.read_frame("SELECT * FROM marts.prediction_models ORDER BY kind")
    assert list(models["kind"]) == ["lead", "opportunity"] and models["is_current"].all()
    opp = models[models["kind"] == "opportunity"].iloc[0]  # its backtest (tests/predict/test_train.py: its quality)
    assert opp["test_rows"] > 300 and 0.5 < opp["auc"] < 1 and 0 < opp["brier"] < 0.25 and opp["forecast_mape"] > 0
    forecast = wh.read_frame("SELECT * FROM marts.pipeline_forecast")
    total = forecast[(forecast["forecast_type"] == "current") & (forecast["level"] == "total")]
    assert (total["low"] <= total["expected"]).all() and (total["expected"] <= total["high"]).all()
    assert set(forecast["forecast_type"]) == {"current", "backtest"}
    # the declared checks pass: probabilities in [0, 1], one score per open opportunity and lead, keys, refs
    checks = {n: s for n, s in planned_checks().items() if s.asset in predicted_mart_docs()}
    assert {"opportunity_scores.complete", "lead_scores.complete", "opportunity_scores.range.probability"} <= set(
        checks)
    failed = {n: o.description for n, s in checks.items() if not (o := s.run(wh)).passed}
    assert failed == {}

    def predicted_versions() -> dict[str, int]:
        with wh.begin() as conn:
            return versions(conn, [f"marts.{m}" for m in predicted_mart_docs()])

    def assert_kept(days: int) -> None:
        result = run_predictions(wh, cfg, now=now + pd.Timedelta(days=days), simulations=200)
        assert result.skipped and result.trained == [] and predicted_versions() == before
        assert result.rows == first.rows

    # nothing changed: nothing is read, trained or written
    before = predicted_versions()
    assert_kept(days=1)

    # an input written again, the rows they read the same (a mart refreshed, another customer's rows): kept
    with wh.begin() as conn:
        bump(conn, "marts.fct_payments")
    assert_kept(days=2)
    # …unless they run with other settings
    with wh.begin() as conn:
        bump(conn, "marts.fct_payments")
    assert not run_predictions(wh, cfg, now=now + pd.Timedelta(days=2), simulations=150).skipped
    before = predicted_versions()

    # an input changed: scored again with the same models (younger than retrain_days)
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE marts.fct_payments SET reporting_amount = reporting_amount + 1 "
                             "WHERE golden_id IN (SELECT golden_id FROM marts.fct_opportunities)")
        bump(conn, "marts.fct_payments")
    changed = run_predictions(wh, cfg, now=now + pd.Timedelta(days=2), simulations=200)
    assert not changed.skipped and changed.trained == []
    with wh.begin() as conn:
        after = versions(conn, list(before))
    assert after["marts.opportunity_scores"] > before["marts.opportunity_scores"]
    assert after["marts.prediction_models"] == before["marts.prediction_models"]  # no model, no rewrite

    # a week later, with a change: retrained; the earlier models are kept with their backtests
    with wh.begin() as conn:
        bump(conn, "marts.fct_payments")
    later = run_predictions(wh, cfg, now=now + pd.Timedelta(days=8), simulations=200)
    assert len(later.trained) == 2
    models = wh.read_frame("SELECT model_id, kind, is_current FROM marts.prediction_models")
    assert len(models) == 4 and models["is_current"].sum() == 2
    kept = wh.read_frame("SELECT DISTINCT model_id FROM marts.prediction_calibration")
    assert set(kept["model_id"]) == set(models["model_id"])


def test_below_the_minimum_the_marts_say_so(tmp_path: Path, inputs: Inputs) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path}/w.duckdb")
    load_marts(wh, inputs)
    run_predictions(wh, config(min_won=10_000), simulations=50)
    scores = wh.read_frame("SELECT method, probability, stage_win_rate, top_positive FROM marts.opportunity_scores")
    assert (scores["method"] == "stage_win_rates").all()
    assert (scores["probability"] == scores["stage_win_rate"]).all() and (scores["top_positive"] == "").all()
    guard = wh.read_frame("SELECT guard FROM marts.prediction_models WHERE kind = 'opportunity'")["guard"][0]
    assert "a model needs 10,000 won and 200 lost" in guard


def test_hub_predict_run_then_report_prints_the_backtest(tmp_path: Path, inputs: Inputs) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(f"warehouse: {{url: '{url}'}}\npredict: {{min_leads: 200, min_converted: 30}}\n",
                           encoding="utf-8")
    runner = CliRunner()
    nothing = runner.invoke(main, ["predict", "report", "-c", str(config_file)])
    assert nothing.exit_code == 2 and "no warehouse at" in nothing.output and not (tmp_path / "w.duckdb").exists()
    Warehouse(url).scalar("SELECT 1")  # (an empty warehouse)
    before = runner.invoke(main, ["predict", "report", "-c", str(config_file)])
    assert before.exit_code == 2 and "no predictions in this warehouse yet" in before.output
    wh = Warehouse(url)
    load_marts(wh, inputs)
    wh.dispose()

    ran = runner.invoke(main, ["predict", "run", "-c", str(config_file)])
    assert ran.exit_code == 0, ran.output
    n_open = int((inputs.opportunities["outcome"] == "open").sum())
    assert f"marts.opportunity_scores: {n_open:,} rows" in ran.output

    report = runner.invoke(main, ["predict", "report", "-c", str(config_file)])
    assert report.exit_code == 0, report.output
    rows = [line for line in report.output.splitlines() if line.startswith("| opportunity-")]
    assert len(rows) == 1 and "| opportunity | model |" in rows[0]
    models = Warehouse(url).read_frame("SELECT auc FROM marts.prediction_models WHERE kind = 'opportunity'")
    assert f"| {models['auc'][0]:.3f} |" in rows[0]
    assert report.output.count("Calibration, ") == 2 and "| 0–10% |" in report.output
    # the prediction marts export like the others, with their documentation
    exported = export_mart(Warehouse(url), "marts.opportunity_scores", tmp_path / "scores.csv")
    assert exported.rows == n_open
    assert "top_positive" in (tmp_path / "scores.columns.csv").read_text(encoding="utf-8-sig")


def test_read_inputs_reads_the_orders_of_customers_with_deals_and_the_features_stay(warehouse_url: str,
                                                                                    inputs: Inputs) -> None:
    """Orders and payments of customers without opportunities are not read, yet the date the data speaks for and
    every feature of the open opportunities are those of all the orders."""
    with_deals = set(inputs.opportunities["golden_id"].dropna())
    latest = inputs.orders["at"].max() + pd.Timedelta(days=40)  # the newest order of all: a customer without deals
    others = pd.DataFrame({"golden_id": ["G-NO-DEALS-1", "G-NO-DEALS-2", "G-NO-DEALS-2"],
                           "source_name": ["erp", "erp", "shop"], "at": [latest, latest - pd.Timedelta(days=3),
                                                                         latest - pd.Timedelta(days=9)],
                           "amount": [100.0, 200.0, 50.0]})
    paid = others.iloc[:1].assign(at=latest + pd.Timedelta(days=2))  # and the newest payment too
    full = Inputs(inputs.opportunities, inputs.stages, inputs.leads,
                  pd.concat([inputs.orders, others], ignore_index=True),
                  pd.concat([inputs.payments, paid], ignore_index=True), inputs.customers, inputs.reps)
    wh = Warehouse(warehouse_url)
    load_marts(wh, full)
    read = read_inputs(wh)
    wh.dispose()
    assert set(read.orders["golden_id"]) <= with_deals and "G-NO-DEALS-2" not in set(read.payments["golden_id"])
    assert len(read.orders) == int(full.orders["golden_id"].isin(with_deals).sum()) > 100
    assert read.as_of() == full.as_of() == latest + pd.Timedelta(days=2)

    def by_key(inputs: Inputs) -> pd.DataFrame:  # (read in key order: rows compared by opportunity)
        rows, features = open_opportunity_features(inputs)
        keys = inputs.opportunities.iloc[rows][["source_name", "stream", "opportunity_key"]].reset_index(drop=True)
        return pd.concat([keys, features], axis=1).sort_values(list(keys.columns)).reset_index(drop=True)

    got, want = by_key(read), by_key(full)
    assert len(got) > 20
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_the_same_rows_in_another_physical_order_predict_the_same(warehouse_url: str, tmp_path: Path,
                                                                   inputs: Inputs) -> None:
    """A mart refreshed in place holds its rows in another physical order than a rebuild: the inputs are read in
    their key's order, so the scores and the forecast's seeded simulation are the same either way."""
    shuffled = Inputs(*(getattr(inputs, n).sample(frac=1, random_state=3).reset_index(drop=True) for n in
                        ("opportunities", "stages", "leads", "orders", "payments", "customers", "reps")))
    got = []
    for i, frames in enumerate((inputs, shuffled)):
        wh = Warehouse(warehouse_url if i == 0 else f"duckdb:///{tmp_path}/shuffled.duckdb")
        load_marts(wh, frames)
        read = read_inputs(wh)
        run_predictions(wh, config(min_leads=200, min_converted=30), now=pd.Timestamp("2026-10-01 08:00"),
                        simulations=100)
        got.append((read, wh.read_frame("SELECT * FROM marts.pipeline_forecast WHERE forecast_type = 'current' "
                                        "ORDER BY period_type, period_start, level, group_key"),
                    wh.read_frame("SELECT opportunity_key, probability FROM marts.opportunity_scores "
                                  "ORDER BY opportunity_key")))
        wh.dispose()
    (first, forecast, scores), (second, forecast2, scores2) = got
    for name in ("opportunities", "stages", "leads", "orders", "payments", "customers", "reps"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name), check_dtype=False)
    def nulls_alike(df: pd.DataFrame) -> pd.DataFrame:  # (an empty column reads as None on one side, NaN on the other)
        df = df.drop(columns=["model_id", "computed_at"], errors="ignore").astype(object)
        return df.where(df.notna(), None)

    pd.testing.assert_frame_equal(nulls_alike(forecast), nulls_alike(forecast2), check_dtype=False)
    pd.testing.assert_frame_equal(scores, scores2, check_dtype=False)

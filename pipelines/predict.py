"""Predict: the prediction marts (`predict/marts.yaml`) from the SQL marts, only when those changed.

Like a SQL mart, the predictions remember the versions of the marts they read (`predict.inputs.INPUT_MARTS`); a
run in which none of them moved does nothing. When they moved, the open opportunities and leads are scored again
as of the data's latest change, with the stored model of each kind; a model is trained (with its backtest) only
when there is none, when it is older than `predict.retrain_days`, when its features changed, or on request
(`hub predict run --retrain`, the Dagster schedule): so at most once per change of the data. Models are kept in
`raw._prediction_models` (pickled, our own), their backtests in `marts.prediction_models` and
`marts.prediction_calibration`. Each rewritten mart gets a new version in the transaction that writes it.
"""

from __future__ import annotations

import base64
import logging
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from core.config import HubConfig, PredictConfig
from pipelines.progress import Progress, as_progress
from predict.catalog import predicted_mart_docs
from predict.features import FEATURES
from predict.forecast import forecast
from predict.inputs import INPUT_MARTS, Inputs, inputs_digest, read_inputs
from predict.samples import Samples, current_leads
from predict.train import Minimums, Trained, crm_probability, forecast_rows, train, won_opportunities
from warehouse.changes import bump, set_watermark, versions, watermark
from warehouse.engine import Warehouse
from warehouse.raw import RawStore

log = logging.getLogger("hub.predict")

KINDS = ("opportunity", "lead")
STORE = "_prediction_models"  # in raw: model_id, kind, trained_at, payload (the pickled `Trained`, base64)
STORE_COLUMNS = {"model_id": "text", "kind": "text", "trained_at": "timestamp", "payload": "text"}
_KINDS = {
    "date": {"period_start", "as_of", "scored_as_of", "cutoff", "data_as_of", "expected_close"},
    "timestamp": {"created_at", "trained_at"},
    "boolean": {"is_current"},
    "integer": {"score", "bin", "predictions", "open_opportunities", "train_rows", "train_positive", "test_rows",
                "test_positive"},
    "float": {"probability", "stage_win_rate", "crm_probability", "channel_rate", "days_in_stage", "amount",
              "age_days", "pipeline_amount", "expected", "low", "high", "stage_weighted", "actual_won", "won_all",
              "auc", "brier", "baseline_auc", "baseline_brier", "forecast_mape", "baseline_forecast_mape", "seconds",
              "mean_predicted", "observed"},
}


@dataclass
class PredictResult:
    """What a prediction run did: rows per mart written (or kept), the models trained, whether anything ran."""

    rows: dict[str, int] = field(default_factory=dict)
    trained: list[str] = field(default_factory=list)
    skipped: bool = False


def minimums(settings: PredictConfig) -> Minimums:
    return Minimums(settings.min_won, settings.min_lost, settings.min_leads, settings.min_converted)


def stored_models(wh: Warehouse) -> dict[str, Trained]:
    """The current (latest) model of each kind, from the warehouse."""
    with wh.begin() as conn:
        if not wh.table_exists(conn, "raw", STORE):
            return {}
    rows = wh.read_frame(f"SELECT kind, payload FROM raw.{STORE} s WHERE trained_at = "
                         f"(SELECT MAX(trained_at) FROM raw.{STORE} t WHERE t.kind = s.kind)")
    out = {}
    for kind, payload in rows.itertuples(index=False):
        model = pickle.loads(base64.b64decode(payload))  # our own model, from our own warehouse
        if isinstance(model, Trained):
            out[kind] = model
    return out


def _needs_training(model: Trained | None, inputs: Inputs, now: pd.Timestamp, settings: PredictConfig,
                    floor: Minimums) -> str | None:
    """Why a kind's model must be trained now, or None to keep it."""
    if model is None:
        return "no model yet"
    names = [f.name for f in FEATURES[model.kind]]
    if (model.classifier is not None and list(model.classifier.names) != names) or model.minimums != floor:
        return "its features or minimums changed"
    if now - model.trained_at >= pd.Timedelta(days=settings.retrain_days):
        return f"older than {settings.retrain_days:g} days"
    if inputs.as_of() < model.data_as_of:
        return "the data went back in time"
    return None


def _score(p: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(p * 100), 1, 99).astype(np.int64)


def _factors(model: Trained, features: pd.DataFrame) -> tuple[list[str], list[str]]:
    if model.classifier is None:
        return [""] * len(features), [""] * len(features)
    return model.classifier.factors(features)


def open_opportunity_features(inputs: Inputs) -> tuple[np.ndarray, pd.DataFrame]:
    """(rows of the open opportunities in `inputs.opportunities`, their features as of the inputs' date): what the
    scores and the forecast both start from, computed once."""
    from predict.features import opportunity_features

    rows = np.flatnonzero((inputs.opportunities["outcome"] == "open").to_numpy())
    frame = pd.DataFrame({"row": rows, "as_of": inputs.as_of()})
    return rows, opportunity_features(inputs, frame).reset_index(drop=True)


def opportunity_scores(inputs: Inputs, model: Trained,
                       open_features: tuple[np.ndarray, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per open opportunity: its probability, score, baseline and factors."""
    o = inputs.opportunities
    as_of = inputs.as_of()
    rows, features = open_features or open_opportunity_features(inputs)
    open_ = o.iloc[rows].reset_index(drop=True)
    p = model.predict(features, features["stage"])
    ups, downs = _factors(model, features)
    reps = inputs.reps.drop_duplicates("rep_id").set_index("rep_id")["name"]
    return pd.DataFrame({
        "source_name": open_["source_name"], "stream": open_["stream"], "opportunity_key": open_["opportunity_key"],
        "name": open_["name"], "golden_id": open_["golden_id"], "rep_id": open_["rep_id"],
        "rep_name": open_["rep_id"].map(reps), "stage": features["stage"], "days_in_stage": features["days_in_stage"],
        "amount": open_["amount"], "expected_close": open_["closed_at"], "probability": p, "score": _score(p),
        "stage_win_rate": model.baseline(features["stage"]), "crm_probability": open_["probability"] / 100,
        "method": model.method, "model_id": model.model_id, "top_positive": ups, "top_negative": downs,
        "scored_as_of": as_of})


def lead_scores(inputs: Inputs, model: Trained) -> pd.DataFrame:
    """One row per open lead: its probability of a won opportunity within 90 days, score, baseline, factors."""
    leads, features = current_leads(inputs)
    p = model.predict(features, features["channel"])
    ups, downs = _factors(model, features)
    reps = inputs.reps.drop_duplicates("rep_id").set_index("rep_id")["name"]
    return pd.DataFrame({
        "source_name": leads["source_name"], "stream": leads["stream"], "lead_key": leads["lead_key"],
        "company_name": leads["company_name"], "channel": features["channel"], "rep_id": leads["rep_id"],
        "rep_name": leads["rep_id"].map(reps), "created_at": leads["created_at"], "age_days": features["age_days"],
        "probability": p, "score": _score(p), "channel_rate": model.baseline(features["channel"]),
        "method": model.method, "model_id": model.model_id, "top_positive": ups, "top_negative": downs,
        "scored_as_of": inputs.as_of()})


def pipeline_forecast(inputs: Inputs, model: Trained, simulations: int = 1000,
                      open_features: tuple[np.ndarray, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Today's forecast from the open pipeline, then the forecasts of the model's backtest."""
    as_of = inputs.as_of()
    rows, features = open_features or open_opportunity_features(inputs)
    n = len(rows)
    samples = Samples("opportunity", features, np.full(n, np.nan), pd.Series([as_of] * n, dtype="datetime64[ns]"),
                      pd.Series([pd.NaT] * n, dtype="datetime64[ns]"), features["stage"], rows)
    p = model.predict(features, features["stage"])
    crm = crm_probability(inputs, samples, model.rates, model.base_rate)
    assert model.timing is not None
    now = forecast(as_of, forecast_rows(inputs, samples, p, crm), model.timing, won_opportunities(inputs), as_of,
                   "current", model.method, model.model_id, simulations=simulations)
    return pd.concat([now, model.backtest_forecast], ignore_index=True) if len(model.backtest_forecast) else now


def model_rows(models: list[Trained], current: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of prediction_models and prediction_calibration for these models."""
    docs = predicted_mart_docs()
    out, cal = [], []
    for m in models:
        row: dict[str, Any] = dict.fromkeys(docs["prediction_models"].columns)
        row.update({k: v for k, v in m.stats.items() if k in row})
        row.update(model_id=m.model_id, kind=m.kind, is_current=m.model_id in current, trained_at=m.trained_at,
                   data_as_of=m.data_as_of, method=m.method, guard=m.guard, cutoff=m.cutoff,
                   features=", ".join(m.features), seconds=round(m.seconds, 2))
        out.append(row)
        if len(m.calibration):
            cal.append(m.calibration.assign(model_id=m.model_id, kind=m.kind))
    models_frame = pd.DataFrame(out, columns=list(docs["prediction_models"].columns))
    cal_cols = list(docs["prediction_calibration"].columns)
    calibration = pd.concat(cal, ignore_index=True)[cal_cols] if cal else pd.DataFrame(columns=cal_cols)
    return models_frame, calibration


def _kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Portable column kinds of a prediction mart's columns (text unless named here)."""
    return {c: next((kind for kind, cols in _KINDS.items() if c in cols), "text") for c in frame.columns}


def _typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """The frame with each column in the type of its kind (dates as dates, empty columns typed)."""
    out = pd.DataFrame(index=frame.index)
    for c, kind in kinds.items():
        s = frame[c]
        if kind == "date":
            out[c] = pd.to_datetime(s).dt.date
        elif kind == "timestamp":
            out[c] = pd.to_datetime(s)
        elif kind == "integer":
            out[c] = pd.to_numeric(s).astype("Int64")
        elif kind == "float":
            out[c] = pd.to_numeric(s).astype(float)
        elif kind == "boolean":
            out[c] = s.astype("boolean")
        else:
            out[c] = s.astype("string").where(s.notna(), None).astype(object)
    return out


def _write(wh: Warehouse, conn: Connection, name: str, frame: pd.DataFrame) -> int:
    kinds = _kinds(frame)
    wh.replace_table(conn, "marts", name, kinds, None, _typed(frame, kinds))
    bump(conn, f"marts.{name}")
    return len(frame)


def run_predictions(wh: Warehouse, cfg: HubConfig | None = None,
                    progress: Callable[[str], None] | Progress | None = None, force: bool = False,
                    retrain: bool = False, now: pd.Timestamp | None = None,
                    simulations: int = 1000) -> PredictResult:
    """Score and forecast again if the marts the predictions read changed (always with `force`), training the
    models that need it (all with `retrain`)."""
    prog = as_progress(progress, log)
    settings = cfg.predict if cfg is not None else PredictConfig()
    result = PredictResult()
    if not settings.enabled:
        result.skipped = True
        return result
    names = list(predicted_mart_docs())
    floor = minimums(settings)
    with wh.begin() as conn:
        RawStore(wh).ensure(conn)  # the control tables (versions, watermarks), on a warehouse never run
        seen = versions(conn, [f"marts.{m}" for m in INPUT_MARTS])
        mark = watermark(conn, "predict")
        exists = all(wh.table_exists(conn, "marts", n) for n in names)
    if not force and not retrain and exists and mark is not None and mark[1].get("inputs") == seen:
        result.rows = {k: int(v) for k, v in mark[1].get("rows", {}).items()}
        result.skipped = True
        return result
    started = time.monotonic()
    inputs = read_inputs(wh)
    now = (now or pd.Timestamp.now()).floor("s")
    models = stored_models(wh)
    reasons = {kind: "requested" if retrain else _needs_training(models.get(kind), inputs, now, settings, floor)
               for kind in KINDS}
    digest = inputs_digest(inputs, repr((settings, simulations)))
    if (not force and exists and mark is not None and mark[1].get("digest") == digest
            and not any(reasons.values())):  # the versions moved, the rows the predictions read did not
        with wh.begin() as conn:
            set_watermark(conn, "predict", 0, {**mark[1], "inputs": seen})
        result.rows = {k: int(v) for k, v in mark[1].get("rows", {}).items()}
        result.skipped = True
        prog("predictions: kept (the rows they read did not change)")
        return result
    fresh: list[Trained] = []
    for kind in KINDS:
        why = reasons[kind]
        if why is None:
            continue
        model = train(kind, inputs, floor, now=now, simulations=simulations)
        models[kind] = model
        fresh.append(model)
        prog(f"trained the {kind} model ({why}): {model.method}, {model.guard}; {model.seconds:.1f} s")
    open_now = open_opportunity_features(inputs)
    frames = {"opportunity_scores": opportunity_scores(inputs, models["opportunity"], open_now),
              "lead_scores": lead_scores(inputs, models["lead"]),
              "pipeline_forecast": pipeline_forecast(inputs, models["opportunity"], simulations, open_now)}
    current = {m.model_id for m in models.values()}
    with wh.begin() as conn:
        has_models = wh.table_exists(conn, "marts", "prediction_models")
    if fresh or not has_models:
        earlier = [] if not has_models else [m for m in _all_stored(wh) if m.model_id not in current]
        frames["prediction_models"], frames["prediction_calibration"] = model_rows(
            [*earlier, *models.values()], current)
    with wh.begin() as conn:
        wh.create_table(conn, "raw", STORE, STORE_COLUMNS)
        for m in fresh:
            payload = base64.b64encode(pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")
            wh.insert_frame(conn, "raw", STORE, pd.DataFrame({"model_id": [m.model_id], "kind": [m.kind],
                                                              "trained_at": [m.trained_at], "payload": [payload]}))
        for name in names:
            if name in frames:
                result.rows[name] = _write(wh, conn, name, frames[name])
            else:
                result.rows[name] = int(mark[1].get("rows", {}).get(name, 0)) if mark else 0
        set_watermark(conn, "predict", 0, {"inputs": seen, "rows": result.rows, "digest": digest})
    result.trained = [m.model_id for m in fresh]
    prog(f"predictions: {result.rows['opportunity_scores']:,} opportunities and {result.rows['lead_scores']:,} "
         f"leads scored as of {inputs.as_of():%Y-%m-%d} in {time.monotonic() - started:.1f} s")
    return result


def _all_stored(wh: Warehouse) -> list[Trained]:
    """Every model kept, oldest first (their rows in prediction_models)."""
    rows = wh.read_frame(f"SELECT payload FROM raw.{STORE} ORDER BY trained_at")
    out = [pickle.loads(base64.b64decode(p)) for p in rows["payload"]]  # our own models
    return [m for m in out if isinstance(m, Trained)]

"""Training with honest guards: a time-split backtest, then the model that scores.

1. Samples: every open opportunity (lead) on every month start, with its features then (`predict.samples`).
2. Guard: a model needs a minimum of data (the numbers Salesforce Einstein asks for, by default); below it the
   fallback is the baseline, the historical rate of the sample's stage (opportunities) or channel (leads), and the
   model's row says which minimum was not met.
3. Backtest: a cutoff month splits time. Trained on the samples before it whose outcome was known before it, tested
   on the samples from it on (never on the future: no row of the test period, no outcome learnt after the cutoff, is
   seen in training). AUC, Brier score and a calibration table for the model and the baseline on the same rows; for
   opportunities also the monthly forecast made on each test month start against what its pipeline then won.
4. The model that scores is then trained the same way on every sample whose outcome is known.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from predict import metrics
from predict.features import FEATURES
from predict.forecast import Timing, forecast
from predict.inputs import Inputs
from predict.model import Classifier, fit
from predict.samples import Samples, closed_time, lead_samples, opportunity_samples

TEST_SHARE = 0.25
SETTLED_SHARE = 0.9
GUARD_WINDOW = pd.DateOffset(months=24)


@dataclass(frozen=True)
class Minimums:
    """The data a model needs (Salesforce Einstein's published minimums by default)."""

    won: int = 200  # opportunities won …
    lost: int = 200  # … and lost, closed in the 24 months before training
    leads: int = 1000  # leads created in the 24 months before training …
    converted: int = 120  # … of which converted to an opportunity


@dataclass
class Trained:
    """A trained model of one kind (or its fallback), with its backtest."""

    kind: str
    model_id: str
    trained_at: pd.Timestamp
    data_as_of: pd.Timestamp
    method: str
    guard: str
    classifier: Classifier | None
    rates: dict[str, float]  # the baseline: the rate of each stage (channel)
    base_rate: float
    timing: Timing | None
    cutoff: pd.Timestamp | None = None
    stats: dict[str, float | int | None] = field(default_factory=dict)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest_forecast: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0
    minimums: Minimums | None = None

    @property
    def features(self) -> list[str]:
        return [f.name for f in FEATURES[self.kind]]

    def baseline(self, groups: pd.Series) -> np.ndarray:
        return groups.map(self.rates).fillna(self.base_rate).to_numpy(dtype=float)

    def predict(self, features: pd.DataFrame, groups: pd.Series) -> np.ndarray:
        """The probability of each row: the model's, or the baseline's when there is no model."""
        if self.classifier is None:
            return self.baseline(groups)
        return self.classifier.predict(features)


FALLBACK = {"opportunity": "stage_win_rates", "lead": "channel_rates"}


def group_rates(samples: Samples, mask: np.ndarray) -> tuple[dict[str, float], float]:
    """The baseline: the outcome rate per group (stage, channel) over `mask`, shrunk towards the overall rate with
    two samples' weight; and the overall rate."""
    y = samples.label[mask]
    base = float(y.mean()) if len(y) else 0.5
    frame = pd.DataFrame({"g": samples.group[mask].to_numpy(), "y": y})
    stats = frame.groupby("g")["y"].agg(["sum", "count"])
    return {str(g): float((r["sum"] + 2 * base) / (r["count"] + 2)) for g, r in stats.iterrows()}, base


def check_guard(kind: str, inputs: Inputs, at: pd.Timestamp, minimums: Minimums) -> tuple[bool, str]:
    """Whether the data before `at` meets the minimums, and a sentence saying what was asked and what there was."""
    since = at - GUARD_WINDOW
    if kind == "opportunity":
        o = inputs.opportunities
        closed = closed_time(o)
        recent = (closed >= since) & (closed < at)
        won = int((recent & (o["outcome"] == "won")).sum())
        lost = int((recent & (o["outcome"] == "lost")).sum())
        ok = won >= minimums.won and lost >= minimums.lost
        return ok, (f"{won:,} won and {lost:,} lost opportunities closed in the 24 months before "
                    f"{at:%Y-%m-%d} (a model needs {minimums.won:,} won and {minimums.lost:,} lost)")
    from predict.features import lead_conversions

    leads = inputs.leads
    recent = (leads["created_at"] >= since) & (leads["created_at"] < at)
    converted = lead_conversions(inputs)["converted_at"] < at
    n, c = int(recent.sum()), int((recent & converted).sum())
    ok = n >= minimums.leads and c >= minimums.converted
    return ok, (f"{n:,} leads created in the 24 months before {at:%Y-%m-%d}, {c:,} of them converted (a model "
                f"needs {minimums.leads:,} leads and {minimums.converted:,} converted)")


def settled(samples: Samples, until: pd.Timestamp, before: pd.Timestamp | None = None) -> np.ndarray:
    """The samples (dated before `before`, if given) whose outcome was known by `until`, from snapshot dates at least
    the time most outcomes take (SETTLED_SHARE of those known) before `until`: on the last dates only the quick
    outcomes are known (deals lost early, quick wins), and learning from them alone biases the model (and its
    calibration, fitted on the latest rows) towards them."""
    dated = np.ones(len(samples), dtype=bool) if before is None else (samples.as_of < before).to_numpy()
    known = dated & samples.resolved & (samples.resolved_at < until).to_numpy()
    if not known.any():
        return known
    took = (samples.resolved_at[known] - samples.as_of[known]).quantile(SETTLED_SHARE)
    return known & (samples.as_of <= until - took).to_numpy()


def choose_cutoff(samples: Samples) -> pd.Timestamp | None:
    """The month start from which about the last quarter of the labelled samples lies (the test period)."""
    dates = samples.as_of[samples.resolved]
    if dates.nunique() < 4:
        return None
    cutoff = dates.quantile(1 - TEST_SHARE)
    return pd.Timestamp(cutoff).to_period("M").to_timestamp()


def _fit_or_fallback(kind: str, samples: Samples, mask: np.ndarray, ok: bool) -> Classifier | None:
    y = samples.label[mask]
    if not ok or not len(y) or y.min() == y.max():
        return None
    return fit(kind, samples.features[mask].reset_index(drop=True), y, samples.as_of[mask].reset_index(drop=True))


def crm_probability(inputs: Inputs, samples: Samples, rates: dict[str, float], base: float) -> np.ndarray:
    """The CRM's probability of each opportunity sample on its date (its stage's probability in the stage log, as a
    share), else its stage's historical win rate: the stage-weighted pipeline's weights."""
    from predict.features import opportunity_ids
    from predict.timeline import events_by

    o = inputs.opportunities
    q = pd.DataFrame({"opp": opportunity_ids(o.iloc[samples.row].reset_index(drop=True)),
                      "as_of": samples.as_of.to_numpy()})
    stages = inputs.stages.assign(opp=opportunity_ids(inputs.stages))
    at = events_by(stages, "opp", "entered_at", q, "opp", "as_of", inclusive=True, last=["probability"])
    crm = pd.to_numeric(at["last_probability"], errors="coerce").to_numpy(dtype=float) / 100
    return np.where(np.isnan(crm), samples.group.map(rates).fillna(base).to_numpy(dtype=float), crm)


def forecast_rows(inputs: Inputs, samples: Samples, p: np.ndarray, crm: np.ndarray) -> pd.DataFrame:
    """The columns `predict.forecast.forecast` reads, for opportunity samples."""
    o = inputs.opportunities.iloc[samples.row].reset_index(drop=True)
    reps = inputs.reps.drop_duplicates("rep_id").set_index("rep_id")
    return pd.DataFrame({
        "amount": o["amount"].to_numpy(dtype=float), "p": p, "crm_p": crm, "stage": samples.group.to_numpy(),
        "team": o["rep_id"].map(reps["team"]).to_numpy(), "region": o["rep_id"].map(reps["region"]).to_numpy(),
        "rep_id": o["rep_id"].to_numpy(), "rep_name": o["rep_id"].map(reps["name"]).to_numpy(),
        "won_at": o["closed_at"].where(o["outcome"] == "won").to_numpy()})


def won_opportunities(inputs: Inputs) -> pd.DataFrame:
    o = inputs.opportunities
    return o.loc[o["outcome"] == "won", ["closed_at", "amount"]]


def train(kind: str, inputs: Inputs, minimums: Minimums | None = None, now: pd.Timestamp | None = None,
          simulations: int = 1000) -> Trained:
    """Backtest, then train the model of `kind` (`opportunity` or `lead`) that scores."""
    started = time.perf_counter()
    minimums = minimums or Minimums()
    as_of = inputs.as_of()
    samples = opportunity_samples(inputs) if kind == "opportunity" else lead_samples(inputs)
    stats: dict[str, float | int | None] = {}
    calibration = pd.DataFrame()
    backtest = pd.DataFrame()
    cutoff = choose_cutoff(samples)
    if cutoff is not None:
        train_mask = settled(samples, cutoff, before=cutoff)
        test_mask = settled(samples, as_of + pd.Timedelta(seconds=1)) & (samples.as_of >= cutoff).to_numpy()
        ok, _ = check_guard(kind, inputs, cutoff, minimums)
        rates, base = group_rates(samples, train_mask)
        clf = _fit_or_fallback(kind, samples, train_mask, ok)
        test = samples.take(test_mask)
        fallback = Trained(kind, "", as_of, as_of, "", "", clf, rates, base, None)
        p = fallback.predict(test.features, test.group)
        pb = fallback.baseline(test.group)
        stats.update(train_rows=int(train_mask.sum()), train_positive=int(samples.label[train_mask].sum()),
                     test_rows=int(test_mask.sum()), test_positive=int(test.label.sum()),
                     auc=metrics.auc(test.label, p), brier=metrics.brier(test.label, p),
                     baseline_auc=metrics.auc(test.label, pb), baseline_brier=metrics.brier(test.label, pb))
        calibration = pd.concat([metrics.calibration(test.label, p).assign(method="model"),
                                 metrics.calibration(test.label, pb).assign(method="baseline")], ignore_index=True)
        if kind == "opportunity":
            backtest, mape = _backtest_forecast(inputs, samples, fallback, cutoff, train_mask, as_of, simulations)
            stats.update(mape)
    ok, guard = check_guard(kind, inputs, as_of, minimums)
    known = settled(samples, as_of + pd.Timedelta(seconds=1))
    rates, base = group_rates(samples, known)
    classifier = _fit_or_fallback(kind, samples, known, ok)
    method = "model" if classifier is not None else FALLBACK[kind]
    if classifier is None and ok:
        guard += "; every outcome alike: no model"
    trained_at = (now or pd.Timestamp.now()).floor("s")
    digest = hashlib.sha1(f"{kind}{trained_at}{as_of}{len(samples)}".encode()).hexdigest()[:8]
    model_id = f"{kind}-{trained_at:%Y%m%d%H%M%S}-{digest}"
    timing = Timing.fit(samples, known) if kind == "opportunity" else None
    if len(backtest):
        backtest["model_id"] = model_id
    return Trained(kind, model_id, trained_at, as_of, method, guard,
                   classifier, rates, base, timing, cutoff, stats, calibration, backtest,
                   time.perf_counter() - started, minimums)


def _backtest_forecast(inputs: Inputs, samples: Samples, model: Trained, cutoff: pd.Timestamp,
                       train_mask: np.ndarray, as_of: pd.Timestamp,
                       simulations: int) -> tuple[pd.DataFrame, dict[str, float | None]]:
    """The forecasts the backtest model makes on every test month start whose month has ended, and the mean
    absolute percentage error of the month's total against what the pipeline open that day won in it."""
    timing = Timing.fit(samples, train_mask)
    method = "model" if model.classifier is not None else FALLBACK["opportunity"]
    frames: list[pd.DataFrame] = []
    errors: list[float] = []
    baseline_errors: list[float] = []
    days = [pd.Timestamp(d) for d in sorted(samples.as_of[(samples.as_of >= cutoff)].unique())
            if pd.Timestamp(d) + pd.DateOffset(months=1) <= as_of]
    # The samples of every backtest day at once: one prediction, one point-in-time lookup of the CRM's
    # probabilities (a sort of every stage change), then a forecast per day from its rows.
    at = samples.take(samples.as_of.isin(days).to_numpy())
    p = model.predict(at.features, at.group)
    crm = crm_probability(inputs, at, model.rates, model.base_rate)
    every = forecast_rows(inputs, at, p, crm)
    won = won_opportunities(inputs)
    for day in days:
        rows = every[(at.as_of == day).to_numpy()].reset_index(drop=True)
        f = forecast(day, rows, timing, won, as_of, "backtest", method, "", simulations=simulations)
        frames.append(f)
        first = f[(f["level"] == "total") & (f["period_type"] == "month") & (f["period_start"] == day)].iloc[0]
        if pd.notna(first["actual_won"]) and first["actual_won"] > 0:
            error = metrics.ape(first["expected"], first["actual_won"])
            baseline_error = metrics.ape(first["stage_weighted"], first["actual_won"])
            if error is not None and baseline_error is not None:  # always: the actual is above 0
                errors.append(error)
                baseline_errors.append(baseline_error)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out, {"forecast_mape": float(np.mean(errors)) if errors else None,
                 "baseline_forecast_mape": float(np.mean(baseline_errors)) if baseline_errors else None,
                 "forecast_months": len(errors)}

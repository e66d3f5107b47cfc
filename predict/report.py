"""The backtest as text: per model its time split, AUC and Brier score against the baseline, the forecast's error,
and its calibration table. Read from the rows of `prediction_models` and `prediction_calibration`."""

from __future__ import annotations

from typing import Any

import pandas as pd

BASELINE = {"opportunity": "stage win rates", "lead": "channel rates"}


def _f(v: Any, digits: int = 3) -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):.{digits}f}"


def backtest_markdown(models: pd.DataFrame, calibration: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """A Markdown table of the models' backtests (one row per model; `labels`: a name per model_id), then each
    model's calibration table (model and baseline side by side)."""
    labels = labels or {}
    out = ["| data | kind | method | cutoff | test rows (won) | AUC | baseline AUC | Brier | baseline Brier | "
           "forecast APE % | stage-weighted APE % | train s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models.itertuples(index=False):
        cutoff = "–" if m.cutoff is None or pd.isna(m.cutoff) else f"{pd.Timestamp(m.cutoff):%Y-%m-%d}"
        test = "–" if pd.isna(m.test_rows) else f"{int(m.test_rows):,} ({int(m.test_positive):,})"
        out.append(f"| {labels.get(m.model_id, m.model_id)} | {m.kind} | {m.method} | {cutoff} | {test} | "
                   f"{_f(m.auc)} | {_f(m.baseline_auc)} | {_f(m.brier)} | {_f(m.baseline_brier)} | "
                   f"{_f(m.forecast_mape, 1)} | {_f(m.baseline_forecast_mape, 1)} | {_f(m.seconds, 1)} |")
    for m in models.itertuples(index=False):
        cal = calibration[calibration["model_id"] == m.model_id]
        if cal.empty:
            continue
        wide = cal.pivot_table(index="bin", columns="method", values=["predictions", "mean_predicted", "observed"],
                               aggfunc="first")
        out += ["", f"Calibration, {labels.get(m.model_id, m.model_id)} ({m.kind}; baseline: "
                    f"{BASELINE.get(m.kind, 'baseline')}):", "",
                "| predicted | model: n | model: mean predicted | model: observed | baseline: n | "
                "baseline: mean predicted | baseline: observed |", "|---|---|---|---|---|---|---|"]
        for b, row in wide.iterrows():
            cells = []
            for method in ("model", "baseline"):
                n = row.get(("predictions", method))
                cells += ["–" if n is None or pd.isna(n) else f"{int(n):,}",
                          _f(row.get(("mean_predicted", method))), _f(row.get(("observed", method)))]
            out.append(f"| {(int(b) - 1) * 10}–{int(b) * 10}% | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def forecast_markdown(backtest: pd.DataFrame, label: str) -> str:
    """The backtest's monthly forecasts for the company: on each test month start, the month's expected revenue and
    the stage-weighted pipeline against what the pipeline open that day won in the month, with their errors."""
    rows = backtest[(backtest["level"] == "total") & (backtest["period_type"] == "month")
                    & (pd.to_datetime(backtest["period_start"]) == pd.to_datetime(backtest["as_of"]))
                    & backtest["actual_won"].notna()].sort_values("as_of")
    out = [f"Monthly forecast, {label} (made on the month's first day from the open pipeline):", "",
           "| month | won from that pipeline | expected (80% interval) | APE % | stage-weighted | APE % |",
           "|---|---|---|---|---|---|"]
    for r in rows.itertuples(index=False):
        actual = float(r.actual_won)
        ape = abs(r.expected - actual) / actual * 100 if actual else float("nan")
        ape_w = abs(r.stage_weighted - actual) / actual * 100 if actual else float("nan")
        out.append(f"| {pd.Timestamp(r.as_of):%Y-%m} | {actual:,.0f} | {r.expected:,.0f} ({r.low:,.0f}–{r.high:,.0f}) "
                   f"| {_f(ape, 1)} | {r.stage_weighted:,.0f} | {_f(ape_w, 1)} |")
    return "\n".join(out) + "\n"

"""How good a probability is: AUC, Brier score, a calibration table, and the forecast's percentage error."""

from __future__ import annotations

import numpy as np
import pandas as pd

BINS = 10


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve; None when the outcomes are all alike."""
    y = np.asarray(y, dtype=int)
    from sklearn.metrics import roc_auc_score  # (imported when used: see predict.model)

    return float(roc_auc_score(y, p)) if len(y) and 0 < y.sum() < len(y) else None


def brier(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import brier_score_loss

    return float(brier_score_loss(np.asarray(y, dtype=int), p)) if len(y) else None


def calibration(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Ten bins of predicted probability (0-10%, …, 90-100%): count, mean prediction, observed rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    b = np.clip((p * BINS).astype(int), 0, BINS - 1) + 1
    frame = pd.DataFrame({"bin": b, "p": p, "y": y})
    out = frame.groupby("bin").agg(predictions=("p", "size"), mean_predicted=("p", "mean"), observed=("y", "mean"))
    return out.reset_index()


def ape(forecast: float, actual: float) -> float | None:
    """Absolute percentage error; None when nothing actually happened (the error has no scale)."""
    return abs(forecast - actual) / actual * 100 if actual else None

"""The classifier: scikit-learn's histogram gradient boosting, calibrated on the latest part of its training data,
and the factors behind each prediction.

Categories (stage, channel, industry) are coded by the model itself: the most frequent values seen in training,
anything else as missing. Probabilities are calibrated on the most recent fifth of the training rows (isotonic with
enough of them, Platt's sigmoid otherwise), so a model fitted on older data is corrected towards the present. The
factors of a prediction are what each feature does to it: the probability with the feature as it is, less the
probability with the feature at its most common training value, in percentage points.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from predict.features import FEATURES, Feature

if TYPE_CHECKING:  # scikit-learn is imported when a model is fitted or used (a run with nothing to predict
    # does not pay its second of start-up)
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

MAX_CATEGORIES = 60
CALIBRATION_SHARE = 0.2
MIN_FACTOR_POINTS = 0.5  # a factor moving the probability by less than this many points is not worth naming
THREADS = 1
"""OpenMP threads of the booster. Sales data is small: one thread fits 100k snapshots in seconds, while OpenMP's
spinning threads on a machine busy with other work were measured 100 times slower (560 s instead of 3.4 s)."""


@dataclass
class Classifier:
    """A fitted, calibrated classifier over a fixed list of features (`kind`'s, by name: pickled without the
    features' wording, which is looked up again when loaded)."""

    kind: str
    names: tuple[str, ...]
    categories: dict[str, list[str]]
    reference: dict[str, object]
    estimator: CalibratedClassifierCV
    calibration: str
    iterations: int
    train_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> tuple[Feature, ...]:
        by_name = {f.name: f for f in FEATURES[self.kind]}
        return tuple(by_name[n] for n in self.names)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The features as the booster reads them: numbers, categories as their codes (unknown: missing)."""
        cols = []
        for f in self.features:
            if f.categorical:
                codes = {c: i for i, c in enumerate(self.categories[f.name])}
                cols.append(frame[f.name].astype(str).map(codes).astype(float).to_numpy())
            else:
                cols.append(pd.to_numeric(frame[f.name], errors="coerce").astype(float).to_numpy())
        return np.column_stack(cols) if cols else np.empty((len(frame), 0))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if not len(frame):
            return np.empty(0)
        with threadpool_limits(THREADS):
            return np.clip(self.estimator.predict_proba(self.matrix(frame))[:, 1], 0.0, 1.0)

    def factors(self, frame: pd.DataFrame, top: int = 3) -> tuple[list[str], list[str]]:
        """Per row, the features that raise its probability most and those that lower it most, in words with their
        effect in percentage points (each feature in turn set to its most common training value)."""
        if not len(frame):
            return [], []
        base = self.predict(frame)
        effects = np.zeros((len(frame), len(self.features)))
        for j, f in enumerate(self.features):
            moved = frame.copy()
            moved[f.name] = self.reference[f.name]
            effects[:, j] = (base - self.predict(moved)) * 100
        values = frame[[f.name for f in self.features]].to_numpy(dtype=object)
        ups, downs = [], []
        order = np.argsort(-effects, axis=1)
        for i in range(len(frame)):  # only the few top factors of each row are put in words
            row = effects[i]
            up = [j for j in order[i, :top] if row[j] >= MIN_FACTOR_POINTS]
            down = [j for j in order[i, ::-1][:top] if row[j] <= -MIN_FACTOR_POINTS]
            ups.append("; ".join(f"{self.features[j].words(values[i, j])} ({row[j]:+.0f} pts)" for j in up))
            downs.append("; ".join(f"{self.features[j].words(values[i, j])} ({row[j]:+.0f} pts)" for j in down))
        return ups, downs

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @staticmethod
    def loads(data: bytes) -> Classifier:
        out = pickle.loads(data)  # our own model, from our own warehouse
        if not isinstance(out, Classifier):
            raise TypeError(f"not a predict.model.Classifier: {type(out).__name__}")
        return out


def _categories(values: pd.Series) -> list[str]:
    counts = values.astype(str).value_counts(sort=True)
    return sorted(counts.index[:MAX_CATEGORIES].tolist())


def _reference(frame: pd.DataFrame, features: Sequence[Feature]) -> dict[str, object]:
    ref: dict[str, object] = {}
    for f in features:
        col = frame[f.name]
        if f.categorical:
            ref[f.name] = col.astype(str).mode().iloc[0]
        else:
            num = pd.to_numeric(col, errors="coerce")
            ref[f.name] = float(num.median()) if num.notna().any() else float("nan")
    return ref


def booster(rows: int) -> HistGradientBoostingClassifier:
    """Shallow, strongly regularized trees learning slowly, with early stopping: sales data is small and noisy (on
    the demo's 2,000 deals, the less regularized trees of before lost to the stage win rates)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=6, max_depth=3, min_samples_leaf=max(50, rows // 100),
        l2_regularization=3.0, early_stopping=True, validation_fraction=0.2, n_iter_no_change=20, random_state=0)


def fit(kind: str, frame: pd.DataFrame, y: np.ndarray, order: pd.Series) -> Classifier:
    """Fit `kind`'s features in `frame` to `y` (0/1); `order` (the snapshot dates) puts the latest fifth aside to
    calibrate on."""
    with threadpool_limits(THREADS):
        return _fit(kind, frame, y, order)


def _fit(kind: str, frame: pd.DataFrame, y: np.ndarray, order: pd.Series) -> Classifier:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    features = FEATURES[kind]
    cats = {f.name: _categories(frame[f.name]) for f in features if f.categorical}
    shell = Classifier(kind, tuple(f.name for f in features), cats, _reference(frame, features), None,
                       "", 0, len(frame))
    x = shell.matrix(frame)
    mask = [f.categorical for f in features]
    ranked = np.argsort(order.to_numpy(), kind="stable")
    n_cal = int(len(frame) * CALIBRATION_SHARE)
    fit_rows, cal_rows = ranked[:len(frame) - n_cal], ranked[len(frame) - n_cal:]
    y = np.asarray(y, dtype=int)
    enough = n_cal >= 200 and 0 < y[cal_rows].sum() < n_cal and 0 < y[fit_rows].sum() < len(fit_rows)
    if enough:
        model = booster(len(fit_rows)).set_params(categorical_features=mask).fit(x[fit_rows], y[fit_rows])
        method = "isotonic" if n_cal >= 1000 and y[cal_rows].sum() >= 50 else "sigmoid"
        estimator = CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(x[cal_rows], y[cal_rows])
        shell.notes.append(f"calibrated ({method}) on the latest {n_cal:,} training rows")
    else:  # too few recent rows to set aside: calibrate by cross-validation
        model = booster(len(frame)).set_params(categorical_features=mask)
        method = "sigmoid"
        estimator = CalibratedClassifierCV(model, method=method, cv=3).fit(x, y)
        shell.notes.append("calibrated (sigmoid) by 3-fold cross-validation")
    shell.estimator, shell.calibration = estimator, method
    shell.iterations = int(getattr(model, "n_iter_", 0) or 0)
    return shell

"""Comparison of candidate pairs: each comparison turns a pair into a level, vectorized.

A comparison is data (`ComparisonSpec`), so the same engine links companies and persons:
the customer spec lives in `mdm/specs.py`, others come from the config. Levels are small
integers: `-1` when either value is missing (no evidence), `0` for "different", and higher
levels for closer agreement, the highest being an exact match.

Kinds:
- `exact`: 1 equal, 0 different.
- `string`: exact, then one level per similarity threshold (descending), then 0. Metrics:
  `jaro_winkler` (default), `levenshtein`, `damerau_levenshtein`, `jaro` (normalized
  similarities from rapidfuzz, computed with `process.cpdist` on all pairs at once).
- `uscc`: 3 equal codes; 2 same organization code or at most two characters apart (a keying
  error); 0 different.
- `phone`: 2 same canonical number; 1 same last eight digits (formats, area codes); 0 different.

The features plug into recordlinkage's `Compare` as `BaseCompareFeature` subclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import recordlinkage as rl
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Hamming, Jaro, JaroWinkler, Levenshtein
from recordlinkage.base import BaseCompareFeature

METRICS = {
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "jaro": Jaro.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "damerau_levenshtein": DamerauLevenshtein.normalized_similarity,
}
KINDS = ("exact", "string", "uscc", "phone")


@dataclass(frozen=True)
class ComparisonSpec:
    """How to compare one attribute of two records."""

    name: str
    kind: str
    column: str
    thresholds: tuple[float, ...] = ()
    metric: str = "jaro_winkler"
    extra: tuple[str, ...] = ()          # uscc: the org-code column; phone: the last-8-digits column
    context: str | None = None           # string: a column whose agreement splits each similar level
    tf: bool = False                     # term-frequency adjust the exact level
    label: str = ""
    doc: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"comparison {self.name}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "string" and self.metric not in METRICS:
            raise ValueError(f"comparison {self.name}: unknown metric {self.metric!r}; "
                             f"expected one of {', '.join(METRICS)}")
        if list(self.thresholds) != sorted(self.thresholds, reverse=True):
            raise ValueError(f"comparison {self.name}: thresholds must be in descending order")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, *self.extra, *((self.context,) if self.context else ()))

    @property
    def n_levels(self) -> int:
        """Levels 0..n_levels-1 (plus -1 for missing)."""
        if self.kind == "exact":
            return 2
        if self.kind == "string":
            similar = len(self.thresholds) + 1
            return 1 + similar * (3 if self.context else 1)
        if self.kind == "uscc":
            return 4
        return 3

    def exact_levels(self) -> list[int]:
        """The levels that mean the values are equal (one per context agreement for `string`)."""
        if self.kind == "string" and self.context:
            return [self.n_levels - 3, self.n_levels - 2, self.n_levels - 1]
        return [self.n_levels - 1]

    def level_names(self) -> list[str]:
        if self.kind == "exact":
            return ["different", "exact"]
        if self.kind == "string":
            sims = [*[f"{self.metric} ≥ {t}" for t in reversed(self.thresholds)], "exact"]
            if not self.context:
                return ["different", *sims]
            return ["different"] + [f"{sim}, {self.context} {c}" for sim in sims
                                    for c in ("different", "unknown", "same")]
        if self.kind == "uscc":
            return ["different", "-", "typo or same org code", "exact"]
        return ["different", "same last 8 digits", "exact"]


def _text(s: pd.Series | np.ndarray) -> np.ndarray:
    """An object array of str or None (pd.NA and NaN become None)."""
    ser = pd.Series(s).astype(object)
    return ser.where(ser.notna(), None).to_numpy()


def _missing(a: np.ndarray) -> np.ndarray:
    return pd.isna(a) | (a == "")


def similarity(a: np.ndarray, b: np.ndarray, metric: str = "jaro_winkler", workers: int = 1) -> np.ndarray:
    """Pairwise similarity of two equal-length arrays of strings (missing → 0)."""
    miss = _missing(a) | _missing(b)
    qa = np.where(miss, "", a).astype(str).tolist()
    qb = np.where(miss, "", b).astype(str).tolist()
    sim = process.cpdist(qa, qb, scorer=METRICS[metric], workers=workers, dtype=np.float32)
    sim[miss] = 0
    return sim


def levels(spec: ComparisonSpec, left: Sequence[pd.Series], right: Sequence[pd.Series],
           workers: int = 1) -> np.ndarray:
    """The level of each pair for one comparison; `left[i]`/`right[i]` hold spec.columns[i]."""
    a, b = _text(left[0]), _text(right[0])
    miss = _missing(a) | _missing(b)
    eq = (a == b) & ~miss
    out = np.zeros(len(a), dtype=np.int8)
    if spec.kind == "exact":
        out[eq] = 1
    elif spec.kind == "string":
        sim = similarity(a, b, spec.metric, workers)
        top = len(spec.thresholds) + 1
        for i, t in enumerate(reversed(spec.thresholds)):  # ascending so higher thresholds win
            out[(sim >= t) & ~eq] = i + 1
        out[eq] = top
        if spec.context:
            # Split each similar level by the context: 0 different, 1 unknown, 2 same.
            ca, cb = _text(left[-1]), _text(right[-1])
            cmiss = _missing(ca) | _missing(cb)
            ctx = np.where(cmiss, 1, np.where(ca == cb, 2, 0)).astype(np.int8)
            out = np.where(out > 0, 1 + (out - 1) * 3 + ctx, 0).astype(np.int8)
    elif spec.kind == "uscc":
        qa = np.where(miss, "", a).astype(str).tolist()
        qb = np.where(miss, "", b).astype(str).tolist()
        dist = process.cpdist(qa, qb, scorer=Hamming.distance, workers=workers, dtype=np.int32)
        close = (dist <= 2) & ~miss
        if len(spec.extra) and len(left) > 1:
            oa, ob = _text(left[1]), _text(right[1])
            close |= (oa == ob) & ~(_missing(oa) | _missing(ob)) & ~miss
        out[close] = 2
        out[eq] = 3
    elif spec.kind == "phone":
        if len(left) > 1:
            da, db = _text(left[1]), _text(right[1])
            out[(da == db) & ~(_missing(da) | _missing(db))] = 1
        out[eq] = 2
    out[miss] = -1
    return out


class LevelFeature(BaseCompareFeature):
    """A recordlinkage compare feature that yields the levels of one `ComparisonSpec`."""

    def __init__(self, spec: ComparisonSpec, workers: int = 1):
        super().__init__(list(spec.columns), list(spec.columns), label=spec.name)
        self.spec, self.workers = spec, workers

    def _compute_vectorized(self, *args: pd.Series) -> np.ndarray:
        n = len(self.spec.columns)
        return levels(self.spec, list(args[:n]), list(args[n:]), self.workers)


def compare(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, specs: Sequence[ComparisonSpec],
            workers: int = 1) -> pd.DataFrame:
    """Comparison levels of each pair (rows aligned with `left`/`right`), one int8 column per spec."""
    if len(left) == 0:
        return pd.DataFrame({s.name: pd.Series(dtype=np.int8) for s in specs})
    comp = rl.Compare([LevelFeature(s, workers) for s in specs])
    cols = sorted({c for s in specs for c in s.columns})
    frame = records[cols].reset_index(drop=True)
    pairs = pd.MultiIndex.from_arrays([left, right])
    out = comp.compute(pairs, frame)
    return out.reset_index(drop=True).astype(np.int8)

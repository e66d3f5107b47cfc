"""Comparison of candidate pairs: each comparison turns a pair into a level, vectorized.

A comparison is data (`ComparisonSpec`), so the same engine links companies and persons:
the customer spec lives in `mdm/specs.py`, others come from the config. Levels are small
integers: `-1` when either value is missing (no evidence), `0` for "different", and higher
levels for closer agreement, the highest being an exact match.

Kinds:
- `exact`: 1 equal, 0 different.
- `string`: exact, then one level per similarity threshold (descending), then 0. Metrics:
  `jaro_winkler` (default), `levenshtein`, `damerau_levenshtein`, `jaro` (normalized
  similarities from rapidfuzz). With a `context` column each similar level is split three
  ways by whether the context values differ, one is unknown, or they agree (a name that
  agrees in the same city says more than in another city).
- `uscc`: 3 equal codes; 2 same organization code or at most two characters apart (a keying
  error); 0 different.
- `phone`: 2 same canonical number; 1 same last eight digits (formats, area codes); 0 different.

Any kind may have an `alias` column: other names a record is known by (its former name, 曾用名); the level
is the best of name against name, alias against name and name against alias, so a former name is matched
like a current one. Any kind may have a `gate` column: the comparison applies only to pairs where one side at
least has it (the pinyin brand is compared only when one of the names is written in Latin letters). `common`
and `owner`: a value held by records of `common` distinct owners or more identifies nothing (`mdm.classify`).

Speed: every column is factorized once (`encode`), so equality is an integer comparison, and
string similarities are computed with rapidfuzz's `process.cpdist` once per distinct pair of
values, not once per pair of records. The features plug into recordlinkage's `Compare` as
`BaseCompareFeature` subclasses working on those codes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Hamming, Jaro, JaroWinkler, Levenshtein

from core.vocabulary import COMPARISON_KINDS

METRICS: dict[str, Callable[..., float]] = {
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "jaro": Jaro.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "damerau_levenshtein": DamerauLevenshtein.normalized_similarity,
}
KINDS = COMPARISON_KINDS  # (core.vocabulary: the one list, which the config validates with)


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
    doc: str = field(default="", compare=False)
    gate: str | None = None              # only pairs where one side at least has this column count (else missing)
    common: int = 0                      # a value held by records of this many distinct `owner`s identifies nothing
    owner: str | None = None             # (mdm.classify.common_values: such values count as missing)
    alias: str | None = None             # another name of the record (its former name), compared like `column`

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
        return (self.column, *self.extra, *((self.context,) if self.context else ()),
                *((self.gate,) if self.gate else ()), *((self.alias,) if self.alias else ()))

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


class DistinctValues(dict):
    """Column → its distinct values. Arrow dictionaries become NumPy arrays of Python strings the first
    time a column is looked up (for a similarity), once; columns only blocked on are never converted.
    `derived` keeps what is computed once per distinct value (a linking in steps asks for it every step)."""

    def derived(self, key: tuple[object, ...], compute: Callable[[], Any]) -> Any:
        memo: dict[tuple[object, ...], Any] = self.__dict__.setdefault("memo", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def __getitem__(self, column: str) -> np.ndarray:
        values = super().__getitem__(column)
        if isinstance(values, pa.Array):
            values = values.to_numpy(zero_copy_only=False)
            super().__setitem__(column, values)
        return values


@dataclass
class Encoded:
    """Records' compared columns as integer codes (-1 = missing) and the distinct values behind them."""

    codes: pd.DataFrame
    uniques: dict[str, np.ndarray]  # a DistinctValues: columns become Python strings only when looked up


def encode_column(col: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Integer codes (-1 = missing or empty) and distinct values of one column, via Arrow."""
    if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
        arr = pa.chunked_array(col.array._pa_array)
    else:
        try:  # text columns: straight into Arrow
            arr = pa.chunked_array([pa.array(col, pa.string(), from_pandas=True)])
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: each value as its text
            obj = col.astype(object)
            arr = pa.chunked_array([pa.array(obj.where(obj.notna(), None).map(str, na_action="ignore"),
                                             pa.string())])
    enc = arr.combine_chunks().dictionary_encode() if arr.num_chunks else pa.array([], pa.string())
    if not len(enc):
        return np.zeros(0, np.int32), pa.array([], pa.string())
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    empty = pc.index(enc.dictionary, "").as_py()  # "" counts as missing; it stays unreferenced in the dictionary
    if empty >= 0:
        codes[codes == empty] = -1
    return codes, enc.dictionary


def encode(records: pd.DataFrame, specs: Sequence[ComparisonSpec] = (), columns: Sequence[str] = (),
           workers: int = 1) -> Encoded:
    """Factorize every column the specs compare (and `columns`), once, on `workers` threads (Arrow's
    hashing runs outside the GIL); empty strings count as missing."""
    names = sorted({col for s in specs for col in s.columns} | set(columns))
    if workers > 1 and len(names) > 1:
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda c: encode_column(records[c]), names))
    else:
        done = [encode_column(records[c]) for c in names]
    codes = {c: d[0] for c, d in zip(names, done, strict=True)}
    uniques = DistinctValues({c: d[1] for c, d in zip(names, done, strict=True)})
    return Encoded(pd.DataFrame(codes, index=pd.RangeIndex(len(records))), uniques)


def value_texts(uniques: np.ndarray, idx: np.ndarray) -> list[str]:
    """The distinct values at positions `idx` of an encoded column (`Encoded.uniques[column]`), as strings."""
    return np.asarray(uniques, dtype=object)[idx].tolist()


def pair_similarity(ca: np.ndarray, cb: np.ndarray, uniques: np.ndarray, scorer: Callable[..., float],
                    workers: int = 1, dtype: type = np.float32) -> np.ndarray:
    """Similarity of coded value pairs, computed once per distinct pair of values."""
    if not len(ca):
        return np.zeros(0, dtype=dtype)
    key = ca.astype(np.int64) * np.int64(len(uniques) + 1) + cb.astype(np.int64)
    inverse, ukey = pd.factorize(key)  # hashing, not sorting: the order of distinct pairs does not matter
    ua, ub = ukey // (len(uniques) + 1), ukey % (len(uniques) + 1)
    sim = process.cpdist(value_texts(uniques, ua), value_texts(uniques, ub), scorer=scorer, workers=workers,
                         dtype=dtype)
    return np.asarray(sim)[inverse]


def levels(spec: ComparisonSpec, left: Sequence[np.ndarray], right: Sequence[np.ndarray],
           uniques: dict[str, np.ndarray], workers: int = 1) -> np.ndarray:
    """The level of each pair for one comparison, from the codes of `spec.columns` on each side."""
    if spec.alias:
        return _alias_levels(spec, left, right, uniques, workers)
    ca, cb = np.asarray(left[0]), np.asarray(right[0])
    miss = (ca < 0) | (cb < 0)
    eq = (ca == cb) & ~miss
    diff = ~miss & ~eq
    out = np.zeros(len(ca), dtype=np.int8)
    if spec.kind == "exact":
        out[eq] = 1
    elif spec.kind == "string":
        top = len(spec.thresholds) + 1
        if spec.thresholds and diff.any():
            sim = pair_similarity(ca[diff], cb[diff], uniques[spec.column], METRICS[spec.metric], workers)
            lv = np.zeros(len(sim), dtype=np.int8)
            for i, t in enumerate(reversed(spec.thresholds)):  # ascending so higher thresholds win
                lv[sim >= t] = i + 1
            out[diff] = lv
        out[eq] = top
        if spec.context:
            # Split each similar level by the context: 0 different, 1 unknown, 2 same.
            at = 1 + len(spec.extra)
            xa, xb = np.asarray(left[at]), np.asarray(right[at])
            ctx = np.where((xa < 0) | (xb < 0), 1, np.where(xa == xb, 2, 0)).astype(np.int8)
            out = np.where(out > 0, 1 + (out - 1) * 3 + ctx, 0).astype(np.int8)
    elif spec.kind == "uscc":
        if diff.any():
            dist = pair_similarity(ca[diff], cb[diff], uniques[spec.column], Hamming.distance, workers, np.int32)
            close = dist <= 2
            if spec.extra:
                oa, ob = np.asarray(left[1])[diff], np.asarray(right[1])[diff]
                close |= (oa == ob) & (oa >= 0)
            out[np.flatnonzero(diff)[close]] = 2
        out[eq] = 3
    elif spec.kind == "phone":
        if spec.extra:
            da, db = np.asarray(left[1]), np.asarray(right[1])
            out[(da == db) & (da >= 0)] = 1
        out[eq] = 2
    out[miss] = -1
    if spec.gate:  # neither side has the gate column: the comparison does not apply
        ga, gb = np.asarray(left[-1]), np.asarray(right[-1])
        out[(ga < 0) & (gb < 0)] = -1
    return out


def _alias_levels(spec: ComparisonSpec, left: Sequence[np.ndarray], right: Sequence[np.ndarray],
                  uniques: dict[str, np.ndarray], workers: int) -> np.ndarray:
    """The best level of name–name, alias–name and name–alias: the alias codes are mapped onto one dictionary
    with the names (once per distinct value), then compared as names."""
    plain = dataclasses.replace(spec, alias=None)
    best = levels(plain, left[:-1], right[:-1], uniques, workers)
    assert spec.alias is not None  # (only name comparisons with an alias column come here)
    column, alias = spec.column, spec.alias

    def joined() -> tuple[np.ndarray, np.ndarray]:
        names = np.asarray(uniques[column], dtype=object)
        other = np.asarray(uniques[alias], dtype=object)
        pos = pd.Index(names).get_indexer(other) if len(names) else np.full(len(other), -1)
        new = pos < 0
        pos[new] = len(names) + np.arange(int(new.sum()))
        return np.concatenate([names, other[new]]), np.append(pos, -1)  # code -1 (no alias) stays missing

    joint, as_name = (uniques.derived(("alias", column, alias), joined) if isinstance(uniques, DistinctValues)
                      else joined())
    joint_uniques = {**uniques, spec.column: joint}
    for a, b in ((left, right), (right, left)):
        alias_codes = as_name[np.asarray(a[-1])]
        if (alias_codes >= 0).any():
            got = levels(plain, [alias_codes, *a[1:-1]], b[:-1], joint_uniques, workers)
            best = np.maximum(best, got)
    return best


@functools.cache
def _recordlinkage_classes() -> tuple[type, type]:
    """recordlinkage's `Compare` and a feature class for our levels, defined on first use: recordlinkage pulls in
    scikit-learn and SciPy (seconds of start-up), which a run with nothing to compare never needs."""
    import recordlinkage as rl
    from recordlinkage.base import BaseCompareFeature

    class LevelFeature(BaseCompareFeature):
        """A recordlinkage compare feature that yields the levels of one `ComparisonSpec` from codes."""

        def __init__(self, spec: ComparisonSpec, uniques: dict[str, np.ndarray], workers: int = 1):
            super().__init__(list(spec.columns), list(spec.columns), label=spec.name)
            self.spec, self.uniques, self.workers = spec, uniques, workers

        def _compute_vectorized(self, *args: pd.Series) -> np.ndarray:
            n = len(self.spec.columns)
            left = [np.asarray(a) for a in args[:n]]
            right = [np.asarray(a) for a in args[n:]]
            return levels(self.spec, left, right, self.uniques, self.workers)

    class PairOrderCompare(rl.Compare):
        """recordlinkage's `Compare` for records addressed by position: each feature gets the two sides'
        columns taken by the pair index's codes (NumPy takes, not label lookups of a 3-million-row index),
        and rows come back in the order of the pairs, not re-indexed by the MultiIndex (the caller drops it)."""

        def _compute(self, pairs: pd.MultiIndex, x: pd.DataFrame, x_link: pd.DataFrame | None = None
                     ) -> pd.DataFrame:
            left, right = np.asarray(pairs.codes[0]), np.asarray(pairs.codes[1])
            other = x if x_link is None else x_link
            features = []
            for feat in self.features:
                data1 = tuple(x[c].to_numpy()[left] for c in feat.labels_left)
                data2 = tuple(other[c].to_numpy()[right] for c in feat.labels_right)
                features.append((feat._compute(data1, data2), feat.label))
            return self._union(features, None)

    return LevelFeature, PairOrderCompare


# Pairs a thread takes at least: below, one thread does all (a query's handful of candidates, a small rerun).
MIN_PART_PAIRS = 100_000


def in_parts(work: Callable[[np.ndarray, np.ndarray], pd.DataFrame], left: np.ndarray, right: np.ndarray,
             workers: int) -> pd.DataFrame:
    """`work(left, right)` over consecutive parts of the pairs on up to `workers` threads, the parts' rows
    concatenated in the pairs' order: the same frame as one call. Each part is a pair-at-a-time computation
    (levels, weights) whose NumPy, pandas hashing and rapidfuzz work runs outside the GIL, so on two cores two
    parts take little more than one."""
    parts = max(1, min(workers, len(left) // MIN_PART_PAIRS))
    if parts == 1:
        return work(left, right)
    cuts = np.linspace(0, len(left), parts + 1).astype(np.int64)
    with ThreadPoolExecutor(parts) as pool:
        done = list(pool.map(lambda i: work(left[cuts[i]:cuts[i + 1]], right[cuts[i]:cuts[i + 1]]), range(parts)))
    return pd.concat(done, ignore_index=True)


def compare(records: pd.DataFrame | Encoded, left: np.ndarray, right: np.ndarray,
            specs: Sequence[ComparisonSpec], workers: int = 1) -> pd.DataFrame:
    """Comparison levels of each pair (rows aligned with `left`/`right`), one int8 column per spec; with
    `workers` > 1 the pairs are compared in parts on that many threads (`in_parts`)."""
    if len(left) == 0:
        return pd.DataFrame({s.name: pd.Series(dtype=np.int8) for s in specs})
    enc = records if isinstance(records, Encoded) else encode(records, specs)
    level_feature, pair_order_compare = _recordlinkage_classes()
    if workers > 1 and len(left) >= 2 * MIN_PART_PAIRS:
        return in_parts(lambda a, b: compare(enc, a, b, specs), np.asarray(left), np.asarray(right), workers)
    comp = pair_order_compare([level_feature(s, enc.uniques, workers) for s in specs])
    n = len(enc.codes)  # positions 0..n-1: the pair index is built from its codes, no factorizing
    pairs = pd.MultiIndex(levels=[pd.RangeIndex(n), pd.RangeIndex(n)],
                          codes=[np.asarray(left), np.asarray(right)], verify_integrity=False)
    out = comp.compute(pairs, enc.codes)
    return out.reset_index(drop=True).astype(np.int8)

"""Fellegi-Sunter scoring, trained without labels: u from random pairs, m (and the prior) by EM.

The model is a small JSON-able object, so it can be saved in the warehouse and reused: an
incremental run scores new pairs with exactly the weights the earlier pairs were scored with.

- u(level) is the level's frequency among random record pairs (nearly all non-matches).
- m(level) and the prior λ = P(match | candidate pair) are fitted by EM on the candidate pairs'
  comparison patterns; u is fitted with them (`train`), anchored by the random-pair u counted as
  `U_ANCHOR_PAIRS` pairs, so that a handful of candidates cannot all be explained as non-matches.
- Term-frequency adjustment (Splink's): on an exact match of a `tf` comparison, the weight uses
  the frequency of the shared value instead of the average u, so a common name says less.
- A missing level (-1) contributes nothing.
- Common values (`common_values`): a value of an identifying field held by records of many distinct names
  (a contact typed as a placeholder, a switchboard) is kept with the model and compared as missing.

`match_weight` is the log2 Bayes factor sum plus the prior log-odds; `probability` maps it to (0, 1).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import orjson
import pandas as pd

from mdm.compare import ComparisonSpec, DistinctValues, Encoded, compare, encode, value_texts
from mdm.per_object import PerObject

EPS = 1e-6
# Fitting u on the candidates (see `train`) is anchored by the random-pair u, counted as this many pairs: nothing
# against millions of candidates, but on a handful (three identical records; two pairs of duplicates) it keeps EM
# from explaining every candidate as a non-match with a u fitted to them (a prior at its floor, nothing linked).
U_ANCHOR_PAIRS = 50.0


def _tf_shares(uniques: dict[str, np.ndarray], column: str, table: dict[str, float], default: float) -> np.ndarray:
    """The term-frequency share of each distinct value of an encoded column: one dict look-up per distinct value
    (a pandas `map` would first index the whole table: hundreds of thousands of values for a few thousand)."""
    uniq = uniques[column]
    get = table.get
    return np.fromiter((get(v, default) for v in value_texts(uniq, np.arange(len(uniq)))), dtype=float,
                       count=len(uniq))


def _tf_shares_kept(uniques: dict[str, np.ndarray], column: str, table: dict[str, float], default: float
                    ) -> tuple[dict[str, float], np.ndarray]:
    """`_tf_shares` with the table it came from (kept alive with the result, so the id in its key is not reused)."""
    return table, _tf_shares(uniques, column, table, default)


@dataclass
class FellegiSunter:
    specs: list[ComparisonSpec]
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_default: dict[str, float] = field(default_factory=dict)
    tf_reference: dict[str, float] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)
    common: dict[str, list[str]] = field(default_factory=dict)  # per comparison: values that identify nothing

    # --- scoring -------------------------------------------------------------------------------------------

    def weights(self, lv: pd.DataFrame, tf_values: dict[str, np.ndarray] | None = None,
                tf_freqs: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """Per-comparison log2 Bayes factors of each pair (0 for a missing level). Term-frequency
        comparisons take each pair's value (`tf_values`) or its share already looked up (`tf_freqs`)."""
        return pd.DataFrame(self._weight_columns(lv, tf_values, tf_freqs))

    def _weight_columns(self, lv: pd.DataFrame, tf_values: dict[str, np.ndarray] | None = None,
                        tf_freqs: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        out = {}
        for s in self.specs:
            m, u = np.asarray(self.m[s.name]), np.asarray(self.u[s.name])
            levels = lv[s.name].to_numpy()
            w = np.log2(np.clip(m, EPS, 1)) - np.log2(np.clip(u, EPS, 1))
            col = np.where(levels >= 0, w[np.clip(levels, 0, len(w) - 1)], 0.0)
            if s.tf and s.name in self.tf and (s.name in (tf_freqs or {}) or s.name in (tf_values or {})):
                exact = np.isin(levels, s.exact_levels())
                if exact.any():
                    if tf_freqs is not None and s.name in tf_freqs:
                        freq = np.asarray(tf_freqs[s.name], dtype=float)[exact]
                    else:
                        freq = _shares((tf_values or {})[s.name][exact], self.tf[s.name], self.tf_default[s.name])
                    col[exact] += tf_adjustment(freq, self.tf_reference[s.name])
            out[s.name] = col
        return out

    def tf_frequencies(self, encoded: Encoded, left: np.ndarray) -> dict[str, np.ndarray]:
        """The share of each pair's (left) value for every term-frequency comparison, looked up once per
        distinct value of the encoded column rather than once per pair."""
        out = {}
        for s in self.specs:
            if not (s.tf and s.name in self.tf and s.column in encoded.codes):
                continue
            args = (encoded.uniques, s.column, self.tf[s.name], self.tf_default[s.name])
            if isinstance(encoded.uniques, DistinctValues):  # once per encoding and table, not once per call
                key = ("tf", s.column, id(args[2]))
                per_value = encoded.uniques.derived(key, functools.partial(_tf_shares_kept, *args))[1]
            else:
                per_value = _tf_shares(*args)
            default = args[3]
            codes = encoded.codes[s.column].to_numpy()[np.asarray(left)]
            out[s.name] = np.where(codes >= 0, per_value[np.maximum(codes, 0)] if len(per_value) else default,
                                   default)
        return out

    def drop_common(self, lv: pd.DataFrame, encoded: Encoded, left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
        """`lv` with the level of a comparison set to missing (-1) where either record holds one of its common
        values (`common_values`): a contact shared by fifteen companies is no evidence for or against."""
        return drop_common(lv, self.specs, self.common, encoded, left, right)

    def prior_weight(self) -> float:
        p = min(max(self.prior, EPS), 1 - EPS)
        return float(np.log2(p / (1 - p)))

    def match_weight(self, lv: pd.DataFrame, tf_values: dict[str, np.ndarray] | None = None,
                     scope: np.ndarray | None = None, tf_freqs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        columns = self._weight_columns(lv, tf_values, tf_freqs)  # summed as arrays, not through a DataFrame
        total = np.zeros(len(lv))
        for col in columns.values():
            total += col
        return total + self.prior_weight() + self.adjustment(lv, scope)

    def adjustment(self, lv: pd.DataFrame, scope: np.ndarray | None = None) -> np.ndarray:
        """Log2-odds corrections per comparison pattern learned from steward decisions (`mdm.feedback`),
        for the pairs in `scope` (see `in_scope`; all pairs when None)."""
        table = cast("dict[str, float] | None", self.info.get("calibration"))
        if not table:
            return np.zeros(len(lv))
        corr = {int(k): float(v) for k, v in table.items()}
        out = pd.Series(pattern_keys(lv, self.specs)).map(corr).fillna(0.0).to_numpy(dtype=float)
        return out if scope is None else np.where(scope, out, 0.0)

    def in_scope(self, records: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray | None:
        """Which pairs the steward corrections apply to: both records placed by one of the columns the
        corrections were learned on (`info["calibration_scope"]`); None when there is no such limit."""
        cols = cast("list[str] | None", self.info.get("calibration_scope"))
        if not self.info.get("calibration") or not cols:
            return None
        placed = np.zeros(len(records), bool)
        for c in cols:
            col = records[c]
            placed |= (col.notna() & (col.astype(str) != "")).to_numpy()
        return placed[np.asarray(left)] & placed[np.asarray(right)]

    @staticmethod
    def probability(weight: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))

    # --- persistence ---------------------------------------------------------------------------------------

    def to_json(self, tf: bool = True) -> str:
        """The model as JSON text; `tf=False`: without the term-frequency tables (stored apart, they are most of it:
        30 MB at 1M records). Written by orjson (a second with the standard library at 1M records); a model holding
        a number JSON cannot spell (NaN, infinity) is written by the standard library, which writes them as
        JavaScript does, so it reads back the same."""
        d = {"specs": [s.__dict__ | {"thresholds": list(s.thresholds), "extra": list(s.extra)} for s in self.specs],
             "m": self.m, "u": self.u, "prior": self.prior, "tf": self.tf if tf else {}, "tf_default": self.tf_default,
             "tf_reference": self.tf_reference, "info": self.info, "common": self.common}
        small = [self.prior, *self.tf_default.values(), *self.tf_reference.values(),
                 *(x for v in (*self.m.values(), *self.u.values()) for x in v)]
        if np.isfinite(np.asarray(small, dtype=float)).all():
            try:
                return orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY, default=_plain).decode("utf-8")
            except TypeError:  # (something only the standard library writes: it decides)
                pass
        return json.dumps(d, ensure_ascii=False, default=_plain)

    @classmethod
    def from_json(cls, text: str) -> FellegiSunter:
        try:
            d = orjson.loads(text)
        except orjson.JSONDecodeError:  # NaN or Infinity, as the standard library writes them
            d = json.loads(text)
        specs = [ComparisonSpec(**{**s, "thresholds": tuple(s["thresholds"]), "extra": tuple(s["extra"])})
                 for s in d["specs"]]
        return cls(specs, d["m"], d["u"], d["prior"], d.get("tf", {}), d.get("tf_default", {}),
                   d.get("tf_reference", {}), d.get("info", {}), d.get("common", {}))


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (for orjson)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


# --- values too common to identify anything ----------------------------------------------------------------


def common_values(encoded: Encoded, specs: Sequence[ComparisonSpec]) -> dict[str, list[str]]:
    """For each comparison with `common` and `owner`: the values held by records of `common` distinct owners
    or more (a contact, phone or address shared by many differently named companies: a placeholder nobody
    listed, a switchboard, a business-centre address). Counted by integer codes, set-based."""
    out: dict[str, list[str]] = {}
    for s in specs:
        if not (s.common and s.owner and s.column in encoded.codes and s.owner in encoded.codes):
            continue
        v, o = encoded.codes[s.column].to_numpy(), encoded.codes[s.owner].to_numpy()
        ok = (v >= 0) & (o >= 0)
        width = np.int64(len(encoded.uniques[s.owner]) + 1)
        held = np.unique(v[ok].astype(np.int64) * width + o[ok])  # distinct (value, owner)
        owners = np.bincount(held // width, minlength=len(encoded.uniques[s.column]))
        out[s.name] = value_texts(encoded.uniques[s.column], np.flatnonzero(owners >= s.common))
    return out


def _shares(values: np.ndarray, table: dict[str, float], default: float) -> np.ndarray:
    """The term-frequency share of each value (`default` for a value not in `table`)."""
    if len(values) <= 4096:  # a query's candidates: a dict look-up each, not a Series built from the whole table
        got = [table.get(v) for v in values.tolist()]
        return np.array([default if x is None or x != x else x for x in got], dtype=float)
    return pd.Series(values).map(table).fillna(default).to_numpy(dtype=float)


_value_set: PerObject[list[str], frozenset[str]] = PerObject(frozenset)  # a model's common values, as a set


def drop_common(lv: pd.DataFrame, specs: Sequence[ComparisonSpec], common: dict[str, list[str]], encoded: Encoded,
                left: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """`lv` with each comparison's level missing (-1) where either record holds one of its `common` values;
    looked up once per distinct value of the encoded column."""
    out = None
    for s in specs:
        values = common.get(s.name)
        if not values or s.column not in encoded.codes or not len(lv):
            continue
        uniq = np.asarray(encoded.uniques[s.column], dtype=object)
        if len(uniq) <= 4096:  # a query and its candidates: a kept set, not a hash table of thousands per call
            kept = _value_set(values)
            held = np.fromiter((u in kept for u in uniq.tolist()), bool, len(uniq))
        else:
            held = pd.Index(uniq).isin(values)
        is_common = np.append(held, False)  # code -1 (missing) → last: not common
        codes = encoded.codes[s.column].to_numpy()
        hit = is_common[codes[np.asarray(left)]] | is_common[codes[np.asarray(right)]]
        if hit.any():
            out = lv.copy() if out is None else out
            col = out[s.name].to_numpy().copy()
            col[hit] = -1
            out[s.name] = col
    return lv if out is None else out


# --- training ----------------------------------------------------------------------------------------------


def level_frequencies(lv: pd.DataFrame, specs: Sequence[ComparisonSpec], weights: np.ndarray | None = None,
                      pseudo: float = 1.0) -> dict[str, list[float]]:
    """Smoothed frequency of each level among the non-missing levels of each comparison."""
    out = {}
    for s in specs:
        col = lv[s.name].to_numpy()
        ok = col >= 0
        w: np.ndarray = np.ones(len(col)) if weights is None else weights
        counts = np.bincount(col[ok].astype(np.int64), weights=w[ok], minlength=s.n_levels)[: s.n_levels] + pseudo
        out[s.name] = (counts / counts.sum()).tolist()
    return out


def pattern_keys(lv: pd.DataFrame, specs: Sequence[ComparisonSpec]) -> np.ndarray:
    """One int64 code per comparison vector (mixed radix, level + 1 per comparison)."""
    code = np.zeros(len(lv), dtype=np.int64)
    for s in specs:
        code = code * (s.n_levels + 1) + (lv[s.name].to_numpy().astype(np.int64) + 1)
    return code


def estimate_u(records: pd.DataFrame | Encoded, specs: Sequence[ComparisonSpec], n_pairs: int = 1_000_000,
               seed: int = 42, workers: int = 1) -> dict[str, list[float]]:
    """u: level frequencies among uniformly random record pairs."""
    n = len(records.codes) if isinstance(records, Encoded) else len(records)
    a, b = random_pairs(n, n_pairs, seed)
    # A gated comparison's chance agreement is measured over all records (see `train`).
    ungated = [dataclasses.replace(s, gate=None) if s.gate else s for s in specs]
    lv = compare(records, a, b, ungated, workers)
    return level_frequencies(lv, ungated, pseudo=1.0)


def random_pairs(n: int, n_pairs: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The record positions of the random pairs u is estimated on (no record with itself): the same for every
    engine that orders the records alike."""
    rng = np.random.default_rng(seed)
    k = min(n_pairs, max(n * (n - 1) // 2, 1))
    a = rng.integers(0, n, k)
    b = rng.integers(0, n, k)
    keep = a != b
    return a[keep], b[keep]


TF_LIMIT = 6.0  # bits: a term-frequency adjustment never moves a weight further than this


def tf_adjustment(freq: np.ndarray, reference: float) -> np.ndarray:
    """Bits added to an exact match on a value of frequency `freq`: rarer than usual says more."""
    return np.clip(np.log2(reference / np.clip(freq, EPS, 1)), -TF_LIMIT, TF_LIMIT)


def term_frequencies(records: pd.DataFrame, specs: Sequence[ComparisonSpec], encoded: Encoded | None = None
                     ) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, float]]:
    """For each `tf` comparison: value → share of records holding it (values held more than once),
    the share of a singleton, and the reference share: the expected share of the value two random
    exactly-agreeing records hold (Σp³/Σp²), at which the adjustment is zero. Centring on it keeps
    the average exact-match weight that EM fitted, so the adjustment only redistributes it.

    Values are counted by their codes in `encoded` (encoded here when not given)."""
    tf_specs = [s for s in specs if s.tf]
    if encoded is None or any(s.column not in encoded.codes for s in tf_specs):
        encoded = encode(records, tf_specs)
    tables, defaults, refs = {}, {}, {}
    for s in tf_specs:
        codes = encoded.codes[s.column].to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(encoded.uniques[s.column]))
        uniques = encoded.uniques[s.column]
        tables[s.name], defaults[s.name], refs[s.name] = value_frequencies(
            functools.partial(value_texts, uniques), counts)
    return tables, defaults, refs


def value_frequencies(texts: Callable[[np.ndarray], list[str]], counts: np.ndarray
                      ) -> tuple[dict[str, float], float, float]:
    """One term-frequency comparison's table (value → share, values held more than once), singleton share and
    reference share, from the count of each distinct value (in order of first appearance; `texts(indices)`: the
    values at those indices). Shared by the engines that count values themselves (Spark)."""
    counts = np.asarray(counts, dtype=np.int64)
    n = max(int(counts.sum()), 1)
    held = np.flatnonzero(counts)
    held = held[np.argsort(-counts[held], kind="stable")]  # most frequent first
    p = counts[held] / n
    several = held[counts[held] > 1]  # singletons use the default
    table = dict(zip(texts(several), (counts[several] / n).tolist(), strict=True))
    return table, 1.0 / n, float((p**3).sum() / max((p**2).sum(), EPS))


def distinct_patterns(lv: pd.DataFrame, specs: Sequence[ComparisonSpec]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison vectors and how often each occurs (one int64 code per row, then unique)."""
    code = np.zeros(len(lv), dtype=np.int64)
    for s in specs:  # mixed radix: level + 1 in 0..n_levels
        code = code * (s.n_levels + 1) + (lv[s.name].to_numpy().astype(np.int64) + 1)
    ucode, counts = np.unique(code, return_counts=True)
    patterns = np.zeros((len(ucode), len(specs)), dtype=np.int16)
    rest = ucode.copy()
    for j in range(len(specs) - 1, -1, -1):
        base = specs[j].n_levels + 1
        patterns[:, j] = rest % base - 1
        rest //= base
    return patterns, counts.astype(float)


def estimate_m_em(lv: pd.DataFrame, specs: Sequence[ComparisonSpec], u: dict[str, list[float]],
                  prior: float = 0.1, max_iter: int = 100, tol: float = 1e-6,
                  fit_u: bool = False) -> tuple[dict[str, list[float]], dict[str, list[float]], float, int]:
    """m (and with `fit_u` also u, starting from the given one) and the prior by EM over the distinct
    comparison patterns of the candidate pairs."""
    patterns, counts = distinct_patterns(lv, specs)
    return fit_m_em(patterns, counts, specs, u, prior, max_iter, tol, fit_u)


def fit_m_em(patterns: np.ndarray, counts: np.ndarray, specs: Sequence[ComparisonSpec], u: dict[str, list[float]],
             prior: float = 0.1, max_iter: int = 100, tol: float = 1e-6,
             fit_u: bool = False) -> tuple[dict[str, list[float]], dict[str, list[float]], float, int]:
    """`estimate_m_em` on distinct comparison patterns (one row of levels each, ordered by `pattern_keys`) and
    how many candidate pairs have each: an engine that counts the patterns itself (Spark) fits with this."""
    # Start m from the levels' order: higher levels likelier among matches.
    m = {}
    for s in specs:
        ramp = np.exp(np.arange(s.n_levels, dtype=float) * 1.5)
        m[s.name] = ramp / ramp.sum()
    u_fit = {s.name: np.asarray(u[s.name], dtype=float) for s in specs}
    u_anchor = {k: v * U_ANCHOR_PAIRS for k, v in u_fit.items()}
    it = 0
    if not float(np.sum(counts)) > 0:  # no pair to learn from: the starting point, not a prior of NaN
        return {k: v.tolist() for k, v in m.items()}, {k: v.tolist() for k, v in u_fit.items()}, prior, it
    for it in range(1, max_iter + 1):  # noqa: B007 - iteration count reported
        log_m = np.zeros(len(patterns))
        log_u = np.zeros(len(patterns))
        for j, s in enumerate(specs):
            lev = patterns[:, j]
            ok = lev >= 0
            idx = np.clip(lev, 0, s.n_levels - 1)
            log_m += np.where(ok, np.log(np.clip(m[s.name][idx], EPS, 1)), 0)
            log_u += np.where(ok, np.log(np.clip(u_fit[s.name][idx], EPS, 1)), 0)
        a = np.log(prior) + log_m
        b = np.log(1 - prior) + log_u
        g = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        wg = g * counts
        new_prior = float(np.clip(wg.sum() / counts.sum(), EPS, 1 - EPS))
        delta = abs(new_prior - prior)
        for j, s in enumerate(specs):
            lev = patterns[:, j]
            ok = lev >= 0
            c = np.bincount(lev[ok].astype(np.int64), weights=wg[ok], minlength=s.n_levels)[: s.n_levels] + 0.01
            new = c / c.sum()
            delta = max(delta, float(np.abs(new - m[s.name]).max()))
            m[s.name] = new
            if fit_u and s.gate is None:  # a gated comparison keeps its random-pair u (see `train`)
                wn = (1 - g) * counts
                c = (np.bincount(lev[ok].astype(np.int64), weights=wn[ok], minlength=s.n_levels)[: s.n_levels]
                     + u_anchor[s.name] + 0.01)
                u_fit[s.name] = c / c.sum()
        prior = new_prior
        if delta < tol:
            break
    return {k: v.tolist() for k, v in m.items()}, {k: v.tolist() for k, v in u_fit.items()}, prior, it


def train(records: pd.DataFrame, specs: Sequence[ComparisonSpec], lv: pd.DataFrame, seed: int = 42,
          u_pairs: int = 1_000_000, workers: int = 1, fit_u: bool = True,
          encoded: Encoded | None = None, common: dict[str, list[str]] | None = None) -> FellegiSunter:
    """Fit a model: u starts from random pairs of `records`; m, the prior and (with `fit_u`, the default)
    u are then fitted by EM on the candidates' levels `lv`.

    Fitting u on the candidates matters: the non-matches that survive blocking (the same brand in
    another city, a near-identical name next door) are nothing like random pairs, and a u frozen
    at random-pair frequencies lets EM call almost every candidate a match. A gated comparison (the pinyin
    brand, compared only when a name is in Latin letters) is the exception: its u is the chance agreement of
    two random records, the gate ignored, kept as it is. English names are few, so the candidates they are in
    are too few to fit a u on, and nearly all of them were found by the comparison's own blocking key."""
    u = estimate_u(encoded if encoded is not None else records, specs, u_pairs, seed, workers)
    m, u, prior, iterations = estimate_m_em(lv, specs, u, fit_u=fit_u)
    tf, tf_default, tf_reference = term_frequencies(records, specs, encoded)
    return FellegiSunter(list(specs), m, u, prior, tf, tf_default, tf_reference,
                         {"em_iterations": iterations, "candidate_pairs": len(lv), "records": len(records)},
                         common or {})

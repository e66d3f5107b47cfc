"""Match one new record against the standardized records of a run, fast: for the match API.

`LookupIndex` holds, per blocking rule, the positions of the records sharing each key, so a
query's candidates are a few dictionary look-ups instead of a join. The candidates are compared
with the engine's own `levels` (the same comparisons, the same model, the same term-frequency
adjustment) on codes local to the query, which keeps a lookup in the low milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from mdm.blocking import BlockingRule, block_keys
from mdm.classify import FellegiSunter
from mdm.compare import Encoded, levels

__all__ = ["LookupIndex", "build_index"]


@dataclass
class LookupIndex:
    records: pd.DataFrame                       # the indexed records (positions 0..n-1)
    blocks: dict[str, dict[str, np.ndarray]]    # rule name → key → record positions
    rules: tuple[BlockingRule, ...]
    model: FellegiSunter
    columns: dict[str, np.ndarray]              # compared and exclusive columns as object arrays

    def candidates(self, query: pd.DataFrame, limit: int = 2000) -> np.ndarray:
        """Positions of the records sharing at least one blocking key with the (one-row) query."""
        row = query.iloc[0]
        found: list[np.ndarray] = []
        for rule in self.rules:
            vals = [row[c] for c in rule.columns]
            if any(v is None or (not isinstance(v, str) and pd.isna(v)) or str(v) == "" for v in vals):
                continue  # as `block_keys`: a missing or empty column gives no key
            hit = self.blocks[rule.name].get("\x1f".join(str(v) for v in vals))
            if hit is not None:
                found.append(hit)
        if not found:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(found))[:limit]

    def score(self, query: pd.DataFrame, cand: np.ndarray) -> pd.DataFrame:
        """Levels, weight and probability of the query (one standardized row) against `cand`."""
        specs = self.model.specs
        k = len(cand)
        codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        uniques: dict[str, np.ndarray] = {}
        for c in {col for s in specs for col in s.columns}:
            q = query[c].iloc[0]
            vals = np.empty(k + 1, dtype=object)
            vals[0] = q if isinstance(q, str) or pd.notna(q) else None
            vals[1:] = self.columns[c][cand]
            # numpy's stubs do not take None as a value of np.where; an object array with missing values is meant
            vals = np.where(pd.isna(vals) | (vals == ""), None, vals)  # type: ignore[call-overload]
            code, uniq = pd.factorize(vals, use_na_sentinel=True)
            codes[c] = (np.full(k, code[0], dtype=np.int32), code[1:].astype(np.int32))
            uniques[c] = np.asarray(uniq, dtype=object).astype(str)
        lv = pd.DataFrame({s.name: levels(s, [codes[c][0] for c in s.columns], [codes[c][1] for c in s.columns],
                                          uniques) for s in specs})
        if self.model.common:  # the query is position 0, the candidates 1..k
            enc = Encoded(pd.DataFrame({c: np.concatenate([v[0][:1], v[1]]) if k else np.zeros(1, np.int32)
                                        for c, v in codes.items()}), uniques)
            lv = self.model.drop_common(lv, enc, np.zeros(k, np.int64), np.arange(1, k + 1))
        tf = {s.name: np.full(k, query[s.column].iloc[0], dtype=object) for s in specs if s.tf}
        scope = None
        cols = cast("list[str] | None",
                    self.model.info.get("calibration_scope") if self.model.info.get("calibration") else None)
        if cols:
            placed = np.zeros(k + 1, bool)
            for c in cols:
                q = query[c].iloc[0]
                vals = np.concatenate([[q], self.columns[c][cand]])
                placed |= pd.notna(vals) & (vals != "")
            scope = placed[0] & placed[1:]
        w = self.model.match_weight(lv, tf, scope)
        return lv.assign(position=cand, weight=w, prob=FellegiSunter.probability(w))

    def conflicts(self, query: pd.DataFrame, cand: np.ndarray, exclusive: Sequence[str]) -> list[list[str]]:
        """Per candidate, the exclusive attributes (valid tax code, city, branch) whose values differ."""
        out: list[list[str]] = [[] for _ in range(len(cand))]
        for c in exclusive:
            q = query[c].iloc[0]
            if q is None or (not isinstance(q, str) and pd.isna(q)) or q == "":
                continue
            vals = self.columns[c][cand]
            for i in np.flatnonzero(pd.notna(vals) & (vals != "") & (vals != q)):
                out[i].append(c)
        return out


def _objects(s: pd.Series) -> np.ndarray:
    """A column as an object array, None for every missing value (NaN, NA, NaT)."""
    values = s.to_numpy(dtype=object)
    values[pd.isna(values)] = None
    return values


def build_index(records: pd.DataFrame, rules: Sequence[BlockingRule], model: FellegiSunter,
                exclusive: Sequence[str] = ()) -> LookupIndex:
    """Index standardized records by every blocking rule; oversize blocks are left out as in blocking."""
    records = records.reset_index(drop=True)
    blocks: dict[str, dict[str, np.ndarray]] = {}
    for rule in rules:
        keys = block_keys(records, rule.columns)
        keys = keys[keys.notna()]
        k, pos = keys.to_numpy(dtype=object), keys.index.to_numpy(np.int64)
        order = np.argsort(k, kind="stable")
        uniq, start, counts = np.unique(k[order], return_index=True, return_counts=True)
        parts = np.split(pos[order], start[1:]) if len(k) else []
        blocks[rule.name] = {u: p for u, p, c in zip(uniq.tolist(), parts, counts.tolist(), strict=True)
                             if c <= rule.max_block}
    scope = cast("list[str]", model.info.get("calibration_scope") or [])
    cols = {c for s in model.specs for c in s.columns} | set(exclusive) | set(scope)
    columns = {c: _objects(records[c]) for c in cols}
    return LookupIndex(records, blocks, tuple(rules), model, columns)

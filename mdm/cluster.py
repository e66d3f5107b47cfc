"""Clustering scored pairs into entities while honouring the hard rules transitively.

Each record may carry *exclusive* attributes (a valid tax code, a city, a branch identity): a
cluster never holds two different non-null values of one, so A~B and B~C can never put two
different valid tax codes in one cluster. Must-links (steward decisions, equal valid tax
codes) are merged first; cannot-links (steward decisions) are never crossed, not even
through a third record.

Steward decisions outrank the hard rules: a must-link joins two records even when their
exclusive attributes differ (a company that moved city, a re-issued tax code), and a record
in a must-link counts as anchored. Only a cannot-link, which also comes from a steward, can
keep a must-link from taking effect (A = B, B = C, A ≠ C: the cannot-link wins).

1. Must-link and match-band edges between *anchored* records (those the exclusive attributes
   place: a city or a valid tax code) are merged, best score first. Components without a
   conflict are accepted as they are (vectorized); only conflicting components are resolved
   edge by edge.
2. *Floating* records (no city, no valid tax code: a short name typed into a CRM) are grouped
   among themselves, then attached to an anchored cluster only when exactly one cluster
   reaches them with a review-band or better edge. A floater reached by several clusters
   (the same brand in two cities) is ambiguous: it stays on its own and its pairs go to review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label of each of `n` nodes given undirected edges. (SciPy is imported here, on first
    use: a run with nothing to cluster, such as a nightly one with nothing new, never pays for its import.)"""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def pair_keys(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """An order-independent int64 key per pair."""
    a, b = np.minimum(left, right).astype(np.int64), np.maximum(left, right).astype(np.int64)
    return a * np.int64(n) + b


@dataclass
class ClusterResult:
    labels: np.ndarray                     # cluster label per record (0..k-1)
    rejected: np.ndarray                   # per input edge: a match-band edge a hard rule kept apart
    ambiguous: np.ndarray                  # per input edge: touches a floater reached by several clusters
    stats: dict[str, int] = field(default_factory=dict)


class _Merger:
    """Union-find whose roots carry their cluster's exclusive values and cannot-link bookkeeping."""

    def __init__(self, n: int, excl: list[np.ndarray], cannot: dict[int, set[int]]):
        self.parent = np.arange(n)
        self.excl = excl
        self.values: list[dict[int, frozenset]] = [{} for _ in excl]
        self.cannot = cannot                              # record → records it may never join
        self.banned: dict[int, set[int]] = {}             # root → union of its members' cannot sets
        self.members: dict[int, set[int]] = {}            # root → its members that have cannot links

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def _vals(self, k: int, root: int) -> frozenset:
        v = self.values[k].get(root)
        if v is None:
            x = int(self.excl[k][root])
            v = frozenset() if x < 0 else frozenset([x])
        return v

    def _banned(self, root: int) -> set[int]:
        return self.banned.get(root, self.cannot.get(root, set()))

    def _linked(self, root: int) -> set[int]:
        return self.members.get(root, {root} if root in self.cannot else set())

    def try_union(self, a: int, b: int, force: bool = False) -> bool:
        """Join the clusters of `a` and `b` unless a hard rule forbids it; `force` (a steward's
        must-link) overrides the exclusive attributes but never a cannot-link."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        merged = []
        for k in range(len(self.excl)):
            va, vb = self._vals(k, ra), self._vals(k, rb)
            v = va | vb
            # A cluster a steward already forced to hold several values may take more records of those.
            if not force and len(v) > 1 and len(v) > max(len(va), len(vb)):
                return False
            merged.append(v)
        if self.cannot and (self._banned(ra) & self._linked(rb) or self._banned(rb) & self._linked(ra)):
            return False
        if self.cannot:
            self.banned[ra] = self._banned(ra) | self._banned(rb)
            self.members[ra] = self._linked(ra) | self._linked(rb)
        self.parent[rb] = ra
        for k, v in enumerate(merged):
            self.values[k][ra] = v
        return True


def _codes(arr: np.ndarray) -> np.ndarray:
    """An exclusive attribute as int codes, -1 for missing or empty; integer arrays are codes already."""
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    codes, uniques = pd.factorize(pd.Series(arr), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def _groups_with_several(labels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Labels whose records hold more than one distinct non-missing code."""
    ok = codes >= 0
    lab, val = labels[ok], codes[ok]
    size = int(labels.max()) + 1 if len(labels) else 0
    lo, hi = np.full(size, np.iinfo(np.int64).max), np.full(size, -1, np.int64)
    np.minimum.at(lo, lab, val)  # several distinct values ⇔ smallest ≠ largest
    np.maximum.at(hi, lab, val)
    return np.flatnonzero((hi >= 0) & (lo != hi))


def _conflicting(labels: np.ndarray, excl: list[np.ndarray]) -> np.ndarray:
    """Component labels holding two different values of some exclusive attribute."""
    bad = [_groups_with_several(labels, codes) for codes in excl]
    return np.unique(np.concatenate(bad)) if bad else np.array([], np.int64)


def _cluster_values(roots: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per root record, the first non-missing code of its cluster (the only one in a conflict-free
    cluster); -1 when the cluster has none."""
    ok = np.flatnonzero(codes >= 0)
    first = np.full(len(roots), len(roots), np.int64)
    np.minimum.at(first, roots[ok], ok)
    found = first < len(roots)
    return np.where(found, codes[np.where(found, first, 0)], -1)


def _best_first(prob: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Edge order for the edge-by-edge passes: best score first, ties by the pair's positions, so that
    the result never depends on the order the pairs came in (a rebuild, an incremental run and a
    steward's re-clustering agree)."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    return np.lexsort((hi, lo, -np.asarray(prob, dtype=float)))


def _floater_groups(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray,
                    cannot: dict[int, set[int]]) -> np.ndarray:
    """Groups of floating records joined by match-band edges; with cannot-links among them the
    edges are taken best first and never join two records a steward kept apart."""
    if not cannot or not (np.isin(left, list(cannot)).any() or np.isin(right, list(cannot)).any()):
        return components(n, left, right)
    merger = _Merger(n, [], cannot)
    for i in _best_first(prob, left, right).tolist():
        merger.try_union(int(left[i]), int(right[i]))
    return pd.factorize(np.array([merger.find(i) for i in range(n)]))[0]


def cluster(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, match: float, review: float,
            exclusive: Mapping[str, np.ndarray], anchored: np.ndarray,
            must: tuple[np.ndarray, np.ndarray] | None = None,
            cannot: tuple[np.ndarray, np.ndarray] | None = None) -> ClusterResult:
    """Cluster `n` records from scored pairs; see the module docstring for the rules."""
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    excl = [_codes(np.asarray(a)) for a in exclusive.values()]
    empty = np.array([], np.int64)
    must_l, must_r = (np.asarray(must[0], np.int64), np.asarray(must[1], np.int64)) if must else (empty, empty)
    if len(must_l):  # a record a steward placed is anchored
        anchored = np.asarray(anchored, bool).copy()
        anchored[must_l] = True
        anchored[must_r] = True
    cannot_map: dict[int, set[int]] = {}
    if cannot is not None and len(cannot[0]):
        for a, b in zip(np.asarray(cannot[0]).tolist(), np.asarray(cannot[1]).tolist(), strict=True):
            cannot_map.setdefault(a, set()).add(b)
            cannot_map.setdefault(b, set()).add(a)
        prob = np.where(np.isin(pair_keys(left, right, n), pair_keys(cannot[0], cannot[1], n)), 0.0, prob)
    # Step 1: anchored records, must-links first, then match-band edges by score.
    strong = (prob >= match) & anchored[left] & anchored[right]
    e_l = np.concatenate([must_l, left[strong]])
    e_r = np.concatenate([must_r, right[strong]])
    e_p = np.concatenate([np.full(len(must_l), np.inf), prob[strong]])
    e_must = np.concatenate([np.ones(len(must_l), bool), np.zeros(int(strong.sum()), bool)])
    comp = components(n, e_l, e_r)
    bad = _conflicting(comp, excl)
    if cannot_map:
        ca = np.array(list(cannot_map), dtype=np.int64)
        linked_bad = [comp[a] for a in ca for b in cannot_map[a] if comp[a] == comp[b]]
        bad = np.union1d(bad, np.array(linked_bad, dtype=np.int64))
    first = np.full(int(comp.max()) + 1 if n else 0, n, np.int64)
    np.minimum.at(first, comp, np.arange(n))  # each component's root: its first record
    roots = first[comp]
    in_bad = np.isin(comp, bad)
    merger = _Merger(n, excl, cannot_map)
    merger.parent[~in_bad] = roots[~in_bad]
    edge_bad = in_bad[e_l]
    order = _best_first(e_p[edge_bad], e_l[edge_bad], e_r[edge_bad])
    rejected_pairs = []
    for a, b, f in zip(e_l[edge_bad][order].tolist(), e_r[edge_bad][order].tolist(),
                       e_must[edge_bad][order].tolist(), strict=True):
        if not merger.try_union(a, b, force=f):
            rejected_pairs.append((a, b))
    for i in np.flatnonzero(in_bad).tolist():
        roots[i] = merger.find(i)
    # Step 2: floaters, grouped among themselves, attached only to a unique anchored cluster.
    floating = ~anchored
    f_edges = floating[left] & floating[right] & (prob >= match)
    group = np.where(floating, _floater_groups(n, left[f_edges], right[f_edges], prob[f_edges], cannot_map) + n,
                     roots)
    to_anchor = (prob >= review) & (floating[left] ^ floating[right])
    fl = np.where(floating[left[to_anchor]], left[to_anchor], right[to_anchor])
    an = np.where(floating[left[to_anchor]], right[to_anchor], left[to_anchor])
    cand = pd.DataFrame({"g": group[fl], "c": roots[an]}).drop_duplicates()
    n_cands = cand.groupby("g")["c"].nunique()
    attach = cand[cand["g"].isin(n_cands[n_cands == 1].index)].set_index("g")["c"]
    ok = pd.Series(True, index=attach.index)
    for arr in excl:  # a floater group may itself carry e.g. a branch: it must fit the cluster
        has = (arr >= 0) & floating
        gv = pd.DataFrame({"g": group[has], "v": arr[has]}).groupby("g")["v"].agg(["nunique", "first"])
        g_first = gv["first"].reindex(attach.index)
        c_first = _cluster_values(roots, arr)[attach.to_numpy()]
        clash = g_first.notna().to_numpy() & (c_first >= 0) & (g_first.to_numpy() != c_first)
        ok &= ~clash & ~(gv["nunique"].reindex(attach.index).fillna(0).to_numpy() > 1)
    if cannot_map:
        for g, c in attach[ok].items():
            members = set(np.flatnonzero(group == g).tolist())
            if any(cannot_map.get(m, set()) & set(np.flatnonzero(roots == c).tolist()) for m in members):
                ok[g] = False
    attach = attach[ok]
    final = group.copy()
    take = np.isin(group, attach.index.to_numpy())
    final[take] = attach.reindex(group[take]).to_numpy()
    ambiguous_groups = n_cands[n_cands > 1].index.to_numpy()
    amb = (np.isin(group[left], ambiguous_groups) | np.isin(group[right], ambiguous_groups)) & (prob >= review)
    labels_out = pd.factorize(final)[0]
    rejected = np.zeros(len(left), bool)
    if rejected_pairs:
        ra = np.array(rejected_pairs, dtype=np.int64)
        rejected = np.isin(pair_keys(left, right, n), pair_keys(ra[:, 0], ra[:, 1], n))
    stats = {"conflicting_components": len(bad), "rejected_edges": len(rejected_pairs),
             "floaters": int(floating.sum()), "floaters_attached": int(take.sum()),
             "ambiguous_floater_groups": len(ambiguous_groups)}
    return ClusterResult(labels_out, rejected, amb, stats)

"""The matching engine: standardized records in, scored pairs and clusters out. Pure functions.

`link()` runs block → compare → (train) → score → hard rules → cluster. With `previous`
(the pairs scored by an earlier run and the records they belong to) and `changed` (positions of
new or modified records), only pairs that touch a changed record are blocked and compared;
the others are reused. With the same model the result equals a full rebuild, which the tests
check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mdm.blocking import BlockingRule, Candidates, ahead, candidate_pairs, candidate_steps, rule_keys
from mdm.classify import FellegiSunter, common_values, drop_common, train
from mdm.cluster import ClusterResult, cluster, pair_keys
from mdm.compare import MIN_PART_PAIRS, ComparisonSpec, Encoded, compare, encode, in_parts
from mdm.feedback import calibrate

log = logging.getLogger("hub.mdm")

BANDS = ("low", "review", "match")  # the one vocabulary of score bands (queue, console, API, explain)


@dataclass
class LinkSettings:
    blocking: Sequence[BlockingRule]
    comparisons: Sequence[ComparisonSpec]
    match: float = 0.8
    review: float = 0.3
    exclusive: Sequence[str] = ()
    anchors: Sequence[str] = ()
    u_pairs: int = 300_000
    seed: int = 42
    workers: int = 1
    feedback_strength: float = 5.0     # pseudo-labels the model's own probability counts for (mdm.feedback)


@dataclass
class LinkResult:
    pairs: pd.DataFrame            # left, right (positions), rules, <levels>, weight, prob, band, rejected, ambiguous
    labels: np.ndarray             # cluster label per record
    model: FellegiSunter
    stats: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _tf_values(records: pd.DataFrame, specs: Sequence[ComparisonSpec], left: np.ndarray) -> dict[str, np.ndarray]:
    return {s.name: records[s.column].astype(object).to_numpy()[left] for s in specs if s.tf}


def _placed(enc: Encoded, anchors: Sequence[str]) -> np.ndarray:
    """Records placed by an anchor column (a valid tax code, a city): a code there, i.e. neither missing
    nor empty."""
    placed = np.zeros(len(enc.codes), bool)
    for c in anchors:
        placed |= enc.codes[c].to_numpy() >= 0
    return placed


def score_pairs(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, model: FellegiSunter,
                workers: int = 1, encoded: Encoded | None = None) -> pd.DataFrame:
    """Levels, match weight and probability of pairs under a fitted model; with `workers` > 1 and the records
    `encoded`, in parts of the pairs on that many threads (`mdm.compare.in_parts`: the same rows)."""
    if encoded is not None and workers > 1 and len(left) >= 2 * MIN_PART_PAIRS:
        return in_parts(lambda a, b: score_pairs(records, a, b, model, encoded=encoded), np.asarray(left),
                        np.asarray(right), workers)
    enc = encoded if encoded is not None else encode(records, model.specs)
    lv = model.drop_common(compare(enc, left, right, model.specs, workers), enc, left, right)
    scope = model.in_scope(records, left, right)
    if encoded is not None:
        w = model.match_weight(lv, scope=scope, tf_freqs=model.tf_frequencies(encoded, left))
    else:
        w = model.match_weight(lv, _tf_values(records, model.specs, left), scope)
    out = lv.assign(weight=w, prob=FellegiSunter.probability(w))
    out.insert(0, "right", right)
    out.insert(0, "left", left)
    return out


def band_of(prob: np.ndarray, match: float, review: float) -> np.ndarray:
    """The band name of each probability (an object array: taking from three strings, not building them)."""
    prob = np.asarray(prob)
    return np.asarray(BANDS, dtype=object)[(prob >= review).astype(np.int8) + (prob >= match)]


def link(records: pd.DataFrame, settings: LinkSettings, model: FellegiSunter | None = None,
         must: tuple[np.ndarray, np.ndarray] | None = None, cannot: tuple[np.ndarray, np.ndarray] | None = None,
         previous: pd.DataFrame | None = None, changed: np.ndarray | None = None,
         labelled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> LinkResult:
    """Link `records` (standardized, positions 0..n-1). See the module docstring.

    `labelled` (left positions, right positions, same?): steward-labelled pairs; when a model is
    trained here, it learns per-pattern corrections from them (`mdm.feedback.calibrate`).
    """
    t = {}
    n = len(records)
    t0 = time.perf_counter()
    incremental = previous is not None and changed is not None and model is not None
    specs = settings.comparisons if model is None else model.specs
    enc = _encode(records, specs, settings)
    t["encode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cand = candidate_pairs(enc, settings.blocking, only=changed if incremental else None)
    t["block"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if model is None:
        model, lv = _train(records, enc, cand, settings, labelled, t)
        t0 = time.perf_counter()
        w = model.match_weight(lv, scope=model.in_scope(records, cand.left, cand.right),
                               tf_freqs=model.tf_frequencies(enc, cand.left))
        scored = lv.assign(weight=w, prob=FellegiSunter.probability(w))
        scored.insert(0, "right", cand.right)
        scored.insert(0, "left", cand.left)
    else:
        scored = score_pairs(records, cand.left, cand.right, model, settings.workers, encoded=enc)
        t["compare"] = time.perf_counter() - t0
    scored.insert(2, "rules", cand.rules)
    if incremental:
        assert previous is not None and changed is not None
        kept = _still_candidates(previous, enc.codes, settings.blocking, changed, cand.oversize)
        scored = pd.concat([kept, scored], ignore_index=True)
    t["score"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = _cluster(scored, enc, n, settings, must, cannot)
    t["cluster"] = time.perf_counter() - t0
    stats: dict[str, object] = {"records": n, "candidate_pairs": len(scored), "new_pairs": len(cand),
                                "skipped_blocks": cand.skipped_blocks, **res.stats,
                                "clusters": int(res.labels.max() + 1) if n else 0, "incremental": incremental}
    return LinkResult(scored, res.labels, model, stats, t)


def fit(records: pd.DataFrame, settings: LinkSettings,
        labelled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> FellegiSunter:
    """The model `link(records, settings, labelled=labelled)` trains, without scoring or clustering: a large
    run fits on a sample and links everything with `link_in_steps`."""
    enc = _encode(records, settings.comparisons, settings)
    cand = candidate_pairs(enc, settings.blocking)
    return _train(records, enc, cand, settings, labelled, {})[0]


def link_in_steps(records: pd.DataFrame, settings: LinkSettings, model: FellegiSunter,
                  sink: Callable[[pd.DataFrame], None], must: tuple[np.ndarray, np.ndarray] | None = None,
                  cannot: tuple[np.ndarray, np.ndarray] | None = None, step_pairs: int = 5_000_000,
                  progress: Callable[[int, int], None] | None = None) -> LinkResult:
    """`link(records, settings, model, must, cannot)` with the candidate pairs blocked and scored about
    `step_pairs` at a time: every scored step goes to `sink` (left, right, rules, levels, weight, prob), and
    only the pairs at review level or above stay for clustering (no other pair changes a cluster). The
    result's pairs are those; labels and flags equal `link`'s (tested). `progress(records_done, n)` after
    each step: the records up to the last left record of a pair so far (a step without pairs moves it on by none)."""
    t: dict[str, float] = {}
    n = len(records)
    t0 = time.perf_counter()
    enc = _encode(records, model.specs, settings)
    t["encode"] = time.perf_counter() - t0
    kept, total, skipped, steps, done = [], 0, {}, 0, 0
    t["block_waited"] = t["compare"] = t["write"] = 0.0
    t0 = time.perf_counter()
    for cand in ahead(candidate_steps(enc, settings.blocking, step_pairs)):  # (the next step blocked meanwhile)
        t1 = time.perf_counter()
        t["block_waited"] += t1 - t0
        scored = score_pairs(records, cand.left, cand.right, model, settings.workers, encoded=enc)
        scored.insert(2, "rules", cand.rules)
        t2 = time.perf_counter()
        t["compare"] += t2 - t1
        sink(scored)
        t["write"] += time.perf_counter() - t2
        kept.append(scored[scored["prob"].to_numpy() >= settings.review])
        total, skipped, steps = total + len(scored), cand.skipped_blocks, steps + 1
        if progress is not None:
            done = max(done, int(cand.left[-1]) + 1) if len(cand) else done  # (a step without pairs reported 0)
            progress(done, n)
        del scored
        t0 = time.perf_counter()
    t0 = time.perf_counter()
    scored = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    res = _cluster(scored, enc, n, settings, must, cannot)
    t["cluster"] = time.perf_counter() - t0
    stats: dict[str, object] = {"records": n, "candidate_pairs": total, "new_pairs": total, "steps": steps,
                                "skipped_blocks": skipped, **res.stats,
                                "clusters": int(res.labels.max() + 1) if n else 0, "incremental": False}
    return LinkResult(scored, res.labels, model, stats, t)


def owner_columns(specs: Sequence[ComparisonSpec]) -> list[str]:
    """The columns that say whose a compared value is, for the comparisons that count a value held by `common` owners
    or more as missing (`mdm.classify.common_values`)."""
    return [s.owner for s in specs if s.owner and s.common]


def encoded_columns(specs: Sequence[ComparisonSpec], settings: LinkSettings) -> list[str]:
    """The columns encoded besides the compared ones: blocked, exclusive, anchors and the owners of common values."""
    return [*[c for r in settings.blocking for c in r.columns], *settings.exclusive, *settings.anchors,
            *owner_columns(specs)]


def _encode(records: pd.DataFrame, specs: Sequence[ComparisonSpec], settings: LinkSettings) -> Encoded:
    """Every compared, blocked, exclusive or anchor column encoded once (Arrow dictionaries, "" = missing)."""
    return encode(records, specs, columns=encoded_columns(specs, settings), workers=settings.workers)


def _train(records: pd.DataFrame, enc: Encoded, cand: Candidates, settings: LinkSettings,
           labelled: tuple[np.ndarray, np.ndarray, np.ndarray] | None, t: dict[str, float]
           ) -> tuple[FellegiSunter, pd.DataFrame]:
    """A model trained on the candidate pairs `cand` (and steward labels), with the pairs' levels."""
    t0 = time.perf_counter()
    lv = compare(enc, cand.left, cand.right, settings.comparisons, settings.workers)
    common = common_values(enc, settings.comparisons)  # values that identify nothing count as missing
    lv = drop_common(lv, settings.comparisons, common, enc, cand.left, cand.right)
    t["compare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = train(records, settings.comparisons, lv, settings.seed, settings.u_pairs, settings.workers,
                  encoded=enc, common=common)
    if labelled is not None and len(labelled[0]):
        ll, lr, ly = np.asarray(labelled[0]), np.asarray(labelled[1]), np.asarray(labelled[2], bool)
        if settings.anchors:  # floaters' labels are skewed by ambiguity: learn on placed pairs only
            placed = _placed(enc, settings.anchors)
            keep = placed[ll] & placed[lr]
            ll, lr, ly = ll[keep], lr[keep], ly[keep]
        lab = model.drop_common(compare(enc, ll, lr, settings.comparisons), enc, ll, lr)
        lab_prob = FellegiSunter.probability(model.match_weight(lab, tf_freqs=model.tf_frequencies(enc, ll)))
        model = calibrate(model, lab, lab_prob, ly, settings.feedback_strength, scope=settings.anchors)
    t["train"] = time.perf_counter() - t0
    return model, lv


def _cluster(scored: pd.DataFrame, enc: Encoded, n: int, settings: LinkSettings,
             must: tuple[np.ndarray, np.ndarray] | None, cannot: tuple[np.ndarray, np.ndarray] | None
             ) -> ClusterResult:
    """Cluster the scored pairs; their band and the clustering's flags are added to `scored` in place."""
    left, right = scored["left"].to_numpy(), scored["right"].to_numpy()
    prob = scored["prob"].to_numpy()
    exclusive = {c: enc.codes[c].to_numpy() for c in settings.exclusive}
    anchored = _placed(enc, settings.anchors) if settings.anchors else np.ones(n, bool)
    res = cluster(n, left, right, prob, settings.match, settings.review, exclusive, anchored, must=must, cannot=cannot)
    scored["band"] = band_of(prob, settings.match, settings.review)
    scored["rejected"] = res.rejected
    scored["ambiguous"] = res.ambiguous
    return res


def _still_candidates(previous: pd.DataFrame, codes: pd.DataFrame, rules: Sequence[BlockingRule],
                      changed: np.ndarray, oversize: dict[str, np.ndarray]) -> pd.DataFrame:
    """Earlier pairs between unchanged records that a full rebuild would still block together.

    A pair loses the rules whose block outgrew the rule's size limit now that records were
    added (`oversize`: the blocks this run skipped); a pair left with no rule is dropped, exactly
    as a rebuild would not produce it.
    """
    prev = previous[~(np.isin(previous["left"], changed) | np.isin(previous["right"], changed))]
    bits = prev["rules"].to_numpy().astype(np.int32)
    for bit, rule in enumerate(rules):
        has = (bits & (1 << bit)) > 0
        if rule.name not in oversize or not has.any():
            continue
        keys = rule_keys(codes, rule)[prev["left"].to_numpy()[has]]
        drop = np.flatnonzero(has)[np.isin(keys, oversize[rule.name])]
        bits[drop] &= ~np.int32(1 << bit)
    prev = prev.assign(rules=bits)
    return prev[bits > 0]


def _shown(record: pd.Series, spec: ComparisonSpec) -> object:
    """A record's value as explain shows it: with its alias (former name) when it has one."""
    value = record.get(spec.column)
    alias = record.get(spec.alias) if spec.alias else None
    if isinstance(alias, str) and alias:
        return f"{value if isinstance(value, str) else ''} (former: {alias})"
    return value


def explain(model: FellegiSunter, a: pd.Series, b: pd.Series, match: float, review: float) -> pd.DataFrame:
    """Per comparison: the two standardized values, the level and its weight; then the total."""
    pair = pd.DataFrame([a, b]).reset_index(drop=True)
    enc = encode(pair, model.specs)
    raw = compare(enc, np.array([0]), np.array([1]), model.specs)
    lv = model.drop_common(raw, enc, np.array([0]), np.array([1]))
    w = model.weights(lv, _tf_values(pair, model.specs, np.array([0])))
    rows = []
    for s in model.specs:
        level = int(lv[s.name].iloc[0])
        rows.append({
            "comparison": s.name, "column": s.column,
            "left": _shown(a, s), "right": _shown(b, s),
            "level": (f"common value: identifies nothing ({s.level_names()[int(raw[s.name].iloc[0])]})"
                      if level < 0 <= int(raw[s.name].iloc[0]) else "missing" if level < 0
                      else s.level_names()[level]),
            "weight": float(w[s.name].iloc[0]),
        })
    adjustment = float(model.adjustment(lv, model.in_scope(pair, np.array([0]), np.array([1])))[0])
    total = float(w.sum(axis=1).iloc[0]) + model.prior_weight() + adjustment
    prob = float(FellegiSunter.probability(np.array([total]))[0])
    rows.append({"comparison": "prior", "column": "", "left": None, "right": None, "level": "",
                 "weight": model.prior_weight()})
    if adjustment:
        rows.append({"comparison": "stewards", "column": "", "left": None, "right": None,
                     "level": "learned from steward decisions on this pattern", "weight": adjustment})
    out = pd.DataFrame(rows)
    out.attrs.update({"weight": total, "probability": prob, "band": band_of(np.array([prob]), match, review)[0]})
    return out


__all__ = ["BANDS", "LinkResult", "LinkSettings", "band_of", "explain", "fit", "link", "link_in_steps", "pair_keys",
           "score_pairs"]

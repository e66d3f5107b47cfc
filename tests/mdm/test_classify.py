"""Fellegi-Sunter scoring and its training pieces against plain arithmetic."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from mdm.classify import (
    EPS,
    TF_LIMIT,
    FellegiSunter,
    common_values,
    distinct_patterns,
    drop_common,
    estimate_m_em,
    fit_m_em,
    level_frequencies,
    pattern_keys,
    random_pairs,
    tf_adjustment,
    value_frequencies,
)
from mdm.compare import ComparisonSpec, encode

SPECS = [ComparisonSpec("name", "string", "name", (0.9,), context="city", tf=True),
         ComparisonSpec("phone", "phone", "phone", extra=("p8",), tf=True),
         ComparisonSpec("form", "exact", "form")]


def _model(rng: random.Random, calibration: bool) -> FellegiSunter:
    def dist(k: int) -> list[float]:
        w = [rng.uniform(0.0, 1.0) for _ in range(k)]
        w[0] = 0.0 if rng.random() < 0.2 else w[0]  # a zero probability is clipped, not log(0)
        return [x / max(sum(w), 1e-9) for x in w]
    model = FellegiSunter(SPECS, {s.name: dist(s.n_levels) for s in SPECS}, {s.name: dist(s.n_levels) for s in SPECS},
                          rng.uniform(0.001, 0.5),
                          tf={"name": {"华信": 0.2, "凯邦": 0.01}, "phone": {"123": 0.5}},
                          tf_default={"name": 0.001, "phone": 0.002}, tf_reference={"name": 0.05, "phone": 0.01})
    if calibration:
        model.info = {"calibration": {"0": 1.5}, "calibration_scope": ["uscc"]}
    return model


def plain_weight(model: FellegiSunter, levels: dict[str, int], values: dict[str, str | None]) -> float:
    total = math.log2(model.prior / (1 - model.prior))
    for s in SPECS:
        lv = levels[s.name]
        if lv < 0:
            continue
        m, u = min(max(model.m[s.name][lv], EPS), 1), min(max(model.u[s.name][lv], EPS), 1)
        total += math.log2(m) - math.log2(u)
        if s.tf and lv in s.exact_levels():
            freq = model.tf[s.name].get(values[s.name], model.tf_default[s.name])
            total += min(max(math.log2(model.tf_reference[s.name] / max(freq, EPS)), -TF_LIMIT), TF_LIMIT)
    return total


@pytest.mark.parametrize("seed", range(30))
def test_match_weight_is_the_sum_of_log_bayes_factors_and_the_prior(seed: int) -> None:
    rng = random.Random(seed)
    model = _model(rng, calibration=False)
    n = 40
    lv = pd.DataFrame({s.name: [rng.randint(-1, s.n_levels - 1) for _ in range(n)] for s in SPECS}).astype(np.int8)
    values = {"name": np.array([rng.choice(["华信", "凯邦", "其他", None]) for _ in range(n)], dtype=object),
              "phone": np.array([rng.choice(["123", "456"]) for _ in range(n)], dtype=object)}
    got = model.match_weight(lv, tf_values=values)
    want = [plain_weight(model, {s.name: int(lv[s.name][i]) for s in SPECS},
                         {k: v[i] for k, v in values.items()}) for i in range(n)]
    assert got == pytest.approx(want, abs=1e-9)
    freqs = {k: pd.Series(v).map(model.tf[k]).fillna(model.tf_default[k]).to_numpy(float) for k, v in values.items()}
    assert model.match_weight(lv, tf_freqs=freqs) == pytest.approx(want, abs=1e-9)
    per = model.weights(lv, tf_values=values)
    assert list(per.columns) == [s.name for s in SPECS]
    assert per.sum(axis=1).to_numpy() + model.prior_weight() == pytest.approx(want, abs=1e-9)
    assert (per[lv < 0] .fillna(0) == 0).all().all()  # a missing level contributes nothing
    again = FellegiSunter.from_json(model.to_json())
    assert again.match_weight(lv, tf_values=values) == pytest.approx(want, abs=1e-12)
    prob = FellegiSunter.probability(np.array(want))
    assert prob == pytest.approx([1 / (1 + 2 ** -w) for w in want])


def test_steward_corrections_apply_to_their_pattern_within_their_scope() -> None:
    model = _model(random.Random(3), calibration=False)
    lv = pd.DataFrame({"name": [-1, -1, 0], "phone": [-1, -1, 0], "form": [-1, -1, 0]}).astype(np.int8)
    key = int(pattern_keys(lv, SPECS)[0])
    model.info = {"calibration": {str(key): 1.5}, "calibration_scope": ["uscc"]}
    records = pd.DataFrame({"uscc": ["x", "y", None, ""]})
    scope = model.in_scope(records, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert scope.tolist() == [True, False, False]
    assert model.adjustment(lv, scope).tolist() == [1.5, 0.0, 0.0]
    assert model.adjustment(lv).tolist() == [1.5, 1.5, 0.0]
    base = FellegiSunter(SPECS, model.m, model.u, model.prior, model.tf, model.tf_default, model.tf_reference)
    assert (model.match_weight(lv, scope=scope) - base.match_weight(lv)).tolist() == pytest.approx([1.5, 0, 0])
    assert base.in_scope(records, np.array([0]), np.array([1])) is None
    model.info["calibration_scope"] = []
    assert model.in_scope(records, np.array([0]), np.array([1])) is None


def test_prior_weight_and_probability_bounds() -> None:
    m = _model(random.Random(1), calibration=False)
    m.prior = 0.0
    assert m.prior_weight() == pytest.approx(math.log2(EPS / (1 - EPS)))
    m.prior = 1.0
    assert m.prior_weight() == pytest.approx(math.log2((1 - EPS) / EPS))
    assert FellegiSunter.probability(np.array([0.0, 1000.0, -1000.0])).tolist() == pytest.approx(
        [0.5, 1 / (1 + 2 ** -60), 1 / (1 + 2 ** 60)])


def test_em_with_no_pair_keeps_the_prior_and_learns_nothing() -> None:
    empty = pd.DataFrame({s.name: pd.Series([], dtype=np.int8) for s in SPECS})
    u = {s.name: [1 / s.n_levels] * s.n_levels for s in SPECS}
    m, u2, prior, it = estimate_m_em(empty, SPECS, u, prior=0.1)
    assert (prior, it) == (0.1, 0) and u2 == u
    assert all(not np.isnan(v).any() and sum(v) == pytest.approx(1) for v in m.values())


def test_em_recovers_two_classes_exactly_separable() -> None:
    spec = [ComparisonSpec("a", "exact", "a"), ComparisonSpec("b", "exact", "b")]
    patterns = np.array([[1, 1], [0, 0]], dtype=np.int16)
    m, u, prior, it = fit_m_em(patterns, np.array([30.0, 70.0]), spec, {"a": [0.9, 0.1], "b": [0.9, 0.1]},
                               fit_u=True)
    assert prior == pytest.approx(0.3, abs=1e-3) and 1 < it < 100
    assert m["a"][1] == pytest.approx(1, abs=1e-3) and u["a"][0] == pytest.approx(1, abs=1e-3)
    gated = [ComparisonSpec("a", "exact", "a", gate="g"), spec[1]]
    _, u_gated, _, _ = fit_m_em(patterns, np.array([30.0, 70.0]), gated, {"a": [0.9, 0.1], "b": [0.9, 0.1]},
                                fit_u=True)
    assert u_gated["a"] == [0.9, 0.1]  # a gated comparison keeps its random-pair u


def test_frequencies_patterns_and_random_pairs() -> None:
    lv = pd.DataFrame({"name": [0, 1, 1, -1, 6], "phone": [2, 2, -1, 0, 1], "form": [1, 0, 1, 1, -1]}).astype(np.int8)
    f = level_frequencies(lv, SPECS, pseudo=0.0)
    assert f["form"] == [0.25, 0.75] and f["phone"] == [0.25, 0.25, 0.5]
    assert f["name"][6] == 0.25 and len(f["name"]) == 7 and f["name"][1] == 0.5
    smooth = level_frequencies(lv, SPECS[2:], weights=np.array([1, 2, 1, 1, 1.0]), pseudo=1.0)
    assert smooth["form"] == pytest.approx([3 / 7, 4 / 7])
    keys = pattern_keys(lv, SPECS)
    assert keys[0] == ((0 + 1) * 4 + (2 + 1)) * 3 + (1 + 1)
    patterns, counts = distinct_patterns(pd.concat([lv, lv.iloc[:2]]), SPECS)
    assert sorted(map(tuple, patterns.tolist())) == sorted(map(tuple, lv.to_numpy().tolist()))
    assert sorted(counts.tolist()) == [1, 1, 1, 2, 2]
    a, b = random_pairs(10, 1000, seed=7)
    assert (a != b).all() and len(a) <= 45 and ((a >= 0) & (a < 10) & (b < 10)).all()
    a2, b2 = random_pairs(10, 1000, seed=7)
    assert a.tolist() == a2.tolist() and b.tolist() == b2.tolist()
    assert len(random_pairs(1, 5)[0]) == 0


def test_term_frequency_tables_and_their_adjustment() -> None:
    counts = np.array([3, 1, 0, 6])
    table, single, ref = value_frequencies(lambda idx: [f"v{i}" for i in idx], counts)
    assert table == {"v3": 0.6, "v0": 0.3} and list(table) == ["v3", "v0"]  # most frequent first
    assert single == 0.1
    p = np.array([0.6, 0.3, 0.1])
    assert ref == pytest.approx((p ** 3).sum() / (p ** 2).sum())
    assert tf_adjustment(np.array([0.05, 0.5, 1e-9, 1.0]), 0.05).tolist() == pytest.approx(
        [0.0, math.log2(0.1), TF_LIMIT, max(math.log2(0.05), -TF_LIMIT)])


def test_values_held_by_many_owners_count_as_missing() -> None:
    spec = [ComparisonSpec("contact", "exact", "contact", common=3, owner="brand")]
    records = pd.DataFrame({"contact": ["新联系人", "新联系人", "新联系人", "王五", "王五", "王五", None, ""],
                            "brand": ["甲", "乙", "丙", "甲", "甲", "乙", "丁", "戊"]})
    enc = encode(records, spec, columns=["brand"])
    common = common_values(enc, spec)
    assert common == {"contact": ["新联系人"]}  # 王五 is held by two brands only
    left, right = np.array([0, 3, 3, 6]), np.array([1, 4, 0, 7])
    lv = pd.DataFrame({"contact": [1, 1, 0, -1]}).astype(np.int8)
    out = drop_common(lv, spec, common, enc, left, right)
    assert out["contact"].tolist() == [-1, 1, -1, -1] and lv["contact"].tolist() == [1, 1, 0, -1]
    assert drop_common(lv, spec, {}, enc, left, right) is lv

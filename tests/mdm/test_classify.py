"""Fellegi-Sunter scoring and its training pieces against plain arithmetic."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from mdm.classify import (
    EPS,
    TF_LIMIT,
    U_ANCHOR_PAIRS,
    FellegiSunter,
    common_values,
    distinct_patterns,
    drop_common,
    estimate_m_em,
    estimate_u,
    fit_m_em,
    level_frequencies,
    pattern_keys,
    random_pairs,
    tf_adjustment,
    train,
    value_frequencies,
)
from mdm.compare import ComparisonSpec, compare, encode

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
    assert prior == pytest.approx(0.3, abs=2e-3) and 1 < it < 100  # (the anchor's few agreeing pseudo-pairs)
    assert m["a"][1] == pytest.approx(1, abs=1e-3)
    # u: the 70 non-matches disagree, the random-pair u (0.9 disagreeing) counts as U_ANCHOR_PAIRS pairs
    assert u["a"][0] == pytest.approx((70 + 0.9 * U_ANCHOR_PAIRS) / (70 + U_ANCHOR_PAIRS), abs=2e-3)
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


@pytest.mark.parametrize("pairs", [1, 3, 12])
def test_em_on_a_handful_of_identical_pairs_calls_them_matches(pairs: int) -> None:
    """A few candidate pairs agreeing on everything, records this few that random pairs agree half the time: a u
    fitted to the candidates alone explains every one as a non-match (the prior at its floor, nothing linked); the
    random-pair u, counted as pairs, keeps them matches."""
    spec = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("phone", "exact", "phone")]
    u = {"name": [0.5, 0.5], "phone": [0.5, 0.5]}
    m, u_fit, prior, _ = fit_m_em(np.array([[1, 1]], np.int16), np.array([float(pairs)]), spec, u, fit_u=True)
    assert prior > 0.99 and m["name"][1] > 0.99
    assert u_fit["name"][1] == pytest.approx(0.5, abs=0.01)  # (all the candidates are matches: u stays random)
    # with many candidates the anchor counts for nothing: 30% matches found, u fitted to the other 70%
    patterns = np.array([[1, 1], [0, 0]], np.int16)
    _, u_many, prior, _ = fit_m_em(patterns, np.array([30_000.0, 70_000.0]), spec, u, fit_u=True)
    assert prior == pytest.approx(0.3, abs=1e-3) and u_many["name"][0] == pytest.approx(1, abs=1e-3)


def plain_em(patterns: list[list[int]], counts: list[float], specs: list[ComparisonSpec], u: dict[str, list[float]],
             prior: float, max_iter: int, tol: float, fit_u: bool) -> tuple[dict, dict, float, int]:
    """EM written out pattern by pattern, with the module's starting point, smoothing and stopping rule."""
    m = {s.name: [math.exp(1.5 * i) / sum(math.exp(1.5 * j) for j in range(s.n_levels)) for i in range(s.n_levels)]
         for s in specs}
    anchor = {k: [U_ANCHOR_PAIRS * x for x in v] for k, v in u.items()}  # the random-pair u, as pseudo-pairs
    u = {k: list(v) for k, v in u.items()}
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        g = []
        for p in patterns:
            a, b = math.log(prior), math.log(1 - prior)
            for s, lv in zip(specs, p, strict=True):
                if lv >= 0:
                    a += math.log(min(max(m[s.name][lv], EPS), 1))
                    b += math.log(min(max(u[s.name][lv], EPS), 1))
            g.append(1 / (1 + math.exp(min(max(b - a, -700), 700))))
        new_prior = min(max(sum(x * c for x, c in zip(g, counts, strict=True)) / sum(counts), EPS), 1 - EPS)
        delta = abs(new_prior - prior)
        for j, s in enumerate(specs):
            cm, cu = [0.01] * s.n_levels, [0.01 + a for a in anchor[s.name]]
            for p, x, c in zip(patterns, g, counts, strict=True):
                if p[j] >= 0:
                    cm[p[j]] += x * c
                    cu[p[j]] += (1 - x) * c
            new = [v / sum(cm) for v in cm]
            delta = max(delta, max(abs(a - b) for a, b in zip(new, m[s.name], strict=True)))
            m[s.name] = new
            if fit_u and s.gate is None:
                u[s.name] = [v / sum(cu) for v in cu]
        prior = new_prior
        if delta < tol:
            break
    return m, u, prior, it


@pytest.mark.parametrize("seed", range(12))
def test_em_equals_em_written_out(seed: int) -> None:
    rng = random.Random(seed)
    specs = [ComparisonSpec("a", "exact", "a"), ComparisonSpec("b", "phone", "b", gate="g" if seed % 2 else None),
             ComparisonSpec("c", "uscc", "c")]
    patterns = sorted({tuple(rng.randint(-1, s.n_levels - 1) for s in specs) for _ in range(15)})
    counts = [float(rng.randint(1, 50)) for _ in patterns]
    u = {s.name: [1 / s.n_levels] * s.n_levels for s in specs}
    fit_u, max_iter = bool(seed % 3), rng.choice([3, 100])
    got = fit_m_em(np.array(patterns, np.int16), np.array(counts), specs, u, 0.2, max_iter, 1e-6, fit_u)
    want = plain_em([list(p) for p in patterns], counts, specs, u, 0.2, max_iter, 1e-6, fit_u)
    assert got[3] == want[3]  # iterations
    assert got[2] == pytest.approx(want[2], rel=1e-9)
    for k in ("a", "b", "c"):
        assert got[0][k] == pytest.approx(want[0][k], rel=1e-9) and got[1][k] == pytest.approx(want[1][k], rel=1e-9)
    lv = pd.DataFrame(np.repeat(np.array(patterns), [int(c) for c in counts], axis=0), columns=["a", "b", "c"])
    again = estimate_m_em(lv.astype(np.int8), specs, u, 0.2, max_iter, 1e-6, fit_u)
    assert again[3] == want[3] and again[2] == pytest.approx(want[2], rel=1e-9)
    assert estimate_m_em(lv.astype(np.int8), specs, u)[1] == u  # by default u is held fixed


def test_u_is_the_level_frequencies_of_the_random_pairs_gate_ignored() -> None:
    records = pd.DataFrame({"x": list("aabbbcdd") * 3, "g": [None] * 24})
    specs = [ComparisonSpec("x", "exact", "x", gate="g")]
    got = estimate_u(records, specs, n_pairs=50, seed=3)
    a, b = random_pairs(24, 50, 3)
    lv = compare(records, a, b, [ComparisonSpec("x", "exact", "x")])
    same = int((lv["x"] == 1).sum())
    assert got == {"x": pytest.approx([(len(a) - same + 1) / (len(a) + 2), (same + 1) / (len(a) + 2)])}
    assert estimate_u(encode(records, specs), specs, n_pairs=50, seed=3) == got


def test_random_pairs_are_the_seeded_draws_without_self_pairs() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 10, 45), rng.integers(0, 10, 45)  # 45 = all pairs of ten records, fewer than asked
    got = random_pairs(10, 1000, seed=7)
    assert got[0].tolist() == a[a != b].tolist() and got[1].tolist() == b[a != b].tolist()
    rng = np.random.default_rng(42)
    a, b = rng.integers(0, 1000, 30), rng.integers(0, 1000, 30)
    assert random_pairs(1000, 30)[0].tolist() == a[a != b].tolist()
    assert len(random_pairs(2, 5, seed=1)[0]) <= 1  # one pair at most to draw from two records


def test_a_model_survives_its_json_and_an_older_json_loads() -> None:
    model = _model(random.Random(5), calibration=True)
    model.common = {"phone": ["13800000000"]}
    model.info["em_iterations"] = 7
    again = FellegiSunter.from_json(model.to_json())
    assert again == model
    old = json.loads(model.to_json())
    for k in ("tf", "tf_default", "tf_reference", "info", "common"):
        old.pop(k)
    legacy = FellegiSunter.from_json(json.dumps(old))
    assert (legacy.tf, legacy.tf_default, legacy.tf_reference, legacy.info, legacy.common) == ({}, {}, {}, {}, {})


def test_a_model_with_numpy_numbers_or_nan_survives_its_json() -> None:
    model = _model(random.Random(6), calibration=True)
    model.tf_reference = {k: np.float64(v) for k, v in model.tf_reference.items()}  # numpy scalars: plain numbers
    model.info["pairs"] = np.int64(12)
    text = model.to_json()
    assert json.loads(text)["info"]["pairs"] == 12
    assert FellegiSunter.from_json(text) == model
    model.prior = float("nan")  # (a model from before EM kept its starting point on no pairs)
    again = FellegiSunter.from_json(model.to_json())
    assert np.isnan(again.prior) and again.m == model.m and again.tf == model.tf


def test_training_records_what_it_learnt_from() -> None:
    records = pd.DataFrame({"name": ["甲", "甲", "乙", "乙", "丙", "丁"], "phone": ["1", "1", "2", "3", None, "4"],
                            "p8": ["1", "1", "2", "3", None, "4"], "city": ["京", "京", "沪", "沪", None, "京"],
                            "form": ["有限", "有限", "股份", "股份", "有限", None]})
    left, right = np.array([0, 2, 0, 1]), np.array([1, 3, 2, 5])
    lv = compare(records, left, right, SPECS)
    enc = encode(records, SPECS)
    model = train(records, SPECS, lv, u_pairs=100, common={"phone": ["9"]}, encoded=enc)
    assert model.info == {"em_iterations": model.info["em_iterations"], "candidate_pairs": 4, "records": 6}
    assert 1 <= model.info["em_iterations"] <= 100 and model.common == {"phone": ["9"]}
    assert model.tf["name"] == {"甲": pytest.approx(2 / 6), "乙": pytest.approx(2 / 6)}
    assert model.tf_default["name"] == pytest.approx(1 / 6)
    same = train(records, SPECS, lv, u_pairs=100, common={"phone": ["9"]})
    assert same.u == model.u and same.m == model.m and same.prior == model.prior and same.tf == model.tf
    assert train(records, SPECS, lv, u_pairs=100, seed=9).u != model.u  # another draw of random pairs


def test_common_values_per_spec_and_missing_owner_or_column() -> None:
    specs = [ComparisonSpec("plain", "exact", "contact"),  # no `common`: never looked at
             ComparisonSpec("nocol", "exact", "zzz", common=2, owner="brand"),
             ComparisonSpec("contact", "exact", "contact", common=2, owner="brand"),
             ComparisonSpec("phone", "exact", "phone", common=2, owner="brand")]
    records = pd.DataFrame({"contact": ["张三", "张三", "李四", None], "phone": ["1", "1", "2", "2"],
                            "brand": ["甲", "乙", "丙", "丁"]})
    enc = encode(records, specs[2:], columns=["brand"])
    assert common_values(enc, specs) == {"contact": ["张三"], "phone": ["1", "2"]}
    lv = pd.DataFrame({"contact": [1, 0, -1], "phone": [1, 1, 0]}).astype(np.int8)
    left, right = np.array([0, 2, 3]), np.array([1, 0, 2])
    model = FellegiSunter(specs[2:], {}, {}, 0.1, common={"contact": ["张三"], "phone": ["2"]})
    out = model.drop_common(lv, enc, left, right)
    assert out["contact"].tolist() == [-1, -1, -1] and out["phone"].tolist() == [1, -1, -1]
    # a record without the value (missing) is not "common"
    assert drop_common(lv.head(1), specs[2:3], {"contact": ["张三"]}, enc, np.array([3]), np.array([2]))[
        "contact"].tolist() == [1]


def test_frequencies_tie_order_one_record_and_the_adjustment_floor() -> None:
    table, single, _ = value_frequencies(lambda idx: [f"v{i}" for i in idx], np.array([2, 3, 2, 0]))
    assert list(table) == ["v1", "v0", "v2"] and single == pytest.approx(1 / 7)  # ties: first appearance first
    assert value_frequencies(lambda idx: [f"v{i}" for i in idx], np.array([1]))[1] == 1.0
    assert value_frequencies(lambda idx: [], np.array([], dtype=np.int64))[1] == 1.0
    assert tf_adjustment(np.array([0.5]), 1e-9).tolist() == [-TF_LIMIT]


def test_term_frequency_shares_of_each_pair_from_the_codes() -> None:
    records = pd.DataFrame({"name": ["华信", "凯邦", None, "其他", "华信"], "phone": ["123", "456", "123", None, "9"],
                            "city": [None] * 5, "p8": [None] * 5, "form": ["a"] * 5})
    model = _model(random.Random(2), calibration=False)
    left = np.array([0, 1, 2, 3, 4])
    enc = encode(records, SPECS)
    plain = type(enc)(enc.codes, dict(enc.uniques))  # uniques as a plain dict: looked up every time
    for e in (enc, plain, enc):  # (the DistinctValues one twice: from its memo the second time)
        got = model.tf_frequencies(e, left)
        assert set(got) == {"name", "phone"}
        assert got["name"].tolist() == [0.2, 0.01, 0.001, 0.001, 0.2]  # missing and unknown: the default
        assert got["phone"].tolist() == [0.5, 0.002, 0.5, 0.002, 0.002]
    lv = pd.DataFrame({s.name: [s.exact_levels()[-1]] * 5 for s in SPECS}).astype(np.int8)
    freqs = model.tf_frequencies(encode(records, SPECS), left)
    values = {"name": records["name"].to_numpy(), "phone": records["phone"].to_numpy()}
    assert model.weights(lv, tf_freqs=freqs).to_numpy() == pytest.approx(model.weights(lv, tf_values=values).to_numpy())
    no_tf = FellegiSunter([ComparisonSpec("form", "exact", "form")], {"form": [0.5, 0.5]}, {"form": [0.5, 0.5]}, 0.1,
                          tf={"form": {"a": 0.5}}, tf_default={"form": 0.1})
    assert no_tf.tf_frequencies(encode(records, SPECS), left) == {}  # a comparison without `tf`


def test_one_pair_is_enough_to_run_em_and_steward_scope_takes_any_placing_column() -> None:
    spec = [ComparisonSpec("a", "exact", "a")]
    _, _, _, it = fit_m_em(np.array([[1]], np.int16), np.array([1.0]), spec, {"a": [0.9, 0.1]})
    assert it >= 1
    model = _model(random.Random(3), calibration=True)
    model.info["calibration_scope"] = ["uscc", "city"]
    records = pd.DataFrame({"uscc": ["x", None, None], "city": [None, "京", None]})
    assert model.in_scope(records, np.array([0, 0]), np.array([1, 2])).tolist() == [True, False]


def test_dropping_common_values_skips_comparisons_without_any() -> None:
    specs = [ComparisonSpec("a", "exact", "a"), ComparisonSpec("gone", "exact", "gone"),
             ComparisonSpec("b", "exact", "b")]
    records = pd.DataFrame({"a": ["x", "x"], "b": ["9", "9"]})
    enc = encode(records, [specs[0], specs[2]])
    lv = pd.DataFrame({"a": [1], "gone": [1], "b": [1]}).astype(np.int8)
    out = drop_common(lv, specs, {"a": [], "gone": ["9"], "b": ["9"]}, enc, np.array([0]), np.array([1]))
    assert out.iloc[0].tolist() == [1, 1, -1]  # no common value of a; no column gone in the records


def test_term_frequency_shares_are_the_same_for_a_handful_of_values_as_for_many() -> None:
    """A query's few candidates look their shares up one by one, a run's pairs through pandas: the same shares, the
    default for a value the table lacks and for every kind of missing value."""
    from mdm.classify import _shares

    table = {"华信": 0.25, "东方": 0.5, "nan": 0.75}
    few = np.array(["华信", None, np.nan, pd.NA, "东方", "其他", "nan"], dtype=object)
    assert _shares(few, table, 0.01).tolist() == [0.25, 0.01, 0.01, 0.01, 0.5, 0.01, 0.75]
    many = np.concatenate([few] * 600)  # past 4,096 values: through pandas
    assert _shares(many, table, 0.01).tolist() == _shares(few, table, 0.01).tolist() * 600


def test_common_values_are_dropped_alike_for_a_few_distinct_values_and_for_many() -> None:
    """A query's candidates look their values up in a kept set, a run's pairs through pandas: the same levels dropped
    on either side of the 4,096 distinct values where one gives way to the other."""
    spec = [ComparisonSpec("contact", "exact", "contact")]
    for n in (50, 5000):
        contacts = [f"联系人{i % n}" for i in range(n)] + ["", None]
        enc = encode(pd.DataFrame({"contact": contacts}), spec)
        common = {"contact": [f"联系人{i}" for i in range(0, n, 7)] + ["不在其中"]}
        rng = np.random.default_rng(n)
        left, right = rng.integers(0, n + 2, 300), rng.integers(0, n + 2, 300)
        lv = pd.DataFrame({"contact": np.ones(300, np.int8)})
        out = drop_common(lv, spec, common, enc, left, right)
        held = {i for i, c in enumerate(contacts) if c in set(common["contact"])}
        want = [-1 if a in held or b in held else 1 for a, b in zip(left.tolist(), right.tolist(), strict=True)]
        assert out["contact"].tolist() == want, n
        assert min(want) == -1 and max(want) == 1

"""Stewardship's pure parts: item identity, priority, steward constraints in clustering, local
re-clustering, learning from decisions (`mdm/feedback.py`) and one-record lookup (`mdm/lookup.py`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from mdm.blocking import BlockingRule, candidate_pairs
from mdm.classify import FellegiSunter, pattern_keys
from mdm.cluster import cluster
from mdm.compare import ComparisonSpec, compare
from mdm.engine import LinkSettings, explain, link, score_pairs
from mdm.feedback import calibrate
from mdm.lookup import build_index
from mdm.stewardship import (
    RAW_FIELDS,
    REASONS,
    STD_FIELDS,
    band,
    candidate_groups,
    hard_rule_conflicts,
    ordered_pair,
    pair_id,
    pair_ids,
    priority,
    recluster,
    record_values,
    revenue_by_golden,
    settled,
    split_record_id,
)


def test_a_pair_is_the_same_item_in_either_order() -> None:
    assert pair_id("crm_a:c:1", "erp:c:9") == pair_id("erp:c:9", "crm_a:c:1")
    assert pair_id("crm_a:c:1", "erp:c:9") != pair_id("crm_a:c:1", "erp:c:8")
    assert ordered_pair("b", "a") == ("a", "b")
    assert split_record_id("crm_b:customers:KH:01") == ("crm_b", "customers", "KH:01")  # keys may hold ':'
    with pytest.raises(ValueError):
        split_record_id("crm_b:customers")


def test_priority_is_uncertainty_times_revenue() -> None:
    p = priority(np.array([0.5, 0.5, 0.9, 0.99]), np.array([0.0, 1e6, 1e6, 0.0]))
    assert p[1] == pytest.approx(2.0)            # a coin flip of the biggest customer
    assert p[0] == pytest.approx(1.0)            # a coin flip without orders
    assert p[1] > p[2] > p[3]                    # surer pairs come later
    assert band(np.array([0.9, 0.5, 0.1]), 0.8, 0.3).tolist() == ["match", "review", "low"]


def test_record_values_leave_out_empty_fields() -> None:
    df = pd.DataFrame({"name": ["甲公司"], "uscc": [None], "phone": [""], "uscc_valid": [np.bool_(True)]})
    assert record_values(df) == ['{"name": "甲公司", "uscc_valid": true}']


def test_record_values_write_what_json_dumps_writes() -> None:
    """The Arrow-built JSON equals `json.dumps` of each record's non-empty values: quotes, backslashes, line
    breaks, other control characters, CJK and emoji in text; booleans, numbers and times; Arrow-backed text."""
    texts = ['华信"科技"', "a\\b", "line\nbreak\ttab\r", "bell\x07", "", None, "😀 北京 凯邦", " ", "\x1f\b\f"]
    n = len(texts)
    df = pd.DataFrame({
        "name": texts,
        # (no control character json.dumps writes as \\u00XX: Arrow escapes the whole column)
        "phone": pd.array([t if t is None or t.isprintable() or "\n" in t else "x" for t in reversed(texts)],
                          dtype=pd.StringDtype("pyarrow")),
        "address": [t if t is None or t.isprintable() or "\n" in t else "y" for t in texts],
        "uscc_valid": [True, False, None] * (n // 3),
        "updated_at": [pd.Timestamp("2026-12-04 10:20:30"), None, pd.Timestamp("2026-01-01 00:00:00.5")] * (n // 3),
        "industry": [1, 2.5, np.nan] * (n // 3),
        "owner": ["x", 7, None] * (n // 3),
    })

    def expected(row: pd.Series) -> str:
        d = {}
        for c in [f for f in RAW_FIELDS + STD_FIELDS if f in row.index]:  # (the fields' order)
            v = row[c]
            if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "":
                continue
            v = v.item() if isinstance(v, np.generic) else v
            d[c] = v.isoformat(sep=" ") if isinstance(v, pd.Timestamp) else v
        return json.dumps(d, ensure_ascii=False)

    assert record_values(df) == [expected(row) for _, row in df.iterrows()]
    assert json.loads(record_values(df)[2])["name"] == "line\nbreak\ttab\r"
    assert record_values(df[["name"]].iloc[[4, 5]]) == ["{}", "{}"]


def _cl(prob: list[float], edges: list[tuple[int, int]], n: int, **kw: object) -> np.ndarray:
    left, right = np.array([a for a, _ in edges]), np.array([b for _, b in edges])
    excl = kw.pop("exclusive", {})
    anchored = kw.pop("anchored", np.ones(n, bool))
    return cluster(n, left, right, np.array(prob), 0.8, 0.3, excl, anchored, **kw).labels  # type: ignore[arg-type]


def test_a_must_link_outranks_the_hard_rules() -> None:
    """A steward's `same` joins records whose cities differ (a company that moved); further records of
    either city may still join, a third city may not."""
    city = np.array(["武汉市", "广州市", "武汉市", "北京市"], dtype=object)
    labels = _cl([0.95, 0.95], [(0, 2), (1, 3)], 4, exclusive={"city": city}, must=(np.array([0]), np.array([1])))
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_a_cannot_link_outranks_a_must_link_chain() -> None:
    labels = _cl([0.1], [(0, 1)], 3, must=(np.array([0, 1]), np.array([1, 2])),
                 cannot=(np.array([0]), np.array([2])))
    assert labels[0] != labels[2]


def test_must_linked_floaters_are_placed_and_cannot_linked_floaters_stay_apart() -> None:
    anchored = np.array([True, False, False, False])
    # floaters 1 and 2 must join anchored record 0 although no edge reaches them
    labels = _cl([0.1], [(0, 3)], 4, anchored=anchored, must=(np.array([0, 0]), np.array([1, 2])))
    assert labels[0] == labels[1] == labels[2] != labels[3]
    # three floaters in a chain of match-band edges; a cannot-link between the ends keeps them apart
    anchored = np.zeros(3, bool)
    assert len(set(_cl([0.9, 0.9], [(0, 1), (1, 2)], 3, anchored=anchored))) == 1
    labels = _cl([0.9, 0.95], [(0, 1), (1, 2)], 3, anchored=anchored, cannot=(np.array([0]), np.array([2])))
    assert labels[0] != labels[2] and labels[1] == labels[2]  # the stronger edge wins


def test_recluster_applies_the_decisions_to_a_few_records() -> None:
    recs = pd.DataFrame({"record_id": ["a", "b", "c", "d"], "city": ["武汉市"] * 4})
    pairs = pd.DataFrame({"left_record": ["a", "b", "c"], "right_record": ["b", "c", "d"], "prob": [0.9, 0.9, 0.9]})
    none = pd.DataFrame(columns=["left_record", "right_record", "verdict"])
    assert len(set(recluster(recs, pairs, none, 0.8, 0.3, ["city"], ["city"]))) == 1
    # unmerging b (cannot-links to all others) takes the bridge away: a, b and c+d
    dec = pd.DataFrame({"left_record": ["b", "b", "b"], "right_record": ["a", "c", "d"], "verdict": "different"})
    labels = recluster(recs, pairs, dec, 0.8, 0.3, ["city"], ["city"])
    assert labels[0] != labels[1] != labels[2] and labels[2] == labels[3] and labels[0] != labels[2]


# --- learning from decisions ---------------------------------------------------------------------------------

SPECS = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("phone", "exact", "phone")]


def _model() -> FellegiSunter:
    return FellegiSunter(SPECS, m={"name": [0.1, 0.9], "phone": [0.2, 0.8]},
                         u={"name": [0.6, 0.4], "phone": [0.9, 0.1]}, prior=0.1)


def test_calibration_moves_only_the_labelled_patterns_toward_the_labels() -> None:
    model = _model()
    lv = pd.DataFrame({"name": [1] * 10 + [0] * 2, "phone": [-1] * 10 + [1] * 2}, dtype=np.int8)
    p = FellegiSunter.probability(model.match_weight(lv))
    same = np.array([False] * 9 + [True] + [True, True])
    cal = calibrate(model, lv, p, same, strength=5, min_pattern=3)
    w0, w1 = model.match_weight(lv), cal.match_weight(lv)
    assert (w1[:10] < w0[:10]).all()                           # name-only pairs: mostly different → down
    assert (w1[10:] == w0[10:]).all()                          # only 2 labels: too few to learn from
    other = pd.DataFrame({"name": [1, 0], "phone": [1, 1]}, dtype=np.int8)
    assert (cal.match_weight(other) == model.match_weight(other)).all()  # unlabelled patterns untouched
    post = (5 * p[0] + 1) / (5 + 10)                           # Beta posterior around the model
    assert FellegiSunter.probability(w1[:1])[0] == pytest.approx(post, rel=1e-4)
    assert cal.info["feedback"] == {"labels": 12, "same": 3, "different": 9, "patterns": 1, "strength": 5,
                                    "min_pattern": 3}
    again = FellegiSunter.from_json(cal.to_json())             # the corrections are part of the saved model
    assert np.allclose(again.match_weight(lv), w1)
    assert pattern_keys(lv, SPECS)[0] != pattern_keys(other, SPECS)[0]


def test_calibration_by_default_learns_from_three_labels_at_strength_five() -> None:
    # The engine passes its strength but never min_pattern: the defaults are 3 labels and strength 5. Pattern key:
    # name exact (level 1 + 1 = 2), phone missing (-1 + 1 = 0): 2·3 + 0 = 6. p̄ = 0.3, one `same` of three:
    # π = (5·0.3 + 1) / (5 + 3) = 0.3125; Δ = log2(0.3125/0.6875) − log2(0.3/0.7) = 0.0848889… (stored to 6 places).
    lv = pd.DataFrame({"name": [1, 1, 1], "phone": [-1, -1, -1]}, dtype=np.int8)
    cal = calibrate(_model(), lv, np.array([0.2, 0.3, 0.4]), np.array([1, 0, 0]))  # labels as 0/1 read as booleans
    assert cal.info["calibration"] == {"6": 0.084889}
    assert cal.info["feedback"] == {"labels": 3, "same": 1, "different": 2, "patterns": 1, "strength": 5.0,
                                    "min_pattern": 3}


def test_calibration_of_a_pattern_the_model_is_certain_of_stays_finite() -> None:
    # A probability of exactly 1 or 0 is read as 1 − 1e-6 or 1e-6 (classify.EPS). Pattern 6 (name exact, phone
    # missing): p̄ = 1, three `different`: π = 5/8, Δ = log2(5/3) − log2(999999) = −19.194602; pattern 5 (name
    # different, phone exact: 1·3 + 2), p̄ = 0, three `same`: π = 3/8, Δ = +19.194602.
    lv = pd.DataFrame({"name": [1, 1, 1, 0, 0, 0], "phone": [-1, -1, -1, 1, 1, 1]}, dtype=np.int8)
    cal = calibrate(_model(), lv, np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]), np.array([False] * 3 + [True] * 3))
    assert cal.info["calibration"] == {"5": 19.194602, "6": -19.194602}


def test_calibration_scope_limits_corrections_to_placed_pairs() -> None:
    model = _model()
    lv = pd.DataFrame({"name": [1] * 5, "phone": [-1] * 5}, dtype=np.int8)
    cal = calibrate(model, lv, FellegiSunter.probability(model.match_weight(lv)), np.zeros(5, bool),
                    scope=["city"])
    recs = pd.DataFrame({"name": ["x", "x", "x"], "phone": [None] * 3, "city": ["武汉市", "武汉市", None]})
    scope = cal.in_scope(recs, np.array([0, 0]), np.array([1, 2]))
    assert scope.tolist() == [True, False]
    lv2 = lv.head(2)
    w = cal.match_weight(lv2, scope=scope)
    assert w[0] < w[1] == model.match_weight(lv2)[1]
    table = explain(cal, recs.iloc[0], recs.iloc[1], 0.8, 0.3)
    assert "stewards" in set(table["comparison"])             # the explanation shows the correction


def _records() -> pd.DataFrame:
    names = ["华信机械", "华信机械", "华兴机械", "东方电气", "东方电气", "南方化工", "北方化工", "华信机械"]
    phones = ["021-1", "021-1", None, "010-2", "010-3", "020-4", None, "021-1"]
    cities = ["上海市", "上海市", "上海市", "北京市", "北京市", "广州市", "沈阳市", None]
    return pd.DataFrame({"name": names, "phone": phones, "city": cities})


def test_labelled_pairs_feed_a_rebuild_through_link() -> None:
    recs = _records()
    settings = LinkSettings([BlockingRule("city", ("city",)), BlockingRule("name", ("name",))], SPECS, u_pairs=1000,
                            anchors=("city",))
    plain = link(recs, settings)
    labelled = (np.array([0, 0, 1]), np.array([2, 1, 2]), np.array([False, True, False]))
    fed = link(recs, settings, labelled=labelled)
    assert fed.model.info["feedback"]["labels"] == 3 and "feedback" not in plain.model.info
    # Scoring with the saved model reproduces the weights link computed.
    again = score_pairs(recs, fed.pairs["left"].to_numpy(), fed.pairs["right"].to_numpy(), fed.model)
    assert np.allclose(again["weight"].to_numpy(), fed.pairs["weight"].to_numpy())


def test_lookup_scores_a_new_record_like_the_engine() -> None:
    recs = _records()
    rules = [BlockingRule("name", ("name",)), BlockingRule("phone", ("phone",))]
    model = link(recs, LinkSettings(rules, SPECS, u_pairs=1000)).model
    index = build_index(recs, rules, model, exclusive=["city"])
    query = pd.DataFrame([{"name": "华信机械", "phone": "021-1", "city": "北京市"}])
    cand = index.candidates(query)
    assert cand.tolist() == [0, 1, 7]                         # same name or phone
    got = index.score(query, cand)
    both = pd.concat([query, recs.iloc[cand]], ignore_index=True)
    ref = score_pairs(both, np.zeros(len(cand), int), np.arange(1, len(cand) + 1), model)
    assert np.allclose(got["weight"].to_numpy(), ref["weight"].to_numpy())
    assert index.conflicts(query, cand, ["city"]) == [["city"], ["city"], []]
    assert index.candidates(pd.DataFrame([{"name": "无此公司", "phone": None, "city": None}])).tolist() == []
    # the engine's own candidates are what the index finds
    cp = candidate_pairs(recs, rules)
    assert set(zip(cp.left.tolist(), cp.right.tolist(), strict=True)) >= {(0, 1), (0, 7), (1, 7)}
    assert compare(recs, np.array([0]), np.array([1]), SPECS).iloc[0].tolist() == [1, 1]


# --- lookup, against the engine ---------------------------------------------------------------------------------

LOOKUP_SPECS = [ComparisonSpec("name", "string", "name", (0.85,), tf=True),
                ComparisonSpec("phone", "exact", "phone", tf=True, common=2, owner="name"),
                ComparisonSpec("post", "exact", "post")]
LOOKUP_RULES = [BlockingRule("name", ("name",)), BlockingRule("phone", ("phone",))]


def _lookup_records() -> pd.DataFrame:
    # 400-800 is held by two companies (华兴机械, 东方电气): a common value (common=2 owners), compared as missing.
    # city and uscc place a record; no comparison reads them. post codes are numbers.
    return pd.DataFrame({
        "name": ["华信机械", "华信机械", "华兴机械", "东方电气", "东方电气", "南方化工", "北方化工", "华信机械", "",
                 "华信机械"],
        "phone": ["021-1", "021-1", "400-800", "400-800", "010-3", "020-4", None, "021-1", "021-1", ""],
        "city": ["上海市", "上海市", "上海市", "北京市", "北京市", "广州市", "沈阳市", None, "上海市", ""],
        "uscc": [None] * 9 + ["91310000MA1K000001"],
        "post": [200000, 200000, 200000, 100000, 100000, 510000, 110000, 200000, 200000, 200000],
    }, index=range(100, 110))


def _trained_model() -> FellegiSunter:
    model = link(_lookup_records().reset_index(drop=True), LinkSettings(LOOKUP_RULES, LOOKUP_SPECS, u_pairs=1000)).model
    assert model.common == {"phone": ["400-800"]}
    return model


def _calibrated_model(scope: tuple[str, ...] = ("city", "uscc")) -> FellegiSunter:
    """The trained model with a steward correction of the pattern of records 0 and 1 (name, phone and post exact)
    and of 0 and 8 (name missing, phone and post exact), for pairs of placed records (by a city or a tax code)."""
    model = _trained_model()
    lv = compare(_lookup_records().reset_index(drop=True), np.array([0, 0]), np.array([1, 8]), LOOKUP_SPECS)
    return calibrate(model, lv, FellegiSunter.probability(model.match_weight(lv)), np.array([False, False]),
                     min_pattern=1, scope=list(scope))


@pytest.mark.parametrize("scope", [("city", "uscc"), ()])
@pytest.mark.parametrize("query", [
    {"name": "华信机械", "phone": "021-1", "city": "上海市", "post": 200000},  # placed: the correction applies
    {"name": "华信机械", "phone": "400-800", "city": None, "post": 200000},    # not placed; a common phone
    {"name": "华信机械", "phone": "", "city": "", "post": None},               # empty is missing
    {"name": None, "phone": "021-1", "city": "北京市", "post": 100000},        # missing name: found by phone alone
    {"name": "东方电气", "phone": "010-3", "city": "北京市", "post": 100000},  # candidate 3 holds the common phone
    {"name": "华兴机械", "phone": "021-9", "city": None, "post": 200000},      # one candidate, holding it
])
def test_lookup_scores_as_the_engine_with_tf_common_values_and_corrections(query: dict[str, object],
                                                                          scope: tuple[str, ...]) -> None:
    # with a scope the corrections apply to placed pairs only, without one to every pair (as the engine does)
    recs = _lookup_records()
    model = _calibrated_model(scope)
    assert model.info["calibration"] and model.info["calibration_scope"] == list(scope)
    index = build_index(recs, LOOKUP_RULES, model)
    q = pd.DataFrame([{"uscc": None, **query}])
    cand = index.candidates(q)
    assert len(cand)
    got = index.score(q, cand)
    both = pd.concat([q, recs.reset_index(drop=True).iloc[cand]], ignore_index=True)
    ref = score_pairs(both, np.zeros(len(cand), np.int64), np.arange(1, len(cand) + 1), model)
    assert got["position"].tolist() == cand.tolist()
    for c in ["name", "phone", "post", "weight", "prob"]:
        assert np.allclose(got[c].to_numpy(dtype=float), ref[c].to_numpy(dtype=float)), c


def test_lookup_applies_the_correction_to_placed_pairs_only() -> None:
    # a query without name against record 0 (上海市): the corrected pattern of records 0 and 8 (name missing, phone
    # and post exact). Placed by its city or its tax code, the query's pair takes the correction; without either,
    # it keeps the model's weight
    recs, plain, cal = _lookup_records(), _trained_model(), _calibrated_model()
    key = pattern_keys(pd.DataFrame({"name": [-1], "phone": [1], "post": [1]}), LOOKUP_SPECS)[0]
    delta = cal.info["calibration"][str(key)]
    assert delta < 0                                             # both labels said different
    for city, uscc, correction in (("上海市", None, delta), (None, "91310000MA1K000001", delta), (None, None, 0.0),
                                   ("", "", 0.0)):
        q = pd.DataFrame([{"name": "", "phone": "021-1", "city": city, "uscc": uscc, "post": 200000}])
        before = build_index(recs, LOOKUP_RULES, plain).score(q, np.array([0]))
        after = build_index(recs, LOOKUP_RULES, cal).score(q, np.array([0]))
        assert (after["name"][0], after["phone"][0], after["post"][0]) == (-1, 1, 1)
        assert after["weight"][0] == pytest.approx(before["weight"][0] + correction)


def test_lookup_of_nothing_scores_nothing() -> None:
    index = build_index(_lookup_records(), LOOKUP_RULES, _calibrated_model())
    q = pd.DataFrame([{"name": "无此公司", "phone": "099-9", "city": "上海市", "uscc": None, "post": 200000}])
    cand = index.candidates(q)
    assert cand.dtype == np.int64 and cand.tolist() == []
    got = index.score(q, cand)
    assert len(got) == 0 and list(got.columns) == ["name", "phone", "post", "position", "weight", "prob"]


def test_lookup_index_blocks() -> None:
    recs = _lookup_records().assign(none=None)
    rules = [*LOOKUP_RULES, BlockingRule("name_city", ("name", "city")), BlockingRule("none", ("none",)),
             BlockingRule("city", ("city",), max_block=4)]
    index = build_index(recs, rules, _calibrated_model(), exclusive=["city"])
    # the records at positions 0..n-1, as they were
    assert index.records.equals(recs.reset_index(drop=True))
    assert index.blocks["none"] == {}                            # a column without values: no keys
    # a block of max_block records is kept, a larger one left out (as blocking does)
    assert {k: v.tolist() for k, v in index.blocks["city"].items()} == {
        "上海市": [0, 1, 2, 8], "北京市": [3, 4], "广州市": [5], "沈阳市": [6]}
    bigger = build_index(recs, [BlockingRule("city", ("city",), max_block=3)], _model())
    assert sorted(bigger.blocks["city"]) == ["北京市", "广州市", "沈阳市"]  # 上海市 has 4 records
    assert index.blocks["name_city"]["华信机械\x1f上海市"].tolist() == [0, 1]
    by_two = build_index(recs, [BlockingRule("name_city", ("name", "city"))], _model())
    assert by_two.candidates(pd.DataFrame([{"name": "华信机械", "city": "上海市"}])).tolist() == [0, 1]
    # a two-column key; a missing column skips its rule only, not the rules after it
    q = pd.DataFrame([{"name": "华信机械", "phone": None, "city": "上海市", "none": None}])
    assert index.candidates(q).tolist() == [0, 1, 2, 7, 8, 9]         # by name, by name and city, by city
    q = pd.DataFrame([{"name": None, "phone": "010-3", "city": "北京市", "none": None}])
    assert index.candidates(q).tolist() == [3, 4]
    assert index.candidates(q, limit=1).tolist() == [3]


def test_lookup_index_columns_hold_none_for_every_kind_of_missing_value() -> None:
    recs = pd.DataFrame({"name": pd.array(["华信机械", pd.NA, "东方电气"], dtype="string"),
                         "phone": [np.nan, "021-1", None], "city": pd.array(["上海市", None, pd.NA], dtype="string")})
    index = build_index(recs, LOOKUP_RULES, _model(), exclusive=["city"])
    assert index.columns["name"].tolist() == ["华信机械", None, "东方电气"]
    assert index.columns["phone"].tolist() == [None, "021-1", None]
    assert index.columns["city"].tolist() == ["上海市", None, None]
    assert index.columns["name"].dtype == object


def test_lookup_candidates_are_at_most_two_thousand_by_default() -> None:
    recs = pd.DataFrame({"name": [f"公司{i}" for i in range(2100)], "phone": ["021-1"] * 2100, "city": "上海市"})
    index = build_index(recs, [BlockingRule("phone", ("phone",), max_block=5000)], _model())
    assert index.candidates(pd.DataFrame([{"name": "x", "phone": "021-1"}])).tolist() == list(range(2000))


def test_lookup_candidates_by_a_number_column() -> None:
    # a spec is data: a rule may block on numbers (a post code), which the query holds as a number too
    recs = pd.DataFrame({"name": ["甲", "乙", "丙"], "phone": [None] * 3, "city": [None] * 3,
                         "post": [430000, 430000, 100000]})
    index = build_index(recs, [BlockingRule("post", ("post",))], _model())
    assert index.candidates(pd.DataFrame([{"post": 430000}])).tolist() == [0, 1]
    assert index.candidates(pd.DataFrame([{"post": np.nan}])).tolist() == []


@pytest.mark.parametrize("city, conflicts", [
    ("上海市", [[], ["city", "branch_key"], [], []]),
    ("北京市", [["city"], ["city", "branch_key"], [], []]),
    (None, [[], ["branch_key"], [], []]),
    (np.nan, [[], ["branch_key"], [], []]),
    ("", [[], ["branch_key"], [], []]),
])
def test_lookup_conflicts_only_between_two_values(city: object, conflicts: list[list[str]]) -> None:
    # candidates 0 (上海市, head office), 1 (广州市, a branch), 2 (no city: None), 3 (empty city): a missing or empty
    # value on either side is no conflict, and a missing city does not stop the branch being checked
    recs = pd.DataFrame({"name": ["甲"] * 4, "phone": [None] * 4, "city": ["上海市", "广州市", None, ""],
                         "branch_key": ["(none)", "上海分公司", "(none)", "(none)"]})
    index = build_index(recs, [BlockingRule("name", ("name",))], _model(), exclusive=["city", "branch_key"])
    q = pd.DataFrame([{"name": "甲", "city": city, "branch_key": "(none)"}])
    assert index.conflicts(q, np.arange(4), ["city", "branch_key"]) == conflicts


def test_lookup_conflicts_of_a_number_column() -> None:
    recs = pd.DataFrame({"name": ["甲"] * 3, "phone": [None] * 3, "founded": [2001, 2002, None]})
    index = build_index(recs, [BlockingRule("name", ("name",))], _model(), exclusive=["founded"])
    q = pd.DataFrame([{"name": "甲", "founded": 2001}])
    assert index.conflicts(q, np.arange(3), ["founded"]) == [[], ["founded"], []]


# --- stewardship's pure parts, one by one ------------------------------------------------------------------------


def test_a_pair_id_is_the_sha1_of_the_sorted_ids() -> None:
    # the stored review item id: 16 hex digits of SHA-1 over "lo|hi" (stable across versions)
    assert pair_id("erp:c:9", "crm_a:c:1") == hashlib.sha1(b"crm_a:c:1|erp:c:9").hexdigest()[:16]
    assert pair_ids(["b", "a"], ["a", "c"]) == [pair_id("a", "b"), pair_id("a", "c")]
    assert ordered_pair("a", "a") == ("a", "a") and ordered_pair("a", "b") == ("a", "b")
    for bad in ("crm::KH1", ":customers:KH1", "crm:customers:", "crm"):
        with pytest.raises(ValueError):
            split_record_id(bad)


def test_band_of_one_probability_is_a_string() -> None:
    assert band(0.8, 0.8, 0.3) == "match" and band(0.3, 0.8, 0.3) == "review" and band(0.29, 0.8, 0.3) == "low"
    assert isinstance(band(0.5, 0.8, 0.3), str)


def test_priority_without_revenue_is_the_uncertainty() -> None:
    # missing or negative revenue counts as none: 1 + 0 times the uncertainty 1 − 2·|p − 0.5|
    assert priority(np.array([0.5, 0.75, 1.0]), np.array([np.nan, -5.0, 0.0])).tolist() == [1.0, 0.5, 0.0]
    # log1p(e − 1) = 1 of a top of log1p(e² − 1) = 2: a coin flip of that customer scores 1 + 1/2
    p = priority(np.array([0.5, 0.5, 0.25]), np.array([np.e - 1, np.e**2 - 1, 0.0]))
    assert p == pytest.approx([1.5, 2.0, 0.5])
    assert priority(np.array([]), np.array([])).tolist() == []


def test_revenue_by_golden_customer() -> None:
    orders = pd.DataFrame({"record_id": ["a", "a", "b", "x"], "amount": [100, 50, 30.5, 999]})  # x: no record
    records = pd.DataFrame({"record_id": ["a", "b", "c"], "golden_id": ["G1", "G1", "G2"]})
    got = revenue_by_golden(orders, records)
    assert got.dtype == float and got.to_dict() == {"G1": 180.5, "G2": 0.0}
    empty = revenue_by_golden(orders.iloc[:0], records)
    assert empty.dtype == float and empty.empty


def test_short_records_with_several_candidates_are_one_question() -> None:
    several, review = REASONS["several_customers"], REASONS["review_band"]
    items = pd.DataFrame({"left_record": ["r1", "r1", "c3", "r1", "c5"],
                          "right_record": ["c1", "c2", "r2", "c4", "r1"],
                          "reason": [several, several, several, review, several]}, index=[10, 11, 12, 13, 14])
    # r1 is in three items of its reason (as left or right): those are one question under r1; c3–r2 shares no
    # record with another item; the review-band item is no candidate
    got = candidate_groups(items)
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    assert got.tolist() == ["r1", "r1", None, None, "r1"]


def test_hard_rule_conflicts_name_the_values_only_one_side_holds() -> None:
    members = pd.DataFrame({
        "record_id": ["r1", "r2", "r3", "r4"],
        "golden_id": ["G1", "G1", "G2", "G2"],
        "city_any": ["上海市", "上海市", "北京市", None],
        "uscc_valid_code": ["U1", None, "U1", ""],       # the same code: no conflict
        "reg_no": [None, None, "R3", None],              # one side only: no conflict
        "name_district": ["海淀区", "朝阳区", "朝阳区", "西城区"],
        "custom": ["A", "B", "A", "A"],                  # the union holds no more than the left side
    })
    got = hard_rule_conflicts(members, "G1", "G2", ["city_any", "uscc_valid_code", "reg_no", "name_district", "custom"])
    assert got == [
        {"rule": "city_any", "text": "one city per customer",
         "left": [{"value": "上海市", "records": ["r1", "r2"]}], "right": [{"value": "北京市", "records": ["r3"]}]},
        {"rule": "name_district", "text": "an institution of one district is not the one of another",
         "left": [{"value": "海淀区", "records": ["r1"]}], "right": [{"value": "西城区", "records": ["r4"]}]},
    ]
    members["custom"] = ["A", "A", "B", "C"]             # a rule no table names is shown by its column
    got = hard_rule_conflicts(members, "G1", "G2", ["custom"])
    assert got == [{"rule": "custom", "text": "custom", "left": [{"value": "A", "records": ["r1", "r2"]}],
                    "right": [{"value": "B", "records": ["r3"]}, {"value": "C", "records": ["r4"]}]}]


def _decisions(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[
        "left_record", "right_record", "left_golden_id", "right_golden_id", "left_record_hash", "right_record_hash",
        "left_golden_now", "right_golden_now", "left_hash_now", "right_hash_now"])


def test_settled_pairs() -> None:
    d = _decisions(
        ("a", "b", "GA", "GB", "ha", "hb", "GA", "GB2", "ha", "hb"),   # b has moved to GB2 since
        ("c", "d", "GC", "GD", "hc", "hd", "GC", "GD", "hc2", "hd"),   # c changed since
        ("e", "f", "GE", "GF", None, None, "GE", "GF", "he", "hf"),    # decided without hashes: unchanged
        ("g", "h", "GG", "GH", "hg", "hh", None, "GH", None, "hh"),    # g no longer exists
    )
    items = [
        ("b", "a", "GB2", "GA", True),    # the decided pair, in either order
        ("a", "x", "GA", "GB", True),     # a against b's customer when decided
        ("a", "q", "GA", "GB2", True),    # a against b's customer now
        ("y", "b", "GA", "GB2", True),    # b against a's customer
        ("a", "z", "GA", "GZ", False),    # a customer nobody saw
        ("c", "d", "GC", "GD", True),     # changed: the pair itself is still decided...
        ("c", "w", "GC", "GD", False),    # ...but not c's relation to d's customer
        ("e", "v", "GE", "GF", True),
        ("g", "u", "GG", "GH", False),
        ("u", "h", None, "GH", False),    # a record without customer
    ]
    left, right, lg, rg, want = (list(col) for col in zip(*items, strict=True))
    assert settled(left, right, lg, rg, d).tolist() == want
    assert settled([], [], [], [], d).tolist() == []
    assert settled(["a"], ["b"], ["GA"], ["GB"], d.iloc[:0]).tolist() == [False]


def test_record_values_of_few_fields_and_of_values_that_are_not_text() -> None:
    assert record_values(pd.DataFrame({"other": [1, 2]})) == ["{}", "{}"]  # no field a steward sees
    assert record_values(pd.DataFrame({"name": ["甲"], "phone": ["1"]})) == ['{"name": "甲", "phone": "1"}']
    # a column of text and numbers goes through json.dumps value by value: empty left out, CJK as it is, a date as
    # its ISO text
    df = pd.DataFrame({"owner": ["", 7, None, "北京"], "updated_at": [dt.date(2026, 12, 4)] * 4})
    assert record_values(df) == ['{"updated_at": "2026-12-04"}', '{"owner": 7, "updated_at": "2026-12-04"}',
                                 '{"updated_at": "2026-12-04"}', '{"owner": "北京", "updated_at": "2026-12-04"}']


def test_priority_scales_revenue_below_one_to_the_largest() -> None:
    # the largest revenue is the top of the scale whatever its size: a coin flip of it scores 2
    assert priority(np.array([0.5, 0.5]), np.array([0.5, 0.0])).tolist() == [2.0, 1.0]


def test_recluster_without_anchors_applies_same_decisions_and_ignores_other_records() -> None:
    # every record placed (no anchor columns); a steward's `same` joins a and c without any pair; the pair with x
    # and the decisions on d, e and on z (records not reclustered here) are left out
    recs = pd.DataFrame({"record_id": ["a", "b", "c"]})
    pairs = pd.DataFrame({"left_record": ["a", "b"], "right_record": ["b", "x"], "prob": [0.1, 0.9]})
    dec = pd.DataFrame({"left_record": ["a", "d", "a"], "right_record": ["c", "e", "z"],
                        "verdict": ["same", "different", "different"]})
    labels = recluster(recs, pairs, dec, 0.8, 0.3, [], [])
    assert labels[0] == labels[2] != labels[1]


def test_several_customers_grouped_under_the_record_shared_most_or_the_left_one() -> None:
    several = REASONS["several_customers"]
    items = pd.DataFrame({"left_record": ["A", "A", "D", "E"], "right_record": ["B", "C", "B", "F"],
                          "reason": [several] * 4})
    # A and B are in two items each: a tie goes to the left record; E–F shares no record: no group
    assert candidate_groups(items).tolist() == ["A", "A", "B", None]


def test_settled_is_a_boolean_mask_even_without_decisions() -> None:
    got = settled(["a"], ["b"], ["GA"], ["GB"], pd.DataFrame(columns=["left_record", "right_record"]))
    assert got.dtype == np.bool_ and got.tolist() == [False]
    d = _decisions(("a", "b", "GA", "GB", None, None, "GA", "GB", "h", "h"))
    assert settled([], [], [], [], d).dtype == np.bool_


def test_an_empty_value_is_no_side_of_a_hard_rule() -> None:
    members = pd.DataFrame({"record_id": ["r1", "r2"], "golden_id": ["G1", "G2"], "reg_no": ["R1", ""]})
    assert hard_rule_conflicts(members, "G1", "G2", ["reg_no"]) == []


def test_recluster_places_records_by_any_anchor_column() -> None:
    # a is placed by its city, b by its tax code; c (empty city) and d (none) are not placed, and each matches both
    # customers: a record that could be either stays alone. Without anchor columns every record is placed, and the
    # match-band pairs join all four
    recs = pd.DataFrame({"record_id": ["a", "b", "c", "d"], "city": ["武汉市", None, "", None],
                         "uscc": [None, "U2", None, None]})
    pairs = pd.DataFrame({"left_record": ["a", "b", "a", "b", "a"], "right_record": ["c", "c", "d", "d", "b"],
                          "prob": [0.9, 0.9, 0.9, 0.9, 0.1]})
    none = pd.DataFrame(columns=["left_record", "right_record", "verdict"])
    assert recluster(recs, pairs, none, 0.8, 0.3, [], ["city", "uscc"]).tolist() == [0, 1, 2, 3]
    assert recluster(recs, pairs, none, 0.8, 0.3, [], []).tolist() == [0, 0, 0, 0]

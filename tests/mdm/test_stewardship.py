"""Stewardship's pure parts: item identity, priority, steward constraints in clustering, local
re-clustering, learning from decisions (`mdm/feedback.py`) and one-record lookup (`mdm/lookup.py`)."""

from __future__ import annotations

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
    STD_FIELDS,
    band,
    ordered_pair,
    pair_id,
    priority,
    recluster,
    record_values,
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

"""Matching engine pieces: blocking, comparison levels, EM, hard rules, golden IDs, survivorship, explain."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mdm.blocking import BlockingRule, Candidates, ahead, candidate_pairs, candidate_steps
from mdm.classify import EPS, FellegiSunter, estimate_m_em, estimate_u, term_frequencies
from mdm.cluster import cluster
from mdm.compare import MIN_PART_PAIRS, ComparisonSpec, compare, encode, in_parts
from mdm.engine import LinkSettings, encoded_columns, explain, fit, link, link_in_steps, owner_columns, score_pairs
from mdm.evaluate import pairwise_scores
from mdm.golden import assign_codes, assign_ids, first_free_number, survive
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
)
from mdm.standardize import standardize_customers

# --- blocking ------------------------------------------------------------------------------------------------


def test_blocking_unions_rules_with_a_bit_per_rule_and_skips_oversize_blocks() -> None:
    recs = pd.DataFrame({"a": ["x", "x", "y", None, "z", "z", "z"], "b": ["1", "2", "1", "1", None, None, None]})
    rules = [BlockingRule("a", ("a",), max_block=2), BlockingRule("b", ("b",))]
    c = candidate_pairs(recs, rules)
    got = {(int(left), int(right)): int(f) for left, right, f in zip(c.left, c.right, c.rules, strict=True)}
    # a: x-block (0,1); the z-block has 3 records > max_block 2 and is skipped. b: 1-block {0, 2, 3}.
    assert got == {(0, 1): 1, (0, 2): 2, (0, 3): 2, (2, 3): 2}
    assert c.skipped_blocks == {"a": 1}


def test_blocking_only_touching_changed_records() -> None:
    recs = pd.DataFrame({"a": ["x", "x", "x", "y", "y"]})
    c = candidate_pairs(recs, [BlockingRule("a", ("a",))], only=np.array([2]))
    assert sorted(zip(c.left.tolist(), c.right.tolist(), strict=True)) == [(0, 2), (1, 2)]


# --- comparisons ---------------------------------------------------------------------------------------------


def test_comparison_levels_per_kind() -> None:
    recs = pd.DataFrame({
        "name": ["同腾建设工程", "同腾建设工程", "同藤建设工程", "宏锦食品", None],
        "city": ["武汉市", "广州市", "武汉市", None, "武汉市"],
        "uscc": ["91430104FLKR53E958", "91430104FLKR53E958", "91430104FLKR53E95X", "914401047PNC8DTW0G", None],
        "org": ["FLKR53E95", "FLKR53E95", "FLKR53E95", "7PNC8DTW0", None],
        "phone": ["+8613033076661", "+86-20-33076661", None, "+8613033076661", "+8613000000000"],
        "tail": ["33076661", "33076661", None, "33076661", "00000000"],
    })
    specs = [ComparisonSpec("name", "string", "name", (0.85,), context="city"),
             ComparisonSpec("uscc", "uscc", "uscc", extra=("org",)),
             ComparisonSpec("phone", "phone", "phone", extra=("tail",)),
             ComparisonSpec("city", "exact", "city")]
    left, right = np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4])
    lv = compare(recs, left, right, specs)
    # name: levels 0 different; 1..3 similar × (city different, unknown, same); 4..6 exact × (…).
    assert lv["name"].tolist() == [4, 3, 0, -1]
    assert lv["uscc"].tolist() == [3, 2, 0, -1]     # equal; one keying error; different; missing
    assert lv["phone"].tolist() == [1, -1, 2, 0]    # same last 8; missing; equal; different
    assert lv["city"].tolist() == [0, 1, -1, 1]
    assert specs[0].level_names()[4] == "exact, city different"


def test_term_frequencies_alike_with_or_without_the_records_codes() -> None:
    recs = pd.DataFrame({"name": ["A", "A", "B", "", None, "C", "C", "C"]})
    specs = [ComparisonSpec("name", "string", "name", (0.9,), tf=True)]
    by_text = term_frequencies(recs, specs)
    by_code = term_frequencies(recs, specs, encode(recs, specs))
    for tables, defaults, refs in (by_text, by_code):
        # Six values held ("" and None are missing); B is a singleton and takes the default share.
        assert tables == {"name": {"C": 0.5, "A": pytest.approx(2 / 6)}}
        assert defaults == {"name": pytest.approx(1 / 6)}
        assert refs["name"] == pytest.approx((27 + 8 + 1) / 216 / ((9 + 4 + 1) / 36))  # Σp³ / Σp²


def test_em_recovers_the_mixture_it_was_generated_from() -> None:
    rng = np.random.default_rng(0)
    specs = [ComparisonSpec(f"c{i}", "exact", f"c{i}") for i in range(4)]
    n, prior = 200_000, 0.3
    match = rng.random(n) < prior
    m_true, u_true = np.array([0.9, 0.85, 0.95, 0.7]), np.array([0.1, 0.05, 0.2, 0.3])
    lv = pd.DataFrame({s.name: np.where(match, rng.random(n) < m_true[i], rng.random(n) < u_true[i]).astype(np.int8)
                       for i, s in enumerate(specs)})
    start_u = {s.name: [0.5, 0.5] for s in specs}
    m, u, p, _ = estimate_m_em(lv, specs, start_u, fit_u=True)
    assert abs(p - prior) < 0.01
    for i, s in enumerate(specs):
        assert abs(m[s.name][1] - m_true[i]) < 0.02
        assert abs(u[s.name][1] - u_true[i]) < 0.02


# --- hard rules and clustering -------------------------------------------------------------------------------

def _cl(prob: list[float], edges: list[tuple[int, int]], n: int, **kw: object) -> np.ndarray:
    left = np.array([a for a, _ in edges])
    right = np.array([b for _, b in edges])
    excl = kw.pop("exclusive", {})
    anchored = kw.pop("anchored", np.ones(n, bool))
    return cluster(n, left, right, np.array(prob), 0.8, 0.3, excl, anchored, **kw).labels


def test_two_valid_tax_codes_never_share_a_cluster_even_transitively() -> None:
    uscc = np.array(["91430104FLKR53E958", None, "914401047PNC8DTW0G"], dtype=object)
    labels = _cl([0.99, 0.98], [(0, 1), (1, 2)], 3, exclusive={"uscc": uscc})
    assert labels[0] != labels[2]
    assert labels[1] == labels[0]  # the stronger edge wins
    assert len(set(_cl([0.99, 0.98], [(0, 1), (1, 2)], 3))) == 1  # without the rule they would merge


def test_a_branch_is_never_merged_into_its_head_office() -> None:
    branch = np.array(["(none)", "上海分公司", "(none)"], dtype=object)
    labels = _cl([0.99, 0.99], [(0, 1), (0, 2)], 3, exclusive={"branch": branch})
    assert labels[0] == labels[2] != labels[1]


def test_steward_links_win() -> None:
    labels = _cl([0.99, 0.99], [(0, 1), (1, 2)], 3, cannot=(np.array([0]), np.array([2])))
    assert labels[0] != labels[2]
    labels = _cl([0.1], [(0, 1)], 3, must=(np.array([1]), np.array([2])))
    assert labels[1] == labels[2] != labels[0]


def test_a_floater_attaches_to_a_unique_cluster_and_not_to_one_of_several() -> None:
    city = np.array(["武汉市", "广州市", None, None], dtype=object)
    anchored = np.array([True, True, False, False])
    # record 2 reaches only cluster 0: attached; record 3 reaches clusters 0 and 1: ambiguous.
    res = cluster(4, np.array([0, 0, 1]), np.array([2, 3, 3]), np.array([0.6, 0.9, 0.9]), 0.8, 0.3,
                  {"city": city}, anchored)
    assert res.labels[2] == res.labels[0]
    assert res.labels[3] not in (res.labels[0], res.labels[1])
    assert res.ambiguous.tolist() == [False, True, True]


# --- golden IDs ----------------------------------------------------------------------------------------------


def test_the_first_free_id_number_follows_every_id_ever_issued() -> None:
    assert first_free_number(pd.Series(["G0000000012", None, "G0000000003"])) == 13
    assert first_free_number(pd.Series([], dtype=object)) == first_free_number(pd.Series([None])) == 1


def test_ids_are_stable_and_merges_keep_the_oldest() -> None:
    first = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 0, 1, 2]}), None)
    ids = first.ids.set_index("record_id")["golden_id"]
    assert ids.tolist() == ["G0000000001", "G0000000001", "G0000000002", "G0000000003"]
    # Same clusters, other labels, a new record joining cluster {c}: same IDs, new record takes c's.
    again = assign_ids(pd.DataFrame({"record_id": list("abcde"), "cluster": [5, 5, 7, 9, 7]}), first.ids, 4)
    assert again.ids.set_index("record_id")["golden_id"].to_dict() == {**ids.to_dict(), "e": "G0000000002"}
    assert again.history.empty
    # c's and d's clusters merge: the older ID survives, the other is retired with its survivor.
    merged = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 0, 1, 1]}), first.ids, 4)
    assert set(merged.ids.set_index("record_id").loc[["c", "d"], "golden_id"]) == {"G0000000002"}
    assert merged.history.to_dict("records") == [
        {"retired_id": "G0000000003", "survivor_id": "G0000000002", "reason": "merged"}]
    # a split: the larger part keeps the ID, the other gets a new one (never a reused one).
    split = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 1, 2, 3]}), first.ids, 4)
    got = split.ids.set_index("record_id")["golden_id"]
    assert got["a"] == "G0000000001" and got["b"] == "G0000000004"
    # nothing is retired: G1 stays active, G4 took some of its records
    assert split.history.to_dict("records") == [
        {"retired_id": None, "survivor_id": "G0000000001", "reason": "split", "split_id": "G0000000004"}]


def test_a_split_and_its_merge_back_leave_a_chain_not_a_cycle() -> None:
    """A typo splits a customer, its fix merges it back: the history reads G2 → G1, G1 never retired."""
    first = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 0, 0, 0]}), None)
    typo = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 0, 0, 1]}), first.ids, 2)
    assert typo.ids.set_index("record_id")["golden_id"].to_dict() == {
        "a": "G0000000001", "b": "G0000000001", "c": "G0000000001", "d": "G0000000002"}
    fixed = assign_ids(pd.DataFrame({"record_id": list("abcd"), "cluster": [0, 0, 0, 0]}), typo.ids, 3)
    assert set(fixed.ids["golden_id"]) == {"G0000000001"}
    history = pd.concat([typo.history, fixed.history], ignore_index=True)
    assert history[["retired_id", "survivor_id", "reason"]].to_dict("records") == [
        {"retired_id": None, "survivor_id": "G0000000001", "reason": "split"},
        {"retired_id": "G0000000002", "survivor_id": "G0000000001", "reason": "merged"}]
    retired = history.dropna(subset=["retired_id"]).set_index("retired_id")["survivor_id"].to_dict()
    assert "G0000000001" not in retired  # the active ID is nobody's retiree
    seen, at = set(), "G0000000002"
    while at in retired:  # follow the redirects: they end, at the active ID
        assert at not in seen
        seen.add(at)
        at = retired[at]
    assert at == "G0000000001"


def test_a_cluster_owning_no_id_revives_the_oldest_retired_id_its_deleted_records_held() -> None:
    """Records back after a delete (`revive`): a cluster that owns no previous ID takes the oldest retired ID its
    records held (G1 for {a}; G3, not G4, for {d, f}: G4 retires into G3); a cluster owning a live ID keeps it (e
    held G2, its cluster has it, and j, alone, gets a new one: a live ID is never revived); an ID goes to the
    cluster holding most of its records, the other cluster gets a new ID; numbering of new IDs goes on after the
    highest ever issued."""
    prev = pd.DataFrame({"record_id": ["b", "c"], "golden_id": "G0000000002"})
    revive = pd.DataFrame({"record_id": ["a", "d", "e", "f", "g", "h", "i", "j"],
                           "golden_id": ["G0000000001", "G0000000003", "G0000000002", "G0000000004", "G0000000006",
                                         "G0000000006", "G0000000006", "G0000000002"]})
    clusters = pd.DataFrame({"record_id": list("abcdefghij"), "cluster": [0, 1, 1, 2, 1, 2, 3, 4, 4, 5]})
    got = assign_ids(clusters, prev, 8, revive)
    assert got.ids.set_index("record_id")["golden_id"].to_dict() == {
        "a": "G0000000001", "b": "G0000000002", "c": "G0000000002", "d": "G0000000003", "e": "G0000000002",
        "f": "G0000000003", "g": "G0000000008", "h": "G0000000006", "i": "G0000000006", "j": "G0000000009"}
    # G4 (f's) is not revived: f came back into G3's customer, so G4 retires into G3
    assert got.history.to_dict("records") == [
        *({"retired_id": None, "survivor_id": g, "reason": "revived"} for g in ("G0000000001", "G0000000003",
                                                                               "G0000000006")),
        {"retired_id": "G0000000004", "survivor_id": "G0000000003", "reason": "merged"}]
    # on integers, as a full run assigns: the same
    labels = clusters["cluster"].to_numpy(np.int64)
    back_ids = pa.array(sorted(set(revive["golden_id"])))
    back = pd.Series(pc.index_in(pa.array(revive["golden_id"]), value_set=back_ids).to_numpy(),
                     index=revive["record_id"]).reindex(clusters["record_id"]).fillna(-1).to_numpy(np.int64)
    per_cluster, history = assign_codes(labels, np.arange(10), np.array([-1, 0, 0, -1, -1, -1, -1, -1, -1, -1]),
                                        pa.array(["G0000000002"]), 8, back, back_ids)
    assert per_cluster.to_pylist() == ["G0000000001", "G0000000002", "G0000000003", "G0000000008", "G0000000006",
                                       "G0000000009"]
    assert history.to_dict("records") == got.history.to_dict("records")


# --- survivorship --------------------------------------------------------------------------------------------


def test_golden_ids_on_integers_as_a_full_run_assigns_them() -> None:
    """`assign_codes` (the full run's assignment, no string per record): a split ID stays with the larger part
    even when the smaller part holds the oldest record; merged IDs retire into the oldest; new clusters are
    numbered after the highest ID ever issued, in order of their first record."""
    prev_ids = pa.array(["G0000000002", "G0000000005", "G0000000009"])
    # records in record-id order: 0 had G5, 1 and 2 had G2, 3 had G9, 4 to 6 are new
    prev = np.array([1, 0, 0, 2, -1, -1, -1])
    labels = np.array([1, 1, 1, 0, 0, 2, 2])  # {0, 1, 2}: G2 and G5 merge; {3, 4} keeps G9; {5, 6} is new
    per_cluster, history = assign_codes(labels, np.arange(7), prev, prev_ids, next_number=7)
    assert per_cluster.to_pylist() == ["G0000000009", "G0000000002", "G0000000010"]  # (10: after G9)
    assert history.to_dict("records") == [{"retired_id": "G0000000005", "survivor_id": "G0000000002",
                                           "reason": "merged"}]
    # new IDs follow the clusters' first records, not their labels
    per_cluster, _ = assign_codes(np.array([1, 1, 0]), np.arange(3), np.full(3, -1), pa.array([], pa.string()))
    assert per_cluster.to_pylist() == ["G0000000002", "G0000000001"]
    # G2's records split 1 : 2 with the older record in the smaller part: the larger part keeps G2
    labels = np.array([0, 0, 1, 1])
    per_cluster, history = assign_codes(labels, np.arange(4), np.array([0, -1, 0, 0]), prev_ids[:1], 3)
    assert per_cluster.to_pylist() == ["G0000000003", "G0000000002"]
    assert history[["survivor_id", "split_id", "reason"]].to_dict("records") == [
        {"survivor_id": "G0000000002", "split_id": "G0000000003", "reason": "split"}]


def test_survivorship_rules() -> None:
    recs = pd.DataFrame({
        "golden_id": ["G1"] * 4,
        "record_id": ["erp:1", "crm_a:1", "crm_a:2", "crm_b:1"],
        "source_name": ["erp", "crm_a", "crm_a", "crm_b"],
        "updated_at": pd.to_datetime(["2020-01-01", "2024-01-01", "2023-01-01", "2025-01-01"]),
        "name": ["甲公司", "甲有限公司", "甲", "甲"],
        "phone": ["1", "2", "3", None],
        "uscc": ["BAD", None, "GOOD", "BAD"],
        "ok": [False, False, True, False],
        "tag": ["x", "y", "y", "z"],
    })
    rules = {"name": ["most_complete"], "phone": ["most_recent"], "uscc": ["valid_only", "most_recent"],
             "tag": ["most_frequent"]}
    g = survive(recs, ["name", "phone", "uscc", "tag"], rules, ["erp", "crm_a", "crm_b"], valid={"uscc": "ok"})
    row = g.iloc[0]
    assert (row["name"], row["name_source"]) == ("甲有限公司", "crm_a:1")
    assert (row["phone"], row["phone_source"]) == ("2", "crm_a:1")   # crm_b's newer record has no phone
    assert (row["uscc"], row["uscc_source"]) == ("GOOD", "crm_a:2")  # the only valid one, though older
    assert row["tag"] == "y"
    by_priority = survive(recs, ["name"], {"name": ["source_priority"]}, ["crm_b", "erp"])
    assert by_priority.iloc[0]["name_source"] == "crm_b:1"


# --- the whole engine ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> tuple[pd.DataFrame, np.ndarray]:
    from demo.generate import generate

    data = generate(n_entities=600, seed=3)
    parts = [
        data.crm_a.rename(columns={"cust_id": "source_key", "cust_name": "name", "tax_code": "uscc", "tel": "phone"})
        .assign(source_name="crm_a"),
        data.crm_b.rename(columns={"客户编号": "source_key", "客户名称": "name", "统一社会信用代码": "uscc",
                                   "联系电话": "phone", "详细地址": "address", "联系人": "contact_name"})
        .assign(source_name="crm_b"),
        data.erp_customers.rename(columns={"FCUSTID": "source_key", "FNAME": "name", "FSHORTNAME": "short_name",
                                           "FTAXREGISTERCODE": "uscc", "FADDRESS": "address", "FTEL": "phone"})
        .assign(source_name="erp"),
    ]
    cols = ["source_name", "source_key", "name", "uscc", "phone", "address", "contact_name"]
    recs = pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True)
    recs = recs.replace("", None).assign(stream="customers", source_key=lambda d: d["source_key"].astype(str))
    truth = data.truth.assign(source_key=data.truth["source_key"].astype(str))
    recs = recs.merge(truth, on=["source_name", "stream", "source_key"])
    return derive_customer_columns(standardize_customers(recs)), recs["entity_id"].to_numpy()


def test_end_to_end_quality_floors_on_generated_companies(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    std, entity = generated
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=200_000)
    result = link(std, settings)
    score = pairwise_scores(result.labels, entity)
    # Floors well above exact-key matching (F1 ≈ 0.8 on this kind of data) and below what the engine reaches.
    assert score.precision >= 0.99, score
    assert score.recall >= 0.95, score
    # No cluster holds two different valid tax codes.
    valid = std.assign(c=result.labels).dropna(subset=["uscc_valid_code"])
    assert valid.groupby("c")["uscc_valid_code"].nunique().max() == 1


def test_explain_adds_up(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    std, _ = generated
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=100_000)
    result = link(std, settings)
    pair = result.pairs.sort_values("prob").iloc[-1]
    table = explain(result.model, std.iloc[int(pair["left"])], std.iloc[int(pair["right"])], 0.8, 0.3)
    assert list(table["comparison"]) == [s.name for s in CUSTOMER_COMPARISONS] + ["prior"]
    assert table["weight"].sum() == pytest.approx(table.attrs["weight"])
    assert table.attrs["weight"] == pytest.approx(pair["weight"])
    assert table.attrs["band"] == "match" and table.attrs["probability"] >= 0.8


def test_term_frequency_weights_agree_from_values_and_from_codes(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    std, _ = generated
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=100_000)
    result = link(std, settings)  # weights from the encoded columns' codes
    pairs, model = result.pairs, result.model
    lv = pairs[[s.name for s in CUSTOMER_COMPARISONS]]
    left = pairs["left"].to_numpy()
    values = {s.name: std[s.column].astype(object).to_numpy()[left] for s in CUSTOMER_COMPARISONS if s.tf}
    assert values, "the customer spec adjusts some comparison for term frequency"
    np.testing.assert_allclose(model.match_weight(lv, values), pairs["weight"].to_numpy())
    # ... and the adjustment is not nothing: without it many exact names weigh differently.
    assert (np.abs(model.match_weight(lv) - pairs["weight"].to_numpy()) > 0.5).sum() > 100


def test_linking_in_steps_equals_one_link_with_the_same_model(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    """`link_in_steps` (candidate pairs blocked and scored a few hundred at a time, only review-level pairs
    kept) gives `link`'s clusters, flags and scores; every scored pair reaches the sink once, in order; `fit`
    trains the model `link` trains."""
    std, _ = generated
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=100_000)
    whole = link(std, settings)
    assert fit(std, settings).to_json() == whole.model.to_json()
    steps = list(candidate_steps(encode(std, columns=[c for r in CUSTOMER_BLOCKING for c in r.columns]),
                                 CUSTOMER_BLOCKING, step_pairs=500))
    assert len(steps) > 5 and max(len(s) for s in steps) < 4 * 500  # sized on what the last step gave
    one = candidate_pairs(std, CUSTOMER_BLOCKING)
    np.testing.assert_array_equal(np.concatenate([s.left for s in steps]), one.left)
    np.testing.assert_array_equal(np.concatenate([s.right for s in steps]), one.right)
    np.testing.assert_array_equal(np.concatenate([s.rules for s in steps]), one.rules)
    sunk: list[pd.DataFrame] = []
    stepped = link_in_steps(std, settings, whole.model, sunk.append, step_pairs=500)
    assert stepped.stats["steps"] == len(sunk) > 5
    every = pd.concat(sunk, ignore_index=True)
    cols = ["left", "right", "rules", *[s.name for s in CUSTOMER_COMPARISONS], "weight", "prob"]
    pd.testing.assert_frame_equal(every[cols], whole.pairs[cols])
    np.testing.assert_array_equal(stepped.labels, whole.labels)
    kept = whole.pairs[whole.pairs["prob"] >= settings.review].reset_index(drop=True)
    assert 0 < len(kept) < len(whole.pairs)
    pd.testing.assert_frame_equal(stepped.pairs, kept)
    assert kept["ambiguous"].sum() > 0  # (the flags of the clustering are compared too)


def test_pairs_compared_and_scored_on_threads_equal_one_thread(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    """With `workers` > 1 the pairs are compared and scored in consecutive parts on as many threads: the same
    levels, weights and probabilities in the same order as one thread (random pairs of real records, so many
    distinct value pairs, aliases and missing values in each part)."""
    std, _ = generated
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=100_000)
    model = link(std, settings).model
    rng = np.random.default_rng(5)
    n = 2 * MIN_PART_PAIRS + 12_345
    left, right = rng.integers(0, len(std), n), rng.integers(0, len(std), n)
    enc = encode(std, CUSTOMER_COMPARISONS, columns=encoded_columns(CUSTOMER_COMPARISONS, settings))
    one = compare(enc, left, right, CUSTOMER_COMPARISONS)
    assert (one.to_numpy() > 0).sum() > 10_000  # (pairs that agree in something, not only differences)
    pd.testing.assert_frame_equal(compare(enc, left, right, CUSTOMER_COMPARISONS, workers=3), one)
    scored = score_pairs(std, left, right, model, encoded=enc)
    pd.testing.assert_frame_equal(score_pairs(std, left, right, model, workers=2, encoded=enc), scored)
    assert (scored["prob"] >= 0.3).sum() > 0


def test_in_parts_splits_pairs_in_order_over_threads() -> None:
    """Consecutive parts, none smaller than MIN_PART_PAIRS, at most `workers`, at the same time on other threads,
    concatenated in order."""
    seen: list[tuple[int, int, int]] = []
    here = threading.get_ident()
    together = threading.Barrier(2, timeout=30)  # (two parts one after the other would never pass it)

    def work(a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
        seen.append((int(a[0]), len(a), threading.get_ident()))
        if threading.get_ident() != here:
            together.wait()
        return pd.DataFrame({"a": a, "b": b})

    n = 3 * MIN_PART_PAIRS - 1
    left, right = np.arange(n), np.arange(n)[::-1].copy()
    out = in_parts(work, left, right, workers=4)
    np.testing.assert_array_equal(out["a"].to_numpy(), left)
    np.testing.assert_array_equal(out["b"].to_numpy(), right)
    assert out.index.equals(pd.RangeIndex(n))
    assert sorted(s[:2] for s in seen) == [(0, n // 2), (n // 2, n - n // 2)]  # two parts: not three of < MIN
    assert len({s[2] for s in seen}) == 2 and threading.get_ident() not in {s[2] for s in seen}
    seen.clear()
    in_parts(work, left[:MIN_PART_PAIRS], right[:MIN_PART_PAIRS], workers=4)
    assert seen == [(0, MIN_PART_PAIRS, threading.get_ident())]  # too few for two parts: here, at once


def test_blocking_ahead_hands_errors_over_and_ends_with_its_caller(generated: tuple[pd.DataFrame, np.ndarray]) -> None:
    """The next step is blocked in a thread: an error there reaches the caller, and a caller that fails (its
    sink) or stops early leaves no thread behind."""
    import threading

    def failing() -> Iterator[Candidates]:
        yield from candidate_steps(std, CUSTOMER_BLOCKING, step_pairs=500)
        raise RuntimeError("the blocking failed")

    std, _ = generated
    with pytest.raises(RuntimeError, match="the blocking failed"):
        for _ in ahead(failing()):
            pass
    settings = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS,
                            u_pairs=100_000)
    model = fit(std, settings)
    calls: list[int] = []

    def sink(scored: pd.DataFrame) -> None:
        calls.append(len(scored))
        if len(calls) == 2:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        link_in_steps(std, settings, model, sink, step_pairs=200)
    assert len(calls) == 2
    first = next(iter(ahead(candidate_steps(std, CUSTOMER_BLOCKING, step_pairs=200))))  # stops after one step
    assert len(first) > 0
    assert not [t for t in threading.enumerate() if t.name == "hub-blocking"]


def test_explain_writes_out_each_weight() -> None:
    # m and u by hand: name exact 0.9/0.4 → log2 2.25 = 1.169925, different 0.1/0.6 → −log2 6; phone exact 0.8/0.1 →
    # 3; prior 0.1 → log2(1/9) = −3.169925. 400-800 is a common phone (compared as missing, its raw level shown); the
    # pattern name exact + phone missing (key (1+1)·3 + 0 = 6) carries a steward correction of −1.5 for placed pairs
    specs = [ComparisonSpec("name", "exact", "name", alias="former"),
             ComparisonSpec("phone", "exact", "phone", common=2, owner="name")]
    model = FellegiSunter(specs, m={"name": [0.1, 0.9], "phone": [0.2, 0.8]},
                          u={"name": [0.6, 0.4], "phone": [0.9, 0.1]}, prior=0.1, common={"phone": ["400-800"]},
                          info={"calibration": {"6": -1.5}, "calibration_scope": ["city"]})

    def rec(name: str | None, former: str | None, phone: str | None, city: str | None) -> pd.Series:
        return pd.Series({"name": name, "former": former, "phone": phone, "city": city})

    def rows(table: pd.DataFrame) -> list[tuple[object, ...]]:
        return [(r["comparison"], r["column"], r["left"], r["right"], r["level"], round(r["weight"], 6))
                for r in table.to_dict("records")]

    a = rec("华信机械", "华信科技", "400-800", "上海市")
    t = explain(model, a, rec("华信机械", None, "400-800", "上海市"), 0.8, 0.3)
    assert rows(t) == [
        ("name", "name", "华信机械 (former: 华信科技)", "华信机械", "exact", 1.169925),
        ("phone", "phone", "400-800", "400-800", "common value: identifies nothing (exact)", 0.0),
        ("prior", "", None, None, "", -3.169925),
        ("stewards", "", None, None, "learned from steward decisions on this pattern", -1.5)]
    assert t.attrs["weight"] == pytest.approx(-3.5) and t.attrs["band"] == "low"
    assert t.attrs["probability"] == pytest.approx(1 / (1 + 2**3.5))
    # a missing phone, a different name, no correction (the right record has no city: not placed)
    t = explain(model, a, rec("华兴机械", None, None, None), 0.8, 0.3)
    assert rows(t) == [("name", "name", "华信机械 (former: 华信科技)", "华兴机械", "different", -2.584963),
                       ("phone", "phone", "400-800", None, "missing", 0.0), ("prior", "", None, None, "", -3.169925)]
    assert t.attrs["probability"] == pytest.approx(1 / 55)             # odds 1/9 · 1/6
    # the same pattern with the common phone on the left only, whose record has no city: the raw level shown, and no
    # correction (the pair is not placed)
    t = explain(model, rec("华信机械", None, "400-800", None), rec("华信机械", None, "021-1", "上海市"), 0.8, 0.3)
    assert rows(t) == [("name", "name", "华信机械", "华信机械", "exact", 1.169925),
                       ("phone", "phone", "400-800", "021-1", "common value: identifies nothing (different)", 0.0),
                       ("prior", "", None, None, "", -3.169925)]
    assert t.attrs["weight"] == pytest.approx(-2.0) and t.attrs["probability"] == pytest.approx(0.2)
    # a record known by its former name only: matched through it, shown with an empty name
    t = explain(model, rec(None, "华信科技", "021-1", None), rec("华信科技", None, "021-1", None), 0.8, 0.3)
    assert rows(t)[:2] == [("name", "name", " (former: 华信科技)", "华信科技", "exact", 1.169925),
                           ("phone", "phone", "021-1", "021-1", "exact", 3.0)]
    assert t.attrs["weight"] == pytest.approx(1.0) and t.attrs["band"] == "review"   # probability 2/3


def test_an_incremental_link_drops_the_rules_of_blocks_grown_too_large() -> None:
    # name blocks of at most 3 records. Record 4's phone changes (3 → 4) and two records are added: 华信 grows to 4
    # (skipped now), 东方 stays at 3. Of the earlier pairs, (0, 2) and (1, 2) came by name only and go; (0, 1) keeps
    # its phone rule (bit 2) only; (3, 4) touches the changed record and is blocked again, by name only now. New:
    # (2, 6) and (4, 5) by phone, (3, 7) and (4, 7) by name.
    specs = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("phone", "exact", "phone")]
    rules = [BlockingRule("name", ("name",), max_block=3), BlockingRule("phone", ("phone",))]
    v1 = pd.DataFrame({"name": ["华信", "华信", "华信", "东方", "东方", "南方"],
                       "phone": ["1", "1", "2", "3", "3", "4"]})
    v2 = pd.concat([v1, pd.DataFrame({"name": ["华信", "东方"], "phone": ["2", "5"]})], ignore_index=True)
    v2.loc[4, "phone"] = "4"
    settings = LinkSettings(rules, specs, u_pairs=1000)
    first = link(v1, settings)
    assert sorted(map(tuple, first.pairs[["left", "right", "rules"]].to_numpy().tolist())) == [
        (0, 1, 3), (0, 2, 1), (1, 2, 1), (3, 4, 3)]
    previous = first.pairs.drop(columns=["band", "rejected", "ambiguous"])
    inc = link(v2, settings, model=first.model, previous=previous, changed=np.array([4, 6, 7]))
    full = link(v2, settings, model=first.model)

    def pairs(p: pd.DataFrame) -> list[tuple[int, int, int, float]]:
        return sorted(zip(p["left"].tolist(), p["right"].tolist(), p["rules"].tolist(), p["weight"].round(9).tolist(),
                          strict=True))

    assert [p[:3] for p in pairs(inc.pairs)] == [(0, 1, 2), (2, 6, 2), (3, 4, 1), (3, 7, 1), (4, 5, 2), (4, 7, 1)]
    assert pairs(inc.pairs) == pairs(full.pairs) and (inc.labels == full.labels).all()
    assert (inc.stats["candidate_pairs"], inc.stats["new_pairs"], inc.stats["skipped_blocks"]) == (6, 5, {"name": 1})
    assert inc.stats["incremental"] and not full.stats["incremental"]
    # the pairs kept and the new ones are numbered afresh, as a full link numbers its pairs (no index label twice)
    assert inc.pairs.index.equals(pd.RangeIndex(6))


def six_records() -> tuple[pd.DataFrame, LinkSettings]:
    """Six records blocked by name and by phone, compared exactly: pairs (0,1), (0,2), (1,2) and (3,4)."""
    specs = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("phone", "exact", "phone")]
    rules = [BlockingRule("name", ("name",)), BlockingRule("phone", ("phone",))]
    recs = pd.DataFrame({"name": ["华信", "华信", "华信", "东方", "东方", "南方"],
                         "phone": ["1", "1", "2", "3", "3", "4"]})
    return recs, LinkSettings(rules, specs, u_pairs=1000)


def test_fit_trains_what_link_trains_with_labels_and_steps_count_every_pair() -> None:
    recs, settings = six_records()
    labelled = (np.array([0, 0, 3]), np.array([1, 2, 4]), np.array([True, False, True]))
    model = fit(recs, settings, labelled)
    assert model.to_json() == link(recs, settings, labelled=labelled).model.to_json()
    assert (model.info["feedback"]["labels"], model.info["feedback"]["same"]) == (3, 2)
    # blocked and scored one pair at a time: every pair counted once, in as many steps
    sunk: list[int] = []
    res = link_in_steps(recs, settings, model, lambda p: sunk.append(len(p)), step_pairs=1)
    # a record a step: 0 has (0,1), (0,2), 1 has (1,2), 3 has (3,4); 2, 4 and 5 none
    assert sunk == [2, 1, 0, 1, 0, 0]
    assert sum(sunk) == res.stats["candidate_pairs"] == res.stats["new_pairs"] == 4
    assert (res.stats["records"], res.stats["steps"], res.stats["skipped_blocks"], res.stats["incremental"]) == (
        6, 6, {}, False)
    assert res.stats["clusters"] == len(set(res.labels.tolist()))
    assert sorted(res.timings) == ["block_waited", "cluster", "compare", "encode", "write"]


def test_the_progress_of_linking_in_steps_never_goes_back() -> None:
    # a record a step (0 has (0,1), (0,2); 1 has (1,2); 3 has (3,4); 2, 4 and 5 none): the records done are those up
    # to the last left record of a pair so far. A step without pairs reported 0 before, and the progress bar of
    # pipelines.match, which shows the position it is given, went back to the start.
    recs, settings = six_records()
    done: list[tuple[int, int]] = []
    link_in_steps(recs, settings, fit(recs, settings), lambda p: None, step_pairs=1,
                  progress=lambda d, n: done.append((d, n)))
    assert done == [(1, 6), (2, 6), (2, 6), (4, 6), (4, 6), (4, 6)]
    # 南方 (no pair) first: the first step has no pairs and reports no record done
    recs = recs.iloc[[5, 0, 1, 2, 3, 4]].reset_index(drop=True)
    done.clear()
    link_in_steps(recs, settings, fit(recs, settings), lambda p: None, step_pairs=1,
                  progress=lambda d, n: done.append((d, n)))
    assert done == [(0, 6), (2, 6), (3, 6), (3, 6), (5, 6), (5, 6)]


def _exact_model(specs: list[ComparisonSpec]) -> FellegiSunter:
    """Every comparison exact with m 0.9/0.1 and u 0.1/0.9 (±log2 9 = ±3.169925 a comparison), prior 0.5 (no
    prior weight): both equal 0.987805, one of two 0.5, none 0.012195."""
    return FellegiSunter(specs, m={s.name: [0.1, 0.9] for s in specs}, u={s.name: [0.9, 0.1] for s in specs},
                         prior=0.5)


def test_link_with_a_given_model_passes_steward_constraints_on_and_reports_stats_and_timings() -> None:
    # six_records' pairs under the hand model: (0,1) and (3,4) equal in both (match), (0,2) and (1,2) in name only
    # (review, 0.5): clusters {0,1}, {2}, {3,4}, {5}. No anchors configured: every record counts as placed (no floaters)
    recs, settings = six_records()
    model = _exact_model(list(settings.comparisons))
    t0 = time.perf_counter()
    res = link(recs, settings, model=model)
    elapsed = time.perf_counter() - t0
    assert res.model is model
    assert res.pairs[["left", "right", "rules", "band"]].to_numpy().tolist() == [
        [0, 1, 3, "match"], [0, 2, 1, "review"], [1, 2, 1, "review"], [3, 4, 3, "match"]]
    assert res.pairs["prob"].round(6).tolist() == [0.987805, 0.5, 0.5, 0.987805]
    assert res.labels.tolist() == [0, 0, 1, 2, 2, 3]
    assert res.stats == {"records": 6, "candidate_pairs": 4, "new_pairs": 4, "skipped_blocks": {},
                         "conflicting_components": 0, "rejected_edges": 0, "floaters": 0, "floaters_attached": 0,
                         "ambiguous_floater_groups": 0, "clusters": 4, "incremental": False}
    # each stage's time is a duration of this call (a clock reading added instead of subtracted is not)
    assert sorted(res.timings) == ["block", "cluster", "compare", "encode", "score"]
    assert all(isinstance(v, float) and 0 <= v <= elapsed for v in res.timings.values()), res.timings
    t0 = time.perf_counter()
    trained = link(recs, settings)
    elapsed = time.perf_counter() - t0
    assert sorted(trained.timings) == ["block", "cluster", "compare", "encode", "score", "train"]
    assert all(isinstance(v, float) and 0 <= v <= elapsed for v in trained.timings.values()), trained.timings
    # a steward's cannot-link parts 0 and 1 (a match), a must-link joins 2 and 5 (no pair at all)
    held = link(recs, settings, model=model, must=(np.array([2]), np.array([5])), cannot=(np.array([0]), np.array([1])))
    assert held.labels.tolist() == [0, 1, 2, 3, 3, 2]
    # two valid tax codes (an exclusive column) on 0 and 1: their match is rejected, they stay apart
    excl = link(recs.assign(uscc=["A", "B", None, None, None, None]),
                LinkSettings(settings.blocking, settings.comparisons, exclusive=("uscc",)), model=model)
    assert excl.pairs["rejected"].tolist() == [True, False, False, False]
    assert excl.labels.tolist() == [0, 1, 2, 3, 3, 4]
    assert (excl.stats["rejected_edges"], excl.stats["clusters"]) == (1, 5)
    # two anchor columns: a record placed by either is no floater (0 by its tax code only, the others by their city)
    two = recs.assign(uscc=["A", None, None, None, None, None], city=[None, "上海", "上海", "北京", "北京", "广州"])
    placed = link(two, LinkSettings(settings.blocking, settings.comparisons, anchors=("uscc", "city")), model=model)
    assert (placed.stats["floaters"], placed.labels.tolist()) == (0, [0, 0, 1, 2, 2, 3])
    # no records: no pairs, no clusters
    none = link(recs.iloc[:0], settings, model=model)
    assert (len(none.pairs), none.labels.tolist(), none.stats["clusters"], none.stats["records"]) == (0, [], 0, 0)


def log2_odds(p: float) -> float:
    """Log-odds of a probability kept within [EPS, 1 - EPS], as corrections are computed: a handful of candidates
    sharing a name can be all matches to EM, at weights beyond what a probability near 1 tells apart."""
    p = min(max(float(p), EPS), 1 - EPS)
    return math.log2(p / (1 - p))


def test_steward_labels_with_anchors_correct_placed_pairs_only_when_trained_and_when_given() -> None:
    # Blocked by name; 6 has no city (not placed). The three labels of the pattern name equal, phone different (key
    # 7) say "different": a correction is learned for it (3 labels, the least). The label (0, 6) touches an unplaced
    # record and is dropped (floaters' labels are skewed), so the feedback counts 3 labels, none "same". The
    # correction then applies to the pairs of that pattern whose records are both placed, (0,1), (2,3), (4,5), and
    # not to (1,6); (0,6), name and phone equal (key 8), has no correction.
    specs = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("phone", "exact", "phone")]
    recs = pd.DataFrame({"name": ["华信", "华信", "东方", "东方", "南方", "南方", "华信", "北方"],
                         "phone": ["1", "2", "3", "4", "5", "6", "1", "7"],
                         "city": ["上海", "上海", "北京", "北京", "广州", "广州", None, "沈阳"]})
    settings = LinkSettings([BlockingRule("name", ("name",))], specs, u_pairs=1000, anchors=("city",))
    labelled = (np.array([0, 2, 4, 0]), np.array([1, 3, 5, 6]), np.array([False, False, False, True]))
    res = link(recs, settings, labelled=labelled)
    info = res.model.info
    assert (info["feedback"]["labels"], info["feedback"]["same"], info["feedback"]["different"]) == (3, 0, 3)
    assert info["calibration_scope"] == ["city"] and list(info["calibration"]) == ["7"]
    pairs = res.pairs
    assert list(zip(pairs["left"], pairs["right"], strict=True)) == [(0, 1), (0, 6), (1, 6), (2, 3), (4, 5)]
    assert pairs["phone"].tolist() == [0, 1, 0, 0, 0]
    assert res.stats["floaters"] == 1 and not pairs["rejected"].any()
    w = pairs["weight"].to_numpy()
    base = w[2]  # an unplaced pair: the model's weight of the pattern, uncorrected
    # the labelled pairs' mean probability p (all uncorrected: base); none of 3 same: π = (5·p + 0)/(5 + 3)
    p = 1 / (1 + 2 ** -base)
    delta = log2_odds(5 * p / 8) - log2_odds(p)
    assert info["calibration"]["7"] == pytest.approx(delta, abs=1e-6) and delta < -0.5
    np.testing.assert_allclose(w[[0, 3, 4]], base + info["calibration"]["7"])
    # linking again with the model learned reproduces the weights (the scope read from the records there too)
    again = link(recs, settings, model=res.model)
    pd.testing.assert_frame_equal(again.pairs, pairs)


def test_the_columns_encoded_besides_the_compared_ones() -> None:
    # an owner counts only with `common` (a value of that many owners identifies nothing): a spec with an owner and
    # no `common`, or `common` and no owner (as hub.yaml may write them), encodes no owner column
    specs = [ComparisonSpec("phone", "exact", "phone", common=2, owner="name_core"),
             ComparisonSpec("email", "exact", "email", owner="name"),
             ComparisonSpec("address", "exact", "address", common=3),
             ComparisonSpec("contact", "exact", "contact", common=2, owner="group")]
    assert owner_columns(specs) == ["name_core", "group"]
    settings = LinkSettings([BlockingRule("name", ("name_core",)), BlockingRule("city_phone", ("city", "phone"))],
                            specs, exclusive=("uscc",), anchors=("uscc", "city"))
    assert encoded_columns(specs, settings) == ["name_core", "city", "phone", "uscc", "uscc", "city", "name_core",
                                                "group"]
    recs = pd.DataFrame({c: ["a", "a", None] for c in ["name_core", "city", "phone", "uscc", "email", "address",
                                                          "contact", "group"]})
    assert link(recs, settings, model=_exact_model(specs)).pairs[["left", "right"]].to_numpy().tolist() == [[0, 1]]


def test_steward_labels_are_scored_with_term_frequencies_and_common_values_before_the_correction() -> None:
    # 400 is held by three companies (common=2: identifies nothing) and compared as missing; 华信 is twice as frequent
    # as 东方 and 西方, so its exact name weighs log2 2 = 1 less. The three labels (one "different", two "same") share
    # the pattern name exact + phone missing: key (1+1)·3 + (−1+1) = 6. The correction is computed from the labelled
    # pairs' probabilities as score_pairs gives them (from the records' values), at the settings' strength 2 (the
    # pseudo-labels the model's own probability counts for): mean p, π = (2·p + 2)/(2 + 3).
    specs = [ComparisonSpec("name", "exact", "name", tf=True),
             ComparisonSpec("phone", "exact", "phone", common=2, owner="name")]
    recs = pd.DataFrame({"name": ["华信", "华信", "华信", "华信", "东方", "东方", "西方", "西方", "北方"],
                         "phone": ["400", "400", "1", "1", "400", "400", "400", "400", "4"]})
    settings = LinkSettings([BlockingRule("name", ("name",))], specs, u_pairs=1000, feedback_strength=2.0)
    ll, lr, same = np.array([0, 4, 6]), np.array([1, 5, 7]), np.array([False, True, True])
    plain = link(recs, settings).model
    fed = link(recs, settings, labelled=(ll, lr, same)).model
    assert plain.common == {"phone": ["400"]}
    scored = score_pairs(recs, ll, lr, plain)
    assert scored["phone"].tolist() == [-1, -1, -1]
    w = scored["weight"].to_numpy()
    assert w[0] == pytest.approx(w[1] - 1) and w[1] == pytest.approx(w[2])
    p = scored["prob"].mean()
    post = (2 * p + 2) / 5
    assert fed.info["calibration"] == {"6": round(log2_odds(post) - log2_odds(p), 6)}
    assert fed.info["feedback"] == {"labels": 3, "same": 2, "different": 1, "patterns": 1, "strength": 2.0,
                                    "min_pattern": 3}


def test_a_gated_comparison_keeps_the_u_of_random_pairs_drawn_by_the_settings_seed_and_count() -> None:
    # the brand is compared only where one record has a Latin name (the gate): EM does not refit its u, which stays
    # the level shares among u_pairs random pairs drawn with the settings' seed (with a pseudo count): 0.8/0.2 with
    # seed 7, 0.9/0.1 with the default seed 42
    specs = [ComparisonSpec("name", "exact", "name"), ComparisonSpec("brand", "exact", "brand", gate="latin")]
    recs = pd.DataFrame({"name": ["华信", "华信", "华信", "东方", "东方", "南方", "北方", "西方"],
                         "brand": ["HX", "HX", "HX", "DF", "DF", "NF", "BF", "XF"],
                         "latin": [None, "HX", None, None, None, None, None, None]})
    rules = [BlockingRule("name", ("name",))]
    model = link(recs, LinkSettings(rules, specs, u_pairs=10, seed=7)).model
    assert model.u["brand"] == estimate_u(recs, specs, 10, 7)["brand"] == pytest.approx([0.8, 0.2])
    assert link(recs, LinkSettings(rules, specs, u_pairs=10)).model.u["brand"] == pytest.approx([0.9, 0.1])

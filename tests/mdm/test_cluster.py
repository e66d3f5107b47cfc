"""`mdm.cluster.cluster` at its edges: scores exactly at the band thresholds, and the exact labels, rejected and
ambiguous edges and statistics it reports."""

from __future__ import annotations

import numpy as np
import pytest

from mdm.cluster import cluster, pair_keys

MATCH, REVIEW = 0.8, 0.3
BELOW_MATCH = float(np.nextafter(MATCH, 0))  # the largest float below 0.8
BELOW_REVIEW = float(np.nextafter(REVIEW, 0))


def run(n: int, edges: list[tuple[int, int]], prob: list[float], anchored: list[bool] | None = None,
        **exclusive: list[object]) -> object:
    left = np.array([a for a, _ in edges], np.int64)
    right = np.array([b for _, b in edges], np.int64)
    excl = {k: np.array(v, dtype=object) for k, v in exclusive.items()}
    anch = np.ones(n, bool) if anchored is None else np.array(anchored)
    return cluster(n, left, right, np.array(prob, float), MATCH, REVIEW, excl, anch)


def groups(labels: np.ndarray) -> list[list[int]]:
    """The partition the labels make, as sorted lists of record positions (independent of label values)."""
    out: dict[int, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        out.setdefault(lab, []).append(i)
    return sorted(out.values())


@pytest.mark.parametrize(("prob", "merged"), [(MATCH, True), (BELOW_MATCH, False), (1.0, True)])
def test_two_anchored_records_merge_from_the_match_threshold_on(prob: float, merged: bool) -> None:
    res = run(2, [(0, 1)], [prob], city=["上海市", "上海市"])
    assert groups(res.labels) == ([[0, 1]] if merged else [[0], [1]])


@pytest.mark.parametrize(("prob", "merged"), [(MATCH, True), (BELOW_MATCH, False)])
def test_two_floating_records_group_from_the_match_threshold_on(prob: float, merged: bool) -> None:
    res = run(2, [(0, 1)], [prob], anchored=[False, False])
    assert groups(res.labels) == ([[0, 1]] if merged else [[0], [1]])
    assert res.stats["floaters"] == 2 and res.stats["floaters_attached"] == 0


@pytest.mark.parametrize(("prob", "attached"), [(REVIEW, True), (BELOW_REVIEW, False)])
def test_a_floater_attaches_to_its_only_cluster_from_the_review_threshold_on(prob: float, attached: bool) -> None:
    res = run(2, [(0, 1)], [prob], anchored=[True, False], city=["武汉市", None])
    assert groups(res.labels) == ([[0, 1]] if attached else [[0], [1]])
    assert res.stats["floaters_attached"] == int(attached)


@pytest.mark.parametrize(("prob", "ambiguous"), [(REVIEW, True), (BELOW_REVIEW, False)])
def test_a_floater_reached_by_two_clusters_is_ambiguous_from_the_review_threshold_on(prob: float,
                                                                                    ambiguous: bool) -> None:
    # Records 0 (武汉) and 1 (广州) are anchored in different cities; floater 2 reaches both at `prob`.
    res = run(3, [(0, 2), (1, 2)], [prob, prob], anchored=[True, True, False], city=["武汉市", "广州市", None])
    assert groups(res.labels) == [[0], [1], [2]]  # attached to neither either way
    assert res.ambiguous.tolist() == [ambiguous, ambiguous]
    assert res.stats["ambiguous_floater_groups"] == int(ambiguous)


def test_the_rejected_edge_and_the_statistics_of_a_conflict() -> None:
    # 0 ~ 1 ~ 2 in the match band, but 0 and 2 hold different valid tax codes: the weaker edge (1, 2) is
    # rejected, 0 and 1 stay together; 3 is a floater that reaches 2 only (at review level) and joins it.
    uscc = ["91430104FLKR53E958", None, "914401047PNC8DTW0G", None]
    res = run(4, [(0, 1), (1, 2), (2, 3)], [0.99, 0.95, 0.5], anchored=[True, True, True, False], uscc=uscc)
    assert groups(res.labels) == [[0, 1], [2, 3]]
    assert res.rejected.tolist() == [False, True, False]
    assert res.ambiguous.tolist() == [False, False, False]
    assert res.stats == {"conflicting_components": 1, "rejected_edges": 1, "floaters": 1, "floaters_attached": 1,
                         "ambiguous_floater_groups": 0}


def test_labels_are_numbered_by_first_appearance() -> None:
    res = run(4, [(1, 3)], [0.9])
    assert res.labels.tolist() == [0, 1, 2, 1]


def test_a_value_a_cluster_took_from_a_member_still_excludes_another() -> None:
    # Record 0 has no tax code and joins 1 (code X) first, so the cluster's root holds no code of its own:
    # its members' X must still keep 2 (code Y) out.
    res = run(3, [(0, 1), (0, 2)], [0.99, 0.98], uscc=[None, "91430104FLKR53E958", "914401047PNC8DTW0G"])
    assert groups(res.labels) == [[0, 1], [2]]
    assert res.rejected.tolist() == [False, True]


def test_a_cannot_link_between_members_keeps_two_grown_clusters_apart() -> None:
    # A steward said 1 ≠ 2. 0 joins 1 and 3 joins 2 first (the roots, 0 and 3, have no link of their own);
    # the edge 0-3 would put 1 and 2 together and must be refused.
    left, right = np.array([0, 3, 0]), np.array([1, 2, 3])
    res = cluster(4, left, right, np.array([0.99, 0.98, 0.97]), MATCH, REVIEW, {}, np.ones(4, bool),
                  cannot=(np.array([1]), np.array([2])))
    assert groups(res.labels) == [[0, 1], [2, 3]]
    assert res.rejected.tolist() == [False, False, True]


def test_an_edge_inside_a_cluster_is_not_a_rejected_one() -> None:
    # A triangle 0-1-2 in a component that also holds a conflict (3 has another tax code): 0-2 comes when
    # 0 and 2 are already together, which is no rejection; only 2-3 is.
    uscc = ["91430104FLKR53E958", None, None, "914401047PNC8DTW0G"]
    res = run(4, [(0, 1), (1, 2), (0, 2), (2, 3)], [0.99, 0.98, 0.97, 0.96], uscc=uscc)
    assert groups(res.labels) == [[0, 1, 2], [3]]
    assert res.rejected.tolist() == [False, False, False, True]
    assert res.stats["rejected_edges"] == 1


def test_pair_keys_are_exact_integers_for_a_hundred_million_records() -> None:
    n = 100_000_000
    # 99,999,998 × 10^8 + 99,999,999 is above 2^53: a float would round it to an even neighbour.
    keys = pair_keys(np.array([99_999_999, 5]), np.array([99_999_998, 7]), n)
    assert keys.dtype == np.int64
    assert keys.tolist() == [99_999_998 * n + 99_999_999, 5 * n + 7]


def test_a_must_link_joins_two_records_no_score_joins_and_anchors_a_floater() -> None:
    # 0 and 1 are anchored in one city and scored far below review; 2 is a floater no pair reaches. A steward's
    # must-links 0-1 and 0-2 put all three together.
    empty: dict[str, np.ndarray] = {}
    left, right = np.array([0], np.int64), np.array([1], np.int64)
    anchored = np.array([True, True, False])
    alone = cluster(3, left, right, np.array([0.05]), MATCH, REVIEW, empty, anchored)
    assert groups(alone.labels) == [[0], [1], [2]]
    must = (np.array([0, 0], np.int64), np.array([1, 2], np.int64))
    linked = cluster(3, left, right, np.array([0.05]), MATCH, REVIEW, empty, anchored, must=must)
    assert groups(linked.labels) == [[0, 1, 2]]
    assert linked.rejected.tolist() == [False] and linked.ambiguous.tolist() == [False]


@pytest.mark.parametrize(("order", "expected"), [((0.95, 0.9), [[0, 1], [2]]), ((0.9, 0.95), [[0], [1, 2]])])
def test_a_cannot_link_between_floaters_refuses_the_weaker_edge_of_a_chain(order: tuple[float, float],
                                                                          expected: list[list[int]]) -> None:
    # Floaters 0-1-2 chained by match-band edges; a steward kept 0 and 2 apart. Edges are taken best first:
    # the stronger one joins its pair, the weaker one would bring 0 and 2 together and is refused.
    empty: dict[str, np.ndarray] = {}
    left, right = np.array([0, 1], np.int64), np.array([1, 2], np.int64)
    floating = np.zeros(3, bool)
    res = cluster(3, left, right, np.array(order), MATCH, REVIEW, empty, floating,
                  cannot=(np.array([0], np.int64), np.array([2], np.int64)))
    assert groups(res.labels) == expected


# --- the pieces, with exact values (they killed the mutants the tests above left alive) -------------------------

def test_codes_of_an_exclusive_attribute_missing_and_empty_are_minus_one() -> None:
    from mdm.cluster import _codes

    got = _codes(np.array(["b", "", None, "a", "b", float("nan"), ""], dtype=object))
    assert got.dtype == np.int64 and got.tolist() == [0, -1, -1, 2, 0, -1, -1]
    ints = _codes(np.array([3, -1, 7], np.int32))  # integer arrays are codes already
    assert ints.dtype == np.int64 and ints.tolist() == [3, -1, 7]
    assert _codes(np.array(["", "x", ""], dtype=object)).tolist() == [-1, 1, -1]
    assert _codes(np.array(["x", "y", "x"], dtype=object)).tolist() == [0, 1, 0]


def test_groups_holding_several_values_and_the_first_value_of_each_cluster() -> None:
    from mdm.cluster import _cluster_values, _groups_with_several

    labels = np.array([0, 0, 1, 1, 2, 3, 3, 4, 4], np.int64)
    codes = np.array([5, 5, 3, 4, -1, -1, 9, 0, 2], np.int64)
    assert _groups_with_several(labels, codes).tolist() == [1, 4]
    assert _groups_with_several(np.array([], np.int64), np.array([], np.int64)).tolist() == []
    assert _groups_with_several(np.array([0, 0, 1]), np.array([0, 0, -1])).tolist() == []
    # per root record: the first non-missing code of its cluster, -1 for none (and for records that are no root)
    roots = np.array([0, 0, 2, 2, 4, 4], np.int64)
    assert _cluster_values(roots, np.array([-1, 7, 3, 8, -1, -1], np.int64)).tolist() == [7, -1, 3, -1, -1, -1]
    assert _cluster_values(roots, np.array([0, 7, -1, -1, -1, 6], np.int64)).tolist() == [0, -1, -1, -1, 6, -1]
    assert _cluster_values(np.array([0]), np.array([-1])).tolist() == [-1]  # one record, no value


def test_components_and_the_order_edges_are_taken_in() -> None:
    from mdm.cluster import _best_first, components

    assert components(6, np.array([0, 3, 4]), np.array([1, 4, 5])).tolist() == [0, 0, 1, 2, 2, 2]
    assert components(3, np.array([], np.int64), np.array([], np.int64)).tolist() == [0, 1, 2]
    # best score first; equal scores by the pair's smaller then larger position, whichever way round it came
    order = _best_first(np.array([0.9, 0.95, 0.9, 0.9]), np.array([5, 1, 2, 3]), np.array([2, 0, 7, 1]))
    assert order.tolist() == [1, 3, 0, 2]


def test_the_merger_keeps_values_and_cannot_links_of_a_cluster_at_its_root() -> None:
    from mdm.cluster import _Merger

    m = _Merger(5, [np.array([1, -1, 2, -1, 1], np.int64)], {3: {4}, 4: {3}})
    assert m.try_union(0, 1) and m.find(1) == 0 and m.parent.tolist()[:2] == [0, 0]
    assert not m.try_union(1, 2)                       # values 1 and 2 in one cluster: refused
    assert m.try_union(2, 1, force=True)               # a steward's must-link: joined under 2's root
    assert m.find(0) == 2 and m._vals(0, 2) == frozenset({1, 2})
    assert m.try_union(4, 0)                           # value 1 the cluster already holds: no new value
    assert m.find(4) == 4 and m.find(2) == 4 and m.find(0) == 4
    assert not m.try_union(3, 1)                       # 3 may never join 4's cluster, through any member
    assert m.banned == {0: set(), 2: set(), 4: {3}} and m.members == {0: set(), 2: set(), 4: {4}}
    assert m.try_union(1, 0)                           # one cluster already
    chain = _Merger(4, [], {})
    chain.parent[:] = [0, 0, 1, 2]                     # 3 → 2 → 1 → 0: find flattens the path
    assert chain.find(3) == 0 and chain.parent.tolist() == [0, 0, 0, 0]


def test_every_statistic_of_a_run_with_must_and_cannot_links_and_floaters() -> None:
    # Anchored 0..3 (cities A, A, B, B); floaters 4, 5, 6. Must-link 1-2 joins the two cities' records a steward
    # said are one company; cannot-link 0-1 keeps 0 out although 0-1 scores 0.99. Floaters 4-5 are one group
    # reaching cluster {1, 2, 3} only: attached. Floater 6 reaches 0 and 3 (two clusters): ambiguous.
    left = np.array([0, 2, 4, 4, 6, 6, 0], np.int64)
    right = np.array([1, 3, 5, 3, 0, 3, 4], np.int64)
    prob = np.array([0.99, 0.9, 0.95, 0.6, 0.5, 0.4, 0.1])
    city = np.array(["A", "A", "B", "B", None, None, None], dtype=object)
    res = cluster(7, left, right, prob, MATCH, REVIEW, {"city": city}, np.array([True] * 4 + [False] * 3),
                  must=(np.array([1]), np.array([2])), cannot=(np.array([0]), np.array([1])))
    assert res.labels.tolist() == [0, 1, 1, 1, 1, 1, 2]
    assert res.rejected.tolist() == [False] * 7
    assert res.ambiguous.tolist() == [False, False, False, False, True, True, False]
    assert res.stats == {"conflicting_components": 1, "rejected_edges": 0, "floaters": 3, "floaters_attached": 2,
                         "ambiguous_floater_groups": 1}


def test_floaters_with_cannot_links_group_best_first_and_keep_their_labels_in_order() -> None:
    from mdm.cluster import _floater_groups

    # 0-1 (0.9), 1-2 (0.95), 3-4 (0.85); a steward kept 0 and 2 apart: 1-2 first, then 0-1 is refused.
    labels = _floater_groups(5, np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0.9, 0.95, 0.85]), {0: {2}, 2: {0}})
    assert labels.tolist() == [0, 1, 1, 2, 2]
    # cannot-links elsewhere (records no edge touches): plain components
    plain = _floater_groups(5, np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0.9, 0.95, 0.85]), {7: {8}})
    assert plain.tolist() == [0, 0, 0, 1, 1]


def test_no_record_at_all() -> None:
    res = cluster(0, np.array([], np.int64), np.array([], np.int64), np.array([]), MATCH, REVIEW, {},
                  np.array([], bool))
    assert res.labels.tolist() == [] and res.rejected.tolist() == [] and res.ambiguous.tolist() == []
    assert res.stats == {"conflicting_components": 0, "rejected_edges": 0, "floaters": 0, "floaters_attached": 0,
                         "ambiguous_floater_groups": 0}


def test_positions_given_as_floats_are_taken_as_record_positions() -> None:
    # pandas hands positions over as floats after a reindex: pairs and must-links given so cluster as integers do.
    uscc = np.array(["91430104FLKR53E958", None, "914401047PNC8DTW0G", None], dtype=object)
    args = (np.array([0.0, 2.0]), np.array([1.0, 3.0]), np.array([0.99, 0.1]), MATCH, REVIEW, {"uscc": uscc},
            np.ones(4, bool))
    res = cluster(4, *args, must=(np.array([3.0]), np.array([1.0])))
    assert res.labels.tolist() == [0, 0, 1, 0]
    assert cluster(4, *args).labels.tolist() == [0, 0, 1, 2]


def test_must_links_are_taken_before_a_stronger_score_in_a_conflict() -> None:
    # 0 (tax code X) ~ 2 at 0.99; a steward said 1 (tax code Y) = 2. The must-link goes first: 2 joins 1, and the
    # 0.99 edge would put X and Y together: rejected. (Taken by score, 0-2 would come first and the must-link
    # would then force all three together.)
    uscc = np.array(["91430104FLKR53E958", "914401047PNC8DTW0G", None], dtype=object)
    res = cluster(3, np.array([0]), np.array([2]), np.array([0.99]), MATCH, REVIEW, {"uscc": uscc}, np.ones(3, bool),
                  must=(np.array([1]), np.array([2])))
    assert res.labels.tolist() == [0, 1, 1]
    assert res.rejected.tolist() == [True]


def test_cannot_links_of_unequal_length_are_an_error() -> None:
    with pytest.raises(ValueError):
        cluster(3, np.array([0]), np.array([1]), np.array([0.9]), MATCH, REVIEW, {}, np.ones(3, bool),
                cannot=(np.array([0, 1]), np.array([2])))


def test_a_floater_whose_value_is_the_first_code_still_clashes_with_its_cluster() -> None:
    # The floater's branch is the first value seen (code 0); the anchored record holds another branch: they may
    # not be joined, whichever value came first.
    res = run(2, [(0, 1)], [0.5], anchored=[False, True], branch=["厦门分公司", "福州分公司"])
    assert groups(res.labels) == [[0], [1]] and res.stats["floaters_attached"] == 0
    same = run(2, [(0, 1)], [0.5], anchored=[False, True], branch=["厦门分公司", "厦门分公司"])
    assert groups(same.labels) == [[0, 1]] and same.stats["floaters_attached"] == 1


def test_a_floater_is_checked_against_every_exclusive_attribute_and_either_order_of_codes() -> None:
    # the anchored record's branch is the first value seen (code 0): still a clash
    res = run(2, [(0, 1)], [0.5], anchored=[True, False], branch=["福州分公司", "厦门分公司"])
    assert groups(res.labels) == [[0], [1]]
    # a clash on the first attribute is not undone by the second, where nothing clashes
    two = run(2, [(0, 1)], [0.5], anchored=[False, True], branch=["厦门分公司", "福州分公司"], city=[None, "福州市"])
    assert groups(two.labels) == [[0], [1]] and two.rejected.dtype == bool and two.ambiguous.dtype == bool


def test_a_floater_a_steward_kept_apart_from_a_member_does_not_join_that_cluster() -> None:
    # 0 ~ 1 anchored together; floater 2 reaches the cluster through 1, but a steward said 2 ≠ 0.
    left, right = np.array([0, 2], np.int64), np.array([1, 1], np.int64)
    res = cluster(3, left, right, np.array([0.95, 0.5]), MATCH, REVIEW, {}, np.array([True, True, False]),
                  cannot=(np.array([2]), np.array([0])))
    assert res.labels.tolist() == [0, 0, 1] and res.stats["floaters_attached"] == 0


def test_two_floaters_each_join_their_own_cluster() -> None:
    # the pairs name floater 3 first, then floater 2: each still joins the cluster it reaches
    res = run(4, [(3, 0), (2, 1)], [0.5, 0.5], anchored=[True, True, False, False],
              city=["上海市", "北京市", None, None])
    assert res.labels.tolist() == [0, 1, 1, 0] and res.stats["floaters_attached"] == 2


@pytest.mark.parametrize(("left", "right"), [([0, 2], [1, 1]), ([1, 1], [0, 2])])
def test_floater_groups_honour_a_cannot_link_on_either_side_of_the_pairs(left: list[int], right: list[int]) -> None:
    from mdm.cluster import _floater_groups

    # 0-1 (0.9) and 1-2 (0.95); a steward kept 0 and 2 apart: 1 goes with 2, whichever side the records are on
    labels = _floater_groups(3, np.array(left), np.array(right), np.array([0.9, 0.95]), {0: {2}, 2: {0}})
    assert labels.tolist() == [0, 1, 1]

"""`mdm.cluster.cluster` at its edges: scores exactly at the band thresholds, and the exact labels, rejected and
ambiguous edges and statistics it reports."""

from __future__ import annotations

import numpy as np
import pytest

from mdm.cluster import cluster

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

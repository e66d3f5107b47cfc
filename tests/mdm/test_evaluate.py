"""Pairwise scores against listing every pair."""

from __future__ import annotations

import random
from itertools import combinations

import numpy as np
import pytest

from mdm.evaluate import PairScore, pairwise_scores, scores_by_group


def listed(cluster: list, entity: list, among: set[int] | None = None) -> PairScore:
    pairs = [(i, j) for i, j in combinations(range(len(cluster)), 2) if among is None or i in among or j in among]
    true = sum(entity[i] == entity[j] for i, j in pairs)
    pred = sum(cluster[i] == cluster[j] for i, j in pairs)
    both = sum(entity[i] == entity[j] and cluster[i] == cluster[j] for i, j in pairs)
    return PairScore(len(cluster) if among is None else len(among), true, pred, both)


@pytest.mark.parametrize("seed", range(60))
def test_scores_count_what_listing_the_pairs_counts(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(0, 25)
    cluster = [rng.randint(0, 6) for _ in range(n)]
    entity = [rng.choice("abcde") for _ in range(n)]
    group = [rng.choice(["renamed", "english", "plain"]) for _ in range(n)]
    assert pairwise_scores(np.array(cluster), np.array(entity)) == listed(cluster, entity)
    by = scores_by_group(cluster, entity, group)
    assert set(by) == set(group)
    for kind, score in by.items():
        assert score == listed(cluster, entity, {i for i, g in enumerate(group) if g == kind})


def test_precision_recall_f1_and_their_empty_cases() -> None:
    s = pairwise_scores(["c1", "c1", "c1", "c2"], ["a", "a", "b", "b"])  # predicted 3 pairs, 1 right; 2 true
    assert (s.predicted_pairs, s.correct_pairs, s.true_pairs, s.records) == (3, 1, 2, 4)
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(1 / 2)
    assert s.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    empty = PairScore(3, 0, 0, 0)
    assert (empty.precision, empty.recall, empty.f1) == (1.0, 1.0, 1.0)
    assert PairScore(2, 1, 1, 0).f1 == 0.0
    assert str(PairScore(4, 2, 3, 1)) == ("F1 0.4000  precision 0.3333  recall 0.5000  (1 of 3 predicted pairs "
                                          "correct, 2 true pairs, 4 records)")
    assert str(PairScore(1234, 2000, 3000, 1000)).endswith("(1,000 of 3,000 predicted pairs correct, 2,000 true "
                                                           "pairs, 1,234 records)")

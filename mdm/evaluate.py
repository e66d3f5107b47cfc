"""Pairwise precision, recall and F1 of a clustering against the true entities, by counting.

A pair of records is predicted when both are in one cluster and true when both have one
entity; the counts come from group sizes (n choose 2), never from listing pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PairScore:
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (f"F1 {self.f1:.4f}  precision {self.precision:.4f}  recall {self.recall:.4f}  "
                f"({self.correct_pairs:,} of {self.predicted_pairs:,} predicted pairs correct, "
                f"{self.true_pairs:,} true pairs, {self.records:,} records)")


def _pairs(sizes: pd.Series | np.ndarray) -> int:
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def pairwise_scores(cluster: pd.Series | np.ndarray, entity: pd.Series | np.ndarray) -> PairScore:
    """Score cluster labels against entity labels (aligned, one per record)."""
    df = pd.DataFrame({"c": np.asarray(cluster), "e": np.asarray(entity)})
    return PairScore(
        records=len(df),
        true_pairs=_pairs(df.groupby("e").size()),
        predicted_pairs=_pairs(df.groupby("c").size()),
        correct_pairs=_pairs(df.groupby(["c", "e"]).size()),
    )


def scores_by_group(cluster: pd.Series | np.ndarray, entity: pd.Series | np.ndarray,
                    group: pd.Series | np.ndarray) -> dict[str, PairScore]:
    """Pairwise scores per group of records (a case kind): over the pairs with at least one record of the group,
    so a false merge of a group's record with any other record counts against the group. By counting: all
    pairs less the pairs among the records outside the group."""
    c, e, g = np.asarray(cluster), np.asarray(entity), np.asarray(group)
    whole = pairwise_scores(c, e)
    out = {}
    for kind in pd.unique(g):
        rest = g != kind
        other = pairwise_scores(c[rest], e[rest])
        out[str(kind)] = PairScore(records=int((~rest).sum()),
                                   true_pairs=whole.true_pairs - other.true_pairs,
                                   predicted_pairs=whole.predicted_pairs - other.predicted_pairs,
                                   correct_pairs=whole.correct_pairs - other.correct_pairs)
    return out

"""Blocking against brute force: every pair of records checked rule by rule."""

from __future__ import annotations

import logging
import random

import numpy as np
import pandas as pd
import pytest

from mdm.blocking import BlockingRule, ahead, block_keys, candidate_pairs, candidate_steps


def _case(rng: random.Random) -> tuple[pd.DataFrame, list[BlockingRule]]:
    n = rng.randint(0, 40)
    values = {"a": ["x", "y", "z", "", None], "b": ["1", "2", None], "c": ["北京", "上海", "p", ""]}
    records = pd.DataFrame({c: [rng.choice(v) for _ in range(n)] for c, v in values.items()}, dtype=object)
    rules = [BlockingRule(f"r{i}", tuple(rng.sample(list(values), rng.randint(1, 2))), rng.choice([2, 4, 300]))
             for i in range(rng.randint(1, 4))]
    return records, rules


def brute_force(records: pd.DataFrame, rules: list[BlockingRule]) -> tuple[dict[tuple[int, int], int], dict]:
    """{(left, right): rule bits} over all pairs, and the blocks skipped per rule."""
    pairs: dict[tuple[int, int], int] = {}
    skipped = {}
    rows = records.to_dict("records")
    for bit, rule in enumerate(rules):
        def key(r: dict, rule: BlockingRule = rule) -> tuple | None:
            vals = tuple(r[c] for c in rule.columns)
            return None if any(v is None or v == "" for v in vals) else vals
        sizes: dict[tuple, int] = {}
        for r in rows:
            if key(r) is not None:
                sizes[key(r)] = sizes.get(key(r), 0) + 1
        big = sum(s > rule.max_block for s in sizes.values())
        if big:
            skipped[rule.name] = big
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                k = key(rows[i])
                if k is not None and k == key(rows[j]) and sizes[k] <= rule.max_block:
                    pairs[(i, j)] = pairs.get((i, j), 0) | (1 << bit)
    return pairs, skipped


def as_dict(c) -> dict[tuple[int, int], int]:
    assert (c.left < c.right).all()
    return {(int(a), int(b)): int(f) for a, b, f in zip(c.left, c.right, c.rules, strict=True)}


@pytest.mark.parametrize("seed", range(100))
def test_candidate_pairs_equal_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    records, rules = _case(rng)
    if not len(records):
        records = pd.DataFrame({c: pd.Series([], dtype=object) for c in "abc"})
    want, skipped = brute_force(records, rules)
    got = candidate_pairs(records, rules)
    assert as_dict(got) == want
    assert list(zip(got.left, got.right, strict=True)) == sorted(want)  # in (left, right) order
    assert got.skipped_blocks == skipped
    assert {k: len(v) for k, v in got.oversize.items()} == skipped
    steps = list(candidate_steps(records, rules, step_pairs=rng.choice([1, 3, 10])))
    assert [p for s in steps for p in zip(s.left.tolist(), s.right.tolist(), strict=True)] == sorted(want)
    assert {p: f for s in steps for p, f in as_dict(s).items()} == want
    assert [p for s in ahead(iter(steps)) for p in as_dict(s)] == sorted(want)
    only = np.array(sorted(rng.sample(range(len(records)), min(len(records), rng.randint(0, 5)))), np.int64)
    touched = candidate_pairs(records, rules, only=only)
    assert as_dict(touched) == {p: f for p, f in want.items() if p[0] in only or p[1] in only}
    assert touched.skipped_blocks == skipped and {k: len(v) for k, v in touched.oversize.items()} == skipped


def test_block_keys_are_null_for_a_missing_or_empty_column() -> None:
    records = pd.DataFrame({"a": ["x", "", None, "y"], "b": ["1", "2", "3", None]})
    keys = block_keys(records, ["a", "b"])
    assert keys.iloc[0] == "x\x1f1" and keys.iloc[1:].isna().all()
    assert block_keys(records, ["b"]).tolist()[:3] == ["1", "2", "3"]


def test_too_many_rules_and_missing_columns_are_errors() -> None:
    records = pd.DataFrame({"a": ["x", "x"]})
    assert len(candidate_pairs(records, [BlockingRule(f"r{i}", ("a",)) for i in range(31)])) == 1  # 31 fit a mask
    with pytest.raises(ValueError, match=r"^at most 31 blocking rules$"):
        candidate_pairs(records, [BlockingRule(f"r{i}", ("a",)) for i in range(32)])
    with pytest.raises(KeyError, match=r"'blocking columns not in the records: yy, zz'"):  # sorted
        candidate_pairs(records, [BlockingRule("r", ("a", "zz", "yy"))])


def test_one_block_over_the_limit_gives_no_pair_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    records = pd.DataFrame({"a": ["x"] * 5})
    with caplog.at_level(logging.INFO, logger="hub.mdm.blocking"):
        got = candidate_pairs(records, [BlockingRule("same", ("a",), max_block=4)])
    assert len(got) == 0 and got.skipped_blocks == {"same": 1} and got.oversize["same"].tolist() == [0]
    assert caplog.messages == ["blocking rule same: 1 blocks larger than 4 records skipped (5 records)"]


def test_an_error_while_blocking_ahead_reaches_the_caller() -> None:
    def steps():
        yield from candidate_steps(pd.DataFrame({"a": ["x", "x"]}), [BlockingRule("r", ("a",))])
        raise RuntimeError("disk full")

    got = []
    with pytest.raises(RuntimeError, match="disk full"):
        for s in ahead(steps()):
            got.append(as_dict(s))
    assert got == [{(0, 1): 1}]


def test_steps_hold_about_the_pairs_asked_for() -> None:
    """Memory follows the step: 100 records in pairs and 100 in blocks of five (50 + 200 candidate pairs), asked
    for 25 pairs a step, come in about ten steps, none above three times 25 pairs."""
    keys = [f"p{i // 2}" for i in range(100)] + [f"q{i // 5}" for i in range(100)]
    records = pd.DataFrame({"a": keys})
    steps = list(candidate_steps(records, [BlockingRule("r", ("a",))], step_pairs=25))
    sizes = [len(s) for s in steps]
    assert sum(sizes) == 250 and 6 <= len(steps) <= 15 and max(sizes) <= 75, sizes  # (steps adapt as they go)
    assert len(list(candidate_steps(records, [BlockingRule("r", ("a",))], step_pairs=None))) == 1
    empty = pd.DataFrame({"a": pd.Series([], dtype=object)})
    assert [len(s) for s in candidate_steps(empty, [BlockingRule("r", ("a",))], step_pairs=5)] == [0]

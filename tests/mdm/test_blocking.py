"""Blocking against brute force: every pair of records checked rule by rule."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from mdm.blocking import BlockingRule, Candidates, ahead, block_keys, candidate_pairs, candidate_steps, rule_keys


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


def _sizes_of_steps(records: pd.DataFrame, step_pairs: int) -> list[int]:
    return [len(s) for s in candidate_steps(records, [BlockingRule("r", ("a",))], step_pairs=step_pairs)]


def test_steps_are_sized_from_the_blocks_then_from_what_each_step_gave() -> None:
    """The first step takes n * step_pairs / (pairs of all blocks) records, at least one; each next one scales its
    records by step_pairs / (pairs the last step gave), by a half to twice as many, again at least one record."""
    pairs = pd.DataFrame({"a": [f"p{i // 2}" for i in range(100)]})  # 50 blocks of two: the guess is exact
    assert _sizes_of_steps(pairs, 5) == [5] * 10  # 10 records a step
    assert _sizes_of_steps(pairs, 1) == [1] * 50  # 2 records a step, kept while each gives the pair asked for
    one_block = pd.DataFrame({"a": ["x"] * 10})  # 45 pairs: one record a step, its pairs with those after it
    assert _sizes_of_steps(one_block, 4) == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    one_pair = pd.DataFrame({"a": ["x", "y", "z", "z"]})  # one pair in all, asked for one a step: one step
    assert _sizes_of_steps(one_pair, 1) == [1]
    # 10 records without a pair, then 20 pairs, 4 pairs a step: the first guess (10 records) gives none, the next
    # step takes twice as many records at most (20: 10 pairs), then half as many at least (10: 5), then 4/5 (8: 4)
    late = pd.DataFrame({"a": [f"s{i}" for i in range(10)] + [f"p{i // 2}" for i in range(40)]})
    assert _sizes_of_steps(late, 4) == [0, 10, 5, 4, 1]


def test_rule_keys_number_the_blocks_and_mark_missing_values() -> None:
    """One int64 per record: equal for records equal on every column of the rule, -1 where a column is missing."""
    codes = pd.DataFrame({"a": [0, 0, 1, -1, 0, 0], "b": [0, 1, 0, 0, -1, 1]})
    assert rule_keys(codes, BlockingRule("ab", ("a", "b"))).tolist() == [0, 1, 2, -1, -1, 1]
    assert rule_keys(codes, BlockingRule("a", ("a",))).tolist() == [0, 0, 1, -1, 0, 0]
    empty = pd.DataFrame({"a": pd.Series([], dtype=np.int64), "b": pd.Series([], dtype=np.int64)})
    assert rule_keys(empty, BlockingRule("ab", ("a", "b"))).tolist() == []


def test_no_records_under_a_rule_of_two_columns_give_no_pair() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=object)})
    rules = [BlockingRule("ab", ("a", "b"))]
    assert len(candidate_pairs(empty, rules)) == 0
    assert [len(s) for s in candidate_steps(empty, rules, step_pairs=10)] == [0]


def test_a_thread_count_gives_the_same_pairs() -> None:
    records = pd.DataFrame({"a": ["x", "x", "y", "y", "y", None], "b": ["1", "1", "1", "2", "2", "2"]})
    rules = [BlockingRule("a", ("a",)), BlockingRule("b", ("b",))]
    want = {(0, 1): 3, (0, 2): 2, (1, 2): 2, (2, 3): 1, (2, 4): 1, (3, 4): 3, (3, 5): 2, (4, 5): 2}
    assert as_dict(candidate_pairs(records, rules)) == want
    assert as_dict(candidate_pairs(records, rules, threads=1)) == want
    assert as_dict(candidate_pairs(records, rules, only=np.array([5]), threads=1)) == {(3, 5): 2, (4, 5): 2}
    assert [as_dict(s) for s in candidate_steps(records, rules, threads=2)] == [want]


def test_the_keys_of_skipped_blocks_are_int64_codes_of_the_rule() -> None:
    """`oversize` holds `rule_keys` codes (int64): the incremental run finds the members of those blocks by them."""
    records = pd.DataFrame({"a": ["y", "x", "x", "x", "y", "z"]})
    rule = BlockingRule("a", ("a",), max_block=2)
    got = candidate_pairs(records, [rule])
    assert as_dict(got) == {(0, 4): 1} and got.oversize["a"].dtype == np.int64
    codes = pd.DataFrame({"a": pd.factorize(records["a"])[0]})
    assert np.flatnonzero(np.isin(rule_keys(codes, rule), got.oversize["a"])).tolist() == [1, 2, 3]


def _counted(n: int, produced: list[int], closed: list[bool], pause: float = 0.0) -> Iterator[Candidates]:
    """`n` steps of one pair each, counting those produced; `closed` is set when the generator is closed."""
    records = pd.DataFrame({"a": [f"p{i // 2}" for i in range(2 * n)]})
    try:
        for i, step in enumerate(candidate_steps(records, [BlockingRule("r", ("a",))], step_pairs=1)):
            if i and pause:
                time.sleep(pause)
            produced.append(i)
            yield step
    finally:
        closed.append(True)


def test_blocking_ahead_holds_at_most_two_steps_and_loses_none_to_a_slow_caller() -> None:
    """While the caller holds a step, one more waits in the box and one is held by the thread: three produced.
    A caller slower than the thread's put timeout still gets every step, in order."""
    produced: list[int] = []
    steps = ahead(_counted(6, produced, []))
    first = next(steps)
    deadline = time.monotonic() + 5
    while len(produced) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # (the thread retries its put every 0.1 s meanwhile)
    assert produced == [0, 1, 2]
    got = [as_dict(first)]
    for s in steps:
        got.append(as_dict(s))
        time.sleep(0.15)
    assert got == [{(2 * i, 2 * i + 1): 1} for i in range(6)]


def test_a_caller_that_stops_early_closes_the_steps_and_leaves_no_thread() -> None:
    """Stopping while the thread is still computing the next step: the close waits for it, the steps' generator is
    closed (its connection), no error, no thread left."""
    produced: list[int] = []
    closed: list[bool] = []
    inner = _counted(5, produced, closed, pause=0.3)
    steps = ahead(inner)
    assert as_dict(next(steps)) == {(0, 1): 1}
    steps.close()
    assert closed == [True] and produced == [0, 1]
    assert not [t for t in threading.enumerate() if t.name == "hub-blocking"]
    assert inner.gi_frame is None  # finished


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_blocking_ahead_of_a_plain_iterator() -> None:
    """An iterator without `close` (a list's) is fine: nothing fails in the thread."""
    records = pd.DataFrame({"a": ["x", "x", "y", "y"]})
    steps = list(candidate_steps(records, [BlockingRule("r", ("a",))], step_pairs=1))
    assert [as_dict(s) for s in ahead(iter(steps))] == [{(0, 1): 1}, {(2, 3): 1}]


def test_steps_are_blocked_ahead_in_a_daemon_thread_named_hub_blocking(caplog: pytest.LogCaptureFixture) -> None:
    """The thread shows in logs (and thread dumps) as hub-blocking; a daemon, it never holds up the exit."""
    where: list[tuple[str, bool]] = []

    def steps() -> Iterator[Candidates]:
        where.append((threading.current_thread().name, threading.current_thread().daemon))
        yield from candidate_steps(pd.DataFrame({"a": ["x"] * 3}), [BlockingRule("same", ("a",), max_block=2)])

    with caplog.at_level(logging.INFO, logger="hub.mdm.blocking"):
        assert [len(s) for s in ahead(steps())] == [0]
    assert where == [("hub-blocking", True)]
    assert [(r.threadName, r.getMessage()) for r in caplog.records] == [
        ("hub-blocking", "blocking rule same: 1 blocks larger than 2 records skipped (3 records)")]

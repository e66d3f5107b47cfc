"""`publish` builds marts that do not read each other at once: `run_in_order`'s order, errors and concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from pipelines.publish import MART_SESSIONS, MARTS, mart_inputs, run_in_order

READS = {"a": [], "b": [], "c": ["a"], "d": ["c", "b"], "e": []}
NAMES = ("a", "b", "c", "d", "e")


def recorder(fail: frozenset[str] = frozenset(), pause: float = 0.0
             ) -> tuple[Callable[[str], int], list[tuple[str, str]]]:
    """A work function logging when each name starts and ends (and raising for the names in `fail`)."""
    log: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str) -> int:
        with lock:
            log.append(("start", name))
        time.sleep(pause)
        with lock:
            log.append(("end", name))
        if name in fail:
            raise ValueError(f"{name} failed")
        return ord(name)

    return work, log


@pytest.mark.parametrize("sessions", [1, 2, 4])
def test_each_name_starts_after_what_it_reads_ended_and_every_result_comes_back(sessions: int) -> None:
    work, log = recorder(pause=0.01)
    assert run_in_order(NAMES, READS, work, sessions) == {n: ord(n) for n in NAMES}
    at = {(kind, n): i for i, (kind, n) in enumerate(log)}
    assert len(log) == 10
    for name, deps in READS.items():
        for dep in deps:
            assert at[("end", dep)] < at[("start", name)], (name, dep, log)


def test_names_that_do_not_read_each_other_run_at_once() -> None:
    """Two independent names meet at a barrier: run one after the other, the first would wait alone and fail."""
    barrier = threading.Barrier(2, timeout=20)

    def work(name: str) -> int:
        barrier.wait()
        return 1

    assert run_in_order(("x", "y"), {}, work, 2) == {"x": 1, "y": 1}
    with pytest.raises(threading.BrokenBarrierError):
        run_in_order(("x", "y"), {}, lambda n: threading.Barrier(2, timeout=0.2).wait(), 1)


def test_no_more_than_the_sessions_run_at_once() -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    def work(name: str) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return 0

    run_in_order(tuple("abcdefgh"), {}, work, 3)
    assert most[0] == 3


@pytest.mark.parametrize("sessions", [1, 2])
def test_a_failure_stops_what_reads_it_the_rest_finishes_and_the_first_error_is_raised(sessions: int) -> None:
    work, log = recorder(fail=frozenset({"c", "e"}))
    with pytest.raises(ValueError, match="c failed"):  # (c before e in the order, though both failed)
        run_in_order(NAMES, READS, work, sessions)
    started = {n for kind, n in log if kind == "start"}
    assert "d" not in started  # it reads c
    if sessions > 1:
        assert started == {"a", "b", "c", "e"}  # b and e read nothing that failed: done


def test_the_marts_are_published_in_an_order_their_reads_allow() -> None:
    """The scheduler is handed each mart's mart inputs; marts.yaml lists a mart after those it reads, and both
    warehouses publish on more than one session."""
    position = {m: i for i, m in enumerate(MARTS)}
    for mart in MARTS:
        for schema, table in mart_inputs(mart):
            if schema == "marts":
                assert position[table] < position[mart], (mart, table)
    assert MART_SESSIONS["duckdb"] > 1 and MART_SESSIONS["postgresql"] > 1

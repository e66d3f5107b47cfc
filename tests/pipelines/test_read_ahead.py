"""`read_ahead`: a source's batches produced by a thread one ahead of the landing, with nothing else changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TypeVar

import pytest

from pipelines.read_ahead import read_ahead

T = TypeVar("T")

# an exception in the reading thread (e.g. closing a source that cannot be closed) fails the test, not just a warning
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def same(x: T) -> T:
    return x


def test_the_items_come_in_order_and_whole_each_prepared() -> None:
    assert list(read_ahead(iter(range(1000)), same)) == list(range(1000))
    assert list(read_ahead(iter([]), same)) == []
    assert list(read_ahead(iter("abcde"), str.upper, depth=3)) == list("ABCDE")


def test_the_next_item_is_read_while_the_consumer_holds_the_current_one() -> None:
    reading_second = threading.Event()
    readers: list[int] = []
    preparers: list[int] = []

    def source() -> Iterator[int]:
        readers.append(threading.get_ident())
        yield 1
        reading_second.set()
        yield 2

    def prepare(i: int) -> int:
        preparers.append(threading.get_ident())
        return i * 10

    items = read_ahead(source(), prepare)
    assert next(items) == 10
    # the consumer has not asked for the second item: a plain generator would not have started reading it
    assert reading_second.wait(10)
    assert list(items) == [20]
    assert readers[0] != threading.get_ident() and preparers == [readers[0]] * 2  # read and prepared in the thread


def test_an_error_of_the_source_is_raised_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the database went away")

    got: list[int] = []
    with pytest.raises(ValueError, match="the database went away"):
        for i in read_ahead(source(), same):
            got.append(i)
    assert got == [1, 2]

    def refuse_three(i: int) -> int:
        if i == 3:
            raise KeyError("primary_key column 'id' is not in the data")
        return i

    got.clear()
    with pytest.raises(KeyError, match="primary_key column"):
        for i in read_ahead(iter(range(10)), refuse_three):
            got.append(i)
    assert got == [0, 1, 2]


def in_a_thread(work: Callable[[], None], seconds: float = 20) -> None:
    """Run `work` in a thread and fail (instead of hanging the suite) when it has not ended within `seconds`."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:  # handed to the test
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "read_ahead hung"
    if errors:
        raise errors[0]


def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(2_000):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError("the reading thread never got there")


def test_a_consumer_stopping_early_stops_the_reading_and_closes_the_source_in_its_thread() -> None:
    produced: list[int] = []
    closed_in: list[int] = []

    def source() -> Iterator[int]:
        try:
            for i in range(1_000):
                produced.append(i)
                yield i
        finally:
            closed_in.append(threading.get_ident())

    before = set(threading.enumerate())
    reader: list[int] = []

    def consume() -> None:
        with pytest.raises(RuntimeError, match="landing failed"), \
                closing(read_ahead(source(), same, depth=2)) as items:
            for i in items:
                reader.append(threading.get_ident())
                # the reader is blocked: item 0 held here, 1 and 2 queued, 3 read and waiting for room
                wait_for(lambda: len(produced) == 4)
                assert i == 0
                raise RuntimeError("landing failed")

    in_a_thread(consume)
    assert produced == [0, 1, 2, 3]  # nothing read beyond `depth` batches ahead of the one held
    # the source was closed by the reading thread (not left to the garbage collector of the consumer's) and that
    # thread has ended
    assert len(closed_in) == 1 and closed_in[0] != reader[0]
    assert set(threading.enumerate()) <= before


def test_a_slow_consumer_loses_nothing_while_the_reader_waits_for_room() -> None:
    def slow() -> None:
        got = []
        for i in read_ahead(iter(range(4)), same):
            time.sleep(0.2)  # longer than the reader's wait for room: it waits again, it does not give up
            got.append(i)
        assert got == [0, 1, 2, 3]

    in_a_thread(slow)


def test_a_source_that_fails_to_close_leaves_the_consumer_its_own_error() -> None:
    def source() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            raise OSError("the connection was already gone")

    with pytest.raises(RuntimeError, match="landing failed"), closing(read_ahead(source(), same)) as items:
        for _ in items:
            raise RuntimeError("landing failed")


def test_by_default_one_batch_is_read_ahead_of_the_one_landing() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    def hold_the_first() -> None:
        with closing(read_ahead(source(), same)) as items:
            assert next(items) == 0
            wait_for(lambda: len(produced) == 3)  # 0 held, 1 queued, 2 read and waiting for room
            time.sleep(0.2)  # (time for the reader to go further, were it allowed to)
            assert produced == [0, 1, 2]

    in_a_thread(hold_the_first)

"""`read_ahead`: a source's batches produced by a thread one ahead of the landing, with nothing else changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from typing import TypeVar

import pytest

from pipelines.read_ahead import read_ahead

T = TypeVar("T")


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


def test_a_consumer_stopping_early_stops_the_reading_and_closes_the_source() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            for i in range(1_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with pytest.raises(RuntimeError, match="landing failed"), closing(read_ahead(source(), same, depth=2)) as items:
        for i in items:
            if i == 3:
                raise RuntimeError("landing failed")
    assert closed.is_set()  # (the generator's `finally` ran, in its thread, before the consumer went on)
    # at most `depth` items beyond the one held, and one more read while the queue was full
    assert len(produced) <= 3 + 1 + 2 + 1
    assert not [t for t in threading.enumerate() if t.name == "hub-read-ahead"]

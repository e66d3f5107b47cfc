"""`pipelines.write_behind`: a chunked load's writes in a thread, one behind the preparing, never beside a read."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipelines.write_behind import write_behind


class Log:
    """What happened, in order, and whether a write is running."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.writing = threading.Event()
        self.lock = threading.Lock()

    def note(self, event: str) -> None:
        with self.lock:
            self.events.append(event)


def reads(log: Log, n: int) -> Iterator[int]:
    for i in range(n):
        assert not log.writing.is_set(), f"item {i} read while a write runs"
        log.note(f"read {i}")
        yield i


def test_every_item_is_prepared_and_written_once_in_order() -> None:
    log = Log()
    written: list[str] = []

    def write(x: str) -> None:
        log.writing.set()
        written.append(x)
        log.writing.clear()

    assert write_behind(reads(log, 5), lambda i: f"<{i}>", write) == 5
    assert written == ["<0>", "<1>", "<2>", "<3>", "<4>"]
    assert [e for e in log.events if e.startswith("read")] == [f"read {i}" for i in range(5)]


def test_no_item_writes_nothing() -> None:
    written: list[int] = []
    assert write_behind(iter([]), lambda i: i, written.append) == 0
    assert written == []


def test_a_write_runs_while_the_next_item_is_prepared_and_never_while_one_is_read() -> None:
    log = Log()
    preparing = {i: threading.Event() for i in range(4)}
    overlapped: list[int] = []

    def prepare(i: int) -> int:
        preparing[i].set()
        return i

    def write(i: int) -> None:
        log.writing.set()
        try:
            # the next item is being prepared while this one is written (the last has no next)
            if i + 1 in preparing and preparing[i + 1].wait(timeout=30):
                overlapped.append(i)
            log.note(f"wrote {i}")
        finally:
            log.writing.clear()

    assert write_behind(reads(log, 4), prepare, write) == 4
    assert overlapped == [0, 1, 2]
    # each read comes after the write before the item it follows: read 2 after wrote 0, read 3 after wrote 1
    order = log.events
    assert order.index("read 2") > order.index("wrote 0") and order.index("read 3") > order.index("wrote 1")


def test_a_failed_preparing_waits_for_the_write_in_flight_then_raises() -> None:
    log = Log()
    finished: list[int] = []
    started = threading.Event()

    def prepare(i: int) -> int:
        if i == 1:
            started.wait(timeout=30)  # the write of item 0 has started
            raise ValueError("bad chunk 1")
        return i

    def write(i: int) -> None:
        started.set()
        log.writing.set()
        finished.append(i)
        log.writing.clear()

    with pytest.raises(ValueError, match="bad chunk 1"):
        write_behind(reads(log, 3), prepare, write)
    assert finished == [0]  # written before the error reached the caller; nothing after it
    assert "read 2" not in log.events


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    log = Log()
    written: list[int] = []

    def write(i: int) -> None:
        if i == 1:
            raise OSError("disk full")
        written.append(i)

    with pytest.raises(OSError, match="disk full"):
        write_behind(reads(log, 5), lambda i: i, write)
    assert written == [0]
    assert "read 3" not in log.events  # (item 2 was read and prepared while item 1 was written; not written)


def test_the_last_item_is_written_after_the_loop() -> None:
    written: list[int] = []
    assert write_behind(iter([7]), lambda i: i * 2, written.append) == 1
    assert written == [14]


def test_when_the_write_in_flight_and_the_preparing_both_fail_the_write_error_is_raised() -> None:
    started = threading.Event()

    def prepare(i: int) -> int:
        if i == 1:
            started.wait(timeout=30)
            raise ValueError("bad chunk 1")
        return i

    def write(i: int) -> None:
        started.set()
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full") as raised:
        write_behind(iter(range(3)), prepare, write)
    assert isinstance(raised.value.__context__, ValueError)  # (the preparing's error chained to it)

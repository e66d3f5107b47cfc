"""Read a source's next batch while the current one lands: its batches produced in a thread, one ahead.

A bulk source's reading (the database driver, Arrow conversion, CSV parsing) and the warehouse's landing (DuckDB or
PostgreSQL executing) both spend most of their time outside the GIL, so the two overlap. What the consumer sees is
unchanged: the same batches in the same order, a source's error raised where the consumer reaches it (after every
batch before it has landed), and nothing read beyond `depth` batches that may never land (a batch's state commits
with it, so a crash loses nothing read ahead: the next sync reads it again).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_END = object()


def read_ahead(items: Iterator[T], prepare: Callable[[T], U], depth: int = 1) -> Generator[U, None, None]:
    """`prepare(item)` of each of `items`, both done by a thread up to `depth` items ahead of the consumer (an error
    of either is raised to the consumer in its place). A consumer that stops early (an error while landing, a
    `break`) stops the thread, which closes `items` (a generator's `finally` runs there)."""
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(prepare(item)):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer, raised there
            put(_END, e)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # (the consumer's own error is the one that counts)
                    close()

    thread = threading.Thread(target=produce, name="hub-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]  # (a prepared item: only _END is not)
    finally:
        stop.set()
        thread.join()

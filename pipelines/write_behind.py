"""Write a chunk while the next one is prepared: a chunked load's warehouse writes done by a thread, one behind.

A full stage or match reads a chunk, prepares it in Python (typing, standardizing: pandas and Arrow) and writes it
to the warehouse, where DuckDB compresses the rows (PostgreSQL copies them) outside the GIL. On two cores the write
of one chunk and the preparing of the next overlap. The reading and the writing may share one connection: a chunk
is read (`items` advanced) only once no write runs, and a write has the connection to itself until it returns.
What is written is unchanged: the same writes, in the same order, on the caller's transaction; an error of either
side is raised to the caller after the write in flight has finished (so the caller's rollback finds the connection
idle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def write_behind(items: Iterable[T], prepare: Callable[[T], U], write: Callable[[U], None]) -> int:
    """`write(prepare(item))` for each of `items` in order, the write of one item in a thread while the next is
    prepared (and before the one after it is read). Returns the number of items written."""
    written = 0
    with ThreadPoolExecutor(1, thread_name_prefix="hub-write-behind") as writer:
        ready: list[U] = []  # the prepared item whose write has not started (at most one)
        for item in items:  # (read with no write running: they may share a connection)
            writing: Future[None] | None = writer.submit(write, ready.pop()) if ready else None
            try:
                ready.append(prepare(item))
            finally:
                if writing is not None:
                    writing.result()  # (its error first: raised also when the preparing failed)
                    written += 1
        for last in ready:
            write(last)
            written += 1
    return written

"""Values derived once per object, by identity: a model's common values as a set, a vocabulary as Python sets.

For long-lived objects that cannot be hashed (a loaded model's lists, a cached vocabulary of Arrow arrays). Each
entry holds its object, so the object's id is not reused while the entry is kept; at most `size` entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PerObject(Generic[K, V]):
    """`make(obj)`, computed once per object and kept."""

    def __init__(self, make: Callable[[K], V], size: int = 64):
        self.make, self.size = make, size
        self._kept: dict[int, tuple[K, V]] = {}

    def __call__(self, obj: K) -> V:
        hit = self._kept.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(self._kept) >= self.size:
                self._kept.clear()
            hit = self._kept[id(obj)] = (obj, self.make(obj))
        return hit[1]

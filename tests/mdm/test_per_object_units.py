"""mdm.per_object.PerObject: a value made once per object (by identity), at most `size` objects kept."""

from __future__ import annotations

from mdm.per_object import PerObject


class Made:
    """A `make` that records the objects it was called with, and returns how many calls it has had."""

    def __init__(self) -> None:
        self.objs: list[object] = []

    def __call__(self, obj: object) -> int:
        self.objs.append(obj)
        return len(self.objs)


def test_made_once_per_object_by_identity_not_equality() -> None:
    made = Made()
    per: PerObject[list[int], int] = PerObject(made)
    a, b = [1], [1]  # equal, not the same object
    assert [per(a), per(a), per(b), per(a), per(b)] == [1, 1, 2, 1, 2]
    assert len(made.objs) == 2 and made.objs[0] is a and made.objs[1] is b


def test_at_most_size_objects_are_kept_then_the_kept_ones_are_dropped() -> None:
    made = Made()
    per: PerObject[list[int], int] = PerObject(made, size=2)
    a, b, c = [1], [2], [3]
    assert [per(a), per(b), per(a), per(b)] == [1, 2, 1, 2]  # two kept
    assert per(c) == 3  # a third: the two dropped, c kept
    assert [per(c), per(b), per(a)] == [3, 4, 5]


def test_64_objects_are_kept_by_default() -> None:
    made = Made()
    per: PerObject[list[int], int] = PerObject(made)
    objs = [[i] for i in range(65)]
    assert [per(o) for o in objs[:64]] == list(range(1, 65))
    assert per(objs[0]) == 1 and len(made.objs) == 64  # all 64 kept
    assert per(objs[64]) == 65  # the 65th: the 64 dropped
    assert per(objs[0]) == 66

"""The vocabulary of a mapping value's transforms (`{path: 电话, regex: '(\\d{11})'}`): their names and what makes
one valid. The config model checks them with this; `pipelines.transforms` turns them into SQL.

In order: `strip` (characters to cut from both ends, besides the whitespace every value loses), `replace`
(`{old: new, …}`, each in turn), `regex` (the first group, or the whole match, of a pattern: no match is
empty), `split` (`{by: "/", index: 1}`: the index-th part, 1-based). An empty result is NULL, so a `default`
or the next path of a list takes over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TRANSFORM_KEYS = ("strip", "replace", "regex", "split")


def check_transforms(spec: Mapping[str, Any]) -> str | None:
    """What is wrong with a mapping value's transforms, or None."""
    if "strip" in spec and not isinstance(spec["strip"], str):
        return "strip: expected the characters to cut, e.g. '*#'"
    if "replace" in spec and not (isinstance(spec["replace"], dict) and all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in spec["replace"].items())):
        return "replace: expected {old: new, ...}"
    if "regex" in spec:
        try:
            pattern = re.compile(str(spec["regex"]))
        except re.error as e:
            return f"regex: {e}"
        if pattern.groups > 1:
            return "regex: at most one (group): its text is the value"
    if "split" in spec:
        s = spec["split"]
        if not (isinstance(s, dict) and isinstance(s.get("by"), str) and s["by"] and isinstance(s.get("index", 1), int)
                and s.get("index", 1) >= 1 and set(s) <= {"by", "index"}):
            return "split: expected {by: SEPARATOR, index: N} (N from 1)"
    return None

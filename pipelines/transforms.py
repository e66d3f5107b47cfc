"""Value transforms of a mapping (`{path: 电话, regex: '(\\d{11})'}`), as SQL on the warehouse's dialect.

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


def _lit(text: Any) -> str:
    return "'" + str(text).replace("'", "''") + "'"


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


def transform_sql(dialect: str, expr: str, spec: Mapping[str, Any]) -> str:
    """`expr` (a text expression) with the transforms of a mapping value applied, for `dialect`."""
    if not any(k in spec for k in TRANSFORM_KEYS):
        return expr
    if spec.get("strip"):
        expr = f"{'btrim' if dialect == 'postgresql' else 'trim'}({expr}, {_lit(spec['strip'])})"
    for old, new in (spec.get("replace") or {}).items():
        expr = f"replace({expr}, {_lit(old)}, {_lit(new)})"
    if spec.get("regex"):
        pattern = str(spec["regex"])
        if dialect == "postgresql":  # substring(… from …): the first group when there is one, else the match
            expr = f"substring({expr} from {_lit(pattern)})"
        else:
            expr = f"regexp_extract({expr}, {_lit(pattern)}, {1 if re.compile(pattern).groups else 0})"
    if spec.get("split"):
        expr = f"split_part({expr}, {_lit(spec['split']['by'])}, {int(spec['split'].get('index', 1))})"
    return f"NULLIF(TRIM({expr}), '')"

"""Value transforms of a mapping as SQL on the warehouse's dialect (their names and checks: `core.transforms`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.transforms import TRANSFORM_KEYS


def _lit(text: Any) -> str:
    return "'" + str(text).replace("'", "''") + "'"


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

"""The SQL and JSON plumbing the steward modules share: parameter lists, bounded pages, LIKE escaping, warehouse
values as plain JSON-able Python, and the version of the JSON shapes they return."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse

QUEUE_JSON_VERSION = 1  # the `version` of every JSON shape of the steward functions (CLI `--json`, the console)
RECORD_ID_SQL = "source_name || ':' || stream || ':' || source_key"
LIKE_ESCAPE = "ESCAPE '\\'"


def utc_now() -> dt.datetime:
    """Now as the warehouse's naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def make_id(prefix: str, now: dt.datetime) -> str:
    """A new action (or comment) id: `prefix`, the time and a random tail."""
    return f"{prefix}{now:%Y%m%d%H%M%S}{secrets.token_hex(3)}"


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with its `%`, `_` and `\\` taken as plain characters (with LIKE_ESCAPE)."""
    return re.sub(r"([%_\\])", r"\\\1", text)


def in_list(values: Iterable[str], name: str) -> tuple[str, dict[str, str]]:
    """`(:name0, :name1, ...)` and its parameters; `(NULL)` (matches nothing) for no values."""
    vals = list(dict.fromkeys(values))
    if not vals:
        return "(NULL)", {}
    return "(" + ", ".join(f":{name}{i}" for i in range(len(vals))) + ")", {f"{name}{i}": v for i, v in
                                                                            enumerate(vals)}


def case_when(column: str, mapping: Mapping[str, str], name: str) -> tuple[str, dict[str, str]]:
    """`CASE column WHEN :k0 THEN :v0 ... END` for a small mapping."""
    whens, params = [], {}
    for i, (k, v) in enumerate(mapping.items()):
        whens.append(f"WHEN :{name}k{i} THEN :{name}v{i}")
        params[f"{name}k{i}"], params[f"{name}v{i}"] = k, v
    return f"CASE {column} {' '.join(whens)} END", params


def bounded(n: int, total: int) -> int:
    """A LIMIT or OFFSET between 0 and `total` (a page number far past the end must not overflow the SQL)."""
    return max(0, min(int(n), total))


def frame(wh: Warehouse, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """A query's result as a DataFrame, on `conn`."""
    return wh.read_frame(sql, params or None, conn=conn)


def plain(v: Any) -> Any:
    """A warehouse value as plain JSON-able Python."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        return None if pd.isna(v) else v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if v is pd.NaT or v is pd.NA:
        return None
    return v


def plain_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as dicts of plain values."""
    return [{k: plain(v) for k, v in r.items()} for r in df.to_dict("records")]


def from_json(v: Any) -> Any:
    """A JSON text column's value parsed (None for a missing one)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return json.loads(v) if isinstance(v, str) else v

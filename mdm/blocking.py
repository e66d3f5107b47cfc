"""Blocking: candidate pairs from several keys, computed as set operations in DuckDB.

A rule is a tuple of columns; two records are candidates when all the rule's columns are
equal and not null. The union over rules is returned once per pair with a bit mask of the
rules that produced it. Blocks larger than `max_block` records are skipped (their pairs are
mostly noise and would dominate the work) and reported.

With `only`, only pairs that touch at least one of those records are produced: incremental
matching blocks the new and changed records against everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.identifiers import quote

log = logging.getLogger("hub.mdm.blocking")


@dataclass(frozen=True)
class BlockingRule:
    """Records equal on all `columns` (none null) are candidate pairs."""

    name: str
    columns: tuple[str, ...]
    max_block: int = 300


@dataclass
class Candidates:
    left: np.ndarray     # int64 row positions, left < right
    right: np.ndarray
    rules: np.ndarray    # int32 bit mask of the rules that produced each pair
    skipped_blocks: dict[str, int]
    oversize: dict[str, np.ndarray]  # per rule: the keys of the blocks that were skipped

    def __len__(self) -> int:
        return len(self.left)


def block_keys(records: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The blocking key of each record as the SQL builds it (null when a column is missing or empty)."""
    cols = list(columns)
    present = records[cols].notna().all(axis=1) & (records[cols].astype(str) != "").all(axis=1)
    key = records[cols[0]].astype(str)
    for c in cols[1:]:
        key = key + "\x1f" + records[c].astype(str)
    return key.where(present)


def _key_sql(columns: Sequence[str]) -> str:
    if len(columns) == 1:
        return quote(columns[0])
    return "(" + " || '\x1f' || ".join(quote(c) for c in columns) + ")"


def candidate_pairs(records: pd.DataFrame, rules: Sequence[BlockingRule], only: np.ndarray | None = None,
                    threads: int | None = None) -> Candidates:
    """Candidate pairs of row positions of `records` under the union of `rules`."""
    if len(rules) > 31:
        raise ValueError("at most 31 blocking rules")
    cols = sorted({c for r in rules for c in r.columns})
    missing = [c for c in cols if c not in records.columns]
    if missing:
        raise KeyError(f"blocking columns not in the records: {', '.join(missing)}")
    data = {"rid": pa.array(np.arange(len(records), dtype=np.int64))}
    for c in cols:
        s = records[c]
        if not (pd.api.types.is_string_dtype(s.dtype) and s.dtype != object):
            s = s.astype(object).where(s.notna(), None).astype(str).where(s.notna(), None)
        data[c] = pa.array(s, pa.string(), from_pandas=True)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    con.register("recs", pa.table(data))
    if only is not None:
        con.register("chg", pa.table({"rid": pa.array(np.asarray(only, dtype=np.int64))}))
    parts, skipped, oversize = [], {}, {}
    for bit, rule in enumerate(rules):
        notnull = " AND ".join(f"{quote(c)} IS NOT NULL AND {quote(c)} <> ''" for c in rule.columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE k{bit} AS SELECT rid, {_key_sql(rule.columns)} AS k "
                    f"FROM recs WHERE {notnull}")
        big = con.execute(f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT k, count(*) AS n FROM k{bit} "
                          f"GROUP BY k HAVING count(*) > {int(rule.max_block)})").fetchone()
        if big and big[0]:
            skipped[rule.name] = int(big[0])
            oversize[rule.name] = con.execute(f"SELECT k FROM k{bit} GROUP BY k HAVING count(*) > "
                                              f"{int(rule.max_block)}").fetchnumpy()["k"].astype(object)
            log.info("blocking rule %s: %d blocks larger than %d records skipped (%d records)",
                     rule.name, big[0], rule.max_block, big[1])
            con.execute(f"DELETE FROM k{bit} WHERE k IN (SELECT k FROM k{bit} GROUP BY k "
                        f"HAVING count(*) > {int(rule.max_block)})")
        if only is None:
            parts.append(f"SELECT a.rid AS l, b.rid AS r, {1 << bit} AS f FROM k{bit} a JOIN k{bit} b "
                         f"ON a.k = b.k AND a.rid < b.rid")
        else:  # only the blocks of the changed records are joined, against everything
            parts.append(f"SELECT least(a.rid, b.rid) AS l, greatest(a.rid, b.rid) AS r, {1 << bit} AS f "
                         f"FROM (SELECT * FROM k{bit} WHERE rid IN (SELECT rid FROM chg)) a JOIN k{bit} b "
                         f"ON a.k = b.k AND a.rid <> b.rid")
    sql = f"SELECT l, r, bit_or(f)::INTEGER AS f FROM ({' UNION ALL '.join(parts)}) GROUP BY l, r"
    res = con.execute(sql).fetchnumpy()
    con.close()
    left, right = np.asarray(res["l"], dtype=np.int64), np.asarray(res["r"], dtype=np.int64)
    order = np.lexsort((right, left))  # a deterministic order, whatever DuckDB's threads did
    return Candidates(left[order], right[order], np.asarray(res["f"], dtype=np.int32)[order], skipped, oversize)

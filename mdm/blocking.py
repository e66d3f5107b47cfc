"""Blocking: candidate pairs from several keys, computed as set operations in DuckDB.

A rule is a tuple of columns; two records are candidates when all the rule's columns are
equal and not null. The union over rules is returned once per pair with a bit mask of the
rules that produced it. Blocks larger than `max_block` records are skipped (their pairs are
mostly noise and would dominate the work) and reported.

With `only`, only pairs that touch at least one of those records are produced: incremental
matching blocks the new and changed records against everything.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mdm.compare import Encoded, encode

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


def rule_keys(codes: pd.DataFrame, rule: BlockingRule) -> np.ndarray:
    """The rule's key of each record as one int64 (-1 when a column is missing), from column codes."""
    key = codes[rule.columns[0]].to_numpy().astype(np.int64)
    for c in rule.columns[1:]:
        other = codes[c].to_numpy().astype(np.int64)
        both = (key >= 0) & (other >= 0)
        combined = np.where(both, key * ((int(other.max()) if len(other) else 0) + 2) + other, -1)
        key = np.where(both, pd.factorize(combined)[0], -1).astype(np.int64)  # compact again
    return key


def candidate_pairs(records: pd.DataFrame | Encoded, rules: Sequence[BlockingRule], only: np.ndarray | None = None,
                    threads: int | None = None) -> Candidates:
    """Candidate pairs of row positions of `records` under the union of `rules`.

    Keys are integer codes of the values (`mdm.compare.encode`), so DuckDB joins integers."""
    if only is None:
        steps = list(candidate_steps(records, rules, threads=threads))
        return Candidates(np.concatenate([c.left for c in steps]), np.concatenate([c.right for c in steps]),
                          np.concatenate([c.rules for c in steps]), steps[0].skipped_blocks, steps[0].oversize)
    enc, keys, skipped, oversize = _rule_keys(records, rules)
    con = _connect(keys, len(enc.codes), threads)
    con.register("chg", pa.table({"rid": pa.array(np.asarray(only, dtype=np.int64))}))
    n = len(enc.codes)
    parts = []
    for bit in range(len(rules)):  # only the blocks of the changed records are joined, against everything
        block = f"(SELECT rid, k{bit} AS k FROM recs WHERE k{bit} IS NOT NULL)"
        parts.append(f"SELECT least(a.rid, b.rid) * {n} + greatest(a.rid, b.rid) AS p, {1 << bit} AS f "
                     f"FROM (SELECT * FROM {block} WHERE rid IN (SELECT rid FROM chg)) a JOIN {block} b "
                     f"ON a.k = b.k AND a.rid <> b.rid")
    out = _pairs(con, parts, n, skipped, oversize)
    con.close()
    return out


def candidate_steps(records: pd.DataFrame | Encoded, rules: Sequence[BlockingRule], step_pairs: int | None = None,
                    threads: int | None = None) -> Iterator[Candidates]:
    """The candidate pairs of `candidate_pairs` (no `only`), about `step_pairs` at a time: the pairs whose left
    record lies in a range of positions, ranges in order, so the steps concatenated are `candidate_pairs`'s
    result. Memory follows the step, not the whole (`None`: one step)."""
    enc, keys, skipped, oversize = _rule_keys(records, rules)
    n = len(enc.codes)
    con = _connect(keys, n, threads)
    if step_pairs is None or n == 0:
        ranges_of = n or 1
    else:  # a first guess from the block sizes (pairs under several rules counted once per rule), then adapted
        bound = sum(int((s * (s - 1) // 2).sum()) for s in _sizes(keys).values())
        ranges_of = max(1, min(n, int(n * step_pairs / max(bound, 1))))
    lo = 0
    try:
        while True:
            hi = min(n, lo + ranges_of)
            parts = []
            for bit in range(len(rules)):
                block = f"(SELECT rid, k{bit} AS k FROM recs WHERE k{bit} IS NOT NULL)"
                parts.append(f"SELECT a.rid * {n} + b.rid AS p, {1 << bit} AS f FROM "
                             f"(SELECT * FROM {block} WHERE rid >= {lo} AND rid < {hi}) a JOIN {block} b "
                             f"ON a.k = b.k AND a.rid < b.rid")
            step = _pairs(con, parts, n, skipped, oversize)
            yield step
            if hi >= n:
                return
            if step_pairs is not None:  # the next range sized on what this one gave
                grow = step_pairs / max(len(step), 1)
                ranges_of = max(1, int(ranges_of * min(max(grow, 0.5), 2.0)))
            lo = hi
    finally:
        con.close()


def ahead(steps: Iterator[Candidates]) -> Iterator[Candidates]:
    """The steps of `steps`, the next one computed in a thread while the caller scores the current one (DuckDB
    leaves Python's lock while it joins): blocking and scoring share the machine's cores. At most two steps are
    held ahead; the thread ends with the caller, also when the caller stops early or fails."""
    box: queue.Queue[Candidates | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for step in steps:
                while not stop.is_set():
                    try:
                        box.put(step, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(None)
        except BaseException as e:  # handed to the caller, raised there
            box.put(e)
        finally:
            close = getattr(steps, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="hub-blocking", daemon=True)
    worker.start()
    try:
        while True:
            got = box.get()
            if got is None:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        while worker.is_alive():  # (let a producer blocked on a full box finish)
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.1)
        worker.join()


def _rule_keys(records: pd.DataFrame | Encoded, rules: Sequence[BlockingRule]
               ) -> tuple[Encoded, dict[str, np.ndarray], dict[str, int], dict[str, np.ndarray]]:
    """Each rule's key per record (-1: none, or a block over the rule's size limit), the skipped blocks' count
    and keys per rule."""
    if len(rules) > 31:
        raise ValueError("at most 31 blocking rules")
    cols = sorted({c for r in rules for c in r.columns})
    if isinstance(records, Encoded):
        enc = records
    else:
        missing = [c for c in cols if c not in records.columns]
        if missing:
            raise KeyError(f"blocking columns not in the records: {', '.join(missing)}")
        enc = encode(records, columns=cols)
    out, skipped, oversize = {}, {}, {}
    for bit, rule in enumerate(rules):
        keys = rule_keys(enc.codes, rule)  # compact codes: block sizes are a bincount
        sizes = np.bincount(keys[keys >= 0]) if (keys >= 0).any() else np.zeros(0, np.int64)
        big = np.flatnonzero(sizes > rule.max_block)
        if len(big):
            skipped[rule.name] = len(big)
            oversize[rule.name] = big.astype(np.int64)
            log.info("blocking rule %s: %d blocks larger than %d records skipped (%d records)",
                     rule.name, len(big), rule.max_block, int(sizes[big].sum()))
            keys = np.where((keys >= 0) & (sizes[np.maximum(keys, 0)] > rule.max_block), -1, keys)
        out[f"k{bit}"] = keys
    return enc, out, skipped, oversize


def _sizes(keys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.bincount(v[v >= 0]).astype(np.int64) if (v >= 0).any() else np.zeros(0, np.int64)
            for k, v in keys.items()}


def _connect(keys: dict[str, np.ndarray], n: int, threads: int | None) -> duckdb.DuckDBPyConnection:
    data = {"rid": pa.array(np.arange(n, dtype=np.int64)),
            **{k: pa.array(v, pa.int64(), mask=v < 0) for k, v in keys.items()}}
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    con.register("recs", pa.table(data))
    return con


def _pairs(con: duckdb.DuckDBPyConnection, parts: list[str], n: int, skipped: dict[str, int],
           oversize: dict[str, np.ndarray]) -> Candidates:
    # Each pair as one BIGINT (left * n + right, left < right): the union groups a single integer.
    sql = f"SELECT p, bit_or(f)::INTEGER AS f FROM ({' UNION ALL '.join(parts)}) GROUP BY p ORDER BY p"
    res = con.execute(sql).fetchnumpy()
    pair = np.asarray(res["p"], dtype=np.int64)  # sorted by DuckDB: by (left, right), whatever the threads did
    flags = np.asarray(res["f"], dtype=np.int32)
    return Candidates(pair // max(n, 1), pair % max(n, 1), flags, skipped, oversize)

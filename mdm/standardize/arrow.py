"""Arrow plumbing of the standardizers: a column's distinct values in, columns aligned to its rows out.

Regex helpers over Arrow arrays (`mdm.arrow_regex`), slicing each string at its own
offsets, and the vectorized look-ups of token vocabularies at the start and at the end of strings that the
name and address readers share.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm import arrow_regex
from mdm.arrow_regex import FEW
from mdm.per_object import PerObject

_NULL = pa.scalar(None, pa.string())



Columns = dict[str, pa.Array]


def none_once(fn: Callable[[pa.Array], Columns]) -> Callable[[pa.Array], Columns]:
    """A reader of distinct values whose result for no values at all (a column of nulls: a record without
    a former name, a query without an address) is computed once; its arrays are immutable."""
    kept: list[Columns] = []

    @functools.wraps(fn)
    def read(u: pa.Array) -> Columns:
        if len(u):
            return fn(u)
        if not kept:
            kept.append(fn(u))
        return dict(kept[0])

    return read


def _to_str(v: object) -> str | None:
    """One input value as text (None for missing); numbers keep their integer form."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        if math.isnan(v) or math.isinf(v):
            return None
        return str(int(v)) if float(v).is_integer() else str(v)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return str(v).encode("utf-8", "replace").decode("utf-8")  # lone surrogates → '?'


def _to_arrow(s: pd.Series) -> pa.Array:
    try:
        arr = pa.array(s, type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):
        arr = pa.array([_to_str(v) for v in s], type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _rows(values: pa.Array, indices: pa.Array) -> pa.Array:
    """Per-distinct-value results back to the rows."""
    return pc.take(values, indices) if len(values) else pa.nulls(len(indices), pa.string())


def _rows_flag(values: pa.Array | np.ndarray, indices: pa.Array) -> pa.Array:
    """Per-distinct-value flags back to the rows, nulls as False."""
    vals = pa.array(values, pa.bool_()) if not isinstance(values, pa.Array) else values
    taken = pc.take(vals, indices) if len(vals) else pa.nulls(len(indices), pa.bool_())
    return pc.fill_null(taken, False)


def per_row(read: Callable[[pa.Array], dict[str, pa.Array | np.ndarray]], values: pa.Array) -> Columns:
    """A reader of distinct values applied to a column: its results taken back to the rows (flags: False where the
    row has no value)."""
    enc = values.dictionary_encode()
    out = read(enc.dictionary)
    return {k: _rows_flag(v, enc.indices) if _is_flag(v) else _rows(v, enc.indices) for k, v in out.items()}


def _is_flag(v: pa.Array | np.ndarray) -> bool:
    return v.dtype == np.bool_ if isinstance(v, np.ndarray) else v.type == pa.bool_()


def standardized(read: Callable[[pa.Array], dict[str, pa.Array | np.ndarray]], s: pd.Series) -> pd.DataFrame:
    """A reader of distinct values applied to a pandas column: a frame on its index."""
    s = pd.Series(s)
    return _frame(per_row(read, _to_arrow(s)), s.index)


def _pandas(arr: pa.Array) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """A string column as string[pyarrow], a flag column as numpy bool."""
    if arr.type == pa.bool_():
        return arr.to_numpy(zero_copy_only=False)
    return pd.arrays.ArrowStringArray(pa.chunked_array([arr], pa.string()))


def _frame(cols: dict[str, pa.Array], index: pd.Index) -> pd.DataFrame:
    """Row-aligned Arrow columns (strings, flags) as one frame, built once, without copies."""
    return pd.DataFrame({k: _pandas(v) for k, v in cols.items()}, index=index, copy=False)


def _np(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


_sub, _has, _groups = arrow_regex.sub, arrow_regex.has, arrow_regex.groups


def _extract(arr: pa.Array, pattern: str, group: str) -> pa.Array:
    return pc.struct_field(_groups(arr, pattern), group)


def _nonempty(arr: pa.Array) -> pa.Array:
    """Empty strings → null."""
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), _NULL, arr)


def _lengths(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _slice_rows(arr: pa.Array, start: np.ndarray | None = None, drop_end: np.ndarray | None = None) -> pa.Array:
    """Slice each string at its own start (chars) and drop its own number of trailing chars.

    Arrow slices a whole array with one start/stop, so the rows that change are grouped by their
    (start, drop) pair, each group is sliced once, and the pieces are put back in place.
    """
    n = len(arr)
    start = np.zeros(n, np.int64) if start is None else np.asarray(start, np.int64)
    drop_end = np.zeros(n, np.int64) if drop_end is None else np.asarray(drop_end, np.int64)
    change = np.flatnonzero((start != 0) | (drop_end != 0))
    if len(change) == 0:
        return arr
    if n <= FEW:  # a few strings: sliced in Python (code points, as Arrow's utf8 slices)
        return pa.array([None if v is None else v[s0:max(len(v) - d0, 0)] for v, s0, d0
                         in zip(arr.to_pylist(), start.tolist(), drop_end.tolist(), strict=True)], pa.string())
    codes, keys = pd.factorize(start[change] * (1 << 32) + drop_end[change])
    order = np.argsort(codes.astype(np.int16 if len(keys) < 30000 else np.int64), kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(keys)))[:-1]
    sub = arr.take(change)
    pieces = []
    for key, idx in zip(keys, np.split(order, bounds), strict=True):
        s0, d0 = divmod(int(key), 1 << 32)
        pieces.append(pc.utf8_slice_codeunits(sub.take(idx), s0, -d0 if d0 else None))
    back = np.empty(len(change), np.int64)
    back[order] = np.arange(len(change))
    sliced = pa.concat_arrays(pieces).take(back)
    if len(change) == n:
        return sliced
    mask = np.zeros(n, bool)
    mask[change] = True
    return pc.replace_with_mask(arr, pa.array(mask), sliced)


def _vocab(tokens: Iterable[str], max_len: int | None = None) -> dict[int, pa.Array]:
    """Tokens grouped by length, as Arrow value sets for is_in."""
    by_len: dict[int, set[str]] = {}
    for t in tokens:
        if t and (max_len is None or len(t) <= max_len):
            by_len.setdefault(len(t), set()).add(t)
    return {n: pa.array(sorted(v), pa.string()) for n, v in sorted(by_len.items(), reverse=True)}


_vocab_sets: PerObject[dict[int, pa.Array], list[tuple[int, frozenset[str]]]] = PerObject(
    lambda vocab: [(n, frozenset(v.to_pylist())) for n, v in vocab.items()])
"""A vocabulary (`_vocab`, longest first) as Python sets, made once per vocabulary (they are cached)."""


def _prefix_offsets(arr: pa.Array, vocab: dict[int, pa.Array], rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Length of the run of vocabulary tokens at the start of each string (longest token first).

    Returns the total length and the length of the last token. Vectorized: per round and token
    length, the heads of the still-matching strings are looked up in a hash set.
    """
    n = len(arr)
    total = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
    if n <= FEW:  # a few strings: each head looked up in Python sets
        sets = _vocab_sets(vocab)
        for i, v in enumerate(arr.to_pylist()):
            for _ in range(rounds if v is not None else 0):
                head = next((length for length, tokens in sets if v[:length] in tokens), 0)
                if not head:
                    break
                total[i] += head
                last[i] = head
                v = v[head:]
        return total, last
    active = np.arange(n)
    cur = arr
    for _ in range(rounds):
        if len(cur) == 0:
            break
        got = np.zeros(len(cur), np.int64)
        for length, values in vocab.items():
            hit = _np(pc.is_in(pc.utf8_slice_codeunits(cur, 0, length), value_set=values))
            got = np.where((got == 0) & hit, length, got)
        sel = np.flatnonzero(got)
        if len(sel) == 0:
            break
        active = active[sel]
        total[active] += got[sel]
        last[active] = got[sel]
        cur = _slice_rows(cur.take(sel), start=got[sel])
    return total, last


def _suffix_lengths(arr: pa.Array, vocab: dict[int, pa.Array], keep: int) -> np.ndarray:
    """Length of the longest vocabulary token that ends each string and leaves ``keep`` chars."""
    if len(arr) <= FEW:  # a few strings: each tail looked up in Python sets
        sets = _vocab_sets(vocab)
        return np.array([0 if v is None else next((length for length, tokens in sets
                                                   if len(v) - length >= keep and v[-length:] in tokens), 0)
                         for v in arr.to_pylist()], np.int64)
    lens = _lengths(arr)
    got = np.zeros(len(arr), np.int64)
    for length, values in vocab.items():
        hit = _np(pc.is_in(pc.utf8_slice_codeunits(arr, -length), value_set=values))
        got = np.where((got == 0) & hit & (lens - length >= keep), length, got)
    return got


def _suffix_run(arr: pa.Array, vocab: dict[int, pa.Array], keep: int, rounds: int) -> np.ndarray:
    """Length of the run of vocabulary tokens ending each string (longest last token first)."""
    total = np.zeros(len(arr), np.int64)
    active = np.arange(len(arr))
    cur = arr
    for _ in range(rounds):
        got = _suffix_lengths(cur, vocab, keep)
        sel = np.flatnonzero(got)
        if len(sel) == 0:
            break
        active = active[sel]
        total[active] += got[sel]
        cur = _slice_rows(cur.take(sel), drop_end=got[sel])
    return total


def _map_distinct(arr: pa.Array, fn: Callable[[Any], tuple[str | None, ...]], n_out: int) -> list[pa.Array]:
    """Apply a Python function returning an n_out-tuple of str|None to each distinct value."""
    enc = arr.dictionary_encode()
    results = [fn(v) for v in enc.dictionary.to_pylist()]
    cols = list(zip(*results, strict=True)) if results else [()] * n_out
    return [pc.take(pa.array(c, pa.string()), enc.indices) for c in cols]

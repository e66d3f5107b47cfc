"""Addresses: the administrative divisions at the front of an address, and the rest.

standardize_addresses → DataFrame
    province, city, district  full official names (湖北省, 武汉市, 武昌区) parsed from the front of the
                 address, filled upwards from the table (a district names its city when no other
                 city of the table has a district of that name)
    address_norm the rest (street, number, building) without admin divisions, spaces, punctuation
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardize.arrow import (
    _has,
    _lengths,
    _map_distinct,
    _nonempty,
    _np,
    _prefix_offsets,
    _slice_rows,
    _sub,
    _vocab,
    none_once,
    per_row,
    standardized,
)
from mdm.standardize.regions import _LONG_NAME_RE, _all_tokens, _resolve, _short_forms, _tokenize
from mdm.standardize.text import _base_clean

_ROAD_RE = r"^[东西南北中]?(?:路|街|大街|大道|道|巷|弄|胡同|里|桥|广场)"


@cache
def _address_vocab() -> dict[int, pa.Array]:
    return _vocab(_all_tokens(), max_len=5)


def _admin_split(x: pa.Array, vocab: dict[int, pa.Array], tokens: frozenset[str], rounds: int) -> np.ndarray:
    """Chars of division tokens at the start of each string (a short name before 路/街 is a street)."""
    total, last = _prefix_offsets(x, vocab, rounds)
    long_rows = np.flatnonzero(_np(_has(pc.utf8_slice_codeunits(x, 0, 16), _LONG_NAME_RE)))
    for i, text in zip(long_rows, x.take(long_rows).to_pylist(), strict=True):
        toks = _tokenize(text, tokens)
        total[i] = sum(map(len, toks))
        last[i] = len(toks[-1]) if toks else 0
    # 延安路, 北京西路, 中山大道: a short city name followed by a road is the street, not the city.
    cand = np.flatnonzero(total > 0)
    if len(cand):
        sub = x.take(cand)
        last_tok = _slice_rows(sub, start=total[cand] - last[cand], drop_end=_lengths(sub) - total[cand])
        rest = _slice_rows(sub, start=total[cand])
        road = _np(pc.is_in(last_tok, value_set=pa.array(sorted(_short_forms()), pa.string())))
        road &= _np(_has(rest, _ROAD_RE))
        total[cand[road]] -= last[cand[road]]
    return total


@none_once
def _addresses_distinct(u: pa.Array) -> dict[str, pa.Array]:
    x = _sub(_base_clean(u), r"[^\p{L}\p{N}]+")
    x = _sub(x, r"^(?:中华人民共和国|中国)")
    total = _admin_split(x, _address_vocab(), _all_tokens(), rounds=4)
    prefix = _slice_rows(x, drop_end=_lengths(x) - total)
    rest = _slice_rows(x, start=total)

    def resolve(p: str) -> tuple[str | None, str | None, str | None]:
        return _resolve(tuple(_tokenize(p, _all_tokens())))

    province, city, district = _map_distinct(prefix, resolve, 3)
    return {
        "province": province,
        "city": city,
        "district": district,
        "address_norm": _nonempty(rest),
    }


def address_columns(addresses: pa.Array) -> dict[str, pa.Array]:
    """Addresses (Arrow) → the columns of `standardize_addresses`, row-aligned Arrow arrays."""
    return per_row(_addresses_distinct, addresses)


def standardize_addresses(s: pd.Series) -> pd.DataFrame:
    """Address column → province, city, district, address_norm (see module doc)."""
    return standardized(_addresses_distinct, s)

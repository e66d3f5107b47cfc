"""Standardize Chinese B2B customer fields for matching: company names, 统一社会信用代码, phones, addresses.

Every ``standardize_*`` function takes a pandas Series and returns a DataFrame on the same index. The
work runs on the distinct values only (real data repeats) with Arrow compute kernels (RE2 regexes,
hash lookups) instead of per-value Python; the rare odd shapes (international phone numbers,
traditional characters, names of autonomous regions) take a Python path. No input value raises:
None, NaN, numbers, empty or huge strings, control characters and emoji all give a row.

String outputs are ``string[pyarrow]`` with <NA> for missing; flags are plain ``bool``.

standardize_names → DataFrame
    name_norm  whole name: full-width → half-width (NFKC), traditional → simplified, upper-case
               Latin, brackets, former names ``（原…）``, whitespace and punctuation removed
    region     place written in the name, short form: 北京 / 武汉 / 昆山 / 广东 (in front, in
               brackets, or just before the legal form)
    core       字号, the brand: 同腾
    trade      行业 word(s): 建设工程, 环保科技, 医疗器械
    form       legal form: 有限公司, 股份有限公司, 集团有限公司, 集团, 有限合伙 …
    branch     branch part for a branch office: 上海分公司, 第3分公司 (Chinese numerals → digits)
    is_branch  branch is not null; a branch is its own legal entity (own USCC)
    name_key   core + trade: what two spellings of one company share (no region, form or branch)
    name_city  full city name the name points to: the branch's city for a branch, else the region's
standardize_uscc → DataFrame
    uscc            upper-cased, spaces and dashes removed; kept even when invalid
    uscc_valid      18 characters, GB 32100-2015 check character and organization-code check pass
    org_code        the 9-character organization code (characters 9–17, or a bare legacy org code)
    org_code_valid  the GB 11714 mod-11 check of org_code passes
    reg_no          a pre-2015 15-digit 工商注册号 whose GB/T 17710 (ISO 7064 MOD 11,10) check digit is right;
                    a strong identifier of its own (null otherwise; such a code is not a valid USCC)
standardize_phones → DataFrame
    phone        canonical: mobile ``+8613812345678``; landline ``+86-10-12345678`` (area code without
                 its trunk 0); landline written without area code: the bare subscriber number
                 ``27067349``; 400/800 service numbers ``+86-400-1234567``; other countries E.164.
                 Null when invalid. The extension is not part of it.
    phone_type   'mobile' | 'landline' | 'invalid'; null for an empty input
    area_code    landline area code with its trunk 0: '010', '0571'
    extension    转123 / ext 123 / x123 / ``-123`` after a complete number → '123'
    phone_digits last 8 digits of the subscriber number (a blocking key)
    phone_city   full city name of the area code
standardize_addresses → DataFrame
    province, city, district  full official names (湖北省, 武汉市, 武昌区) parsed from the front of the
                 address, filled upwards from the table (a district names its city when no other
                 city of the table has a district of that name)
    address_norm the rest (street, number, building) without admin divisions, spaces, punctuation
standardize_customers → the input columns plus
    name_norm, name_region, name_core, name_trade, name_form, branch, is_branch, name_key, name_city,
    uscc_std, uscc_valid, org_code, org_code_valid,
    phone_std, phone_type, area_code, phone_ext, phone_digits, phone_city,
    province, city, district, address_norm, and
    city_any     the best city known for the record: the address's, else the name's, else the
                 phone area code's
    The name columns read ``name``, or ``short_name`` where ``name`` is missing. Cross-field fixes:
    an ambiguous district (朝阳区) takes the name's or the phone's city when that city has it, and a
    landline without area code takes the area code of the record's city.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm import divisions
from mdm.latin_names import chinese_trade_head, english_trade_head, latin_columns, pinyin_column
from mdm.placeholders import email_placeholder, phone_placeholder, text_placeholder

__all__ = [
    "reg_no_check_digit",
    "reg_no_is_valid",
    "standardize_addresses",
    "standardize_customers",
    "standardize_names",
    "standardize_phones",
    "standardize_uscc",
    "uscc_check_char",
    "uscc_is_valid",
]

log = logging.getLogger(__name__)

_STR = pd.StringDtype("pyarrow")
_NULL = pa.scalar(None, pa.string())

# ---------------------------------------------------------------------------------------------
# Arrow plumbing: distinct values in, aligned columns out
# ---------------------------------------------------------------------------------------------


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


def _distinct(s: pd.Series) -> tuple[pa.Array, pa.Array]:
    """Indices (null for missing) into the distinct non-null values of ``s``."""
    enc = _to_arrow(pd.Series(s)).dictionary_encode()
    return enc.indices, enc.dictionary


def _col(values: pa.Array, indices: pa.Array, index: pd.Index) -> pd.Series:
    """Expand per-distinct-value results back to the rows as string[pyarrow]."""
    taken = pc.take(values, indices) if len(values) else pa.nulls(len(indices), pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([taken], pa.string())), index=index)


def _flag(values: pa.Array | np.ndarray, indices: pa.Array, index: pd.Index) -> pd.Series:
    vals = pa.array(values, pa.bool_()) if not isinstance(values, pa.Array) else values
    taken = pc.take(vals, indices) if len(vals) else pa.nulls(len(indices), pa.bool_())
    return pd.Series(pc.fill_null(taken, False).to_numpy(zero_copy_only=False), index=index, dtype=bool)


def _flag_arrow(s: pd.Series) -> pa.Array:
    """A boolean column as an Arrow array, nulls as False."""
    return pa.array(s.astype("boolean").fillna(False).to_numpy(dtype=bool), pa.bool_())


def _np(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _sub(arr: pa.Array, pattern: str, repl: str = "", max_replacements: int | None = None) -> pa.Array:
    return pc.replace_substring_regex(arr, pattern, repl, max_replacements=max_replacements)


def _has(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(arr, pattern)


def _extract(arr: pa.Array, pattern: str, group: str) -> pa.Array:
    return pc.struct_field(pc.extract_regex(arr, pattern), group)


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


def _prefix_offsets(arr: pa.Array, vocab: dict[int, pa.Array], rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Length of the run of vocabulary tokens at the start of each string (longest token first).

    Returns the total length and the length of the last token. Vectorized: per round and token
    length, the heads of the still-matching strings are looked up in a hash set.
    """
    n = len(arr)
    total = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
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


# ---------------------------------------------------------------------------------------------
# Shared text normalization
# ---------------------------------------------------------------------------------------------


@cache
def _opencc() -> Any:  # opencc has no type information
    import opencc

    return opencc.OpenCC("t2s")


@cache
def _traditional_class() -> str:
    """An RE2 character class of every character that OpenCC t2s may change."""
    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    chars: set[str] = set()
    for fname in ("TSCharacters.txt", "TSPhrases.txt"):
        for line in (folder / fname).read_text(encoding="utf-8").splitlines():
            key, _, vals = line.partition("\t")
            val = vals.split(" ")[0]
            if not key or val == key:
                continue
            if len(val) == len(key):  # only the characters that change
                chars.update(k for k, v in zip(key, val, strict=True) if k != v)
            else:
                chars.update(key)
    body = "".join(sorted(re.sub(r"([\\\]\[^-])", r"\\\1", c) for c in chars))
    return f"[{body}]"


def _t2s(arr: pa.Array) -> pa.Array:
    """Traditional → simplified, calling OpenCC only on the strings that need it."""
    mask = pc.fill_null(_has(arr, _traditional_class()), False)
    if not pc.any(mask).as_py():
        return arr
    conv = _opencc().convert

    def settled(v: str) -> str:  # OpenCC's tables chain (薴 → 苧 → 苎): convert until nothing changes (at most 3)
        for _ in range(3):
            out = conv(v)
            if out == v:
                break
            v = out
        return v

    subset = pc.filter(arr, mask).to_pylist()
    return pc.replace_with_mask(arr, mask, pa.array([settled(v) for v in subset], pa.string()))


def _base_clean(arr: pa.Array) -> pa.Array:
    """NFKC, simplified characters, upper-case Latin."""
    return pc.utf8_upper(_t2s(pc.utf8_normalize(arr, "NFKC")))


# ---------------------------------------------------------------------------------------------
# Divisions as token vocabularies
# ---------------------------------------------------------------------------------------------

# Prefecture short names that more often start a brand than name a place.
_NOT_A_NAME_PREFIX = frozenset({"阿里", "东方", "普洱", "红河", "玉树", "海西", "海北", "黄南", "三沙", "中卫"})
_LONG_NAME_RE = r"自治|族|特别行政区|大兴安岭"  # division names longer than the vectorized lookup handles


@cache
def _tables() -> divisions.Divisions:
    return divisions.load()


@cache
def _all_tokens() -> frozenset[str]:
    return frozenset(_tables().by_token)


@cache
def _name_region_tokens() -> frozenset[str]:
    """Place spellings read in a company name (in front, in brackets, before the trade or form)."""
    t = _tables()
    out = set()
    for d in [*t.provinces, *t.cities]:
        out.add(d.name)
        if d.short and d.short not in _NOT_A_NAME_PREFIX:
            out.add(d.short)
    for p in t.provinces:
        if not p.name.endswith("省"):
            out.add(p.short + "省")  # type: ignore[operator]  # a province always has its short name (the table's)
    for d in t.districts:
        out.add(d.name)
        if d.short:
            out.add(d.short)
    return frozenset(out)


@cache
def _district_shorts() -> dict[str, str]:
    """District full name → the short name institutions are written with (海淀区 → 海淀, 浦东新区 → 浦东)."""
    out = {}
    for d in _tables().districts:
        short = d.short or re.sub(r"(新区|区|县|旗)$", "", d.name)
        out[d.name] = short if len(short) >= 2 else d.name
    return out


@cache
def _districts_by_city() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for d in _tables().districts:
        if d.city:
            out.setdefault(d.city, []).append((d.name, _district_shorts()[d.name]))
    return out


def _district_in_front(city: str | None, core: str | None) -> tuple[str | None, str | None]:
    """(district, rest of the core) when an institution's core starts with a district of its city written short
    (北京 + 海淀妇幼保健院); (None, core) otherwise."""
    if city and core:
        for name, short in _districts_by_city().get(city, []):
            for spelling in (name, short):
                if core.startswith(spelling):
                    return name, core[len(spelling):] or None
    return None, core


@cache
def _short_forms() -> frozenset[str]:
    t = _tables()
    return frozenset({d.short for d in [*t.provinces, *t.cities, *t.districts] if d.short})


def _tokenize(text: str, vocab: frozenset[str], max_len: int = 13) -> list[str]:
    """Greedy longest-first split of the division tokens at the start of ``text``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        for n in range(min(max_len, len(text) - i), 1, -1):
            if text[i : i + n] in vocab:
                out.append(text[i : i + n])
                i += n
                break
        else:
            break
    return out


@cache
def _resolve(tokens: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(province, city, district) most consistent with a run of division tokens.

    Each token may name several divisions (吉林 is a province and a city, 朝阳区 is in two cities);
    the reading that uses the most tokens consistently wins, and a field on which the best readings
    disagree stays unknown.
    """
    t = _tables()
    options = [[*t.by_token.get(tok, []), None] for tok in tokens[:5]]
    best: list[tuple[str | None, str | None, str | None]] = []
    best_n = 0
    for combo in product(*options):
        prov: str | None = None
        city: str | None = None
        dist: str | None = None
        used = 0
        ok = True
        for d in combo:
            if d is None:
                continue
            fields = (d.province, d.city, d.name if d.level == divisions.DISTRICT else None)
            cur: list[str | None] = [prov, city, dist]
            for i, v in enumerate(fields):
                if v is None:
                    continue
                if cur[i] is not None and cur[i] != v:
                    ok = False
                cur[i] = v
            prov, city, dist = cur
            used += 1
        if not ok or used == 0:
            continue
        if used > best_n:
            best_n, best = used, [(prov, city, dist)]
        elif used == best_n:
            best.append((prov, city, dist))
    if not best:
        return None, None, None
    # Readings that only differ by one knowing more (北京: province or city) merge; others cancel.
    agreed = []
    for i in range(3):
        seen = {b[i] for b in best if b[i] is not None}
        agreed.append(seen.pop() if len(seen) == 1 else None)
    prov, city, dist = agreed
    if city is not None and prov is None:
        prov = t.province_by_city.get(city)
    return prov, city, dist


def _region_short(tokens: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(short region name, full city name) for the division tokens of a company name."""
    if not tokens:
        return None, None
    t = _tables()
    prov, city, dist = _resolve(tokens)
    if dist and dist.endswith("市") and len(dist) >= 3:
        return dist[:-1], city
    if city:
        short = next((c.short for c in t.cities if c.name == city), None)
        return short or city, city
    if prov:
        return next((p.short for p in t.provinces if p.name == prov), prov), None
    return tokens[-1], None


# ---------------------------------------------------------------------------------------------
# USCC (统一社会信用代码) and organization code (组织机构代码)
# ---------------------------------------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], np.int64)
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], np.int64)
_USCC_LUT = np.full(256, -1, np.int64)
_USCC_LUT[[ord(c) for c in _USCC_ALPHABET]] = np.arange(31)
_ORG_LUT = np.full(256, -1, np.int64)
_ORG_LUT[[ord(c) for c in "0123456789"]] = np.arange(10)
_ORG_LUT[[ord(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]] = np.arange(10, 36)


def uscc_check_char(first17: str) -> str | None:
    """GB 32100-2015 check character for the first 17 characters; None if they can't be a USCC."""
    if not isinstance(first17, str) or len(first17) != 17 or not first17.isascii():
        return None
    vals = _USCC_LUT[np.frombuffer(first17.upper().encode("ascii"), np.uint8)]
    if (vals < 0).any():
        return None
    return _USCC_ALPHABET[(31 - int(vals @ _USCC_WEIGHTS) % 31) % 31]


def _org_check_char(first8: str) -> str | None:
    vals = _ORG_LUT[np.frombuffer(first8.encode("ascii"), np.uint8)]
    if len(vals) != 8 or (vals < 0).any():
        return None
    c = 11 - int(vals @ _ORG_WEIGHTS) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _clean_code(code: object) -> str:
    text = _to_str(code) or ""
    import unicodedata

    return re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKC", text).upper())


def uscc_is_valid(code: str) -> bool:
    """True when ``code`` (case, spaces and dashes ignored) passes both the USCC and org-code checks."""
    c = _clean_code(code)
    return len(c) == 18 and c.isascii() and uscc_check_char(c[:17]) == c[17] and _org_check_char(c[8:16]) == c[16]


def _ascii_matrix(arr: pa.Array, width: int) -> np.ndarray:
    """Fixed-width ASCII strings as an (n, width) uint8 matrix, straight from the Arrow buffer."""
    arr = pa.concat_arrays([arr]) if arr.offset else arr
    offsets = np.frombuffer(arr.buffers()[1], np.int32, count=len(arr) + 1)
    data = np.frombuffer(arr.buffers()[2], np.uint8, count=int(offsets[-1] - offsets[0]), offset=int(offsets[0]))
    return data.reshape(len(arr), width)


def _uscc_checks(codes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(USCC valid, org code valid) for 18-character ASCII codes."""
    if len(codes) == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    m = _ascii_matrix(codes, 18)
    v = _USCC_LUT[m]
    chars_ok = (v >= 0).all(axis=1)
    check = (31 - (v[:, :17] @ _USCC_WEIGHTS) % 31) % 31
    return chars_ok & (check == v[:, 17]), _org_checks(m[:, 8:17])


def _org_checks(m: np.ndarray) -> np.ndarray:
    """Org-code check for an (n, 9) uint8 matrix."""
    v = _ORG_LUT[m[:, :8]]
    c = 11 - (v @ _ORG_WEIGHTS) % 11
    want = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), c + ord("0")))
    return (v >= 0).all(axis=1) & (want == m[:, 8])


def reg_no_check_digit(first14: str) -> str | None:
    """Check digit of a 15-digit 工商注册号 (GB/T 17710, ISO 7064 MOD 11,10) for its first 14 digits."""
    if not isinstance(first14, str) or len(first14) != 14 or not first14.isdigit():
        return None
    p = 10
    for ch in first14:
        s = (p + int(ch)) % 10 or 10
        p = s * 2 % 11
    return str((11 - p) % 10)


def reg_no_is_valid(code: str) -> bool:
    """True for a 15-digit registration number (spaces and dashes ignored) whose check digit is right."""
    c = _clean_code(code)
    return len(c) == 15 and c.isdigit() and reg_no_check_digit(c[:14]) == c[14]


def _reg_no_checks(m: np.ndarray) -> np.ndarray:
    """MOD 11,10 check of an (n, 15) uint8 matrix of ASCII characters, vectorized over the rows."""
    d = m.astype(np.int64) - ord("0")
    ok = ((d >= 0) & (d <= 9)).all(axis=1)
    d = np.clip(d, 0, 9)
    p = np.full(len(m), 10, np.int64)
    for j in range(14):
        s = (p + d[:, j]) % 10
        p = np.where(s == 0, 10, s) * 2 % 11
    return ok & ((p + d[:, 14]) % 10 == 1)


def _uscc_distinct(u: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array, np.ndarray]:
    x = _nonempty(_sub(pc.utf8_upper(pc.utf8_normalize(u, "NFKC")), r"[^0-9A-Z]+"))
    n = len(x)
    lens = _lengths(x)
    uscc_ok = np.zeros(n, bool)
    org_ok = np.zeros(n, bool)
    org = pa.nulls(n, pa.string())

    idx18 = np.flatnonzero(lens == 18)
    if len(idx18):
        codes = x.take(idx18)
        ok, ook = _uscc_checks(codes)
        # Keying slips O→0 and I→1 (letters the alphabet leaves out): take the fix only if it validates.
        bad = np.flatnonzero(~ok)
        if len(bad):
            cand = _sub(_sub(codes.take(bad), "O", "0"), "I", "1")
            cok, cook = _uscc_checks(cand)
            good = bad[cok & cook]
            if len(good):
                codes = pc.replace_with_mask(
                    codes, pa.array(np.isin(np.arange(len(codes)), good)), cand.filter(pa.array(cok & cook))
                )
                ok[good], ook[good] = True, True
        x = pc.replace_with_mask(x, pa.array(np.isin(np.arange(n), idx18)), codes)
        uscc_ok[idx18] = ok & ook
        org_ok[idx18] = ook
        org18 = pc.utf8_slice_codeunits(codes, 8, 17)
        org = pc.replace_with_mask(org, pa.array(np.isin(np.arange(n), idx18)), org18)

    idx9 = np.flatnonzero(lens == 9)
    if len(idx9):
        codes9 = x.take(idx9)
        org_ok[idx9] = _org_checks(_ascii_matrix(codes9, 9))
        org = pc.replace_with_mask(org, pa.array(np.isin(np.arange(n), idx9)), codes9)
    return x, uscc_ok, org, org_ok


def _reg_no_distinct(x: pa.Array) -> pa.Array:
    """The cleaned codes that are valid 15-digit registration numbers (注册号), null elsewhere."""
    idx15 = np.flatnonzero(_lengths(x) == 15)
    ok = np.zeros(len(x), bool)
    if len(idx15):
        ok[idx15] = _reg_no_checks(_ascii_matrix(x.take(idx15), 15))
    return pc.if_else(pa.array(ok), x, _NULL)


def standardize_uscc(s: pd.Series) -> pd.DataFrame:
    """USCC / org code column → uscc, uscc_valid, org_code, org_code_valid (see module doc)."""
    s = pd.Series(s)
    ind, u = _distinct(s)
    x, ok, org, org_ok = _uscc_distinct(u)
    return pd.DataFrame(
        {
            "uscc": _col(x, ind, s.index),
            "reg_no": _col(_reg_no_distinct(x), ind, s.index),
            "uscc_valid": _flag(ok, ind, s.index),
            "org_code": _col(org, ind, s.index),
            "org_code_valid": _flag(org_ok, ind, s.index),
        },
        index=s.index,
    )


# ---------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------

_EXT_RE = r"(?:转|分机|ext\.?|x|#|\*)\s*[:：]?\s*(\d{1,6})\s*$"
_MOBILE_RE = r"^0?(1[3-9]\d{9})$"
_LANDLINE_RE = r"^(?P<a>0(?:10|2\d|[3-9]\d\d))(?P<s>[2-9]\d{6,7})$"
_SERVICE_RE = r"^(?P<a>[48]00)(?P<s>\d{7})$"


def _intl(raw: str) -> tuple[str | None, ...]:
    """(E.164, type, last 8 digits) of a number with a non-Chinese country code (rare)."""
    import phonenumbers

    try:
        num = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None, "invalid", None
    if not phonenumbers.is_possible_number(num):
        return None, "invalid", None
    kind = phonenumbers.number_type(num)
    ptype = "mobile" if kind == phonenumbers.PhoneNumberType.MOBILE else "landline"
    national = str(num.national_number)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), ptype, national[-8:]


def _phones_distinct(u: pa.Array) -> dict[str, pa.Array]:
    x = pc.utf8_trim_whitespace(pc.utf8_lower(pc.utf8_normalize(u, "NFKC")))
    x = _sub(x, r"[^\x20-\x7e转分机或]+", " ")  # CJK text, controls, emoji → separators
    x = _sub(x, r"\s*(?:[/,;、]|或|\s{3,}).*$", "")  # several numbers: keep the first
    ext = _extract(x, _EXT_RE.replace("(\\d", "(?P<e>\\d"), "e")
    main = _sub(x, _EXT_RE)
    main = _sub(_sub(main, r"[^\d+]+", "-"), r"^-+|-+$")
    plus = _np(pc.starts_with(main, "+"))
    digits = _sub(main, r"\D+")
    n_digits = _lengths(digits)

    # Country code: +86 / 0086 always; a bare 86 only in front of a number too long without it.
    p86 = _np(pc.starts_with(digits, "86"))
    p0086 = _np(pc.starts_with(digits, "0086"))
    p00 = _np(pc.starts_with(digits, "00"))
    strip = np.where(plus & p86, 2, np.where(p0086, 4, np.where(~plus & ~p00 & p86 & (n_digits >= 12), 2, 0)))
    intl = (plus & ~p86) | (p00 & ~p0086)

    # A trailing "-123" is an extension when what precedes it is a whole number already.
    dash = _extract(main, r"^(?P<m>.*\d)-(?P<e>\d{1,5})$", "e")
    dash_len = _lengths(dash)
    body_len = n_digits - dash_len - strip
    use_dash = (dash_len > 0) & (body_len >= 10) & ~intl & _np(pc.is_null(ext))
    ext = pc.if_else(pa.array(use_dash), dash, ext)
    national = _slice_rows(digits, start=strip, drop_end=np.where(use_dash, dash_len, 0))
    # After a country code the trunk 0 of an area code is dropped: +86 10 … → 010 …
    add0 = (strip > 0) & ~_np(_has(national, r"^(?:0|1[3-9]\d{9}$)"))
    national = pc.if_else(pa.array(add0), pc.binary_join_element_wise("0", national, ""), national)

    mobile = _extract(national, _MOBILE_RE.replace("(1", "(?P<m>1"), "m")
    land = pc.extract_regex(national, _LANDLINE_RE)
    area, sub_ = pc.struct_field(land, "a"), pc.struct_field(land, "s")
    area_ok = _np(pc.is_in(area, value_set=pa.array(sorted(_area_codes()), pa.string())))
    bare = _np(_has(national, r"^[2-9]\d{6,7}$"))
    svc = pc.extract_regex(national, _SERVICE_RE)
    svc_a, svc_s = pc.struct_field(svc, "a"), pc.struct_field(svc, "s")

    is_mobile = _np(pc.is_valid(mobile)) & ~intl
    is_land = area_ok & ~is_mobile & ~intl
    is_bare = bare & ~is_mobile & ~is_land & (strip == 0) & ~intl
    is_svc = _np(pc.is_valid(svc_a)) & ~is_mobile & ~is_land & ~intl
    empty = _lengths(x) == 0

    phone = pc.if_else(
        pa.array(is_mobile),
        pc.binary_join_element_wise("+86", mobile, ""),
        pc.if_else(
            pa.array(is_land),
            pc.binary_join_element_wise("+86", pc.utf8_slice_codeunits(area, 1), sub_, "-"),
            pc.if_else(
                pa.array(is_svc),
                pc.binary_join_element_wise("+86", svc_a, svc_s, "-"),
                pc.if_else(pa.array(is_bare), national, _NULL),
            ),
        ),
    )
    subscriber = pc.if_else(
        pa.array(is_mobile),
        mobile,
        pc.if_else(pa.array(is_land), sub_, pc.if_else(pa.array(is_bare), national, svc_s)),
    )
    valid = is_mobile | is_land | is_bare | is_svc
    # numpy's stubs do not take None as a value of np.where; here it is meant: an object array with missing values
    ptype = np.where(is_mobile, "mobile", np.where(valid, "landline",
                                                   np.where(empty, None, "invalid")))  # type: ignore[call-overload]
    out = {
        "phone": phone,
        "phone_type": pa.array(ptype, pa.string()),
        "area_code": pc.if_else(pa.array(is_land), area, _NULL),
        "extension": pc.if_else(pa.array(valid), ext, _NULL),
        "phone_digits": pc.if_else(pa.array(valid), pc.utf8_slice_codeunits(subscriber, -8), _NULL),
    }
    rows = np.flatnonzero(intl & ~empty)
    if len(rows):  # another country: E.164 via phonenumbers
        cc_digits = _slice_rows(digits.take(rows), start=np.where(p00[rows], 2, 0))
        res = [_intl("+" + d) for d in cc_digits.to_pylist()]
        mask = pa.array(np.isin(np.arange(len(x)), rows))
        for key, pos in (("phone", 0), ("phone_type", 1), ("phone_digits", 2)):
            out[key] = pc.replace_with_mask(out[key], mask, pa.array([r[pos] for r in res], pa.string()))
    out["phone_city"] = pc.take(
        pa.array(list(_area_codes().values()), pa.string()),
        pc.index_in(out["area_code"], value_set=pa.array(list(_area_codes()), pa.string())),
    )
    return out


@cache
def _area_codes() -> dict[str, str]:
    return dict(_tables().city_by_area_code)


def standardize_phones(s: pd.Series) -> pd.DataFrame:
    """Phone column → phone, phone_type, area_code, extension, phone_digits, phone_city."""
    s = pd.Series(s)
    ind, u = _distinct(s)
    out = _phones_distinct(u)
    return pd.DataFrame({k: _col(v, ind, s.index) for k, v in out.items()}, index=s.index)


# ---------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------

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


def standardize_addresses(s: pd.Series) -> pd.DataFrame:
    """Address column → province, city, district, address_norm (see module doc)."""
    s = pd.Series(s)
    ind, u = _distinct(s)
    out = _addresses_distinct(u)
    return pd.DataFrame({k: _col(v, ind, s.index) for k, v in out.items()}, index=s.index)


# ---------------------------------------------------------------------------------------------
# Company names
# ---------------------------------------------------------------------------------------------

# Legal forms; a regex alternation takes the longest that ends the name (leftmost start wins).
_FORMS = [
    "集团股份有限公司", "集团有限责任公司", "股份有限责任公司", "集团有限公司",
    "股份有限公司", "有限责任公司",
    "股份合作公司", "集团公司", "股份公司", "有限公司", "总公司", "公司", "集团",
    "合伙企业有限合伙", "合伙企业普通合伙", "有限合伙企业", "普通合伙企业",
    "有限合伙", "普通合伙", "合伙企业", "个人独资企业", "独资企业",
    "COMPANYLIMITED", "CORPORATION", "COLTD", "LIMITED", "LTD", "INC", "LLC", "GMBH", "CORP",
]  # fmt: skip
_FORM_RE = "(?:" + "|".join(sorted(_FORMS, key=len, reverse=True)) + ")$"

# Kinds of public institutions (事业单位, USCC category 12), read where a name has no company form.
_INSTITUTIONS = [
    "医院", "卫生院", "卫生服务中心", "妇幼保健院", "保健院", "疾病预防控制中心", "急救中心", "血站",
    "大学", "学院", "职业技术学院", "中学", "小学", "幼儿园", "学校", "研究院", "研究所", "科学院", "设计院",
    "图书馆", "博物馆", "档案馆", "文化馆", "体育馆", "检测中心", "检验所", "监测站", "气象局", "管理局",
    "管理处", "管理所", "管理站",
]  # fmt: skip
_INSTITUTION_RE = "(?:" + "|".join(sorted(_INSTITUTIONS, key=len, reverse=True)) + ")$"

# Industry words (行业); several may follow each other (信息技术 + 服务).
_TRADES = """
科技 技术 信息技术 信息科技 网络科技 网络技术 智能科技 智能技术 生物科技 生物技术 生物医药 环保科技 环境科技
电子科技 电子技术 新能源科技 新材料科技 数字科技 软件技术 计算机 互联网 大数据 云计算 人工智能 物联网
建设工程 建筑工程 工程 建设 建筑 建筑安装 装饰工程 装饰 装修 市政工程 园林绿化 园林 绿化 环境工程 环保工程
房地产开发 房地产 置业 地产 物业管理 物业服务 物业 投资管理 投资 投资控股 控股 资产管理 股权投资
贸易 商贸 国际贸易 进出口 外贸 工贸 经贸 实业 发展 产业 工业 制造 实业发展 科技发展
食品 餐饮管理 餐饮 饮料 酒业 茶业 乳业 粮油 农业 农业科技 林业 牧业 水产 生鲜 果蔬
医疗器械 医疗 医药 药业 制药 医疗科技 健康 健康管理 养老 卫生用品
化工 新材料 材料 塑料 橡胶 化学 涂料 能源 新能源 电力 电气 电器 电子 光电 照明 电缆 线缆 光伏 储能 电池
机械 机械设备 设备 机电 自动化 仪器 仪表 精密 模具 五金 钢铁 金属 铝业 钢结构 汽车 汽车配件 汽车销售 汽车服务
物流 供应链管理 供应链 运输 货运 快递 仓储 国际物流
咨询 管理咨询 企业管理 企业管理咨询 商务咨询 信息咨询 管理 商务 服务 技术服务 信息服务 数据服务
人力资源 劳务 保安服务 安防 消防 检测 认证 设计 规划设计 建筑设计 工程设计 测绘 监理
文化传媒 文化传播 文化 传媒 广告 影视 传播 动漫 游戏 体育 娱乐 教育科技 教育 培训 出版 印刷 包装
软件 通信 通讯 网络 信息 半导体 集成电路 电子商务 旅游 酒店管理 酒店 服装 服饰 纺织 家具 家居 建材 陶瓷 玻璃
金融 保险 融资租赁 租赁 担保 典当 拍卖 基金 证券
"""
_TRADE_RE = "(?:" + "|".join(sorted(set(_TRADES.split()), key=len, reverse=True)) + ")+$"

_BRACKETS = r"\[\]{}<>《》〈〉「」『』【】〔〕"
_BRANCH_SUFFIXES = "分公司|分行|支行|办事处|代表处|营业部|分店|分厂|分部|分所|分中心|分院|经营部|联络处"
_BRANCH_END_RE = f"(?:{_BRANCH_SUFFIXES})$"
_BRANCH_AFTER_FORM = re.compile(rf"^(.*(?:公司|集团|合伙|企业))(.*?(?:{_BRANCH_SUFFIXES}))$")
_CN_NUM = "零〇一二两三四五六七八九十百千"
_BRANCH_TAIL = re.compile(rf"^(.*?)((?:第?[0-9{_CN_NUM}]+号?)?(?:营业|销售|经营|服务)?(?:{_BRANCH_SUFFIXES}))$")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def _cn_to_int(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105, 一二三 → 123; None if not a numeral."""
    if not text or any(c not in _CN_DIGITS and c not in _CN_UNITS for c in text):
        return None
    if not any(c in _CN_UNITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[c]
            digit = None
    return total + (digit or 0)


def _arabic_numerals(branch: str) -> str:
    """第三分公司 → 第3分公司, 十二分店 → 12分店."""

    def repl(m: re.Match[str]) -> str:
        n = _cn_to_int(m.group(0))
        return m.group(0) if n is None else str(n)

    return re.sub(rf"(?<=第)[{_CN_NUM}]+|[{_CN_NUM}]+(?=号?(?:{_BRANCH_SUFFIXES})$)", repl, branch)


def _split_branch(text: str) -> tuple[str | None, str | None]:
    """(parent name, branch part) of a name that ends like a branch office."""
    m = _BRANCH_AFTER_FORM.match(text)
    if m and m.group(2):
        head, branch = m.group(1), m.group(2)
    else:
        m2 = _BRANCH_TAIL.match(text)
        if not m2:
            return text, None
        head, branch = m2.group(1), m2.group(2)
        vocab = _name_region_tokens()
        while head:  # peel place names off the end: 同腾建设上海浦东新区分公司
            n = next((k for k in range(min(6, len(head)), 1, -1) if head[-k:] in vocab), 0)
            if not n:
                break
            head, branch = head[:-n], head[-n:] + branch
    if not head:
        return text, None
    return head, _arabic_numerals(branch)


@cache
def _trade_vocab() -> dict[int, pa.Array]:
    return _vocab(_TRADES.split())


@cache
def _name_prefix_vocab() -> dict[int, pa.Array]:
    return _vocab(_name_region_tokens(), max_len=5)


@cache
def _name_suffix_vocab() -> dict[int, pa.Array]:
    return _vocab(_name_region_tokens(), max_len=5)


@cache
def _name_long_suffix_vocab() -> dict[int, pa.Array]:
    return {k: v for k, v in _vocab(_name_region_tokens()).items() if k > 5}


def _region_suffix_lengths(arr: pa.Array) -> np.ndarray:
    """Length of a place name ending each string, leaving two characters before it."""
    got = _suffix_lengths(arr, _name_suffix_vocab(), keep=2)
    rows = np.flatnonzero(_np(_has(arr, _LONG_NAME_RE)))
    if len(rows):
        long = _suffix_lengths(arr.take(rows), _name_long_suffix_vocab(), keep=2)
        got[rows] = np.maximum(got[rows], long)
    return got


def _names_distinct(u: pa.Array) -> dict[str, pa.Array]:
    x = _sub(_base_clean(u), rf"[^\p{{L}}\p{{N}}(){_BRACKETS}]+")  # spaces, punctuation, emoji
    n = len(x)
    bracket_region = pa.nulls(n, pa.string())
    former = pa.nulls(n, pa.string())
    name_norm = x
    rows = np.flatnonzero(_np(_has(x, f"[(){_BRACKETS}]")))
    if len(rows):  # brackets: unify, drop former names, read a place in them as the region
        mask = np.zeros(n, bool)
        mask[rows] = True
        b = _sub(_sub(x.take(rows), r"[\[{<《〈「『【〔]", "("), r"[\]}>》〉」』】〕]", ")")
        former_in = _extract(b, r"\((?:原名|曾用名|曾用|原)[:：]?(?P<f>[^()]+)", "f")
        former = pc.replace_with_mask(former, pa.array(mask), former_in)
        b = _sub(_sub(b, r"\((?:原|曾用名|原名|曾用)[^()]*(?:\)|$)"), r"\(\)")  # former names
        name_norm = pc.replace_with_mask(x, pa.array(mask), _sub(b, r"[()]"))
        inner = _extract(b, r"\((?P<b>[^()]+)\)", "b")
        is_region = _np(pc.is_in(inner, value_set=pa.array(sorted(_name_region_tokens()), pa.string())))
        drop = is_region | _np(pc.equal(inner, "中国"))  # (集团), (有限合伙) stay: they are the form
        b = pc.if_else(pa.array(drop), _sub(b, r"\([^()]+\)", "", max_replacements=1), b)
        x = pc.replace_with_mask(x, pa.array(mask), _sub(b, r"[()]"))
        bracket_region = pc.replace_with_mask(
            bracket_region, pa.array(mask), pc.if_else(pa.array(is_region), inner, _NULL)
        )
    name_norm = _nonempty(name_norm)

    # Branch: 某某有限公司上海分公司 → parent 某某有限公司 + branch 上海分公司.
    branch = pa.nulls(n, pa.string())
    is_br = np.flatnonzero(_np(_has(x, _BRANCH_END_RE)))
    if len(is_br):
        head, br = _map_distinct(x.take(is_br), _split_branch, 2)
        mask = pa.array(np.isin(np.arange(n), is_br))
        x = pc.replace_with_mask(x, mask, head)
        branch = pc.replace_with_mask(branch, mask, br)

    form = _extract(x, f"(?P<f>{_FORM_RE})", "f")
    # Public institutions (医院, 学校, 研究所): no company form; their kind takes its place.
    kind = pc.if_else(pc.is_null(form), _extract(x, f"(?P<k>{_INSTITUTION_RE})", "k"), _NULL)
    institution = _np(pc.is_valid(kind)) & _np(pc.greater(pc.utf8_length(x), pc.fill_null(pc.utf8_length(kind), 0)))
    form = pc.coalesce(form, pc.if_else(pa.array(institution), kind, _NULL))
    body = _slice_rows(x, drop_end=_lengths(form))

    # Region in front (北京同腾…, 广东省深圳市…) unless nothing would be left.
    total, last = _prefix_offsets(body, _name_prefix_vocab(), rounds=3)
    long_rows = np.flatnonzero(_np(_has(pc.utf8_slice_codeunits(body, 0, 12), _LONG_NAME_RE)))
    for i, text in zip(long_rows, body.take(long_rows).to_pylist(), strict=True):
        toks = _tokenize(text, _name_region_tokens())
        total[i], last[i] = sum(map(len, toks)), len(toks[-1]) if toks else 0
    body_len = _lengths(body)
    # A place name followed by trade words only is the brand itself: 瑞安文化传媒, 德宏信息技术.
    cand = np.flatnonzero((total > 0) & (total < body_len))
    brand = _np(_has(_slice_rows(body.take(cand), start=total[cand]), f"^{_TRADE_RE}"))
    total[cand[brand]] -= last[cand[brand]]
    prefix = _nonempty(_slice_rows(body, drop_end=body_len - total))
    total = np.where((total >= body_len) & ~institution, 0, total)  # 北京市海淀区 + 医院: nothing but the place
    rest = _slice_rows(body, start=total)
    # …or just before the form: 同腾建设工程武汉有限公司 (what name_norm makes of a bracket region).
    tail = _region_suffix_lengths(rest)
    suffix_region = _nonempty(_slice_rows(rest, start=_lengths(rest) - tail))
    rest = _slice_rows(rest, drop_end=tail)

    # Trade words at the end, leaving a core of two characters at least.
    trade_len = _suffix_run(rest, _trade_vocab(), keep=2, rounds=3)
    trade = _nonempty(_slice_rows(rest, start=_lengths(rest) - trade_len))
    core = _slice_rows(rest, drop_end=trade_len)
    # …or between brand and trade: 同腾北京建设工程 (what name_norm makes of 同腾（北京）建设工程).
    mid = np.where(trade_len > 0, _region_suffix_lengths(core), 0)
    mid_region = _nonempty(_slice_rows(core, start=_lengths(core) - mid))
    core = _nonempty(_slice_rows(core, drop_end=mid))
    name_key = _nonempty(pc.binary_join_element_wise(pc.fill_null(core, ""), pc.fill_null(trade, ""), ""))

    region_text = pc.coalesce(prefix, bracket_region, suffix_region, mid_region)

    def region(text: str) -> tuple[str | None, str | None, str | None]:
        tokens = tuple(_tokenize(text, _name_region_tokens()))
        return (*_region_short(tokens), _resolve(tokens)[2] if tokens else None)

    region_short, region_city, region_district = _map_distinct(region_text, region, 3)
    # An institution is named by its district (北京市海淀区中医医院 ≠ 北京市朝阳区中医医院): the district is part
    # of its name key and an attribute two records of one customer never disagree on.
    inst = pa.array(institution)
    inst_district = pc.if_else(inst, region_district, _NULL)
    late = np.flatnonzero(institution & _np(pc.is_null(inst_district)) & _np(pc.is_valid(core)))
    if len(late):  # 北京海淀妇幼保健院: the district written short after the city
        got = [_district_in_front(c, k) for c, k in zip(region_city.take(late).to_pylist(),
                                                         core.take(late).to_pylist(), strict=True)]
        mask = pa.array(np.isin(np.arange(n), late))
        inst_district = pc.replace_with_mask(inst_district, mask, pa.array([g[0] for g in got], pa.string()))
        core = pc.replace_with_mask(core, mask, pa.array([g[1] for g in got], pa.string()))
    district_short = pc.coalesce(pc.take(pa.array(list(_district_shorts().values()), pa.string()), pc.index_in(
        inst_district, value_set=pa.array(list(_district_shorts()), pa.string()))), inst_district)
    inst_key = pc.binary_join_element_wise(pc.fill_null(district_short, ""), pc.fill_null(core, ""),
                                           pc.fill_null(trade, ""), pc.fill_null(form, ""), "")
    name_key = pc.if_else(inst, _nonempty(inst_key), name_key)
    # A group (集团) and the companies of its brand are different legal entities.
    group = pc.if_else(_has(pc.fill_null(form, ""), "集团"), "group",
                       pc.if_else(pc.and_(pc.is_valid(form), pc.invert(inst)), "member", _NULL))

    def branch_city(text: str) -> tuple[str | None]:
        return (_resolve(tuple(_tokenize(text, _name_region_tokens())))[1],)

    (br_city,) = _map_distinct(branch, branch_city, 1)
    out = {
        "name_norm": name_norm,
        "region": region_short,
        "core": core,
        "trade": trade,
        "form": _nonempty(form),
        "branch": branch,
        "is_branch": pc.is_valid(branch),
        "name_key": name_key,
        "name_city": pc.coalesce(br_city, region_city),
        "former": _nonempty(former),
        "institution_district": inst_district,
        "group_key": group,
    }
    return _with_latin(u, out)


def _with_latin(u: pa.Array, out: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """English names replace what the Chinese reading made of them (brand, trade, form, city; no name key: a
    Chinese and an English name are compared by their pinyin brand); every name gets its brand's pinyin."""
    lat = latin_columns(pc.utf8_normalize(u, "NFKC"))
    is_lat = lat["is_latin"]
    py = pinyin_column(out["core"], pc.binary_join_element_wise(pc.fill_null(out["core"], ""),
                                                                pc.fill_null(out["trade"], ""), ""))
    out["brand_pinyin"] = pc.if_else(is_lat, lat["brand"], py)
    vocab = frozenset(_TRADES.split())
    enc = out["trade"].dictionary_encode()
    zh_head = pc.take(pa.array([chinese_trade_head(t, vocab) for t in enc.dictionary.to_pylist()], pa.string()),
                      enc.indices)
    enc = lat["trade"].dictionary_encode()
    en_head = pc.take(pa.array([english_trade_head(t) for t in enc.dictionary.to_pylist()], pa.string()),
                      enc.indices)
    out["trade_head"] = pc.if_else(is_lat, en_head, zh_head)
    out["brand_trade"] = _nonempty(pc.binary_join_element_wise(pc.fill_null(out["brand_pinyin"], ""),
                                                               pc.fill_null(out["trade_head"], ""), "|"))
    out["brand_trade"] = pc.if_else(pc.is_null(out["brand_pinyin"]), _NULL, out["brand_trade"])
    out["latin"] = pc.if_else(is_lat, "Y", _NULL)
    if not pc.any(is_lat).as_py():
        return out
    for key, col in (("core", "brand"), ("trade", "trade"), ("form", "form"), ("region", "region"),
                     ("name_city", "city")):
        out[key] = pc.if_else(is_lat, lat[col], out[key])
    out["name_key"] = pc.if_else(is_lat, _NULL, out["name_key"])
    out["group_key"] = pc.if_else(is_lat, pc.if_else(pc.equal(lat["form"], "集团有限公司"), "group",
                                                     pc.if_else(pc.is_valid(lat["form"]), "member", _NULL)),
                                  out["group_key"])
    return out


def standardize_names(s: pd.Series) -> pd.DataFrame:
    """Company-name column → name_norm, region, core, trade, form, branch, is_branch, name_key, name_city."""
    s = pd.Series(s)
    ind, u = _distinct(s)
    out = _names_distinct(u)
    cols = {k: _flag(v, ind, s.index) if k == "is_branch" else _col(v, ind, s.index) for k, v in out.items()}
    return pd.DataFrame(cols, index=s.index)


# ---------------------------------------------------------------------------------------------
# Whole customer records
# ---------------------------------------------------------------------------------------------

_RENAMES = {
    "names": {"region": "name_region", "core": "name_core", "trade": "name_trade", "form": "name_form",
              "institution_district": "name_district", "latin": "name_latin", "trade_head": "name_trade_head"},
    "uscc": {"uscc": "uscc_std"},
    "phones": {"phone": "phone_std", "extension": "phone_ext"},
}


def standardize_customers(df: pd.DataFrame, workers: int | None = None) -> pd.DataFrame:
    """Canonical customer columns → the same columns plus every standardized column (see module doc).

    Names, tax codes, phones and addresses are standardized side by side on `workers` threads (default:
    the machine's cores, at most 4): most of the work is Arrow compute, which runs outside the GIL."""
    idx = df.index

    def column(name: str) -> pd.Series:
        if name in df.columns:
            return df[name]
        return pd.Series([None] * len(df), index=idx, dtype=object)

    name_src = column("name")
    if "short_name" in df.columns:  # a record known by its short name only
        full, short = _to_arrow(name_src), _to_arrow(df["short_name"])
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(full), ""), True)
        name_src = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pc.if_else(blank, short, full)])), index=idx)
    jobs = [(standardize_names, name_src), (standardize_addresses, column("address")),
            (standardize_phones, column("phone")), (standardize_uscc, column("uscc"))]
    threads = min(workers or os.cpu_count() or 1, 4, len(jobs))
    if threads > 1 and len(df) >= 10_000:
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(lambda job: job[0](job[1]), jobs))
    else:
        done = [fn(col) for fn, col in jobs]
    names, addr, phones, uscc = done
    names = names.rename(columns=_RENAMES["names"])
    uscc = uscc.rename(columns=_RENAMES["uscc"])
    phones = phones.rename(columns=_RENAMES["phones"])

    t = _tables()
    a = {c: _to_arrow(addr[c]) for c in ("province", "city", "district")}
    name_city = _to_arrow(names["name_city"])
    phone_city = _to_arrow(phones["phone_city"])

    # An ambiguous district (朝阳区: 北京 or 长春) takes the city the name or phone points to.
    pairs = pa.array(sorted(f"{d.city}|{d.name}" for d in t.districts), pa.string())
    cities = pa.array(list(t.province_by_city), pa.string())
    provs = pa.array(list(t.province_by_city.values()), pa.string())
    for other_city in (name_city, phone_city):
        fix = _np(pc.is_null(a["city"])) & _np(pc.is_valid(a["district"]))
        fix &= _np(pc.is_in(pc.binary_join_element_wise(other_city, a["district"], "|"), value_set=pairs))
        if fix.any():
            mask = pa.array(fix)
            a["city"] = pc.if_else(mask, other_city, a["city"])
            prov_of = pc.take(provs, pc.index_in(a["city"], value_set=cities))
            a["province"] = pc.if_else(mask, prov_of, a["province"])

    # A landline without area code takes the area code of the record's city.
    city_any = pc.coalesce(a["city"], name_city, phone_city)
    known_city = pc.coalesce(a["city"], name_city)
    area = _to_arrow(phones["area_code"])
    phone = _to_arrow(phones["phone_std"])
    codes = pc.take(
        pa.array(list(t.area_code_by_city.values()), pa.string()),
        pc.index_in(known_city, value_set=pa.array(list(t.area_code_by_city), pa.string())),
    )
    fill = _np(pc.equal(_to_arrow(phones["phone_type"]), "landline")) & _np(pc.is_null(area))
    fill &= _np(_has(phone, r"^\d+$")) & _np(pc.is_valid(codes))
    if fill.any():
        mask = pa.array(fill)
        area = pc.if_else(mask, codes, area)
        joined = pc.binary_join_element_wise("+86", pc.utf8_slice_codeunits(codes, 1), phone, "-")
        phone = pc.if_else(mask, joined, phone)
        phone_city = pc.if_else(mask, known_city, phone_city)

    def ser(arr: pa.Array) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr], pa.string())), index=idx)

    # Placeholders (新联系人, 无, 13800000000, test@test.com) are missing values, not evidence.
    fake_phone = phone_placeholder(pc.fill_null(phone, ""))
    phone = pc.if_else(fake_phone, _NULL, phone)
    digits = pc.if_else(fake_phone, _NULL, _to_arrow(phones["phone_digits"]))
    contact = _to_arrow(column("contact_name"))
    contact_std = pc.utf8_upper(_sub(pc.utf8_normalize(contact, "NFKC"), r"[\s\p{P}]+"))
    contact_std = pc.if_else(text_placeholder(contact, "contact"), _NULL, contact_std)
    email = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(_to_arrow(column("email")), "NFKC")))
    email_std = pc.if_else(pc.fill_null(email_placeholder(email), True), _NULL, email)
    raw_address = _to_arrow(column("address"))
    address_norm = pc.if_else(pc.or_(text_placeholder(raw_address, "address"),
                                     text_placeholder(_to_arrow(addr["address_norm"]), "address")),
                              _NULL, _to_arrow(addr["address_norm"]))
    # Former names (曾用名): the source's own field, else one written in the name: 华信科技（原化信电子）.
    former_src = pc.coalesce(_nonempty(pc.utf8_trim_whitespace(_to_arrow(column("former_name")))),
                             _to_arrow(names["former"]))
    former_key = _to_arrow(standardize_names(pd.Series(pd.arrays.ArrowStringArray(
        pa.chunked_array([former_src], pa.string())), index=idx))["name_key"])
    # Public institutions: a USCC of category 12 (事业单位) or a name of an institution's kind.
    uscc_arr = _to_arrow(uscc["uscc_std"])
    inst = pc.or_(pc.and_(_flag_arrow(uscc["uscc_valid"]), pc.fill_null(pc.starts_with(uscc_arr, "12"), False)),
                  pc.is_valid(_to_arrow(names["name_district"])))
    inst = pc.or_(inst, pc.fill_null(_has(_to_arrow(names["name_form"]), f"^{_INSTITUTION_RE}"), False))

    new = pd.concat([names.drop(columns=["former"]), uscc, phones, addr], axis=1)
    new["phone_std"], new["area_code"], new["phone_city"] = ser(phone), ser(area), ser(phone_city)
    new["phone_digits"], new["contact_std"], new["email_std"] = ser(digits), ser(contact_std), ser(email_std)
    new["address_norm"], new["former_name_key"] = ser(address_norm), ser(former_key)
    # A blocking key that pairs a record holding a former name with the records still named so.
    new["name_or_former_key"] = ser(pc.coalesce(former_key, _to_arrow(names["name_key"])))
    new["org_kind"] = ser(pc.if_else(inst, "institution", pc.if_else(pc.is_valid(_to_arrow(names["name_form"])),
                                                                      "company", _NULL)))
    new["province"], new["city"] = ser(a["province"]), ser(a["city"])
    new["city_any"] = ser(city_any)
    clash = [c for c in new.columns if c in df.columns]
    if clash:
        log.warning("standardize_customers: replacing input columns %s", clash)
    return pd.concat([df.drop(columns=clash), new], axis=1)

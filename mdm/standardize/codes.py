"""Company codes: the 统一社会信用代码 (USCC, GB 32100-2015), the organization code (组织机构代码, GB 11714) and the
pre-2015 15-digit 工商注册号 (GB/T 17710); their check characters, for one code and vectorized over a column.

standardize_uscc → DataFrame
    uscc            upper-cased, spaces and dashes removed; kept even when invalid
    uscc_valid      18 characters, GB 32100-2015 check character and organization-code check pass
    org_code        the 9-character organization code (characters 9–17, or a bare legacy org code)
    org_code_valid  the GB 11714 mod-11 check of org_code passes
    reg_no          a pre-2015 15-digit 工商注册号 whose GB/T 17710 (ISO 7064 MOD 11,10) check digit is right;
                    a strong identifier of its own (null otherwise; such a code is not a valid USCC)
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardize.arrow import _NULL, _lengths, _nonempty, _sub, _to_str, per_row, standardized

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


def _codes_distinct(u: pa.Array) -> dict[str, pa.Array | np.ndarray]:
    x, ok, org, org_ok = _uscc_distinct(u)
    return {"uscc": x, "reg_no": _reg_no_distinct(x), "uscc_valid": ok, "org_code": org, "org_code_valid": org_ok}


def uscc_columns(codes: pa.Array) -> dict[str, pa.Array]:
    """Tax codes (Arrow) → the columns of `standardize_uscc`, row-aligned Arrow arrays."""
    return per_row(_codes_distinct, codes)


def standardize_uscc(s: pd.Series) -> pd.DataFrame:
    """USCC / org code column → uscc, uscc_valid, org_code, org_code_valid (see module doc)."""
    return standardized(_codes_distinct, s)

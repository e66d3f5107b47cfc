"""Typing of staged values, vectorized: each parser returns (typed values, mask of values that failed).

A value fails when it is present (not empty) but cannot be read as the type; empty values
are simply null. Callers quarantine the failures with the reason. Text is handled as Arrow strings,
so trimming, lengths and the regular expressions run in Arrow's compute kernels (RE2), not per value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_TEXT = 4000  # longer text values are rejected as oversize (a sign of a broken export)

_DATE_SEPS = r"[/.年月]"
_CN_DAY = r"日"
_MONEY_NOISE = r"(?i)[,\s¥￥$元]|RMB|CNY"


ARROW_TEXT = pd.StringDtype("pyarrow")


def arrow_text(s: pd.Series) -> pd.Series:
    """A column as Arrow-backed text (no copy when it already is)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s
    if s.dtype == object:
        s = s.where(s.notna(), None)
    return s.astype(ARROW_TEXT)


def _replace(s: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """`str.replace` with back-references, in Arrow's RE2 (pandas falls back to Python for these)."""
    out = pc.replace_substring_regex(pa.array(s.array), pattern, replacement)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=s.index)


def clean_text(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strip whitespace; empty → null. Fails on text longer than MAX_TEXT characters."""
    s = arrow_text(s).str.strip()
    s = s.mask(s == "")
    bad = (s.str.len() > MAX_TEXT).fillna(False).astype(bool)
    return s.mask(bad), bad


def _present(s: pd.Series) -> pd.Series:
    t = arrow_text(s).str.strip()
    return (t.notna() & (t != "")).fillna(False).astype(bool)


DEFAULT_TIMEZONE = "Asia/Shanghai"
_ZONED = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _naive_local(parsed: pd.Series, tz: str) -> pd.Series:
    """Zone-aware timestamps as the wall-clock time of `tz`, without the zone."""
    return parsed.dt.tz_convert(tz).dt.tz_localize(None)


def _parse_text(norm: pd.Series, utc: bool, tz: str) -> pd.Series:
    parsed = pd.to_datetime(norm, format="ISO8601", errors="coerce", utc=utc)
    parsed = (_naive_local(parsed, tz) if utc else parsed).copy()
    left = parsed.isna()
    if left.any():  # rarer shapes: per unique value with dateutil
        uniq = pd.unique(norm[left])
        looked = pd.to_datetime(pd.Series(uniq), format="mixed", errors="coerce", utc=utc)
        looked = _naive_local(looked, tz) if utc else looked
        parsed[left] = norm[left].map(dict(zip(uniq, looked, strict=True)))
    return parsed.astype("datetime64[ns]")


def parse_timestamp(s: pd.Series, fmt: str | None = None, tz: str = DEFAULT_TIMEZONE) -> tuple[pd.Series, pd.Series]:
    """Timestamps in the forms sources use: ISO 8601, `2024/02/17 19:48:23`, `2024年2月17日`,
    epoch seconds or milliseconds; with `fmt` only that strptime format.

    The warehouse keeps wall-clock times of one zone (`timezone` in the config, default
    Asia/Shanghai): text without a zone is taken as it is; epoch values and text with a zone
    (`Z`, `+08:00`) are converted to that zone. (An epoch is an instant: read as UTC, an order
    placed at 07:00 in Beijing would land on the day before.)"""
    present = _present(s)
    text = arrow_text(s).str.strip()
    if fmt:
        out = pd.to_datetime(text, format=fmt, errors="coerce")
        return out, present & out.isna()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    epoch = text.str.fullmatch(r"\d{10}(\d{3})?").fillna(False).astype(bool)
    if epoch.any():
        digits = text[epoch]
        ms = (digits.str.len() == 13).to_numpy()
        num = pd.to_numeric(digits, errors="coerce")
        stamp = pd.Series(pd.NaT, index=digits.index, dtype="datetime64[ns, UTC]")
        stamp[ms] = pd.to_datetime(num[ms], unit="ms", errors="coerce", utc=True)
        stamp[~ms] = pd.to_datetime(num[~ms], unit="s", errors="coerce", utc=True)
        out[epoch] = _naive_local(stamp, tz).astype("datetime64[ns]")
    rest = present & ~epoch
    if rest.any():
        norm = text[rest].str.replace(_DATE_SEPS, "-", regex=True).str.replace(_CN_DAY, "", regex=True)
        for _ in range(2):  # one-digit month and day (twice: a match takes the `-` of the next part)
            norm = _replace(norm, r"-(\d)(\D|$)", r"-0\1\2")
        norm = norm.str.replace(r"\s+", " ", regex=True)
        zoned = norm.str.contains(_ZONED, regex=True).fillna(False).astype(bool)
        if zoned.any():
            out[zoned[zoned].index] = _parse_text(norm[zoned], True, tz)
        if (~zoned).any():
            out[zoned[~zoned].index] = _parse_text(norm[~zoned], False, tz)
    return out, present & out.isna()


def parse_date(s: pd.Series, fmt: str | None = None, tz: str = DEFAULT_TIMEZONE) -> tuple[pd.Series, pd.Series]:
    ts, bad = parse_timestamp(s, fmt, tz)
    return ts.dt.normalize(), bad


def parse_decimal(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts: thousands separators, currency signs and `元` removed; rounded to cents."""
    present = _present(s)
    text = arrow_text(s).str.replace(_MONEY_NOISE, "", regex=True)
    text = _replace(text, r"^\((.*)\)$", r"-\1")
    num = pd.to_numeric(text, errors="coerce")
    bad = present & (num.isna() | ~np.isfinite(num.fillna(0)) | (num.abs() >= 1e16))
    return num.where(~bad).round(2), bad


def parse_integer(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = _present(s)
    num = pd.to_numeric(arrow_text(s).str.strip(), errors="coerce")
    bad = present & (num.isna() | (num % 1 != 0).fillna(False))
    return num.where(~bad).astype("Int64"), bad


PARSERS = {"timestamp": parse_timestamp, "date": parse_date}

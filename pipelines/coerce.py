"""Typing of staged values, vectorized: each parser returns (typed values, mask of values that failed).

A value fails when it is present (not empty) but cannot be read as the type; empty values
are simply null. Callers quarantine the failures with the reason. Text is handled as Arrow strings,
so trimming, lengths and the regular expressions run in Arrow's compute kernels (RE2), not per value.
"""

from __future__ import annotations

import threading
import warnings
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_TEXT = 4000  # longer text values are rejected as oversize (a sign of a broken export)
TYPING_RULES = 2
"""Raised when a value's typing changes (2: dates day.month.year, zones only after a time, zone names): every
stream is staged whole once more (`pipelines.stage.fingerprint`), so staged values follow the rules of now."""

_DATE_SEPS = r"[/.年月]"
_CN_DAY = r"日"


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
# a zone after a time of day (not the year of 08-01-2024, which had read as the zone -20:24); UTC and GMT by name
_ZONED = (r"(?:\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?|T\d{4}(?:\d{2}(?:\.\d+)?)?)\s*"
          r"(?:Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)(?:\s|$)")
# what dateutil may read: a four-digit year or a month's name (not 13:45, which it dates today, nor 1.2.3.4)
_NAMES_A_DATE = r"\d{4}|[A-Za-z]{3}"
# a zone named after the time other than UTC and GMT (CST: China's, or the US's?), or UTC+8 (+8 or, POSIX, -8?):
# not read, reported
_OTHER_ZONE_NAME = (r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:(?!(?:AM|PM|am|pm|UTC|GMT)\b)[A-Za-z]{2,5}\b|"
                    r"(?:UTC|GMT)[+-]\d)")
# day.month.year: dotted dates are written day first wherever they are written so (08.01.2024 is 8 January)
_DOTTED_DAY_FIRST = r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(\s|$)"


def _naive_local(parsed: pd.Series, tz: str) -> pd.Series:
    """Zone-aware timestamps as the wall-clock time of `tz`, without the zone."""
    return parsed.dt.tz_convert(tz).dt.tz_localize(None)


_DATEUTIL = threading.Lock()


def _parse_text(norm: pd.Series, utc: bool, tz: str) -> pd.Series:
    parsed = _wall_clock(pd.to_datetime(norm, format="ISO8601", errors="coerce", utc=utc), utc, tz).copy()
    left = parsed.isna()
    if left.any():  # rarer shapes: per unique value with dateutil, if they name a year or a month by name
        uniq = pd.unique(norm[left])
        text = pd.Series(uniq, dtype=object)
        dated = (text.str.contains(_NAMES_A_DATE, regex=True) & ~text.str.contains(_OTHER_ZONE_NAME, regex=True)
                 ).fillna(False).astype(bool)
        looked = _wall_clock(_dateutil(text.where(dated), utc), utc, tz)
        parsed[left] = norm[left].map(dict(zip(uniq, looked, strict=True)))
    return parsed.astype("datetime64[ns]")


def _dateutil(values: pd.Series, utc: bool) -> pd.Series:
    """pandas' reading of `values` with dateutil. It may find zones the patterns above did not: pandas warns when
    zoned and plain values come together, which `_wall_clock` handles. (The lock: warning filters are the
    process's; two threads here at once could leave the other's filter in place.)"""
    with _DATEUTIL, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pd.to_datetime(values, format="mixed", errors="coerce", utc=utc)


def _wall_clock(parsed: pd.Series, utc: bool, tz: str) -> pd.Series:
    """Parsed values as wall-clock times of `tz`: with `utc` each is an instant; without it, a value found zoned
    after all is not read (NaT, reported): what zone its text meant is not known."""
    if utc:
        return _naive_local(parsed, tz)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return pd.Series(pd.NaT, index=parsed.index, dtype="datetime64[ns]")
    if parsed.dtype == object:  # (zoned and plain ones together: the plain ones kept)
        plain = parsed.map(lambda t: t if isinstance(t, datetime) and t.tzinfo is None else pd.NaT)
        return pd.to_datetime(plain, errors="coerce")
    return parsed


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
        # (a dot after the seconds is a decimal point, not a date's separator: 10:09:47.433 keeps it)
        norm = _replace(text[rest], r"(:\d{2})\.(\d)", "\\1\x01\\2")
        norm = _replace(norm, _DOTTED_DAY_FIRST, r"\3-\2-\1\4")
        norm = norm.str.replace(_DATE_SEPS, "-", regex=True).str.replace(_CN_DAY, "", regex=True)
        norm = norm.str.replace("\x01", ".", regex=False)
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


MONEY = pa.decimal128(18, 2)  # the warehouse's DECIMAL(18,2)
RATE = pa.decimal128(18, 8)  # exchange rates: DECIMAL(18,8)
_WIDE = pa.decimal256(76, 30)  # room for the text's own digits before rounding to cents
# at most 30 digits before the point, 20 after and an exponent of one digit: always fits _WIDE exactly
_NUMBER = r"^[+-]?(\d{1,30}\.?\d{0,20}|\.\d{1,20})([eE][+-]?\d)?$"
# Currency written inside an amount: the first that matches names it (HK$ before $).
_CURRENCY_MARKS = (("HKD", r"HK\$|HKD"), ("USD", r"US\$|USD|\$"), ("EUR", r"€|EUR"), ("GBP", r"£|GBP"),
                   ("JPY", r"JPY|円"), ("CNY", r"[¥￥元]|RMB|CNY|人民币"))
_MONEY_NOISE = r"(?i)[,\s]|" + "|".join(p for _, p in _CURRENCY_MARKS)


def parse_decimal(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts, exactly: the text's digits read as a decimal (no float step) and rounded half away from zero
    to cents (1.005 → 1.01, -2.675 → -2.68). Thousands separators, currency signs and codes, `元` and
    accounting brackets `(12.50)` are read; `amount_currency` says which currency the text named.

    Values are a pandas Series of Arrow `decimal128(18, 2)`; non-numbers and amounts of 10^16 or more fail."""
    return _parse_exact(s, MONEY)


def parse_rate(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Exchange rates, exactly, to 8 decimals (`decimal128(18, 8)`); a rate must be above 0 and below 10^10."""
    values, bad = _parse_exact(s, RATE)
    nonpositive = (values <= 0).fillna(False).astype(bool)
    return values.mask(nonpositive), bad | nonpositive


def _parse_exact(s: pd.Series, kind: pa.Decimal128Type) -> tuple[pd.Series, pd.Series]:
    arr = _arrow_text(s)
    present = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(arr), ""), False)
    text = pc.replace_substring_regex(arr, _MONEY_NOISE, "")
    text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"-\1")
    ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    wide = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    wide = pc.round(wide.cast(_WIDE), kind.scale, round_mode="half_towards_infinity")
    limit = pa.scalar(10 ** (kind.precision - kind.scale), _WIDE)
    fits = pc.fill_null(pc.less(pc.abs(wide), limit), False)
    exact = pc.if_else(fits, wide, pa.scalar(None, _WIDE)).cast(kind)
    values = pd.Series(exact, index=s.index, dtype=pd.ArrowDtype(kind))
    bad = pc.and_(present, pc.is_null(exact))
    return values, pd.Series(bad.to_numpy(zero_copy_only=False), index=s.index)


def _arrow_text(s: pd.Series) -> pa.Array:
    """A Series as Arrow text (numbers by their shortest text: 1000.1 → '1000.1')."""
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        try:
            return pa.array(s, pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
    return pa.array(s.astype("string"), pa.string(), from_pandas=True)


def money_array(s: pd.Series, kind: pa.Decimal128Type | None = None) -> pa.Array:
    """Amounts of any Python or pandas kind (Arrow decimals, `Decimal`, int, float, text) as Arrow
    `decimal128(18, 2)` (or `kind`), exactly: a float is read by its shortest text (1000.1 → 1000.10). What
    is not a number is null."""
    kind = kind or MONEY
    if isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_decimal(s.dtype.pyarrow_dtype):
        arr = pa.array(s)
        if arr.type.scale > kind.scale:
            arr = pc.round(arr, kind.scale, round_mode="half_towards_infinity")
        return arr.cast(kind)
    return pa.array(_parse_exact(s, kind)[0])


def amount_currency(s: pd.Series) -> pd.Series:
    """The ISO code of the currency an amount's text names (`$250.00` → USD, `¥1,000` and `3 元` → CNY),
    else None."""
    arr = _arrow_text(s)
    out = pa.nulls(len(arr), pa.string())
    for code, pattern in reversed(_CURRENCY_MARKS):  # the first mark in the list wins
        hit = pc.fill_null(pc.match_substring_regex(arr, "(?i)" + pattern), False)
        out = pc.if_else(hit, pa.scalar(code), out)
    return pd.Series(out.to_pylist(), index=s.index, dtype=object)


def currency_of(amount: pd.Series, currency: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The currency of each amount: the currency field as an upper-case code (a sign or name written there,
    `$` or `人民币`, read as its code), else the currency the amount's own text names (`$250.00`: USD); and
    the mask of amounts whose text names another currency than the field."""
    field = currency.astype("string").str.strip().str.upper()
    field = field.mask(field == "")
    named_in_field = amount_currency(field)
    field = named_in_field.where(named_in_field.notna(), field.astype(object)).where(field.notna(), None)
    named = amount_currency(amount)
    clash = (field.notna() & named.notna() & (field != named)).astype(bool)
    return field.where(field.notna(), named), clash


def parse_integer(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = _present(s)
    num = pd.to_numeric(arrow_text(s).str.strip(), errors="coerce")
    bad = present & (num.isna() | (num % 1 != 0).fillna(False))
    return num.where(~bad).astype("Int64"), bad


PARSERS = {"timestamp": parse_timestamp, "date": parse_date}

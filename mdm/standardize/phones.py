"""Phone numbers: mobiles, landlines with or without their area code, 400/800 service numbers, extensions, and
other countries' numbers (E.164 through phonenumbers, the rare Python path).

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
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardize.arrow import (
    _NULL,
    _extract,
    _groups,
    _has,
    _lengths,
    _np,
    _slice_rows,
    _sub,
    none_once,
    per_row,
    standardized,
)
from mdm.standardize.regions import _tables

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


@none_once
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
    land = _groups(national, _LANDLINE_RE)
    area, sub_ = pc.struct_field(land, "a"), pc.struct_field(land, "s")
    area_ok = _np(pc.is_in(area, value_set=pa.array(sorted(_area_codes()), pa.string())))
    bare = _np(_has(national, r"^[2-9]\d{6,7}$"))
    svc = _groups(national, _SERVICE_RE)
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


def phone_columns(phones: pa.Array) -> dict[str, pa.Array]:
    """Phone numbers (Arrow) → the columns of `standardize_phones`, row-aligned Arrow arrays."""
    return per_row(_phones_distinct, phones)


def standardize_phones(s: pd.Series) -> pd.DataFrame:
    """Phone column → phone, phone_type, area_code, extension, phone_digits, phone_city."""
    return standardized(_phones_distinct, s)

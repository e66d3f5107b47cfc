"""Whole customer records: the four readers (names, codes, phones, addresses) side by side, then the fixes
across fields and the placeholders dropped.

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
import os
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.placeholders import email_placeholder, phone_placeholder, text_placeholder
from mdm.standardize.addresses import address_columns
from mdm.standardize.arrow import _NULL, _frame, _has, _nonempty, _np, _sub, _to_arrow
from mdm.standardize.codes import uscc_columns
from mdm.standardize.names import _INSTITUTION_RE, name_columns
from mdm.standardize.phones import phone_columns
from mdm.standardize.regions import _tables

log = logging.getLogger(__name__)


_RENAMES = {
    "names": {"region": "name_region", "core": "name_core", "trade": "name_trade", "form": "name_form",
              "institution_district": "name_district", "latin": "name_latin", "trade_head": "name_trade_head"},
    "uscc": {"uscc": "uscc_std"},
    "phones": {"phone": "phone_std", "extension": "phone_ext"},
}


def standardize_customers(df: pd.DataFrame, workers: int | None = None) -> pd.DataFrame:
    """Canonical customer columns → the same columns plus every standardized column (see module doc).

    Names, tax codes, phones and addresses are standardized side by side on `workers` threads (default:
    the machine's cores, at most 4): most of the work is Arrow compute, which runs outside the GIL. The
    columns stay Arrow arrays until one frame is built at the end (for the match API's one record, pandas'
    frames would cost more than the reading)."""
    idx = df.index

    def column(name: str) -> pa.Array:
        return _to_arrow(df[name]) if name in df.columns else pa.nulls(len(df), pa.string())

    name_src = column("name")
    if "short_name" in df.columns:  # a record known by its short name only
        short = column("short_name")
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(name_src), ""), True)
        name_src = pc.if_else(blank, short, name_src)
    jobs = [(name_columns, name_src), (address_columns, column("address")),
            (phone_columns, column("phone")), (uscc_columns, column("uscc"))]
    threads = min(workers or os.cpu_count() or 1, 4, len(jobs))
    if threads > 1 and len(df) >= 10_000:
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(lambda job: job[0](job[1]), jobs))
    else:
        done = [fn(col) for fn, col in jobs]
    names, addr, phones, uscc = ({_RENAMES.get(kind, {}).get(k, k): v for k, v in cols.items()}
                                 for kind, cols in zip(("names", "addresses", "phones", "uscc"), done, strict=True))

    t = _tables()
    a = {c: addr[c] for c in ("province", "city", "district")}
    name_city = names["name_city"]
    phone_city = phones["phone_city"]

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
    area = phones["area_code"]
    phone = phones["phone_std"]
    codes = pc.take(
        pa.array(list(t.area_code_by_city.values()), pa.string()),
        pc.index_in(known_city, value_set=pa.array(list(t.area_code_by_city), pa.string())),
    )
    fill = _np(pc.equal(phones["phone_type"], "landline")) & _np(pc.is_null(area))
    fill &= _np(_has(phone, r"^\d+$")) & _np(pc.is_valid(codes))
    if fill.any():
        mask = pa.array(fill)
        area = pc.if_else(mask, codes, area)
        joined = pc.binary_join_element_wise("+86", pc.utf8_slice_codeunits(codes, 1), phone, "-")
        phone = pc.if_else(mask, joined, phone)
        phone_city = pc.if_else(mask, known_city, phone_city)

    # Placeholders (新联系人, 无, 13800000000, test@test.com) are missing values, not evidence.
    fake_phone = phone_placeholder(pc.fill_null(phone, ""))
    phone = pc.if_else(fake_phone, _NULL, phone)
    digits = pc.if_else(fake_phone, _NULL, phones["phone_digits"])
    contact = column("contact_name")
    contact_std = pc.utf8_upper(_sub(pc.utf8_normalize(contact, "NFKC"), r"[\s\p{P}]+"))
    contact_std = pc.if_else(text_placeholder(contact, "contact"), _NULL, contact_std)
    email = pc.utf8_lower(pc.utf8_trim_whitespace(pc.utf8_normalize(column("email"), "NFKC")))
    email_std = pc.if_else(pc.fill_null(email_placeholder(email), True), _NULL, email)
    address_norm = pc.if_else(pc.or_(text_placeholder(column("address"), "address"),
                                     text_placeholder(addr["address_norm"], "address")),
                              _NULL, addr["address_norm"])
    # Former names (曾用名): the source's own field, else one written in the name: 华信科技（原化信电子）.
    former_src = pc.coalesce(_nonempty(pc.utf8_trim_whitespace(column("former_name"))), names["former"])
    former_key = name_columns(former_src)["name_key"]
    # Public institutions: a USCC of category 12 (事业单位) or a name of an institution's kind.
    inst = pc.or_(pc.and_(uscc["uscc_valid"], pc.fill_null(pc.starts_with(uscc["uscc_std"], "12"), False)),
                  pc.is_valid(names["name_district"]))
    inst = pc.or_(inst, pc.fill_null(_has(names["name_form"], f"^{_INSTITUTION_RE}"), False))

    new = {k: v for k, v in names.items() if k != "former"} | uscc | phones | addr
    new["phone_std"], new["area_code"], new["phone_city"] = phone, area, phone_city
    new["phone_digits"], new["contact_std"], new["email_std"] = digits, contact_std, email_std
    new["address_norm"], new["former_name_key"] = address_norm, former_key
    # A blocking key that pairs a record holding a former name with the records still named so.
    new["name_or_former_key"] = pc.coalesce(former_key, names["name_key"])
    new["org_kind"] = pc.if_else(inst, "institution", pc.if_else(pc.is_valid(names["name_form"]), "company", _NULL))
    new["province"], new["city"] = a["province"], a["city"]
    new["city_any"] = city_any
    clash = [c for c in new if c in df.columns]
    if clash:
        log.warning("standardize_customers: replacing input columns %s", clash)
    return pd.concat([df.drop(columns=clash), _frame(new, idx)], axis=1)

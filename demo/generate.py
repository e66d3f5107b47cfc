"""Seeded synthetic legacy sources drawn from the demo universe, with the truth of every record.

Three systems hold overlapping subsets of the universe's companies, each dirty in its own way
(rates learned from a realistic benchmark): CRM A (an old SQL database with internal duplicates,
tax codes half filled), CRM B (a GBK CSV export: many short names, few tax codes) and an ERP
(clean legal names, mostly valid tax codes, sales reps and orders). Everything is vectorized;
``scaled_customers`` renders a million records in seconds for the matching benchmark.

Run ``python -m demo.generate --out DIR`` to write the demo files.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.fakes.universe import (
    CITIES,
    DISTRICT_NAMES,
    HOMOPHONES,
    USCC_ALPHABET,
    city_districts,
    make_sales_reps,
    make_universe,
    mobile_numbers,
    person_names,
    random_digits,
    random_times,
    street_parts,
)

__all__ = ["PROFILES", "DemoData", "SourceProfile", "generate", "main", "scaled_customers", "write_demo"]

_START = np.datetime64("2019-01-01T00:00:00", "s")
_END = np.datetime64("2025-10-31T23:59:59", "s")
_ORDERS_FROM = np.datetime64("2024-01-01T00:00:00", "s")

_FORM_SWAP = {
    "有限公司": "有限责任公司",
    "有限责任公司": "有限公司",
    "股份有限公司": "股份有限责任公司",
    "集团有限公司": "集团有限责任公司",
}
_TRADE_TYPOS = {
    "智能科技": "志能科技",
    "能源": "能元",
    "网络科技": "网路科技",
    "电气": "电器",
    "咨询": "资询",
    "企业管理咨询": "企业管理资询",
}
_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
_SOURCES = ("crm_a", "crm_b", "erp")


@dataclass(frozen=True)
class SourceProfile:
    """How one legacy system holds the universe's customers: coverage and dirtiness rates."""

    coverage: float  # share of the companies it holds
    duplicate: float  # share of those entered a second time
    name_style: tuple[float, float, float, float]  # legal, city moved front<->brackets, short, city+short
    form_swap: float  # 有限公司 <-> 有限责任公司
    typo: float  # one homophone swapped (华信/化信)
    spaces: float  # ' name '
    half_parens: float  # () instead of （）, among names with brackets
    uscc: tuple[float, float, float, float]  # missing, lower-case, spaced, one keying error
    phone_missing: float
    phone_other: float  # the company's other number
    phone_stale: float  # a number that is no longer (or never was) theirs
    address_missing: float
    address_stale: float  # before a move
    address_form: tuple[float, float, float, float]  # province+city+district, city+district, district, city
    fullwidth_digits: float
    contact_missing: float
    contact_other: float
    owner_other: float  # owned by another rep than the company's


PROFILES: dict[str, SourceProfile] = {
    "crm_a": SourceProfile(
        coverage=0.85, duplicate=0.10, name_style=(0.78, 0.06, 0.08, 0.08), form_swap=0.14, typo=0.025,
        spaces=0.05, half_parens=0.10, uscc=(0.49, 0.022, 0.015, 0.010), phone_missing=0.10,
        phone_other=0.12, phone_stale=0.12, address_missing=0.15, address_stale=0.12,
        address_form=(0.30, 0.40, 0.22, 0.08), fullwidth_digits=0.08, contact_missing=0.30,
        contact_other=0.10, owner_other=0.15,
    ),
    "crm_b": SourceProfile(
        coverage=0.65, duplicate=0.06, name_style=(0.60, 0.04, 0.19, 0.17), form_swap=0.15, typo=0.035,
        spaces=0.035, half_parens=0.10, uscc=(0.69, 0.014, 0.009, 0.005), phone_missing=0.045,
        phone_other=0.12, phone_stale=0.12, address_missing=0.29, address_stale=0.12,
        address_form=(0.25, 0.40, 0.25, 0.10), fullwidth_digits=0.07, contact_missing=0.49,
        contact_other=0.10, owner_other=0.15,
    ),
    "erp": SourceProfile(
        coverage=0.80, duplicate=0.025, name_style=(0.90, 0.07, 0.015, 0.015), form_swap=0.14, typo=0.006,
        spaces=0.045, half_parens=0.08, uscc=(0.08, 0.045, 0.025, 0.018), phone_missing=0.20,
        phone_other=0.12, phone_stale=0.10, address_missing=0.05, address_stale=0.10,
        address_form=(0.30, 0.40, 0.22, 0.08), fullwidth_digits=0.09, contact_missing=1.0,
        contact_other=0.0, owner_other=0.10,
    ),
}  # fmt: skip
"""Per-source rates; coverage is higher than the benchmark's so that the demo overlaps well."""


@dataclass
class DemoData:
    """The demo universe, its sales force, the three legacy sources and the truth."""

    universe: pd.DataFrame
    reps: pd.DataFrame
    crm_a: pd.DataFrame
    crm_a_users: pd.DataFrame
    crm_b: pd.DataFrame
    erp_customers: pd.DataFrame
    erp_salesmen: pd.DataFrame
    erp_orders: pd.DataFrame
    truth: pd.DataFrame


@dataclass
class _Entities:
    """Entity-level parts that records are assembled from (numpy arrays, one item per company)."""

    entity_id: np.ndarray
    brand: np.ndarray
    brand_typo: np.ndarray
    trade: np.ndarray
    trade_typo: np.ndarray
    name_city: np.ndarray  # the city in the name (the head office's, for a branch)
    bracket: np.ndarray  # legal name has the city in brackets
    form: np.ndarray
    form_swapped: np.ndarray
    suffix: np.ndarray  # '厦门分公司' for a branch, else ''
    is_branch: np.ndarray
    short_name: np.ndarray
    uscc: np.ndarray
    province_prefix: np.ndarray  # '' for a municipality
    city: np.ndarray
    city_idx: np.ndarray
    district_idx: np.ndarray
    road_no: np.ndarray
    floor: np.ndarray
    phones: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (is_mobile, a, b): canonical, other
    contact: np.ndarray
    rep_id: np.ndarray


def _obj(values: object) -> np.ndarray:
    """An object array (of Python strings), the form string columns are assembled in."""
    return np.asarray(values, dtype=object)


def _char_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """Strings (at most ``width`` long) as an (n, width) matrix of characters, padded with ''."""
    return np.ascontiguousarray(np.asarray(values, dtype=f"<U{width}")).view("<U1").reshape(-1, width)


def _join(chars: np.ndarray) -> np.ndarray:
    """The rows of a character matrix as strings (object array)."""
    chars = np.ascontiguousarray(chars)
    return chars.view(f"<U{chars.shape[1]}").ravel().astype(object)


def _prepare(universe: pd.DataFrame, rng: np.random.Generator) -> _Entities:
    """Split the universe's companies into the parts that names, phones and addresses are made of."""
    u = universe.reset_index(drop=True)
    n = len(u)
    by_id = pd.Series(np.arange(n), index=u["entity_id"])
    is_branch = (u["kind"] == "branch").to_numpy()
    head = np.arange(n)
    head[is_branch] = by_id.loc[u.loc[is_branch, "parent_entity_id"]].to_numpy()
    legal = _obj(u["legal_name"])
    suffix = np.full(n, "", dtype=object)
    suffix[is_branch] = [x[len(h) :] for x, h in zip(legal[is_branch], legal[head[is_branch]], strict=True)]
    bare_city = u["city"].str.removesuffix("市")  # 杭州市 -> 杭州, as in names and short addresses
    city_idx = pd.Series(np.arange(len(CITIES)), index=CITIES["city"]).loc[bare_city].to_numpy()
    city = _obj(bare_city)

    brand = _obj(u["brand"])
    chars = np.asarray(brand, dtype="<U2").view("<U1").reshape(n, 2).astype(object)
    c1, c2 = chars[:, 0], chars[:, 1]
    p1, p2 = (_obj(pd.Series(c).map(HOMOPHONES).fillna("")) for c in (c1, c2))
    use1 = (p1 != "") & ((p2 == "") | (rng.random(n) < 0.5))
    use2 = (p2 != "") & ~use1
    brand_typo = np.where(use1, p1 + c2, np.where(use2, c1 + p2, brand))
    trade = _obj(u["trade"])
    trade_typo = np.where(use1 | use2, trade, u["trade"].map(_TRADE_TYPOS).fillna(u["trade"]))

    city_of_district = np.repeat(CITIES["city"].to_numpy(), CITIES["districts"].map(len))
    lookup = dict(zip(city_of_district + "|" + DISTRICT_NAMES, range(len(DISTRICT_NAMES)), strict=True))
    district_idx = (bare_city + "|" + u["district"]).map(lookup).to_numpy(dtype=int)
    street = u["street"].str.partition("号")  # 长江路345 | 号 | 11层
    phone = u["phone"].str.partition("-")  # 0571 | - | 12345678, or a mobile
    is_mobile = (phone[1] == "").to_numpy()
    canon = (is_mobile, _obj(phone[0]), _obj(phone[2]))
    area = CITIES["area_code"].to_numpy()[city_idx]
    # the company's other number: a landline in its city when the main one is a mobile, and vice versa
    other_a = _obj(np.where(is_mobile, area, mobile_numbers(rng, n)))
    other = (~is_mobile, other_a, _obj(np.where(is_mobile, random_digits(rng, n, 8, first_min=2), "")))
    municipal = (u["province"] == u["city"]).to_numpy()
    form = _obj(u["form"])
    return _Entities(
        entity_id=_obj(u["entity_id"]),
        brand=_obj(brand),
        brand_typo=_obj(brand_typo),
        trade=trade,
        trade_typo=_obj(trade_typo),
        name_city=city[head],
        bracket=pd.Series(legal[head]).str.contains("（", regex=False).to_numpy(),
        form=form,
        form_swapped=_obj(pd.Series(form).map(_FORM_SWAP).fillna(pd.Series(form))),
        suffix=suffix,
        is_branch=is_branch,
        short_name=_obj(u["short_name"]),
        uscc=_obj(u["uscc"]),
        province_prefix=_obj(np.where(municipal, "", u["province"])),
        city=city,
        city_idx=city_idx,
        district_idx=district_idx,
        road_no=_obj(street[0] + street[1]),
        floor=_obj(street[2]),
        phones=(canon, other),
        contact=_obj(u["contact_name"]),
        rep_id=u["rep_id"].to_numpy(),
    )


def _pick(choice: np.ndarray, builders: Sequence[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
    """``builders[choice[i]]`` for every row i; each builder is called once, on the rows that chose it."""
    out = np.empty(len(choice), dtype=object)
    for k, build in enumerate(builders):
        rows = np.flatnonzero(choice == k)
        if len(rows):
            out[rows] = build(rows)
    return out


def _names(ent: _Entities, e: np.ndarray, p: SourceProfile, rng: np.random.Generator) -> np.ndarray:
    """Customer names of companies ``e``: legal, city moved, short, form swapped, typos, parens, spaces."""
    n = len(e)
    style = rng.choice(4, n, p=p.name_style)  # legal, city moved, short, city + short
    style[ent.is_branch[e] & (style >= 2)] = 0  # a branch is always written out in full
    typo = rng.random(n) < p.typo
    core = np.where(typo, ent.brand_typo[e], ent.brand[e]) + np.where(typo, ent.trade_typo[e], ent.trade[e])
    swap = rng.random(n) < p.form_swap
    half = rng.random(n) < p.half_parens
    city = ent.name_city[e]
    layout = np.where(style >= 2, style, ent.bracket[e] ^ (style == 1))  # 0 city first, 1 in brackets

    def tail(r: np.ndarray) -> np.ndarray:
        return np.where(swap[r], ent.form_swapped[e[r]], ent.form[e[r]]) + ent.suffix[e[r]]

    def bracketed(r: np.ndarray) -> np.ndarray:
        opening, closing = np.where(half[r], "(", "（"), np.where(half[r], ")", "）")
        return core[r] + opening + city[r] + closing + tail(r)

    name = _pick(
        layout,
        [
            lambda r: city[r] + core[r] + tail(r),
            bracketed,
            lambda r: core[r],
            lambda r: city[r] + core[r],
        ],
    )
    spaced = np.flatnonzero(rng.random(n) < p.spaces)
    name[spaced] = " " + name[spaced] + " "
    return name


def _usccs(ent: _Entities, e: np.ndarray, p: SourceProfile, rng: np.random.Generator) -> np.ndarray:
    """Tax codes of companies ``e``: missing, lower-case, spaced, one keying error, or right."""
    n = len(e)
    code = ent.uscc[e].copy()
    mode = rng.choice(5, n, p=[*p.uscc, 1 - sum(p.uscc)])
    code[mode == 0] = ""
    m = mode == 1
    code[m] = np.char.lower(code[m].astype("<U18")).astype(object)
    m = mode == 2
    chars = _char_matrix(code[m], 18)
    code[m] = _join(np.concatenate([chars[:, :6], np.full((len(chars), 1), " "), chars[:, 6:]], axis=1))
    m = mode == 3
    chars = np.ascontiguousarray(code[m].astype("<U18")).view("<U1").reshape(-1, 18).copy()
    rows, pos = np.arange(len(chars)), rng.integers(0, 18, len(chars))
    old = np.searchsorted(np.array(list(USCC_ALPHABET)), chars[rows, pos])
    chars[rows, pos] = np.array(list(USCC_ALPHABET))[(old + rng.integers(1, 31, len(chars))) % 31]
    code[m] = chars.view("<U18").ravel().astype(object)
    return code


def _format_phones(
    rng: np.random.Generator, is_mobile: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Write phones the dozen ways people do: '+86-138…', '138 1234 5678', '(0551)56608362', '… 转549'.

    A mobile is ``a`` (11 digits, ``b`` empty); a landline is area code ``a`` and local number ``b``.
    """

    def cut(x: np.ndarray, width: int, *bounds: tuple[int, int | None]) -> list[np.ndarray]:
        chars = _char_matrix(x, width)
        return [_join(chars[:, i:j]) for i, j in bounds]

    def grouped(r: np.ndarray, sep: str) -> np.ndarray:
        s1, s2, s3 = cut(a[r], 11, (0, 3), (3, 7), (7, None))
        return s1 + sep + s2 + sep + s3

    def international(r: np.ndarray) -> np.ndarray:
        (bare_area,) = cut(a[r], 5, (1, None))
        l1, l2 = cut(b[r], 8, (0, 4), (4, None))
        return "+86 " + bare_area + " " + l1 + " " + l2

    mobile_formats: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda r: a[r],
        lambda r: grouped(r, "-"),
        lambda r: grouped(r, " "),
        lambda r: "86" + a[r],
        lambda r: "+86-" + a[r],
        lambda r: "+86 " + grouped(r, " "),
    ]
    landline_formats: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda r: a[r] + "-" + b[r],
        lambda r: b[r],
        lambda r: "(" + a[r] + ")" + b[r],
        lambda r: a[r] + "-" + b[r] + " 转" + random_digits(rng, len(r), 3, first_min=1),
        international,
        lambda r: a[r] + b[r],
        lambda r: a[r] + " " + b[r],
    ]
    n = len(a)
    fmt = np.where(
        is_mobile,
        rng.choice(6, n, p=[0.27, 0.19, 0.17, 0.16, 0.16, 0.05]),
        6 + rng.choice(7, n, p=[0.27, 0.14, 0.15, 0.14, 0.14, 0.12, 0.04]),
    )
    return _pick(fmt, mobile_formats + landline_formats)


def _phones(ent: _Entities, e: np.ndarray, p: SourceProfile, rng: np.random.Generator) -> np.ndarray:
    """Phones of companies ``e``: the main number, the other one, a stale one or none, in any format."""
    n = len(e)
    shares = [p.phone_other, p.phone_stale, p.phone_missing]
    pick = rng.choice(4, n, p=[1 - sum(shares), *shares])  # main, other, stale, missing
    (cm, ca, cb), (om, oa, ob) = ent.phones
    is_mobile, a, b = cm[e].copy(), ca[e].copy(), cb[e].copy()
    o = pick == 1
    is_mobile[o], a[o], b[o] = om[e[o]], oa[e[o]], ob[e[o]]
    s = np.flatnonzero(pick == 2)
    sm = rng.random(len(s)) < 0.4
    is_mobile[s] = sm
    a[s] = np.where(sm, mobile_numbers(rng, len(s)), "0" + random_digits(rng, len(s), 3, first_min=1))
    b[s] = np.where(sm, "", random_digits(rng, len(s), 8, first_min=2))
    out = _format_phones(rng, is_mobile, a, b)
    out[pick == 3] = ""
    return out


def _addresses(ent: _Entities, e: np.ndarray, p: SourceProfile, rng: np.random.Generator) -> np.ndarray:
    """Addresses of companies ``e``: with or without province/city/district, stale, full-width digits."""
    n = len(e)
    dist, road_no, floor = ent.district_idx[e].copy(), ent.road_no[e].copy(), ent.floor[e].copy()
    s = rng.random(n) < p.address_stale
    dist[s] = city_districts(rng, ent.city_idx[e[s]])
    road_no[s], floor[s] = street_parts(rng, int(s.sum()))
    spaced = (floor != "") & (rng.random(n) < 0.12)
    street = road_no + np.where(spaced, " ", "") + floor
    city, district = ent.city[e], DISTRICT_NAMES[dist]
    form = rng.choice(4, n, p=p.address_form)
    out = _pick(
        form,
        [
            lambda r: ent.province_prefix[e[r]] + city[r] + "市" + district[r] + street[r],
            lambda r: city[r] + "市" + district[r] + street[r],
            lambda r: district[r] + street[r],
            lambda r: city[r] + street[r],
        ],
    )
    fw = rng.random(n) < p.fullwidth_digits
    out[fw] = pd.Series(out[fw], dtype=object).str.translate(_FULLWIDTH_DIGITS).to_numpy()
    out[rng.random(n) < p.address_missing] = ""
    return out


def _render(ent: _Entities, p: SourceProfile, n_reps: int, rng: np.random.Generator) -> pd.DataFrame:
    """One source's customer records: which companies it holds, each written its own dirty way."""
    held = np.flatnonzero(rng.random(len(ent.entity_id)) < p.coverage)
    e = np.concatenate([held, held[rng.random(len(held)) < p.duplicate]])
    n = len(e)
    shares = [p.contact_other, p.contact_missing]
    contact_mode = rng.choice(3, n, p=[1 - sum(shares), *shares])  # theirs, another person, missing
    contact = ent.contact[e].copy()
    contact[contact_mode == 1] = person_names(rng, int((contact_mode == 1).sum()))[0]
    contact[contact_mode == 2] = ""
    rep = np.where(rng.random(n) < p.owner_other, rng.integers(1, n_reps + 1, n), ent.rep_id[e])
    created = random_times(rng, n, _START, _END)
    later = created + ((_END - created).astype(np.int64) * rng.random(n)).astype("timedelta64[s]")
    updated = np.where(rng.random(n) < 0.5, created, later)
    return pd.DataFrame(
        {
            "entity": e,
            "name": _names(ent, e, p, rng),
            "uscc": _usccs(ent, e, p, rng),
            "phone": _phones(ent, e, p, rng),
            "address": _addresses(ent, e, p, rng),
            "contact_name": contact,
            "rep_id": rep,
            "created_at": created,
            "updated_at": updated,
        }
    )


def _render_sources(
    universe: pd.DataFrame, n_reps: int, seed: int
) -> tuple[_Entities, dict[str, pd.DataFrame]]:
    """The three sources' records (entity index, canonical fields, datetimes) with their keys in ``key``."""
    ent = _prepare(universe, np.random.default_rng([seed, 10]))
    recs = {}
    for i, src in enumerate(_SOURCES):
        rng = np.random.default_rng([seed, 11 + i])
        r = _render(ent, PROFILES[src], n_reps, rng)
        # CRM B is an export in no particular order; elsewhere keys were handed out at creation
        order = rng.permutation(len(r)) if src == "crm_b" else np.argsort(r["created_at"], kind="stable")
        r = r.iloc[order]
        recs[src] = r.reset_index(drop=True)
    recs["crm_a"]["key"] = np.arange(100001, 100001 + len(recs["crm_a"]))
    recs["erp"]["key"] = np.arange(1, 1 + len(recs["erp"]))
    recs["crm_b"]["key"] = "KH" + _unique_numbers(np.random.default_rng([seed, 20]), len(recs["crm_b"]), 8)
    return ent, recs


def _unique_numbers(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """``n`` distinct random zero-padded numbers of ``digits`` digits."""
    return _zfill(rng.choice(10**digits, n, replace=False), digits)


def _zfill(nums: np.ndarray, width: int) -> np.ndarray:
    """Integers in [0, 10**width) as zero-padded strings (object array)."""
    padded = (np.asarray(nums, dtype=np.int64) + 10**width).astype(str)
    return _join(_char_matrix(padded, width + 1)[:, 1:])


def _timestamps(t: pd.Series, sep: str = "-") -> np.ndarray:
    """Datetimes as 'YYYY-MM-DD HH:MM:SS' (with ``sep`` between the date parts)."""
    chars = _char_matrix(np.datetime_as_string(t.to_numpy().astype("datetime64[s]"), unit="s"), 19)
    chars[:, 10] = " "
    chars[:, [4, 7]] = sep
    return _join(chars)


USD_SHARE = 0.04


def _orders(erp: pd.DataFrame, n_reps: int, rng: np.random.Generator) -> pd.DataFrame:
    """Sales orders of ERP customers: 85% have 1-8 orders since 2024, mostly by the owning rep."""
    n_orders = np.where(
        rng.random(len(erp)) < 0.85,
        rng.choice(np.arange(1, 9), len(erp), p=[0.25, 0.18, 0.14, 0.12, 0.10, 0.08, 0.07, 0.06]),
        0,
    )
    idx = np.repeat(np.arange(len(erp)), n_orders)
    k = len(idx)
    start = np.maximum(erp["created_at"].to_numpy().astype("datetime64[s]")[idx], _ORDERS_FROM)
    when = start + ((_END - start).astype(np.int64) * rng.random(k)).astype("timedelta64[s]")
    order = np.argsort(when, kind="stable")
    idx, when = idx[order], when[order].astype("datetime64[D]")
    rep = np.where(rng.random(k) < 0.8, erp["rep_id"].to_numpy()[idx], rng.integers(1, n_reps + 1, k))
    fid = np.arange(1, k + 1)
    day = _join(_char_matrix(np.datetime_as_string(when, unit="D"), 10)[:, [0, 1, 2, 3, 5, 6, 8, 9]])
    orders = pd.DataFrame(
        {
            "FID": fid,
            "FBILLNO": "XSDD" + day + _zfill(fid, max(6, len(str(k)))),
            "FCUSTID": erp["key"].to_numpy()[idx],
            "FDATE": np.datetime_as_string(when, unit="D").astype(object),
            "FSALERID": rep.astype(np.int64),
            "FAMOUNT": np.maximum(np.round(rng.lognormal(np.log(22000), 1.0, k), 2), 100.0),
            "FSTATUS": rng.choice(np.array(["A", "B", "C"], dtype=object), k, p=[0.2, 0.2, 0.6]),
            # last change: the order day plus up to three days (approval, delivery)
            "FMODIFYDATE": _timestamps(pd.Series(when.astype("datetime64[s]")
                                                 + rng.integers(0, 3 * 86400, k).astype("timedelta64[s]"))),
        }
    )
    # export orders: 4% are invoiced in US dollars, their amount the CNY one at about 7.1 per dollar
    usd = rng.random(k) < USD_SHARE
    orders["FAMOUNT"] = np.where(usd, np.maximum(np.round(orders["FAMOUNT"] / 7.1, 2), 100.0), orders["FAMOUNT"])
    orders["FCURRENCY"] = np.where(usd, "USD", "CNY").astype(object)
    return orders


def _truth(ent: _Entities, recs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "source_name": src,
                    "stream": "customers",
                    "source_key": r["key"].astype(str).to_numpy(),
                    "entity_id": ent.entity_id[r["entity"].to_numpy()],
                }
            )
            for src, r in recs.items()
        ],
        ignore_index=True,
    )


def generate(n_entities: int = 2000, seed: int = 7, n_reps: int = 40) -> DemoData:
    """The demo: a universe of ``n_entities`` companies and three legacy sources that hold them."""
    universe = make_universe(n_entities, seed, n_reps)
    reps = make_sales_reps(n_reps, seed)
    ent, recs = _render_sources(universe, n_reps, seed)
    a, b, c = recs["crm_a"], recs["crm_b"], recs["erp"]
    rep_names = reps.set_index("rep_id")["name"]
    crm_a = pd.DataFrame(
        {
            "cust_id": a["key"].to_numpy(),
            "cust_name": a["name"],
            "tax_code": a["uscc"],
            "tel": a["phone"],
            "address": a["address"],
            "contact_name": a["contact_name"],
            "owner": "rep" + a["rep_id"].astype(str).str.zfill(3),
            "created_at": _timestamps(a["created_at"]),
            "updated_at": _timestamps(a["updated_at"]),
        }
    )
    # CRM A's user table: the login names its customers' `owner` holds, with mobile, e-mail, team and city.
    crm_a_users = pd.DataFrame(
        {
            "user_id": "rep" + reps["rep_id"].astype(str).str.zfill(3),
            "user_name": reps["name"],
            "mobile": reps["mobile"],
            "email": reps["email"],
            "dept": reps["team"],
            "city": reps["region"],
        }
    )
    crm_b = pd.DataFrame(
        {
            "客户编号": b["key"],
            "客户名称": b["name"],
            "统一社会信用代码": b["uscc"],
            "联系电话": b["phone"],
            "详细地址": b["address"],
            "联系人": b["contact_name"],
            "所属销售": rep_names.loc[b["rep_id"]].to_numpy(),
            "最后修改时间": _timestamps(b["updated_at"], sep="/"),
        }
    )
    erp_customers = pd.DataFrame(
        {
            "FCUSTID": c["key"].to_numpy(),
            "FNUMBER": "CUST" + c["key"].astype(str).str.zfill(7),
            "FNAME": c["name"],
            "FSHORTNAME": ent.short_name[c["entity"].to_numpy()],
            "FTAXREGISTERCODE": c["uscc"],
            "FADDRESS": c["address"],
            "FTEL": c["phone"],
            "FMODIFYDATE": _timestamps(c["updated_at"]),
        }
    )
    erp_salesmen = pd.DataFrame({"FID": reps["rep_id"], "FNAME": reps["name"], "FDEPT": reps["team"]})
    return DemoData(
        universe=universe,
        reps=reps,
        crm_a=crm_a,
        crm_a_users=crm_a_users,
        crm_b=crm_b,
        erp_customers=erp_customers,
        erp_salesmen=erp_salesmen,
        erp_orders=_orders(c, n_reps, np.random.default_rng([seed, 30])),
        truth=_truth(ent, recs),
    )


_SCHEMAS = {
    "t_customer": "cust_id INTEGER PRIMARY KEY, cust_name TEXT, tax_code TEXT, tel TEXT, address TEXT, "
    "contact_name TEXT, owner TEXT, created_at TEXT, updated_at TEXT",
    "t_user": "user_id TEXT PRIMARY KEY, user_name TEXT, mobile TEXT, email TEXT, dept TEXT, city TEXT",
    "T_BD_CUSTOMER": "FCUSTID INTEGER PRIMARY KEY, FNUMBER TEXT, FNAME TEXT, FSHORTNAME TEXT, "
    "FTAXREGISTERCODE TEXT, FADDRESS TEXT, FTEL TEXT, FMODIFYDATE TEXT",
    "T_BD_SALESMAN": "FID INTEGER PRIMARY KEY, FNAME TEXT, FDEPT TEXT",
    "T_SAL_ORDER": "FID INTEGER PRIMARY KEY, FBILLNO TEXT, FCUSTID INTEGER, FDATE TEXT, FSALERID INTEGER, "
    "FAMOUNT REAL, FSTATUS TEXT, FMODIFYDATE TEXT, FCURRENCY TEXT",
}


def _write_sqlite(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        for name, df in tables.items():
            con.execute(f"CREATE TABLE {name} ({_SCHEMAS[name]})")
            con.executemany(
                f"INSERT INTO {name} VALUES ({', '.join('?' * df.shape[1])})",
                df.astype(object).itertuples(index=False, name=None),
            )
        con.commit()
    finally:
        con.close()


def write_demo(out_dir: Path, data: DemoData) -> dict[str, Path]:
    """Write crm_a.sqlite (tables t_customer, t_user), crm_b_export.csv (GBK, Chinese headers), erp.sqlite
    (T_BD_CUSTOMER, T_BD_SALESMAN, T_SAL_ORDER), truth.csv, entities.csv. Idempotent: rewrites the files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "crm_a": out_dir / "crm_a.sqlite",
        "crm_b": out_dir / "crm_b_export.csv",
        "erp": out_dir / "erp.sqlite",
        "truth": out_dir / "truth.csv",
        "entities": out_dir / "entities.csv",
    }
    _write_sqlite(paths["crm_a"], {"t_customer": data.crm_a, "t_user": data.crm_a_users})
    data.crm_b.to_csv(paths["crm_b"], index=False, encoding="gbk")
    erp = {"T_BD_CUSTOMER": data.erp_customers, "T_BD_SALESMAN": data.erp_salesmen}
    _write_sqlite(paths["erp"], {**erp, "T_SAL_ORDER": data.erp_orders})
    data.truth.to_csv(paths["truth"], index=False)
    cols = ["entity_id", "legal_name", "uscc", "kind", "parent_entity_id", "city"]
    data.universe[cols].to_csv(paths["entities"], index=False)
    return paths


def scaled_customers(n_records: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For the 1M-record matching benchmark: customer records already in the hub's canonical staging shape
    (columns: source_name, stream, source_key, name, short_name, uscc, phone, address, contact_name, owner,
    updated_at) plus a truth frame (source_name, stream, source_key, entity_id). Sized so that
    len(records) == n_records; same dirtiness as the three sources. Missing values are None."""
    per_entity = sum(p.coverage * (1 + p.duplicate) for p in PROFILES.values())
    n_entities = math.ceil(n_records / per_entity + 4 * math.sqrt(n_records) + 10)
    n_reps = 40
    while True:
        universe = make_universe(n_entities, seed, n_reps)
        ent, recs = _render_sources(universe, n_reps, seed)
        if sum(len(r) for r in recs.values()) >= n_records:
            break
        n_entities = math.ceil(n_entities * 1.1)
    rep_names = make_sales_reps(n_reps, seed)["name"].to_numpy()
    total = sum(len(r) for r in recs.values())
    keep = np.sort(np.random.default_rng([seed, 40]).choice(total, n_records, replace=False))
    columns: dict[str, list[np.ndarray]] = {}
    offset = 0
    for src, r in recs.items():
        rows = keep[(keep >= offset) & (keep < offset + len(r))] - offset
        offset += len(r)
        e, rep = r["entity"].to_numpy()[rows], r["rep_id"].to_numpy()[rows]
        none = np.full(len(rows), None, dtype=object)
        owner = {"crm_a": "rep" + _zfill(rep, 3), "crm_b": rep_names[rep - 1], "erp": none}[src]
        values = {
            "source_name": np.full(len(rows), src, dtype=object),
            "stream": np.full(len(rows), "customers", dtype=object),
            "source_key": r["key"].to_numpy()[rows].astype(str).astype(object),
            "name": r["name"].to_numpy()[rows],
            "short_name": ent.short_name[e] if src == "erp" else none,
            "uscc": r["uscc"].to_numpy()[rows],
            "phone": r["phone"].to_numpy()[rows],
            "address": r["address"].to_numpy()[rows],
            "contact_name": none if src == "erp" else r["contact_name"].to_numpy()[rows],
            "owner": owner,
            "updated_at": r["updated_at"].to_numpy()[rows].astype("datetime64[ns]"),
            "entity_id": ent.entity_id[e],
        }
        for name, v in values.items():
            columns.setdefault(name, []).append(v)
    data = {name: np.concatenate(parts) for name, parts in columns.items()}
    for name in ("uscc", "phone", "address", "contact_name"):
        data[name][data[name] == ""] = None
    truth = pd.DataFrame({k: data.pop(k) for k in ("source_name", "stream", "source_key", "entity_id")})
    records = pd.DataFrame(data)
    records.insert(0, "source_name", truth["source_name"].to_numpy())
    records.insert(1, "stream", truth["stream"].to_numpy())
    records.insert(2, "source_key", truth["source_key"].to_numpy())
    return records, truth


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m demo.generate --out DIR [--entities N] [--seed S] [--reps R]``."""
    parser = argparse.ArgumentParser(prog="python -m demo.generate", description="Write the demo sources.")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the demo files to")
    parser.add_argument("--entities", type=int, default=2000, help="real companies in the universe")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reps", type=int, default=40, help="sales reps")
    args = parser.parse_args(argv)
    data = generate(args.entities, args.seed, args.reps)
    paths = write_demo(args.out, data)
    counts = {
        "entities": len(data.universe),
        "crm_a": len(data.crm_a),
        "crm_b": len(data.crm_b),
        "erp_customers": len(data.erp_customers),
        "erp_salesmen": len(data.erp_salesmen),
        "erp_orders": len(data.erp_orders),
        "truth": len(data.truth),
    }
    for name, count in counts.items():
        print(f"{name:>14}: {count}")
    print(f"written to {Path(args.out)}: {', '.join(p.name for p in paths.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

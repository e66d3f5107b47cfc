"""Administrative divisions as token vocabularies: the place spellings read in company names and addresses, and
the (province, city, district) a run of division tokens most consistently names (the tables: `mdm.divisions`).
"""

from __future__ import annotations

import re
from functools import cache
from itertools import product

from mdm import divisions

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

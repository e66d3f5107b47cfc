"""English names of Chinese companies and the pinyin key that joins them to the Chinese name.

Foreign-invested companies and contracts write `Beijing Huaxin Technology Co., Ltd.` or
`HUAXIN TECH (SHANGHAI) CO.,LTD` for 北京华信科技有限公司: the brand (字号) in pinyin, trade words in
English, the city anywhere. `parse_latin` reads such a name into brand, trade, legal form and city;
`brand_pinyin` writes a Chinese brand in the same alphabet (toneless pinyin, upper case, no spaces),
so `HUAXIN` is what both sides share.

Pinyin comes from pypinyin, phrase-aware and read in the context of the whole name (重庆 is chongqing,
银行 yinhang), with the readings company names need added to its phrase table (朝阳 chaoyang, 分行
fenhang, 单县 shanxian).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mdm import divisions
from mdm.arrow_regex import has as _has

# Readings company and place names need that pypinyin's own tables get wrong or leave to chance.
_PHRASES: dict[str, list[list[str]]] = {
    "朝阳": [["cháo"], ["yáng"]], "单县": [["shàn"], ["xiàn"]], "分行": [["fēn"], ["háng"]],
    "支行": [["zhī"], ["háng"]], "商行": [["shāng"], ["háng"]], "车行": [["chē"], ["háng"]],
    "琴行": [["qín"], ["háng"]], "洋行": [["yáng"], ["háng"]], "银行": [["yín"], ["háng"]],
    "行业": [["háng"], ["yè"]], "重庆": [["chóng"], ["qìng"]], "长春": [["cháng"], ["chūn"]],
    "长沙": [["cháng"], ["shā"]], "厦门": [["xià"], ["mén"]], "六安": [["lù"], ["ān"]],
}

# English words that are a trade (行业) or a legal form, not the brand.
_TRADES = {
    "TECHNOLOGY", "TECHNOLOGIES", "TECH", "SCIENCE", "SCI", "TRADING", "TRADE", "INDUSTRIAL", "INDUSTRY", "INDUSTRIES",
    "ELECTRONICS", "ELECTRONIC", "ELECTRIC", "ELECTRICAL", "INTERNATIONAL", "INTL", "LOGISTICS", "MEDICAL",
    "PHARMACEUTICAL", "PHARMA", "CONSULTING", "ENGINEERING", "CONSTRUCTION", "DEVELOPMENT", "INVESTMENT",
    "MANAGEMENT", "FOOD", "FOODS", "CHEMICAL", "CHEMICALS", "MACHINERY", "EQUIPMENT", "SOFTWARE", "NETWORK",
    "NETWORKS", "INFORMATION", "INFO", "ENVIRONMENTAL", "ENVIRONMENT", "PROTECTION", "NEW", "ENERGY", "MATERIAL",
    "MATERIALS", "AUTOMATION", "CULTURE", "CULTURAL", "MEDIA", "DIGITAL", "SMART", "INTELLIGENT", "BIOTECH",
    "BIOLOGICAL", "HOLDING", "HOLDINGS", "SUPPLY", "CHAIN", "SERVICES", "SERVICE", "IMPORT", "EXPORT", "AND",
    "COMMERCE", "COMMERCIAL", "ADVERTISING", "DESIGN", "PROPERTY", "REAL", "ESTATE", "AUTO", "PARTS", "TEXTILE",
    "GARMENT", "FURNITURE", "INSTRUMENT", "INSTRUMENTS", "PRECISION", "COMMUNICATION", "COMMUNICATIONS", "DATA",
    "CLOUD", "HEALTH", "HEALTHCARE", "EDUCATION", "HOTEL", "TRAVEL", "PACKAGING", "PRINTING", "ENTERPRISE",
}
_FORMS = {"CO": "有限公司", "COMPANY": "有限公司", "LTD": "有限公司", "LIMITED": "有限公司", "LLC": "有限公司",
          "CORP": "股份有限公司", "CORPORATION": "股份有限公司", "INC": "股份有限公司", "PLC": "股份有限公司",
          "GROUP": "集团有限公司"}
_PLACES_ALWAYS = {"CHINA", "PRC", "CN"}
# The head word of a trade, English → Chinese, and Chinese synonyms → one spelling: what an English and a
# Chinese name of one company agree on (TECH and 环保科技 both end in 科技).
_TRADE_HEADS = {
    "TECHNOLOGY": "科技", "TECHNOLOGIES": "科技", "TECH": "科技", "SCIENCE": "科技", "TRADING": "贸易",
    "TRADE": "贸易", "COMMERCE": "贸易", "COMMERCIAL": "贸易", "ELECTRONICS": "电子", "ELECTRONIC": "电子",
    "ELECTRIC": "电气", "ELECTRICAL": "电气", "LOGISTICS": "物流", "EQUIPMENT": "设备", "MEDICAL": "医疗",
    "PHARMACEUTICAL": "医药", "PHARMA": "医药", "CONSULTING": "咨询", "ENGINEERING": "工程", "CONSTRUCTION": "建设",
    "INVESTMENT": "投资", "MANAGEMENT": "管理", "FOOD": "食品", "FOODS": "食品", "CHEMICAL": "化工",
    "CHEMICALS": "化工", "MACHINERY": "机械", "SOFTWARE": "软件", "NETWORK": "网络", "NETWORKS": "网络",
    "MATERIAL": "材料", "MATERIALS": "材料", "AUTOMATION": "自动化", "ENERGY": "能源", "MEDIA": "传媒",
    "HOLDING": "控股", "HOLDINGS": "控股", "CHAIN": "供应链", "INDUSTRIAL": "实业", "INDUSTRY": "实业",
    "DEVELOPMENT": "发展", "SERVICES": "服务", "SERVICE": "服务", "EXPORT": "进出口", "DESIGN": "设计",
    "ADVERTISING": "广告", "TEXTILE": "纺织", "FURNITURE": "家具", "PACKAGING": "包装", "PRINTING": "印刷",
}
_ZH_SYNONYMS = {"技术": "科技", "医疗器械": "器械", "商贸": "贸易", "国际贸易": "贸易", "外贸": "贸易", "经贸": "贸易",
                "工贸": "贸易", "电器": "电气", "药业": "医药", "制药": "医药", "建设工程": "工程", "建筑工程": "工程"}
_CJK = re.compile(r"[\u3400-\u9fff]")


@cache
def _pinyin() -> Any:
    """pypinyin's `lazy_pinyin` with our phrases, converting each segmented word once per process: brands repeat
    their words (华信, 科技) and the per-word conversion is most of pypinyin's cost."""
    import pypinyin
    from pypinyin.converter import DefaultConverter
    from pypinyin.core import Pinyin

    class WordCache(DefaultConverter):  # pypinyin's documented extension point: Pinyin(converter=...)
        def __init__(self) -> None:
            super().__init__()
            self._done: dict[tuple[Any, ...], list[list[str]]] = {}

        def convert(self, words: str, style: Any, heteronym: bool, errors: Any, strict: bool = True,
                    **kw: Any) -> list[list[str]]:
            key = (words, style, heteronym, errors, strict)
            hit = self._done.get(key)
            if hit is None:
                if len(self._done) > 500_000:  # bounded: a pathological input never grows it for good
                    self._done.clear()
                hit = self._done[key] = super().convert(words, style, heteronym, errors, strict, **kw)
            return hit

    pypinyin.load_phrases_dict(_PHRASES)
    return Pinyin(WordCache()).lazy_pinyin


@cache
def _city_pinyin() -> dict[str, tuple[str | None, str]]:
    """Upper-case pinyin of every province and city short name → (full city name or None, short name)."""
    t = divisions.load()
    out: dict[str, tuple[str | None, str]] = {}
    for d in [*t.provinces, *t.cities]:
        if not d.short:
            continue
        py = "".join(_pinyin()(d.short)).upper()
        city = d.name if d in t.cities else (d.name if d.name in t.province_by_city else None)
        out.setdefault(py, (city, d.short))
    return out


def pinyin_of(text: str) -> str:
    """Toneless pinyin of a Chinese text, upper case, no spaces (other characters kept as they are)."""
    return "".join(_pinyin()(text)).upper()


@cache
def _only_reading(ch: str) -> str | None:
    """The one toneless reading of a character, upper case; None for a polyphone (行: xing or hang) or a
    character pypinyin does not read."""
    import pypinyin

    readings = {r.upper() for r in pypinyin.pinyin(ch, style=pypinyin.Style.NORMAL, heteronym=True)[0]}
    return readings.pop() if len(readings) == 1 and next(iter(readings), ch) != ch.upper() else None


def _simple_reading(core: str) -> str | None:
    """The reading of a brand without polyphones, character by character (memoized per character); None when a
    character has several readings (or none pypinyin knows), which only its context settles."""
    simple = [r for r in (_only_reading(ch) for ch in core) if r]
    return "".join(simple) if len(simple) == len(core) else None


def brand_pinyin(core: str | None, context: str | None = None) -> str | None:
    """The pinyin of a Chinese brand, read in its name's context (`context` starts with `core`: the brand and the
    trade words after it), so a polyphone takes the reading of its phrase. A brand without polyphones is read
    character by character (memoized): most are, and pypinyin's phrase matching costs far more."""
    if not core:
        return None
    simple = _simple_reading(core)
    if simple is not None:
        return simple
    if not context or not context.startswith(core):
        context = core
    syllables = _pinyin()(context)
    if len(syllables) != len(context):  # non-Chinese characters grouped: read the core alone
        return pinyin_of(core)
    return "".join(syllables[: len(core)]).upper()


def is_latin(name: str | None) -> bool:
    """A name written without Chinese characters, with at least two letters."""
    return bool(name) and not _CJK.search(name or "") and len(re.findall(r"[A-Za-z]", name or "")) >= 2


def parse_latin(name: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(brand, trade, legal form in Chinese, full city name, city short name) of an English company name:
    `HUAXIN TECH (SHANGHAI) CO.,LTD` → (HUAXIN, TECH, 有限公司, 上海市, 上海)."""
    words = re.findall(r"[A-Z0-9]+", name.upper().replace("&", " AND "))
    places = _city_pinyin()
    city = short = None
    brand: list[str] = []
    trade: list[str] = []
    form = None
    i = 0
    while i < len(words):
        w, two = words[i], "".join(words[i:i + 2])
        if city is None and i + 1 < len(words) and two in places:  # XI AN, HONG KONG: the first place is the city
            city, short = places[two]
            i += 1
        elif city is None and w in places:
            city, short = places[w]
        elif w in _PLACES_ALWAYS:
            pass
        elif w in _FORMS:
            form = _FORMS[w] if form is None or w == "GROUP" else form
        elif w in _TRADES or (brand and trade):
            trade.append(w)
        else:
            brand.append(w)
        i += 1
    return ("".join(brand) or None, " ".join(trade) or None, form, city, short)


def english_trade_head(trade: str | None) -> str | None:
    """The Chinese head word of an English trade: `MEDICAL EQUIPMENT` → 器械, `TECH` → 科技."""
    if not trade:
        return None
    words = trade.split()
    if words[-2:] == ["MEDICAL", "EQUIPMENT"]:
        return "器械"
    return next((_TRADE_HEADS[w] for w in reversed(words) if w in _TRADE_HEADS), None)


def chinese_trade_head(trade: str | None, vocabulary: frozenset[str]) -> str | None:
    """The head word of a Chinese trade: the shortest trade word that ends it (环保科技 → 科技), in one spelling."""
    if not trade:
        return None
    for n in range(2, len(trade) + 1):
        tail = trade[-n:]
        if tail in vocabulary or tail in _ZH_SYNONYMS:
            return _ZH_SYNONYMS.get(tail, tail)
    return trade


def latin_columns(names: pa.Array) -> dict[str, pa.Array]:
    """For the distinct names `names`: is_latin flag and, for Latin names, brand, trade, form, city and city
    short name (null elsewhere). Python per distinct Latin name: they are few."""
    no_cjk = pc.invert(pc.fill_null(_has(names, "[\u3400-\u9fff]"), True))
    letters = pc.fill_null(_has(names, "[A-Za-z].*[A-Za-z]"), False)
    latin = pc.and_(no_cjk, letters)
    rows = np.flatnonzero(latin.to_numpy(zero_copy_only=False))
    keys = ("brand", "trade", "form", "city", "region")
    out = {k: pa.nulls(len(names), pa.string()) for k in keys}
    if len(rows):  # the few Latin names, parsed in Python
        parsed = [parse_latin(v) for v in names.take(pa.array(rows)).to_pylist()]
        mask = pa.array(np.isin(np.arange(len(names)), rows))
        for i, k in enumerate(keys):
            out[k] = pc.replace_with_mask(out[k], mask, pa.array([p[i] for p in parsed], pa.string()))
    out["is_latin"] = latin
    return out


@lru_cache(maxsize=500_000)  # bounded: a pathological input never grows it for good
def _core_reading(core: str) -> str | None:
    """`_simple_reading` of a brand ("" for none), kept for the rest of the process."""
    return _simple_reading(core) if core else None


@lru_cache(maxsize=500_000)
def _brand_reading(pair: str) -> str | None:
    """`brand_pinyin` of a "core\x1fcontext" pair ("" for none), kept for the rest of the process."""
    return brand_pinyin(*(pair.split("\x1f") if pair else (None, None))) or None


def pinyin_column(core: pa.Array, context: pa.Array) -> pa.Array:
    """Brand pinyin of each row: a brand without polyphones read once per distinct brand, the others once per
    distinct (brand, context) pair; each kept for the process: the chunks of a full run repeat most of their brands
    and trades. Most names are distinct, few brands are, and few brands hold a polyphone (200,000 names of the 1M
    scale bench: 17,700 brands, 144,000 pairs, 54,000 of them to read in context). The bench's 1M names: 1.6 s read
    pair by pair, 1.2 s so."""
    filled = pc.fill_null(core, "")
    brands = filled.dictionary_encode()
    simple = pa.array([_core_reading(v) for v in brands.dictionary.to_pylist()], pa.string())
    out = pc.take(simple, brands.indices)
    rest = pc.and_(pc.is_null(out), pc.not_equal(filled, ""))
    if not pc.any(rest).as_py():
        return out
    rows = pa.array(np.flatnonzero(rest.to_numpy(zero_copy_only=False)))
    key = pc.binary_join_element_wise(pc.take(core, rows), pc.fill_null(pc.take(context, rows), ""), "\x1f")
    enc = key.dictionary_encode()  # once per distinct pair
    read = pc.take(pa.array([_brand_reading(v) for v in enc.dictionary.to_pylist()], pa.string()), enc.indices)
    return pc.replace_with_mask(out, rest, read)



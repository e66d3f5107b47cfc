"""Unit tests of mdm/latin_names.py written against its surviving mutants (issue 20): what makes a name Latin, and
how an English name is read into brand, trade, legal form and city. Expected values worked out by hand from the
module's word lists."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mdm.latin_names import (
    brand_pinyin,
    chinese_trade_head,
    english_trade_head,
    is_latin,
    latin_columns,
    parse_latin,
    pinyin_column,
)
from mdm.standardize.names import _TRADES


@pytest.mark.parametrize(
    "name, latin",
    [
        (None, False),
        ("", False),
        ("A", False),  # one letter
        ("3M", False),
        ("A1", False),
        ("AB", True),
        ("I B", True),  # two letters, wherever they are
        ("IBM", True),
        ("ACME科技", False),  # any Chinese character: not a Latin name
    ],
)
def test_a_latin_name_has_two_letters_and_no_chinese(name: str | None, latin: bool) -> None:
    assert is_latin(name) is latin


@pytest.mark.parametrize(
    "name, parsed",
    [
        # & is AND, a trade word: SCIENCE AND TECHNOLOGY is the trade
        ("HUAXIN SCIENCE & TECHNOLOGY CO., LTD.", ("HUAXIN", "SCIENCE AND TECHNOLOGY", "有限公司", None, None)),
        # a place of two words at the end (XI AN: 西安), and before the legal form
        ("HUAXIN TECH XI AN", ("HUAXIN", "TECH", None, "西安市", "西安")),
        ("HUAXIN TECH XI AN CO LTD", ("HUAXIN", "TECH", "有限公司", "西安市", "西安")),
        # the first legal form stays (CORPORATION, then LIMITED) ...
        ("HUAXIN TECHNOLOGY CORPORATION LIMITED", ("HUAXIN", "TECHNOLOGY", "股份有限公司", None, None)),
        # ... unless a GROUP follows it
        ("HUAXIN CORP GROUP", ("HUAXIN", None, "集团有限公司", None, None)),
    ],
)
def test_english_names_read_into_brand_trade_form_and_city(name: str, parsed: tuple[str | None, ...]) -> None:
    assert parse_latin(name) == parsed


@pytest.mark.parametrize(
    "trade, head",
    [
        ("MEDICAL EQUIPMENT", "器械"),
        ("INTERNATIONAL MEDICAL EQUIPMENT", "器械"),  # MEDICAL EQUIPMENT at the end of a longer trade
        ("ELECTRONIC EQUIPMENT", "设备"),  # the last word with a head
        ("INTERNATIONAL", None),  # no word with a head
        (None, None),
    ],
)
def test_the_chinese_head_of_an_english_trade(trade: str | None, head: str | None) -> None:
    assert english_trade_head(trade) == head


@pytest.mark.parametrize("context", [None, "", "华信科技"])
def test_a_brand_read_without_its_own_context_is_read_alone(context: str | None) -> None:
    # no context, or one that does not start with the brand: the brand alone (重 is a polyphone: chong, zhong)
    assert brand_pinyin("重庆", context) == "CHONGQING"


@pytest.mark.parametrize(
    "trade, head",
    [
        ("医疗器械", "器械"),  # the whole trade is the shortest word that ends it, in one spelling
        ("信息技术服务", "服务"),  # the shortest word at the end
        ("物联网", "物联网"),  # 联网 is no trade word: three characters
        ("信息技术", "科技"),  # 技术 is spelled 科技
        ("", None),
    ],
)
def test_the_head_of_a_chinese_trade(trade: str, head: str | None) -> None:
    assert chinese_trade_head(trade, frozenset(_TRADES.split())) == head


def test_a_missing_name_is_not_latin() -> None:
    assert latin_columns(pa.array([None, "ACME", "同腾", "A"]))["is_latin"].to_pylist() == [False, True, False, False]


def test_the_pinyin_of_missing_or_empty_brands_is_missing() -> None:
    # a brand without context is read alone; no brand has no pinyin
    got = pinyin_column(pa.array([None, "重庆", "重庆", ""]), pa.array(["", "重庆银行", None, ""]))
    assert got.to_pylist() == [None, "CHONGQING", "CHONGQING", None]


def test_brand_readings_are_kept_across_calls_and_bounded() -> None:
    """A brand without polyphones is read once per brand, a brand with one once per (brand, context) pair (重庆
    CHONGQING, 行 in 银行 HANG), each from the process's memo the next time; the memos are bounded."""
    import mdm.latin_names as latin

    latin._brand_reading.cache_clear()
    latin._core_reading.cache_clear()
    core = pa.array(["重庆", "银行", "华通", "瑞丰", "重庆", "华通"])
    context = pa.array(["重庆银行", "银行", "华通科技", "瑞丰", "重庆", "华通电子"])
    want = ["CHONGQING", "YINHANG", "HUATONG", "RUIFENG", "CHONGQING", "HUATONG"]
    assert pinyin_column(core, context).to_pylist() == want
    assert latin._core_reading.cache_info().currsize == 4  # four distinct brands
    assert latin._brand_reading.cache_info().currsize == 3  # the three pairs of the two brands with a polyphone
    assert pinyin_column(core, context).to_pylist() == want
    assert latin._core_reading.cache_info().hits == 4  # (all from the memo)
    assert latin._brand_reading.cache_info().hits == 3
    assert latin._brand_reading.cache_info().maxsize == latin._core_reading.cache_info().maxsize == 500_000
    assert pinyin_column(pa.array(["行"]), pa.array(["行"])).to_pylist() == [brand_pinyin("行", "行")]
    # one brand, two phrases, two readings: the memo keeps each pair's own
    assert pinyin_column(pa.array(["长", "长"]), pa.array(["长城", "长官"])).to_pylist() == ["CHANG", "ZHANG"]
    assert pinyin_column(pa.array(["长"]), pa.array(["长官"])).to_pylist() == ["ZHANG"]
    assert pinyin_column(pa.array(["长"]), pa.array(["长城"])).to_pylist() == ["CHANG"]

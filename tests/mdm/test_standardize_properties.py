"""Properties of the standardizers: no input makes them raise, rows stay aligned, outputs are fixed points."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mdm import divisions
from mdm.standardize import standardize_customers
from mdm.standardize.addresses import standardize_addresses
from mdm.standardize.codes import standardize_uscc, uscc_check_char, uscc_is_valid
from mdm.standardize.names import standardize_names
from mdm.standardize.phones import standardize_phones

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STANDARDIZERS = [standardize_names, standardize_uscc, standardize_phones, standardize_addresses]

_T = divisions.load()
CITY_SHORTS = sorted({c.short for c in _T.cities if c.short})
CITIES = sorted({c.name for c in _T.cities})
PROVINCES = sorted({p.name for p in _T.provinces})
DISTRICTS = sorted({d.name for d in _T.districts})
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TRADES = ["科技", "建设工程", "商贸", "食品", "医疗器械", "环保科技", "信息技术", "新材料", "物流", ""]
FORMS = ["有限公司", "有限责任公司", "股份有限公司", "集团有限公司", "集团", "（有限合伙）", ""]
BRANCHES = ["", "上海分公司", "第三分公司", "北京办事处", "深圳市南山区分公司"]
PUNCT = ["", " ", "　", "，", "-", "\t", "·"]

# Anything a source system could hand over, including what no one should.
odd_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3FF)),
    st.text(alphabet=st.sampled_from("0123456789+-()（）转extEXT# 　／/,，；")),
    st.text(alphabet=st.sampled_from("北京上海市区县省有限公司分集团（）()原科技123456789ABCXYZ")),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(1000, 30_000)),  # huge
    st.sampled_from(["\x00", "\ud800", "\udfff abc", "😀" * 50, "\u200b\u200d", "\x1b[31m", "\r\n\t", "　"]),
)
odd_value = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.binary(max_size=30),
    odd_text,
)


@st.composite
def company_names(draw: st.DrawFn) -> str:
    """Realistic spellings: region in front / in brackets / before the form, forms, branches, noise."""
    core = "".join(draw(st.lists(CJK, min_size=2, max_size=3)))
    trade = draw(st.sampled_from(TRADES))
    form = draw(st.sampled_from(FORMS))
    region = draw(st.sampled_from(CITY_SHORTS + CITIES + PROVINCES))
    where = draw(st.sampled_from(["front", "bracket", "before_form", "middle", "none"]))
    sep = draw(st.sampled_from(PUNCT))
    if where == "front":
        name = region + sep + core + trade + form
    elif where == "bracket":
        name = core + trade + draw(st.sampled_from(["（{}）", "({})", "【{}】"])).format(region) + form
    elif where == "before_form":
        name = core + trade + region + form
    elif where == "middle":
        name = core + f"（{region}）" + trade + form
    else:
        name = core + sep + trade + form
    if form and not form.startswith("（"):
        name += draw(st.sampled_from(BRANCHES))
    if draw(st.booleans()):
        name += "（原" + core + "贸易有限公司）"
    return name


@st.composite
def addresses(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(PROVINCES)))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(CITIES + CITY_SHORTS)))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(DISTRICTS)))
    street = draw(st.sampled_from(["人民路", "中山路", "建设路", "延安西路", "科技园", "金融街", "高新大道"]))
    number = draw(st.integers(1, 9999))
    return draw(st.sampled_from(PUNCT)).join([*parts, f"{street}{number}号"])


def check_aligned(fn, values: list[object], index: list[int]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    s = pd.Series(values, index=index, dtype=object)
    out = fn(s)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == index
    return out


@SETTINGS
@given(st.lists(odd_value, max_size=12), st.randoms())
@example(["\ud800北京", None, float("nan"), b"\xff\xfe", 13812345678, "😀🏢有限公司"], None)
def test_no_input_makes_a_standardizer_raise(values: list[object], rnd) -> None:  # type: ignore[no-untyped-def]
    index = list(range(100, 100 + len(values)))
    if rnd is not None:
        rnd.shuffle(index)
    for fn in STANDARDIZERS:
        out = check_aligned(fn, values, index)
        for col in out.columns:  # missing input → missing output, never an exception or a crash later
            for i, v in zip(index, values, strict=True):
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    cell = out.at[i, col]
                    assert pd.isna(cell) or (isinstance(cell, bool | np.bool_) and not cell)


@SETTINGS
@given(st.lists(st.tuples(odd_value, odd_value, odd_value, odd_value, odd_value), max_size=8))
def test_no_record_makes_standardize_customers_raise(rows: list[tuple[object, ...]]) -> None:
    df = pd.DataFrame(rows, columns=["name", "short_name", "uscc", "phone", "address"], dtype=object)
    df.index = [f"k{i}" for i in range(len(df))]
    out = standardize_customers(df)
    assert list(out.index) == list(df.index)
    assert "city_any" in out.columns and "name_key" in out.columns


@SETTINGS
@given(st.text(), st.text(max_size=20))
def test_uscc_functions_never_raise(first17: str, code: str) -> None:
    check = uscc_check_char(first17)
    assert check is None or len(check) == 1
    assert isinstance(uscc_is_valid(code), bool)


@SETTINGS
@given(st.lists(company_names(), min_size=1, max_size=10))
@example(["七台河一薴科技有限公司"])  # (OpenCC converts 薴 to 苧, and 苧 to 苎: found by hypothesis)
def test_normalized_name_keeps_its_name_key(raw: list[str]) -> None:
    first = standardize_names(pd.Series(raw))
    assert first["name_key"].notna().all()
    again = standardize_names(first["name_norm"])
    assert again["name_key"].tolist() == first["name_key"].tolist()
    assert again["branch"].fillna("").tolist() == first["branch"].fillna("").tolist()
    assert again["name_norm"].tolist() == first["name_norm"].tolist()


@SETTINGS
@given(st.lists(st.text(alphabet=st.one_of(CJK, st.sampled_from("ABCabc123()（） ,.-")), max_size=25), max_size=10))
def test_name_norm_is_a_fixed_point(raw: list[str]) -> None:
    first = standardize_names(pd.Series(raw, dtype=object))
    again = standardize_names(first["name_norm"])
    assert again["name_norm"].fillna("").tolist() == first["name_norm"].fillna("").tolist()


# City names that are also words or brands (东方, 中卫, 红河, ...) stay part of a name on purpose, and a brand
# that starts with an administrative suffix (市竓科技) reads as a region: neither is a spelling variant.
WORD_LIKE_CITIES = {"阿里", "东方", "普洱", "红河", "玉树", "海西", "海北", "黄南", "三沙", "中卫"}
BRAND_CHAR = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5).filter(lambda c: c not in "市省区县州")


@st.composite
def spellings_of_one_company(draw: st.DrawFn) -> list[str]:
    """One company (brand, trade, legal form) spelled the ways sources write it: the region in front, in
    brackets after the trade or the brand, before the form, or left out; another legal form."""
    core = "".join(draw(st.lists(BRAND_CHAR, min_size=2, max_size=3)))
    trade = draw(st.sampled_from(TRADES))
    form = draw(st.sampled_from(["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]))
    region = draw(st.sampled_from([c for c in CITY_SHORTS if c not in WORD_LIKE_CITIES] + CITIES + PROVINCES))
    sep = draw(st.sampled_from(PUNCT))
    return [core + trade + form, region + sep + core + trade + form, core + trade + f"（{region}）" + form,
            core + f"（{region}）" + trade + form, core + trade + region + form, core + trade + "有限公司"]


@SETTINGS
@given(spellings_of_one_company())
def test_region_and_form_do_not_change_the_key(spellings: list[str]) -> None:
    keys = standardize_names(pd.Series(spellings))["name_key"]
    assert keys.nunique() == 1 and keys.notna().all(), dict(zip(spellings, keys, strict=True))


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"(\+86 ?)?1[3-9][0-9]{9}", fullmatch=True),
            st.from_regex(r"0(10|2[0-9]|571|755|532) ?-?[2-8][0-9]{7}( 转[0-9]{1,4})?", fullmatch=True),
            odd_text,
        ),
        max_size=10,
    )
)
def test_canonical_phone_is_a_fixed_point(raw: list[str]) -> None:
    first = standardize_phones(pd.Series(raw, dtype=object))
    valid = first["phone"].notna()
    again = standardize_phones(first.loc[valid, "phone"])
    assert again["phone"].tolist() == first.loc[valid, "phone"].tolist()
    assert again["phone_digits"].tolist() == first.loc[valid, "phone_digits"].tolist()
    assert set(first["phone_type"].dropna()) <= {"mobile", "landline", "invalid"}


@SETTINGS
@given(st.lists(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXYabc -", min_size=15, max_size=22), max_size=10))
def test_normalized_uscc_is_a_fixed_point(raw: list[str]) -> None:
    first = standardize_uscc(pd.Series(raw))
    again = standardize_uscc(first["uscc"])
    assert again["uscc"].fillna("").tolist() == first["uscc"].fillna("").tolist()
    assert again["uscc_valid"].tolist() == first["uscc_valid"].tolist()
    for code, ok in zip(first["uscc"], first["uscc_valid"], strict=True):
        assert ok == (isinstance(code, str) and uscc_is_valid(code))


@SETTINGS
@given(st.lists(addresses(), min_size=1, max_size=10))
def test_address_parse_is_stable(raw: list[str]) -> None:
    first = standardize_addresses(pd.Series(raw))
    again = standardize_addresses(first["address_norm"])
    assert again["address_norm"].fillna("").tolist() == first["address_norm"].fillna("").tolist()
    for prov, city in zip(first["province"], first["city"], strict=True):
        if isinstance(city, str):
            assert prov == _T.province_by_city[city]

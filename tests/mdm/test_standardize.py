"""Standardizers of names, USCC, phones and addresses: examples of every shape they must read."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from mdm import divisions
from mdm.standardize import standardize_customers
from mdm.standardize.addresses import standardize_addresses
from mdm.standardize.codes import standardize_uscc, uscc_check_char, uscc_is_valid
from mdm.standardize.names import standardize_names
from mdm.standardize.phones import standardize_phones

NA = pd.NA


def one(frame: pd.DataFrame) -> dict[str, object]:
    """The single row of a result as a dict, with <NA> as None."""
    assert len(frame) == 1
    return {k: None if v is NA else bool(v) if isinstance(v, np.bool_) else v for k, v in frame.iloc[0].items()}


def names(value: object) -> dict[str, object]:
    return one(standardize_names(pd.Series([value])))


def phone(value: object) -> dict[str, object]:
    return one(standardize_phones(pd.Series([value])))


def address(value: object) -> dict[str, object]:
    return one(standardize_addresses(pd.Series([value])))


def uscc(value: object) -> dict[str, object]:
    """The USCC columns of one value (the 15-digit registration number is tested in test_hard_cases.py)."""
    return {k: v for k, v in one(standardize_uscc(pd.Series([value]))).items() if k != "reg_no"}


# ----------------------------------------------------------------------------------------------
# USCC
# ----------------------------------------------------------------------------------------------

# Published codes of well-known companies; each passes both checks in an independent
# implementation below too.
REAL_USCC = [
    "91110108551385082Q",  # 小米科技有限责任公司
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91110000802100433B",  # 百度在线网络技术（北京）有限公司
    "91110000710925462X",  # 中国石油天然气股份有限公司
    "91330100716105852F",  # 阿里巴巴（中国）网络技术有限公司
    "91440300192317458F",  # 比亚迪股份有限公司
]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def reference_valid(code: str) -> bool:
    """GB 32100-2015 and GB 11714 written out plainly, as a second opinion."""
    if len(code) != 18 or any(c not in ALPHABET for c in code):
        return False
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(ALPHABET.index(c) * w for c, w in zip(code[:17], weights, strict=True))
    if ALPHABET[(31 - total % 31) % 31] != code[17]:
        return False
    org = code[8:17]
    value = {**{str(i): i for i in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}
    c = 11 - sum(value[ch] * w for ch, w in zip(org[:8], [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return org[8] == {10: "X", 11: "0"}.get(c, str(c))


def with_check(first17: str) -> str:
    check = uscc_check_char(first17)
    assert check is not None
    return first17 + check


def org_code(first8: str) -> str:
    value = {**{str(i): i for i in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}
    c = 11 - sum(value[ch] * w for ch, w in zip(first8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return first8 + {10: "X", 11: "0"}.get(c, str(c))


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_codes_are_valid(code: str) -> None:
    assert reference_valid(code)
    assert uscc_is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]
    assert uscc(code) == {"uscc": code, "uscc_valid": True, "org_code": code[8:17], "org_code_valid": True}


@pytest.mark.parametrize("code", REAL_USCC)
@pytest.mark.parametrize("pos", [0, 5, 9, 16, 17])
def test_one_changed_character_is_invalid(code: str, pos: int) -> None:
    other = next(c for c in "0123456789ABC" if c != code[pos])
    bad = code[:pos] + other + code[pos + 1 :]
    assert not uscc_is_valid(bad)
    got = uscc(bad)
    assert got["uscc"] == bad and got["uscc_valid"] is False  # kept, flagged


@pytest.mark.parametrize(
    "raw",
    [
        "91110108551385082q",
        "911101085513 85082Q",
        " 9111-0108-5513-8508-2Q ",
        "９１１１０１０８５５１３８５０８２Ｑ",  # full-width
        "91110108551385O82Q",  # letter O keyed for zero: fixed only because the fix validates
    ],
)
def test_lowercase_spaced_fullwidth_codes_normalize(raw: str) -> None:
    got = uscc(raw)
    assert got["uscc"] == "91110108551385082Q"
    assert got["uscc_valid"] is True


def test_check_char_edge_cases() -> None:
    assert uscc_check_char("91110108551385082") == "Q"
    assert uscc_check_char("9111010855138508") is None  # 16 chars
    assert uscc_check_char("9111010855138508I") is None  # I is not in the alphabet
    assert uscc_check_char(None) is None  # type: ignore[arg-type]
    assert not uscc_is_valid("")
    assert not uscc_is_valid(None)  # type: ignore[arg-type]


def test_organization_code_check_inside_the_uscc() -> None:
    # The USCC check character alone would pass; the embedded org code's own check does not.
    good = REAL_USCC[0]
    broken_org = with_check(good[:16].replace(good[15], "0" if good[15] != "0" else "1", 1)[:16] + "7")
    assert uscc_check_char(broken_org[:17]) == broken_org[17]
    assert not reference_valid(broken_org)
    got = uscc(broken_org)
    assert got["uscc_valid"] is False and got["org_code_valid"] is False


def test_letters_in_the_first_eight_are_fine() -> None:
    # python-stdnum wrongly wants the first 8 to be digits; registration authority Y = other.
    code = with_check("Y1110108" + org_code("ABCD1234"))
    assert reference_valid(code)
    assert uscc(code)["uscc_valid"] is True
    code = with_check("91430104" + org_code("FLKR53E9"))
    assert uscc(code.lower())["uscc_valid"] is True


def test_bare_legacy_org_code() -> None:
    assert uscc("55138508-2") == {
        "uscc": "551385082",
        "uscc_valid": False,
        "org_code": "551385082",
        "org_code_valid": True,
    }
    assert uscc("55138508-3")["org_code_valid"] is False
    # a lower-case check character is read upper-case; X is not this code's check character (8 is)
    assert org_code("12345678") == "123456788"
    assert uscc("12345678x") == {"uscc": "12345678X", "uscc_valid": False, "org_code": "12345678X",
                                 "org_code_valid": False}


@pytest.mark.parametrize("raw", [None, float("nan"), "", "   ", "-", "N/A", 91110108551385082])
def test_missing_or_junk_codes(raw: object) -> None:
    got = uscc(raw)
    assert got["uscc_valid"] is False
    if raw in (None, "", "   ", "-") or (isinstance(raw, float) and math.isnan(raw)):
        assert got["uscc"] is None and got["org_code"] is None


def test_uscc_vectorized_keeps_index_and_repeats() -> None:
    s = pd.Series([REAL_USCC[1], None, REAL_USCC[1].lower(), "bad"], index=[10, 3, 7, 99])
    out = standardize_uscc(s)
    assert list(out.index) == [10, 3, 7, 99]
    assert out["uscc_valid"].tolist() == [True, False, True, False]
    assert out["uscc"].iloc[2] == REAL_USCC[1]
    assert out["uscc_valid"].dtype == bool


# ----------------------------------------------------------------------------------------------
# Phones
# ----------------------------------------------------------------------------------------------

MOBILE = "+8613812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+86-13812345678",
        "(+86)13812345678",
        "+8613812345678",
        "0086 13812345678",
        "0086-138-1234-5678",
        "8613812345678",
        "86 138 1234 5678",
        "013812345678",  # trunk 0 in front of a mobile
        "１３８１２３４５６７８",  # full-width digits
        "tel: 13812345678",
        13812345678,  # a number column
        13812345678.0,
    ],
)
def test_mobile_formats(raw: object) -> None:
    assert phone(raw) == {
        "phone": MOBILE,
        "phone_type": "mobile",
        "area_code": None,
        "extension": None,
        "phone_digits": "12345678",
        "phone_city": None,
    }


@pytest.mark.parametrize(
    "raw",
    [
        "010-62345678",
        "010 6234 5678",
        "(010)62345678",
        "（010）62345678",
        "01062345678",
        "+86 10 6234 5678",
        "+86-10-62345678",
        "86-10-62345678",
        "0086 10 62345678",
        "+86 (0)10 62345678",
        "010.6234.5678",
    ],
)
def test_beijing_landline_formats(raw: str) -> None:
    got = phone(raw)
    assert got["phone"] == "+86-10-62345678"
    assert (got["phone_type"], got["area_code"], got["phone_digits"]) == ("landline", "010", "62345678")
    assert got["phone_city"] == "北京市"


@pytest.mark.parametrize(
    "raw, canonical, area",
    [
        ("0571-69438606", "+86-571-69438606", "0571"),
        ("057169438606", "+86-571-69438606", "0571"),
        ("(0571)69438606", "+86-571-69438606", "0571"),
        ("+86 571 6943 8606", "+86-571-69438606", "0571"),
        ("0571-6943860", "+86-571-6943860", "0571"),  # 7-digit subscriber number
        ("02135335885", "+86-21-35335885", "021"),
        ("053253196419", "+86-532-53196419", "0532"),
        ("+86 29 3739 0556", "+86-29-37390556", "029"),
        ("862937390556", "+86-29-37390556", "029"),
    ],
)
def test_landline_with_area_code(raw: str, canonical: str, area: str) -> None:
    got = phone(raw)
    assert (got["phone"], got["phone_type"], got["area_code"]) == (canonical, "landline", area)
    assert got["phone_digits"] == canonical.rsplit("-", 1)[1][-8:]


@pytest.mark.parametrize(
    "raw",
    [
        "0571-69438606 转345",
        "0571-69438606转345",
        "0571-69438606 分机345",
        "0571-69438606 ext 345",
        "0571-69438606 EXT.345",
        "0571-69438606 x345",
        "0571-69438606#345",
        "0571-69438606-345",  # a dash after a complete number
        "(0571) 6943 8606-345",
        "+86 571 69438606-345",
    ],
)
def test_extensions(raw: str) -> None:
    got = phone(raw)
    assert (got["phone"], got["extension"]) == ("+86-571-69438606", "345")


def test_dashes_inside_a_number_are_not_extensions() -> None:
    assert phone("138-1234-5678")["extension"] is None
    assert phone("0571-6943-8606") == phone("0571-69438606")
    assert phone("021-5433-2211")["phone"] == "+86-21-54332211"
    assert phone("13812345678 转 8")["extension"] == "8"


def test_landline_without_area_code_and_service_numbers() -> None:
    got = phone("6234 5678")
    assert (got["phone"], got["phone_type"], got["area_code"], got["phone_digits"]) == (
        "62345678",
        "landline",
        None,
        "62345678",
    )
    got = phone("400-123-4567")
    assert (got["phone"], got["phone_type"], got["area_code"]) == ("+86-400-1234567", "landline", None)


@pytest.mark.parametrize(
    "raw, e164",
    [("+852 2345 6789", "+85223456789"), ("+1 650-253-0000", "+16502530000"), ("0044 20 7946 0000", "+442079460000")],
)
def test_other_countries_via_phonenumbers(raw: str, e164: str) -> None:
    got = phone(raw)
    assert got["phone"] == e164 and got["phone_type"] in ("mobile", "landline")


@pytest.mark.parametrize(
    "raw",
    ["123", "086-04349024", "089-81287403", "0263-62535610", "abc", "00000000", "1381234567", "+86"],
)
def test_invalid_phones(raw: str) -> None:
    got = phone(raw)
    assert got["phone_type"] == "invalid"
    assert got["phone"] is None and got["phone_digits"] is None


@pytest.mark.parametrize("raw", [None, float("nan"), "", "   "])
def test_empty_phones(raw: object) -> None:
    assert all(v is None for v in phone(raw).values())


def test_several_numbers_keep_the_first() -> None:
    assert phone("13812345678/0571-69438606")["phone"] == MOBILE
    assert phone("0571-69438606；13812345678")["phone"] == "+86-571-69438606"


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+86 138 1234 5678", "010-62345678", "(0571)69438606", "+86 29 3739 0556", "0755-83765566"],
)
def test_canonical_phone_agrees_with_phonenumbers(raw: str) -> None:
    ours = phone(raw)["phone"]
    theirs = phonenumbers.parse(raw, "CN")
    assert phonenumbers.is_valid_number(theirs)
    assert ours.replace("-", "") == phonenumbers.format_number(theirs, phonenumbers.PhoneNumberFormat.E164)


# ----------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, region",
    [
        ("北京同腾建设工程有限公司", "北京"),
        ("北京市同腾建设工程有限公司", "北京"),
        ("同腾建设工程（北京）有限责任公司", "北京"),
        ("同腾建设工程(北京)有限公司", "北京"),
        ("同腾建设工程【北京】有限公司", "北京"),
        ("同腾（北京）建设工程有限公司", "北京"),
        ("同腾建设工程北京有限公司", "北京"),
        ("同腾建设工程", None),
        ("同腾建设工程股份有限公司", None),
        ("广东省深圳市同腾建设工程有限公司", "深圳"),
        ("深圳市南山区同腾建设工程有限公司", "深圳"),
        ("昆山同腾建设工程有限公司", "昆山"),
        ("广东同腾建设工程集团有限公司", "广东"),
        ("廣州同騰建設工程有限公司", "广州"),  # traditional characters
        (" 同腾 建设工程 , 有限公司 ", None),
    ],
)
def test_spellings_of_one_company_share_the_name_key(raw: str, region: str | None) -> None:
    got = names(raw)
    assert got["name_key"] == "同腾建设工程"
    assert (got["core"], got["trade"], got["region"]) == ("同腾", "建设工程", region)


def test_example_from_the_issue() -> None:
    got = names("同腾建设工程（武汉）有限公司")
    assert got == {
        "name_norm": "同腾建设工程武汉有限公司",
        "region": "武汉",
        "core": "同腾",
        "trade": "建设工程",
        "form": "有限公司",
        "branch": None,
        "is_branch": False,
        "name_key": "同腾建设工程",
        "name_city": "武汉市",
        "former": None,
        "institution_district": None,
        "group_key": "member",
        "brand_pinyin": "TONGTENG",
        "trade_head": "工程",
        "brand_trade": "TONGTENG|工程",
        "latin": None,
    }


@pytest.mark.parametrize(
    "raw, form",
    [
        ("同腾科技股份有限公司", "股份有限公司"),
        ("同腾科技有限责任公司", "有限责任公司"),
        ("同腾科技集团有限公司", "集团有限公司"),
        ("同腾科技（集团）有限公司", "集团有限公司"),
        ("同腾科技集团股份有限公司", "集团股份有限公司"),
        ("同腾科技集团", "集团"),
        ("同腾科技总公司", "总公司"),
        ("同腾科技合伙企业（有限合伙）", "合伙企业有限合伙"),
        ("同腾科技（有限合伙）", "有限合伙"),
        ("同腾科技有限公司", "有限公司"),
        ("同腾科技公司", "公司"),
    ],
)
def test_legal_forms_longest_first(raw: str, form: str) -> None:
    got = names(raw)
    assert got["form"] == form
    assert got["name_key"] == "同腾科技"


@pytest.mark.parametrize(
    "raw, parent_key, branch, city",
    [
        ("广州同腾建设工程有限公司上海分公司", "同腾建设工程", "上海分公司", "上海市"),
        ("凯康能源（北京）有限公司杭州分公司", "凯康能源", "杭州分公司", "杭州市"),
        ("同腾建设工程有限公司第三分公司", "同腾建设工程", "第3分公司", None),
        ("同腾建设工程有限公司第十二分公司", "同腾建设工程", "第12分公司", None),
        ("同腾建设工程有限公司北京办事处", "同腾建设工程", "北京办事处", "北京市"),
        ("同腾建设工程上海浦东新区分公司", "同腾建设工程", "上海浦东新区分公司", "上海市"),
        ("同腾建设工程有限公司苏州营业部", "同腾建设工程", "苏州营业部", "苏州市"),
    ],
)
def test_branches(raw: str, parent_key: str, branch: str, city: str | None) -> None:
    got = names(raw)
    assert (got["name_key"], got["branch"], got["is_branch"]) == (parent_key, branch, True)
    if city:
        assert got["name_city"] == city


def test_branch_and_parent_differ_only_by_branch() -> None:
    out = standardize_names(pd.Series(["上海同腾科技有限公司", "上海同腾科技有限公司北京分公司"]))
    assert out["name_key"].nunique() == 1
    assert out["is_branch"].tolist() == [False, True]
    assert out["name_city"].tolist() == ["上海市", "北京市"]


def test_fullwidth_latin_and_former_names() -> None:
    got = names("ＡＢＣ科技（北京）有限公司（原北京ＡＢＣ贸易有限公司）")
    assert (got["name_norm"], got["name_key"], got["region"]) == ("ABC科技北京有限公司", "ABC科技", "北京")
    assert names("同腾建设工程有限公司(曾用名:同腾建筑有限公司)")["name_key"] == "同腾建设工程"
    assert names("同腾建设工程有限公司(曾用名:同腾建筑有限公司)")["former"] == "同腾建筑有限公司"
    # A name in Latin letters is read as English (tests/mdm/test_hard_cases.py): no Chinese name key.
    acme = names("acme co., ltd.")
    assert (acme["name_key"], acme["core"], acme["brand_pinyin"], acme["latin"]) == (None, "ACME", "ACME", "Y")


@pytest.mark.parametrize(
    "raw, core, trade",
    [
        ("隆立新材料有限公司", "隆立", "新材料"),
        ("华新能源有限公司", "华新", "能源"),
        ("益中智能科技股份有限公司", "益中", "智能科技"),
        ("联同信息技术服务有限公司", "联同", "信息技术服务"),
        ("同腾", "同腾", None),
        ("同腾有限公司", "同腾", None),
    ],
)
def test_core_and_trade(raw: str, core: str, trade: str | None) -> None:
    got = names(raw)
    assert (got["core"], got["trade"]) == (core, trade)


def test_place_names_that_are_the_brand() -> None:
    # 瑞安 is a city; followed by trade words only, it is the brand.
    assert names("瑞安文化传媒有限公司")["name_key"] == "瑞安文化传媒"
    got = names("温州瑞安文化传媒有限公司")
    assert (got["region"], got["core"]) == ("温州", "瑞安")
    assert names("北京")["name_key"] == "北京"
    assert names("阿里巴巴（中国）网络技术有限公司")["name_key"] == "阿里巴巴网络技术"


def test_siblings_in_other_cities_share_key_but_not_region() -> None:
    out = standardize_names(pd.Series(["广州同腾建设工程股份有限公司", "同腾建设工程（武汉）有限公司"]))
    assert out["name_key"].nunique() == 1
    assert out["region"].tolist() == ["广州", "武汉"]


@pytest.mark.parametrize("raw", [None, float("nan"), "", "  ", "（）", "!!!"])
def test_empty_names(raw: object) -> None:
    got = names(raw)
    assert got["name_key"] is None and got["is_branch"] is False


def test_names_keep_index_and_dtypes() -> None:
    s = pd.Series(["北京同腾科技有限公司", None, "北京同腾科技有限公司"], index=["a", "b", "c"])
    out = standardize_names(s)
    assert list(out.index) == ["a", "b", "c"]
    assert list(out.columns) == [
        "name_norm", "region", "core", "trade", "form", "branch", "is_branch", "name_key", "name_city", "former",
        "institution_district", "group_key", "brand_pinyin", "trade_head", "brand_trade", "latin",
    ]  # fmt: skip
    assert str(out["name_key"].dtype) == "string" and out["is_branch"].dtype == bool
    assert out["name_key"].iloc[0] == out["name_key"].iloc[2] == "同腾科技"


# ----------------------------------------------------------------------------------------------
# Addresses
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("湖南省长沙市岳麓区创业大道532号10层", ("湖南省", "长沙市", "岳麓区", "创业大道532号10层")),
        ("长沙市岳麓区创业大道532号 10层", ("湖南省", "长沙市", "岳麓区", "创业大道532号10层")),
        ("岳麓区创业大道532号", ("湖南省", "长沙市", "岳麓区", "创业大道532号")),  # city from district
        ("长沙人民路553号 25层", ("湖南省", "长沙市", None, "人民路553号25层")),
        ("南京市鼓楼区解放路８２１号", ("江苏省", "南京市", "鼓楼区", "解放路821号")),  # full-width
        ("北京市海淀区中关村大街1号", ("北京市", "北京市", "海淀区", "中关村大街1号")),
        ("中国 上海 浦东新区 张江路 88 号", ("上海市", "上海市", "浦东新区", "张江路88号")),
        ("广东深圳南山区科技园", ("广东省", "深圳市", "南山区", "科技园")),
        ("江苏省昆山市前进路1号", ("江苏省", "苏州市", "昆山市", "前进路1号")),
        ("广西省南宁市青秀区民族大道1号", ("广西壮族自治区", "南宁市", "青秀区", "民族大道1号")),
        ("内蒙古自治区呼和浩特市新城区1号", ("内蒙古自治区", "呼和浩特市", "新城区", "1号")),
        ("重庆市秀山土家族苗族自治县中和街道", ("重庆市", "重庆市", "秀山土家族苗族自治县", "中和街道")),
        ("廣東省深圳市福田區深南大道", ("广东省", "深圳市", "福田区", "深南大道")),  # traditional
        ("浙江省宁波市", ("浙江省", "宁波市", None, None)),
        ("黑龙江省七台河市新兴区1号", ("黑龙江省", "七台河市", None, "新兴区1号")),  # district not in table
    ],
)
def test_addresses(raw: str, expected: tuple[str | None, ...]) -> None:
    got = address(raw)
    assert (got["province"], got["city"], got["district"], got["address_norm"]) == expected


def test_ambiguous_district_names_no_city() -> None:
    got = address("鼓楼区解放路1号")  # 南京 and 福州 both have one
    assert (got["province"], got["city"], got["district"]) == (None, None, "鼓楼区")


def test_city_names_in_street_names_are_streets() -> None:
    assert address("延安西路100号") == {
        "province": None,
        "city": None,
        "district": None,
        "address_norm": "延安西路100号",
    }
    assert address("上海市延安西路1号")["address_norm"] == "延安西路1号"
    assert address("北京路100号")["city"] is None
    assert address("中山大道1号")["city"] is None


@pytest.mark.parametrize("raw", [None, float("nan"), "", "   "])
def test_empty_addresses(raw: object) -> None:
    assert all(v is None for v in address(raw).values())


# ----------------------------------------------------------------------------------------------
# Whole records
# ----------------------------------------------------------------------------------------------


def test_customers_columns_and_city_fallbacks() -> None:
    df = pd.DataFrame(
        {
            "name": ["北京同腾科技有限公司", "同腾科技（武汉）有限公司", "同腾科技有限公司", "同腾科技有限公司", None],
            "short_name": [None, None, None, None, "同腾科技"],
            "uscc": [REAL_USCC[0], None, "bad", None, None],
            "phone": ["13812345678", None, "0571-69438606", "13812345678", None],
            "address": ["上海市黄浦区中山东一路1号", None, None, None, None],
            "contact_name": ["张三", None, None, None, None],
        },
        index=[5, 6, 7, 8, 9],
    )
    out = standardize_customers(df)
    assert list(out.index) == [5, 6, 7, 8, 9]
    pd.testing.assert_frame_equal(out[df.columns], df)
    expected_new = [
        "name_norm", "name_region", "name_core", "name_trade", "name_form", "branch", "is_branch", "name_key",
        "name_city", "name_district", "group_key", "brand_pinyin", "name_trade_head", "brand_trade", "name_latin",
        "uscc_std",
        "reg_no", "uscc_valid", "org_code", "org_code_valid", "phone_std", "phone_type", "area_code", "phone_ext",
        "phone_digits", "phone_city", "province", "city", "district", "address_norm", "contact_std", "email_std",
        "former_name_key", "name_or_former_key", "org_kind", "city_any",
    ]  # fmt: skip
    assert [c for c in out.columns if c not in df.columns] == expected_new
    # address city, else the name's, else the phone's area code
    assert out["city_any"].tolist()[:4] == ["上海市", "武汉市", "杭州市", NA]
    assert out["name_key"].tolist() == ["同腾科技"] * 5  # short_name stands in for a missing name
    assert out["uscc_valid"].tolist() == [True, False, False, False, False]


def test_customers_cross_field_fixes() -> None:
    df = pd.DataFrame(
        {
            "name": ["北京同腾科技有限公司", "同腾科技有限公司", "长春同腾科技有限公司"],
            "phone": ["6234 5678", "0431-85678901", "8567 8901"],
            "address": ["朝阳区建国路1号", "朝阳区人民大街1号", "朝阳区人民大街2号"],
        }
    )
    out = standardize_customers(df)
    # the ambiguous 朝阳区 follows the name's city, or the phone's
    assert out["city"].tolist() == ["北京市", "长春市", "长春市"]
    assert out["province"].tolist() == ["北京市", "吉林省", "吉林省"]
    # a landline without area code takes the record's city code
    assert out["phone_std"].tolist() == ["+86-10-62345678", "+86-431-85678901", "+86-431-85678901"]
    assert out["area_code"].tolist() == ["010", "0431", "0431"]


def test_customers_with_few_columns_and_clashes() -> None:
    out = standardize_customers(pd.DataFrame({"name": ["上海同腾科技有限公司"], "city": ["stale"]}))
    assert out["city_any"].iloc[0] == "上海市"
    assert list(out.columns).count("city") == 1 and out["city"].isna().all()
    assert standardize_customers(pd.DataFrame({"name": pd.Series([], dtype=object)})).empty


# ----------------------------------------------------------------------------------------------
# The division table
# ----------------------------------------------------------------------------------------------


def test_division_table_is_consistent() -> None:
    t = divisions.load()
    assert len(t.provinces) == 34 and len(t.cities) > 330
    assert all(c.area_code and c.area_code.startswith("0") and len(c.area_code) in (3, 4) for c in t.cities)
    assert all(d.city in t.province_by_city for d in t.districts)
    assert t.city_by_area_code["010"] == "北京市" and t.city_by_area_code["0755"] == "深圳市"
    assert t.city_by_area_code["024"] == "沈阳市"  # shared code → the first city listed
    assert sorted(d.city for d in t.by_token["朝阳区"]) == ["北京市", "长春市"]
    names_ = [c.name for c in t.cities]
    assert len(names_) == len(set(names_))


def test_large_repetitive_column_is_computed_once_per_value() -> None:
    s = pd.Series(np.tile(["北京同腾科技有限公司", "上海同腾科技有限公司", None], 20_000))
    out = standardize_names(s)
    assert len(out) == 60_000 and out["name_key"].iloc[-2] == "同腾科技"
    assert out["region"].value_counts().to_dict() == {"北京": 20_000, "上海": 20_000}

"""Unit tests of mdm/standardize written against its surviving mutants (issue 20): each asserts one behaviour with
values worked out by hand or by an independent implementation (phonenumbers, the GB check-character algorithms
written out plainly, Unicode's NFKC), never what the code happens to return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pytest

from mdm.standardize import standardize_customers
from mdm.standardize.addresses import standardize_addresses
from mdm.standardize.arrow import _lengths, _np, _rows_flag, _slice_rows, _sub, _to_arrow, _to_str, _vocab
from mdm.standardize.codes import (
    _ascii_matrix,
    _org_check_char,
    reg_no_check_digit,
    reg_no_is_valid,
    standardize_uscc,
    uscc_check_char,
    uscc_is_valid,
)
from mdm.standardize.names import _cn_to_int, standardize_names
from mdm.standardize.phones import standardize_phones
from mdm.standardize.regions import _district_in_front
from mdm.standardize.text import _base_clean
from tests.mdm.test_standardize import NA, one


def phone(value: object) -> dict[str, object]:
    return one(standardize_phones(pd.Series([value])))


def values(column: pd.Series) -> list[object]:
    """A column's values, with <NA> as None."""
    return [None if v is NA else v for v in column.tolist()]


def names(value: object) -> dict[str, object]:
    return one(standardize_names(pd.Series([value])))


def address(value: object) -> tuple[object, ...]:
    got = one(standardize_addresses(pd.Series([value])))
    return got["province"], got["city"], got["district"], got["address_norm"]


# GB 32100-2015 and GB 11714 written out plainly (as in test_standardize.py), to compute the expected codes.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_VALUE = {**{str(i): i for i in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}


def reference_uscc_check(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def reference_org_check(first8: str) -> str:
    c = 11 - sum(ORG_VALUE[ch] * w for ch, w in zip(first8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def reference_reg_no_valid(code: str) -> bool:
    """GB/T 17710 (ISO 7064 MOD 11,10) as the standard states it: run the recursion over all 15 digits; valid when
    the last step leaves 1."""
    p = 10
    for ch in code[:14]:
        s = (p + int(ch)) % 10
        p = (10 if s == 0 else s) * 2 % 11
    return (p + int(code[14])) % 10 == 1


# ----------------------------------------------------------------------------------------------
# Phones
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, e164, ptype, digits",
    [
        # phonenumbers: a UK 07 number is MOBILE; Hong Kong 2xxx xxxx is FIXED_LINE; a US number is
        # FIXED_LINE_OR_MOBILE, which is not known to be a mobile. The blocking key is the national number's last 8.
        ("+44 7911 123456", "+447911123456", "mobile", "11123456"),
        ("+852 2345 6789", "+85223456789", "landline", "23456789"),
        ("+1 650-253-0000", "+16502530000", "landline", "02530000"),
        ("0044 20 7946 0000", "+442079460000", "landline", "79460000"),
    ],
)
def test_other_countries_type_and_digits(raw: str, e164: str, ptype: str, digits: str) -> None:
    got = phone(raw)
    assert (got["phone"], got["phone_type"], got["phone_digits"]) == (e164, ptype, digits)
    assert got["area_code"] is None and got["extension"] is None and got["phone_city"] is None
    number = phonenumbers.parse(raw.replace("0044", "+44"), None)  # the library's own reading, as a check
    assert str(number.national_number)[-8:] == digits
    assert (phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE) == (ptype == "mobile")


@pytest.mark.parametrize("raw", ["+999 1234 5678", "+1 12"])
def test_other_countries_unreadable_or_impossible_are_invalid(raw: str) -> None:
    # +999 is no country code (phonenumbers cannot parse it); +1 12 is too short to be a number
    assert phone(raw) == {"phone": None, "phone_type": "invalid", "area_code": None, "extension": None,
                          "phone_digits": None, "phone_city": None}


def test_words_between_two_numbers_separate_them() -> None:
    # A name between two numbers is a separator like "/": the first number is kept, not the digits of both.
    assert phone("13812345678 张经理 13912345678")["phone"] == "+8613812345678"
    assert phone("0571-69438606 或 13912345678")["phone"] == "+86-571-69438606"


def test_a_lone_separator_is_an_empty_phone() -> None:
    # What precedes the first separator is the number: nothing here, so no number and no verdict on one.
    assert all(v is None for v in phone("/").values())


def test_extension_after_a_space_or_in_brackets() -> None:
    for raw in ("0571 69438606 345", "0571-69438606 (345)", "0571-69438606-345-"):
        got = phone(raw)
        assert (got["phone"], got["extension"], got["phone_type"]) == ("+86-571-69438606", "345", "landline")


def test_one_digit_extension_after_a_dash() -> None:
    got = phone("0571-69438606-8")
    assert (got["phone"], got["extension"]) == ("+86-571-69438606", "8")


def test_dash_extension_after_the_shortest_whole_number() -> None:
    # +86 571 6943860: 10 digits after the country code (a 7-digit subscriber number), the shortest whole number
    got = phone("+86 571 6943860-12")
    assert (got["phone"], got["area_code"], got["extension"]) == ("+86-571-6943860", "0571", "12")


def test_a_local_number_starting_with_86_keeps_its_digits() -> None:
    # 8612 3456 is an 8-digit local number (no area code), not +86 followed by 123456
    got = phone("8612 3456")
    assert (got["phone"], got["phone_type"], got["phone_digits"]) == ("86123456", "landline", "86123456")


def test_service_numbers_block_on_their_seven_digits() -> None:
    # 400-123-4567: the subscriber number after 400 is 1234567 (7 digits, all of them the blocking key)
    assert phone("400-123-4567") == {"phone": "+86-400-1234567", "phone_type": "landline", "area_code": None,
                                     "extension": None, "phone_digits": "1234567", "phone_city": None}
    assert phone("800 810 8888")["phone_digits"] == "8108888"


# ----------------------------------------------------------------------------------------------
# Codes: USCC, organization code, 注册号
# ----------------------------------------------------------------------------------------------

# Organization codes whose GB 11714 check is 10 (written X) and 11 (written 0): 4·3 = 12 ≡ 1 (mod 11), so 11 - 1 = 10;
# 1·3 + 4·2 = 11 ≡ 0, so 11 - 0 = 11. The USCCs around them end with their GB 32100 check characters.
ORG_X, USCC_ORG_X = "40000000X", "9111000040000000XM"
ORG_0, USCC_ORG_0 = "100000040", "91110000100000040X"


def test_the_codes_written_here_pass_the_reference_checks() -> None:
    assert reference_org_check(ORG_X[:8]) == "X" and reference_org_check(ORG_0[:8]) == "0"
    for code, org in ((USCC_ORG_X, ORG_X), (USCC_ORG_0, ORG_0)):
        assert code[8:17] == org and reference_uscc_check(code[:17]) == code[17]


@pytest.mark.parametrize("code, org", [(USCC_ORG_X, ORG_X), (USCC_ORG_0, ORG_0)])
def test_organization_check_characters_x_and_0(code: str, org: str) -> None:
    assert uscc_is_valid(code) and uscc_is_valid(code.lower())
    assert _org_check_char(org[:8]) == org[8]
    assert one(standardize_uscc(pd.Series([code]))) == {"uscc": code, "reg_no": None, "uscc_valid": True,
                                                         "org_code": org, "org_code_valid": True}
    assert one(standardize_uscc(pd.Series([org])))["org_code_valid"] is True
    # every other check character is wrong
    for other in "0123456789X":
        if other != org[8]:
            assert not uscc_is_valid(code[:16] + other + code[17])
            assert one(standardize_uscc(pd.Series([org[:8] + other])))["org_code_valid"] is False


def test_organization_check_of_something_else_than_eight_code_characters() -> None:
    assert _org_check_char("5513850") is None  # seven
    assert _org_check_char("5513850a") is None  # lower-case is not a code character
    assert _org_check_char("55138508") == "2"


def test_uscc_check_character_zero_and_lower_case_letters() -> None:
    # 91110108551385007: weighted sum 2387 = 77·31, so the check is (31 - 0) mod 31 = 0
    assert sum(ALPHABET.index(c) * w for c, w in zip("91110108551385007", USCC_WEIGHTS, strict=True)) % 31 == 0
    assert uscc_check_char("91110108551385007") == "0"
    assert uscc_check_char("91350100m000100y4") == reference_uscc_check("91350100M000100Y4") == "3"


@pytest.mark.parametrize("first17", [None, 91110108551385082, "9111010855138508", "911101085513850822",
                                     "９１１１０１０８５５１３８５０８２", "9111010855138508I", "91110108551385O82"])
def test_no_uscc_check_character_for_what_cannot_be_a_uscc(first17: object) -> None:
    # not text, 16 or 18 characters, full-width digits, I and O (not in the alphabet)
    assert uscc_check_char(first17) is None  # type: ignore[arg-type]


def test_registration_number_check_digit_of_what_is_not_fourteen_digits() -> None:
    assert reg_no_check_digit("11010800000001") == "6" and reference_reg_no_valid("110108000000016")
    for bad in (None, 11010800000001, "1101080000000", "110108000000012", "11010800000A01"):
        assert reg_no_check_digit(bad) is None  # type: ignore[arg-type]
    assert not reg_no_is_valid(None) and not reg_no_is_valid("11010800000001")  # type: ignore[arg-type]


def test_registration_numbers_with_a_letter_are_not_registration_numbers() -> None:
    # 440300199000017 is valid (check digit 7); a letter in place of one of its 9s is no registration number, even
    # where reading the letter as a 9 would pass the check, and it does not spoil the valid numbers beside it.
    assert reference_reg_no_valid("440300199000017")
    got = standardize_uscc(pd.Series(["440300199000017", "44030019A000017", "4403001Z9000017", "310115000123456"]))
    assert got["reg_no"].tolist() == ["440300199000017", NA, NA, "310115000123456"]
    assert got["uscc"].tolist() == ["440300199000017", "44030019A000017", "4403001Z9000017", "310115000123456"]


def test_keying_slips_i_for_1_are_fixed_when_the_fix_validates() -> None:
    got = standardize_uscc(pd.Series(["91II0108551385082Q", "9IIIOIO8551385082Q"]))
    assert got["uscc"].tolist() == ["91110108551385082Q", "91110108551385082Q"]
    assert got["uscc_valid"].tolist() == [True, True]


def test_a_fix_that_passes_the_uscc_check_only_is_not_taken() -> None:
    # 91110000123456789Q passes GB 32100 but its organization code 123456789 does not (GB 11714 gives 12345678-8)
    assert reference_uscc_check("91110000123456789") == "Q" and reference_org_check("12345678") == "8"
    got = standardize_uscc(pd.Series(["9111OOOO123456789Q", "9111O1O8551385082Q"]))
    assert got["uscc"].tolist() == ["9111OOOO123456789Q", "91110108551385082Q"]
    assert got["uscc_valid"].tolist() == [False, True]
    assert got["org_code_valid"].tolist() == [False, True]


def test_ascii_matrix_reads_the_strings_the_array_holds_whatever_its_layout() -> None:
    def rows(arr: pa.Array, width: int) -> list[str]:
        return [bytes(r).decode("ascii") for r in _ascii_matrix(arr, width)]

    three = pa.array(["AB", "CD", "EF"], pa.string())
    assert rows(three, 2) == ["AB", "CD", "EF"]
    assert rows(three.slice(1), 2) == ["CD", "EF"]  # an offset into the array
    assert rows(three.slice(0, 2), 2) == ["AB", "CD"]  # buffers longer than the array
    # offsets that do not start at 0 (an array made of another's buffers)
    offsets = pa.py_buffer(np.array([2, 4, 6], np.int32).tobytes())
    shifted = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ABCDEF")])
    assert shifted.to_pylist() == ["CD", "EF"] and rows(shifted, 2) == ["CD", "EF"]


def test_vectorized_uscc_check_zero_and_a_bad_character_beside_good_codes() -> None:
    # 91110113 + 551385082 (a valid organization code): the weighted sum of the 17 is a multiple of 31, check 0
    code0 = "911101135513850820"
    assert reference_uscc_check(code0[:17]) == "0" and reference_org_check(code0[8:16]) == code0[16]
    # Z is not in the USCC alphabet: that code is invalid, the others beside it are not
    got = standardize_uscc(pd.Series([code0, "91110108551385082Q", "91110108551385082Z"]))
    assert got["uscc_valid"].tolist() == [True, True, False]
    assert got["org_code_valid"].tolist() == [True, True, True]


def test_every_uscc_column_keeps_the_index() -> None:
    s = pd.Series(["91110108551385082Q", None, "110108000000016", "55138508-2"], index=[10, 20, 30, 40])
    got = standardize_uscc(s)
    assert list(got.index) == [10, 20, 30, 40]
    assert got.to_dict("list") == {  # missing values as None
        "uscc": ["91110108551385082Q", None, "110108000000016", "551385082"],
        "reg_no": [None, None, "110108000000016", None],
        "uscc_valid": [True, False, False, False],
        "org_code": ["551385082", None, None, "551385082"],
        "org_code_valid": [True, False, False, True],
    }


# ----------------------------------------------------------------------------------------------
# Text: NFKC, traditional → simplified, upper-case Latin
# ----------------------------------------------------------------------------------------------


def test_base_clean_of_missing_values_beside_traditional_text() -> None:
    # 華為技術 is 华为技术 in simplified characters; ｈｕａｗｅｉ１２３ is full-width (NFKC: huawei123), upper-cased
    got = _base_clean(pa.array([None, "華為技術", "ｈｕａｗｅｉ１２３", None, "华为"], pa.string()))
    assert got.to_pylist() == [None, "华为技术", "HUAWEI123", None, "华为"]


def test_traditional_characters_are_converted_until_they_settle() -> None:
    # OpenCC's t2s maps 薴 to 苧, itself traditional for 苎: one pass is not enough
    assert _base_clean(pa.array(["薴麻", "苧麻"], pa.string())).to_pylist() == ["苎麻", "苎麻"]


# ----------------------------------------------------------------------------------------------
# Addresses
# ----------------------------------------------------------------------------------------------


def test_a_long_division_name_at_the_very_start() -> None:
    # 大兴安岭地区 (黑龙江省) has six characters, more than the vectorized look-up reads; 加格达奇区 is no
    # district of the national table, so it stays in the street part
    assert address("大兴安岭地区加格达奇区人民路1号") == ("黑龙江省", "大兴安岭地区", None, "加格达奇区人民路1号")


def test_a_minority_word_that_is_no_division() -> None:
    # 民族 triggers the reading of long names (…族自治州), but 民族大道 is a street
    assert address("民族大道1号") == (None, None, None, "民族大道1号")


def test_a_short_city_name_before_a_road_after_a_long_division_name() -> None:
    # 包头 is the short name of 包头市, but 包头路 is a street of 呼和浩特's 新城区
    assert address("内蒙古自治区呼和浩特市新城区包头路1号") == ("内蒙古自治区", "呼和浩特市", "新城区", "包头路1号")


def test_a_street_starting_like_a_road_after_a_full_district_name() -> None:
    # 道前街 (苏州 姑苏区) starts with 道, but the district before it is written in full: it stays the district
    assert address("江苏省苏州市姑苏区道前街100号") == ("江苏省", "苏州市", "姑苏区", "道前街100号")


# ----------------------------------------------------------------------------------------------
# Regions
# ----------------------------------------------------------------------------------------------


def test_a_district_written_short_in_front_of_an_institutions_core() -> None:
    assert _district_in_front("北京市", "海淀妇幼") == ("海淀区", "妇幼")
    assert _district_in_front("北京市", "海淀区妇幼") == ("海淀区", "妇幼")
    assert _district_in_front("北京市", "海淀") == ("海淀区", None)  # nothing left of the core
    assert _district_in_front("北京市", "妇幼") == (None, "妇幼")
    assert _district_in_front("上海市", "海淀妇幼") == (None, "海淀妇幼")  # 海淀 is no district of 上海
    assert _district_in_front("东莞市", "虎门医") == (None, "虎门医")  # 东莞 has towns, no districts
    assert _district_in_front(None, "海淀妇幼") == (None, "海淀妇幼")
    assert _district_in_front("北京市", None) == (None, None)


def test_an_institution_named_by_its_district_written_short_after_the_city() -> None:
    # 北京 + 海淀 (海淀区 written short) + 妇幼保健院: the district is the institution's, and part of its name key
    got = names("北京海淀妇幼保健院")
    assert (got["region"], got["name_city"], got["institution_district"]) == ("北京", "北京市", "海淀区")
    assert (got["core"], got["form"], got["name_key"]) == (None, "妇幼保健院", "海淀妇幼保健院")


def test_a_district_name_of_two_cities_stays_as_written() -> None:
    # 朝阳区 is in 北京 and in 长春 (and 朝阳 is a city of 辽宁): no city, the region as written
    got = names("朝阳区同腾科技有限公司")
    assert (got["region"], got["name_city"], got["name_key"]) == ("朝阳区", None, "同腾科技")


# ----------------------------------------------------------------------------------------------
# Arrow plumbing
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, None), (NA, None), (pd.NaT, None), (float("nan"), None), (float("inf"), None), (float("-inf"), None),
        (13812345678.0, "13812345678"), (np.float32(2.0), "2"), (1.5, "1.5"), (np.float64(-0.25), "-0.25"),
        (42, "42"), ("北京", "北京"),
        ("北京".encode(), "北京"),  # UTF-8 bytes decoded
        (b"ab\xff", "ab\ufffd"),  # an invalid byte becomes U+FFFD
        ("a\ud800b", "a?b"),  # a lone surrogate cannot be written as UTF-8
    ],
)
def test_one_value_as_text(value: object, text: str | None) -> None:
    assert _to_str(value) == text


def test_a_flag_taken_back_to_the_rows_is_false_where_the_row_has_no_value() -> None:
    rows = pa.array([1, None, 0, 1], pa.int32())
    assert _rows_flag(np.array([False, True]), rows).to_pylist() == [True, False, False, True]
    assert _rows_flag(pa.array([None, True], pa.bool_()), rows).to_pylist() == [True, False, False, True]
    assert _rows_flag(np.array([], bool), pa.array([None, None], pa.int32())).to_pylist() == [False, False]


def test_vocabularies_by_length_longest_first() -> None:
    tokens = ["北京", "", "上海市", "北京", "内蒙古自治区", "上海", "黑龙江省"]
    got = _vocab(tokens, max_len=4)
    assert list(got) == [4, 3, 2]  # longest first: the look-ups try the longest token first
    assert {n: v.to_pylist() for n, v in got.items()} == {4: ["黑龙江省"], 3: ["上海市"], 2: ["上海", "北京"]}
    assert all(v.type == pa.string() for v in got.values())
    assert list(_vocab(tokens)) == [6, 4, 3, 2]  # no bound: every non-empty token
    assert _vocab([]) == {}


def test_trade_words_of_some_names_only() -> None:
    # the run of trade words is read for the names that have one, and for those only
    got = standardize_names(pd.Series(["同腾科技有限公司", "同腾有限公司", "华为技术有限公司",
                                       "同腾信息技术服务有限公司"]))
    assert got["trade"].tolist() == ["科技", NA, "技术", "信息技术服务"]
    assert got["core"].tolist() == ["同腾", "同腾", "华为", "同腾"]


def test_a_boolean_array_as_numpy_with_missing_as_false() -> None:
    got = _np(pa.array([True, None, False], pa.bool_()))
    assert got.dtype == bool and got.tolist() == [True, False, False]


def test_each_row_sliced_at_its_own_start_and_end() -> None:
    arr = pa.array(["abcdef", "xyz", "hello", "world", None, "ab"], pa.string())
    got = _slice_rows(arr, start=np.array([1, 0, 1, 2, 1, 1]), drop_end=np.array([2, 0, 2, 0, 1, 0]))
    assert got.to_pylist() == ["bcd", "xyz", "el", "rld", None, "b"]
    assert _slice_rows(arr, start=np.array([1, 0, 0, 0, 0, 0])).to_pylist() == ["bcdef", "xyz", "hello", "world",
                                                                                  None, "ab"]
    assert _slice_rows(arr, drop_end=np.array([0, 1, 0, 0, 0, 2])).to_pylist() == ["abcdef", "xy", "hello",
                                                                                     "world", None, ""]
    assert _slice_rows(arr) is arr


def test_a_column_of_missing_numbers_is_a_column_of_missing_strings() -> None:
    # Arrow refuses floats as strings: the value-by-value path must still give a string column, not Arrow's null type
    for s in (pd.Series([np.nan, np.nan]), pd.Series([None, float("inf")], dtype=object),
              pd.Series([np.nan, 1.5, 2.0])):
        got = _to_arrow(s)
        assert got.type == pa.string()
    assert _to_arrow(pd.Series([np.nan, 1.5, 2.0])).to_pylist() == [None, "1.5", "2"]


def test_lengths_of_missing_strings_are_zero() -> None:
    got = _lengths(pa.array(["ab", None, "北京市", ""], pa.string()))
    assert got.dtype == np.int64 and got.tolist() == [2, 0, 3, 0]


def test_a_bounded_number_of_replacements() -> None:
    arr = pa.array(["(北京)同腾(集团)", "同腾"], pa.string())
    assert _sub(arr, r"\([^()]+\)", max_replacements=1).to_pylist() == ["同腾(集团)", "同腾"]
    assert _sub(arr, r"\([^()]+\)").to_pylist() == ["同腾", "同腾"]


# ----------------------------------------------------------------------------------------------
# Whole records
# ----------------------------------------------------------------------------------------------

# A public institution's USCC (category 12: 事业单位) around the organization code 40000000-X
USCC_INSTITUTION = "1211000040000000XT"


def test_the_institution_uscc_passes_the_reference_checks() -> None:
    assert reference_uscc_check(USCC_INSTITUTION[:17]) == "T" and reference_org_check("40000000") == "X"


def test_contacts_and_e_mails_standardized_and_placeholders_dropped() -> None:
    df = pd.DataFrame({
        "name": ["同腾科技有限公司"] * 6,
        "contact_name": ["张 三", "Zhang San.", "新联系人", "某某", "王总", None],
        "email": [" Wang.Jun@TongTeng.com.cn ", "ｗａｎｇ＠ｑｑ．ｃｏｍ", "test@test.com", "none", "a@example.com",
                  None],
    })
    out = standardize_customers(df)
    # contacts: NFKC, no spaces or punctuation, upper-case; a role or 某某 is no person (a surname and a title is)
    assert values(out["contact_std"]) == ["张三", "ZHANGSAN", None, None, "王总", None]
    # e-mails: NFKC, trimmed, lower-case; test@test.com, no address at all and example.com are placeholders
    assert values(out["email_std"]) == ["wang.jun@tongteng.com.cn", "wang@qq.com", None, None, None, None]


def test_placeholder_phones_and_addresses_are_missing() -> None:
    df = pd.DataFrame({
        "name": ["同腾科技有限公司"] * 4,
        "phone": ["13800000000", "13912873645", None, "0571-86972351"],
        "address": ["北京市海淀区详见合同", "详见合同", "北京市海淀区无", "北京市海淀区中关村大街1号"],
    })
    out = standardize_customers(df)
    # 13800000000: its last eight digits are one digit repeated, a placeholder
    assert values(out["phone_std"]) == [None, "+8613912873645", None, "+86-571-86972351"]
    assert values(out["phone_digits"]) == [None, "12873645", None, "86972351"]
    assert values(out["phone_city"]) == [None, None, None, "杭州市"]
    # the rest of an address that says nothing is missing; the divisions read in front of it stay
    assert values(out["address_norm"]) == [None, None, None, "中关村大街1号"]
    assert values(out["district"]) == ["海淀区", None, "海淀区", "海淀区"]


def test_a_landline_without_area_code_takes_the_code_of_the_records_city() -> None:
    df = pd.DataFrame({
        "name": ["同腾科技有限公司", "杭州同腾科技有限公司", "同腾科技有限公司", "同腾科技有限公司",
                 "同腾科技有限公司"],
        "address": ["杭州市西湖区文三路1号", None, None, "杭州市西湖区文三路1号", None],
        "phone": ["8697 2351", "8697 2351", "8697 2351", "400-820-8820", "0571-86972351"],
    })
    out = standardize_customers(df)
    # the address's city, else the name's; no city known: the bare number; a service number has no area code
    assert values(out["phone_std"]) == ["+86-571-86972351", "+86-571-86972351", "86972351", "+86-400-8208820",
                                         "+86-571-86972351"]
    assert values(out["area_code"]) == ["0571", "0571", None, None, "0571"]
    assert values(out["phone_city"]) == ["杭州市", "杭州市", None, None, "杭州市"]
    assert values(out["phone_digits"]) == ["86972351", "86972351", "86972351", "8208820", "86972351"]


def test_a_district_of_two_cities_keeps_the_city_the_address_names() -> None:
    # 长春市朝阳区: the address names its city; the name's 北京 (which has a 朝阳区 too) does not replace it
    out = standardize_customers(pd.DataFrame({"name": ["北京同腾科技有限公司"],
                                              "address": ["长春市朝阳区人民大街1号"]}))
    assert (out["province"].iloc[0], out["city"].iloc[0], out["district"].iloc[0]) == ("吉林省", "长春市", "朝阳区")
    assert out["city_any"].iloc[0] == "长春市"


def test_former_names_from_the_field_or_from_the_name() -> None:
    df = pd.DataFrame({
        "name": ["北京华信科技有限公司", "北京华信科技有限公司（原北京化信电子有限公司）", "北京华信科技有限公司"],
        "former_name": ["北京化信电子有限公司", "  ", None],
    })
    out = standardize_customers(df)
    assert values(out["former_name_key"]) == ["化信电子", "化信电子", None]
    assert values(out["name_or_former_key"]) == ["化信电子", "化信电子", "华信科技"]
    assert values(out["name_key"]) == ["华信科技"] * 3


def test_kinds_of_organization() -> None:
    df = pd.DataFrame({
        "name": ["北京同腾科技有限公司", "北京市海淀区中医医院", "同腾", "北京同腾科技有限公司", "北京大学"],
        "uscc": [None, None, None, USCC_INSTITUTION, None],
    })
    out = standardize_customers(df)
    # a company form: company; an institution's kind, or a USCC of category 12: institution; neither: unknown
    assert values(out["org_kind"]) == ["company", "institution", None, "institution", "institution"]


def test_a_blank_name_takes_the_short_name() -> None:
    df = pd.DataFrame({"name": ["  ", None, "上海同腾科技有限公司"], "short_name": ["同腾科技", "华信科技", "同腾"]})
    assert values(standardize_customers(df)["name_key"]) == ["同腾科技", "华信科技", "同腾科技"]


def test_missing_columns_on_another_index() -> None:
    df = pd.DataFrame({"name": ["北京同腾科技有限公司", "上海同腾科技有限公司"]}, index=[7, 3])
    out = standardize_customers(df)
    assert list(out.index) == [7, 3]
    assert values(out["name_city"]) == ["北京市", "上海市"]
    assert values(out["city_any"]) == ["北京市", "上海市"]
    for col in ("address_norm", "phone_std", "uscc_std", "contact_std", "email_std", "former_name_key", "district"):
        assert out[col].isna().all(), col


def test_many_records_on_threads_give_what_one_thread_gives() -> None:
    base = pd.DataFrame({
        "name": ["北京同腾科技有限公司", "同腾科技（武汉）有限公司", None, "北京市海淀区中医医院"],
        "uscc": ["91110108551385082Q", None, "bad", USCC_INSTITUTION],
        "phone": ["13912873645", "8697 2351", None, "010-62345678"],
        "address": ["上海市黄浦区中山东一路1号", None, "杭州市西湖区文三路1号", None],
    })
    df = pd.concat([base] * 2_500, ignore_index=True)  # 10,000 records: the size from which threads are used
    one_thread = standardize_customers(df, workers=1)
    pd.testing.assert_frame_equal(standardize_customers(df, workers=2), one_thread)
    assert values(one_thread["phone_std"])[:4] == ["+8613912873645", "+86-27-86972351", None, "+86-10-62345678"]


def test_replaced_input_columns_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="mdm.standardize.customers"):
        standardize_customers(pd.DataFrame({"name": ["上海同腾科技有限公司"], "city": ["stale"]}))
    assert caplog.messages == ["standardize_customers: replacing input columns ['city']"]


# ----------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, number",
    [("十", 10), ("十二", 12), ("二十", 20), ("一二三", 123), ("一百二十", 120), ("一百零五", 105), ("一百十", 110),
     ("两千零八", 2008), ("〇", 0), ("三", 3), ("", None), ("十a", None)],
)
def test_chinese_numerals(text: str, number: int | None) -> None:
    # 十 alone is 1·10; a unit without a digit before it counts one of it (一百十 = 100 + 10); digits alone are read
    # digit by digit (一二三 = 123)
    assert _cn_to_int(text) == number


def test_branches_numbered_in_chinese() -> None:
    got = names("同腾科技有限公司第十二分公司")
    assert (got["branch"], got["name_key"], got["form"]) == ("第12分公司", "同腾科技", "有限公司")
    assert names("同腾科技有限公司一百二十号营业部")["branch"] == "120号营业部"


def test_whatever_follows_the_legal_form_is_the_branch() -> None:
    # 华东区 is no place of the division table: after the form it is still part of the branch
    got = names("同腾科技有限公司华东区分公司")
    assert (got["branch"], got["is_branch"], got["name_key"]) == ("华东区分公司", True, "同腾科技")
    assert got["name_city"] is None


def test_a_three_character_city_before_the_branch_suffix() -> None:
    # no legal form: the place names are peeled off the end of the parent name, 杭州市 (3 characters) included
    got = names("同腾建设杭州市分公司")
    assert (got["branch"], got["name_key"], got["name_city"]) == ("杭州市分公司", "同腾建设", "杭州市")


@pytest.mark.parametrize(
    "raw, region, city",
    [("同腾武汉有限公司", "武汉", "武汉市"),  # a two-character brand before the place
     ("同腾广西壮族自治区有限公司", "广西", None)],  # a place name longer than five characters
)
def test_a_place_just_before_the_legal_form(raw: str, region: str, city: str | None) -> None:
    got = names(raw)
    assert (got["region"], got["name_city"], got["core"], got["name_key"]) == (region, city, "同腾", "同腾")


def test_only_the_bracket_that_names_a_place_is_dropped() -> None:
    # （北京） is the region; （集团） is part of the legal form and stays
    got = names("同腾（北京）科技（集团）有限公司")
    assert (got["region"], got["form"], got["name_key"]) == ("北京", "集团有限公司", "同腾科技")
    assert got["name_norm"] == "同腾北京科技集团有限公司"


def test_a_former_name_in_other_brackets_in_the_middle() -> None:
    # 【原华信】: 【】 read as brackets; the former name goes, and the legal form after it stays
    got = names("同腾科技【原华信】有限公司")
    assert (got["former"], got["name_norm"], got["form"], got["name_key"]) == ("华信", "同腾科技有限公司", "有限公司",
                                                                              "同腾科技")


@pytest.mark.parametrize(
    "raw, region, city, key",
    [("广西壮族自治区南宁市同腾科技有限公司", "南宁", "南宁市", "同腾科技"),  # a province longer than five characters
     ("延边朝鲜族自治州同腾贸易有限公司", "延边", "延边朝鲜族自治州", "同腾贸易"),
     ("大兴安岭地区同腾林业有限公司", "大兴安岭", "大兴安岭地区", "同腾林业")],  # the long name's mark in front
)
def test_a_long_division_name_in_front(raw: str, region: str, city: str, key: str) -> None:
    # the whole division is taken off the front, not only its short form (广西, 延边, 大兴安岭)
    got = names(raw)
    assert (got["region"], got["name_city"], got["core"], got["name_key"]) == (region, city, "同腾", key)


def test_the_last_of_long_division_names_before_trade_words_is_the_brand() -> None:
    # as 瑞安文化传媒: after 内蒙古自治区, 包头市 followed by trade words only is the brand, not a place
    got = names("内蒙古自治区包头市建设工程有限公司")
    assert (got["region"], got["core"], got["trade"], got["name_key"]) == ("内蒙古", "包头市", "建设工程",
                                                                           "包头市建设工程")
    assert got["name_city"] is None


def test_a_place_between_brand_and_trade_words() -> None:
    # what name_norm makes of 同腾（北京）建设工程有限公司: the place is the region, not part of the brand
    got = names("同腾北京建设工程有限公司")
    assert (got["region"], got["name_city"], got["core"], got["trade"], got["name_key"]) == (
        "北京", "北京市", "同腾", "建设工程", "同腾建设工程")


def test_a_place_followed_by_trade_words_only_names_no_region() -> None:
    # 瑞安 is the brand (瑞安文化传媒), so the name says nothing of where the company is
    got = names("瑞安文化传媒有限公司")
    assert (got["region"], got["name_city"], got["core"], got["name_key"]) == (None, None, "瑞安", "瑞安文化传媒")


@pytest.mark.parametrize(
    "raw, district, key",
    [("北京市海淀区中医医院", "海淀区", "海淀中医医院"),              # district short + core + kind
     ("北京市海淀区同腾科技研究所", "海淀区", "海淀同腾科技研究所"),  # + trade words
     ("石家庄市赵县人民医院", "赵县", "赵县人民医院"),                # a two-character county stays whole
     ("同腾中医医院", None, "同腾中医医院")],                        # no district: core + kind
)
def test_an_institutions_name_key_holds_its_district(raw: str, district: str | None, key: str) -> None:
    got = names(raw)
    assert (got["institution_district"], got["name_key"]) == (district, key)


@pytest.mark.parametrize(
    "raw, group",
    [("同腾科技集团有限公司", "group"), ("同腾集团", "group"), ("同腾科技有限公司", "member"),
     ("北京市海淀区中医医院", None),  # an institution: neither
     ("同腾科技", None)],            # no legal form: neither
)
def test_a_group_and_the_members_of_its_brand(raw: str, group: str | None) -> None:
    assert names(raw)["group_key"] == group


@pytest.mark.parametrize(
    "raw, brand, head, brand_trade, group",
    [("HUAXIN TECHNOLOGY (SHANGHAI) CO., LTD", "HUAXIN", "科技", "HUAXIN|科技", "member"),  # TECHNOLOGY → 科技
     ("Huaxin Medical Equipment Group", "HUAXIN", "器械", "HUAXIN|器械", "group"),          # MEDICAL EQUIPMENT → 器械
     ("同腾环保科技有限公司", "TONGTENG", "科技", "TONGTENG|科技", "member"),               # 环保科技 ends in 科技
     ("同腾有限公司", "TONGTENG", None, "TONGTENG|", "member")],                            # no trade: the brand alone
)
def test_brand_and_trade_head_of_english_and_chinese_names(raw: str, brand: str, head: str | None, brand_trade: str,
                                                           group: str) -> None:
    got = names(raw)
    assert (got["brand_pinyin"], got["trade_head"], got["brand_trade"], got["group_key"]) == (brand, head, brand_trade,
                                                                                               group)


def test_english_and_chinese_names_in_one_column() -> None:
    # the English reading replaces the Chinese one on the English names only
    got = standardize_names(pd.Series(["北京同腾科技集团有限公司", "HUAXIN TECHNOLOGY (SHANGHAI) CO., LTD"]))
    cols = ["region", "name_city", "core", "trade", "form", "name_key", "group_key", "latin"]
    assert [values(got[c]) for c in cols] == [
        ["北京", "上海"], ["北京市", "上海市"], ["同腾", "HUAXIN"], ["科技", "TECHNOLOGY"],
        ["集团有限公司", "有限公司"], ["同腾科技", None], ["group", "member"], [None, "Y"]]


def test_slicing_a_few_strings_in_python_gives_what_arrow_gives_for_many() -> None:
    """Start and drop counted in code points, a drop beyond the string's length leaving it empty, nulls kept."""
    values = ["北京市朝阳区", "ab😀cd", None, "", "上海", "x", "abcdef"]
    start = np.array([2, 1, 3, 0, 5, 0, 0])
    drop = np.array([1, 0, 2, 9, 0, 3, 8])
    few = _slice_rows(pa.array(values, pa.string()), start=start, drop_end=drop).to_pylist()
    many = _slice_rows(pa.array(values * 5, pa.string()), start=np.tile(start, 5), drop_end=np.tile(drop, 5))
    assert few == ["市朝阳", "b😀cd", None, "", "", "", ""]
    assert many.to_pylist() == few * 5

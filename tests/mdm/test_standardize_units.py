"""Unit tests of mdm/standardize written against its surviving mutants (issue 20): each asserts one behaviour with
values worked out by hand or by an independent implementation (phonenumbers, the GB check-character algorithms
written out plainly, Unicode's NFKC), never what the code happens to return."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from mdm.standardize.phones import standardize_phones

NA = pd.NA


def one(frame: pd.DataFrame) -> dict[str, object]:
    """The single row of a result as a dict, with <NA> as None."""
    assert len(frame) == 1
    return {k: None if v is NA else bool(v) if isinstance(v, np.bool_) else v for k, v in frame.iloc[0].items()}


def phone(value: object) -> dict[str, object]:
    return one(standardize_phones(pd.Series([value])))


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

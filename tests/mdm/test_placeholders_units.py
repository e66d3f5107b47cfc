"""Unit tests of mdm/placeholders.py written against its surviving mutants (issue 20): missing values beside real
ones, and what a placeholder's shape does not cover. Expected values worked out by hand from the module's rules."""

from __future__ import annotations

import pyarrow as pa

from mdm.placeholders import email_placeholder, phone_placeholder, text_placeholder


def test_a_missing_phone_is_no_placeholder() -> None:
    # nothing to recognize: missing stays apart from the placeholders (13800000000: eight 0s; 12345678: a run)
    got = phone_placeholder(pa.array([None, "13800000000", "021-6943 8601", "12345678"]))
    assert got.to_pylist() == [False, True, False, True]


def test_a_missing_e_mail_is_no_address() -> None:
    # no address at all counts as one (as an address without @ or without a dot in its domain)
    assert email_placeholder(pa.array([None, "a@b", "wang@qq.com"])).to_pylist() == [True, True, False]


def test_a_number_of_several_digits_is_a_real_mailbox() -> None:
    # only one digit repeated (1111@, 000@) or the run 123456789 is a placeholder: 10000@qq.com is a QQ number
    got = email_placeholder(pa.array(["10000@qq.com", "1111@qq.com", "0123456789@qq.com", "100@163.com"]))
    assert got.to_pylist() == [False, True, True, False]


def test_a_placeholder_written_with_punctuation_or_missing() -> None:
    # the punctuation typed around a placeholder goes before the words are compared; a missing value is one
    got = text_placeholder(pa.array([None, "无。", "（无）", "- - -", "N/A.", "同腾科技"]))
    assert got.to_pylist() == [True, True, True, True, True, False]


def test_one_character_repeated_three_times_or_for_a_contact_twice() -> None:
    # 啊啊啊 fills any field; two of a character are a name elsewhere (a shop 乐乐) but no contact person
    assert text_placeholder(pa.array(["乐乐", "啊啊啊"])).to_pylist() == [False, True]
    assert text_placeholder(pa.array(["乐乐", "啊啊啊"]), "address").to_pylist() == [False, True]
    assert text_placeholder(pa.array(["乐乐", "啊啊啊", "张三"]), "contact").to_pylist() == [True, True, False]


def test_only_digits_and_signs_fill_any_field() -> None:
    # no name and no address is only digits and signs
    got = text_placeholder(pa.array(["0571-8888", "+86 (0)", "同腾2号", "2号楼"]), "address")
    assert got.to_pylist() == [True, True, False, False]

"""Unit tests of mdm/divisions.py written against its surviving mutants (issue 20). `load()` is cached, so the
parsing helpers it calls run once per process: they are tested directly, with values worked out by hand."""

from __future__ import annotations

import pytest

from mdm.divisions import _city_short, _lines


def test_lines_join_continuations_and_drop_blanks() -> None:
    block = "\n   \n浙江省: 杭州市:0571\n 宁波市:0574\n\n江苏省: 南京市:025  \n"
    # a line starting with a space continues the one before (its space kept, so the items still split); blank
    # lines go, a line alone is stripped
    assert _lines(block) == ["浙江省: 杭州市:0571 宁波市:0574", "江苏省: 南京市:025"]
    assert _lines(block)[0].split() == ["浙江省:", "杭州市:0571", "宁波市:0574"]


def test_a_first_line_starting_with_a_space_is_a_line_of_its_own() -> None:
    # nothing before it to continue: stripped and kept
    assert _lines(" 北京市 北京\n天津市 天津") == ["北京市 北京", "天津市 天津"]
    assert _lines("\n\n") == []


@pytest.mark.parametrize(
    "full, short",
    [
        ("深圳市", "深圳"),
        ("大兴安岭地区", "大兴安岭"),
        ("锡林郭勒盟", "锡林郭勒"),
        ("神农架林区", "神农架"),
        ("兴安盟", "兴安"),
        ("津市", "津市"),  # one character left: the full name is the short name
        ("市中区", "市中区"),  # the suffix only at the end (and 区 alone is none)
        ("延边朝鲜族自治州", "延边朝鲜族自治州"),
    ],
)
def test_city_short_names(full: str, short: str) -> None:
    assert _city_short(full) == short

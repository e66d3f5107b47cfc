"""Customer search the way stewards type (`mdm/search.py`): names as written, pinyin, initials, contact,
address, similar names; ranked by how a customer was found."""

from __future__ import annotations

import pandas as pd

from mdm.search import SearchIndex, pinyin_of

RECORDS = pd.DataFrame([
    # golden_id, name, short_name, name_norm, contact_name, address, address_norm
    ("G1", "厦门优润包装材料股份有限公司", "优润包装", "厦门优润包装材料股份有限公司", "陈晓东",
     "厦门市湖里区高崎南五路 210 号", "福建省厦门市湖里区高崎南五路210号"),
    ("G1", "优润包装材料（厦门）股份有限公司", None, "优润包装材料厦门股份有限公司", None, None, None),
    ("G2", "重庆长安精工机械有限公司", "长安精工", "重庆长安精工机械有限公司", "李娜",
     "重庆市渝北区金开大道 99 号", None),
    ("G3", "上海华信机械设备有限公司", "华信", "上海华信机械设备有限公司", "王芳", "上海市浦东新区张江路 88 号", None),
    ("G4", "ＡＢＣ贸易（深圳）有限公司", None, "abc贸易深圳有限公司", None, None, None),
], columns=["golden_id", "name", "short_name", "name_norm", "contact_name", "address", "address_norm"])


def ids(hits: list[tuple[str, str, float]]) -> list[str]:
    return [g for g, _, _ in hits]


def test_pinyin_is_phrase_aware_and_cached() -> None:
    got = pinyin_of(pd.Series(["重庆长安精工机械有限公司", "厦门优润", None]))
    assert got["重庆长安精工机械有限公司"] == ("chongqingchanganjinggongjixieyouxiangongsi", "cqcajgjxyxgs")
    assert got["厦门优润"] == ("xiamenyourun", "xmyr")                 # not "shamen", not "zhongqing"
    again = pinyin_of(pd.Series(["厦门优润", "华信"]), known={"厦门优润": ("cached", "c")})
    assert again["厦门优润"] == ("cached", "c") and again["华信"] == ("huaxin", "hx")


def test_find_by_name_pinyin_initials_contact_and_address() -> None:
    ix = SearchIndex.build(RECORDS)
    assert ix.find("优润") == [("G1", "name", 100.0)]                  # two records, one customer
    assert ids(ix.find("xiamen youRun")) == ["G1"] and ix.find("xiamenyourun")[0][1] == "pinyin"
    assert ix.find("CQCA") == [("G2", "initials", 100.0)]
    assert ids(ix.find("hx")) == ["G3"]                                 # the short name's initials
    assert ix.find("李娜") == [("G2", "contact", 100.0)]
    assert ix.find("张江路88号") == [("G3", "address", 100.0)]          # spaces in the address ignored
    assert ix.find("abc贸易") == [("G4", "name", 100.0)]                 # full-width letters folded
    assert ix.find("") == [] and ix.find("  ") == []


def test_similar_names_come_after_exact_hits() -> None:
    ix = SearchIndex.build(RECORDS)
    typo = ix.find("上海华新机械设备有限公司")                            # 华新 for 华信
    assert typo and typo[0][0] == "G3" and typo[0][1] == "similar name" and 75 <= typo[0][2] < 100
    assert ix.find("完全不相干的名字") == []
    mixed = ix.find("机械")                                             # exact hits, best known first
    assert ids(mixed) == ["G2", "G3"] and {h for _, h, _ in mixed} == {"name"}


def test_a_rebuild_converts_only_new_names() -> None:
    first = SearchIndex.build(RECORDS)
    first.names["上海华信机械设备有限公司"] = ("cachedpinyin", "zz")
    more = pd.concat([RECORDS, pd.DataFrame([{"golden_id": "G5", "name": "杭州鸿丰光电有限公司"}])], ignore_index=True)
    again = SearchIndex.build(more, first)
    assert ids(again.find("cachedpinyin")) == ["G3"] and ids(again.find("hangzhouhongfeng")) == ["G5"]

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


MORE = pd.DataFrame([
    # golden_id, name, short_name, name_norm, contact_name, address, address_norm (G4's record first: the order found)
    ("G4", "华信2厂", None, "华信2厂", None, None, None),
    ("G1", "中国石油化工股份有限公司", "中石化", "中国石油化工股份有限公司", "张伟", "北京朝阳区朝阳门北大街22号",
     "北京市朝阳区朝阳门北大街22号"),
    ("G2", "華信機械有限公司", None, "华信机械有限公司", None, None, None),  # traditional: name_norm is simplified
    ("G3", "华信达", None, "华信达", None, None, None),
    ("G3", "华信达", None, "华信达", None, None, None),
    ("G6", "朝阳食品有限公司", None, "朝阳食品有限公司", None, None, None),
], columns=RECORDS.columns)


def test_each_name_and_address_of_a_record_is_searched() -> None:
    ix = SearchIndex.build(MORE)
    assert ix.find("中石化") == [("G1", "name", 100.0)]                # the short name, not part of the name
    assert ix.find("zhongshihua") == [("G1", "pinyin", 100.0)]        # the short name's pinyin
    assert ix.find("zsh") == [("G1", "initials", 100.0)]              # and its initials
    assert ix.find("华信机械")[0] == ("G2", "name", 100.0)            # the standardized name
    assert ix.find("北京市朝阳区朝阳门") == [("G1", "address", 100.0)]  # the standardized address
    assert ix.find("石") == [("G1", "name", 100.0)]                   # one character: names, no similar names


def test_hits_ranked_by_how_then_size_then_id() -> None:
    ix = SearchIndex.build(MORE)
    # all by name: G3 has two records, then G2 before G4 (by ID, not in the order found)
    assert ix.find("华信") == [("G3", "name", 100.0), ("G2", "name", 100.0), ("G4", "name", 100.0)]
    assert ix.find("朝阳") == [("G6", "name", 100.0), ("G1", "address", 100.0)]  # a name before an address


def test_pinyin_and_initials_for_letters_only() -> None:
    # 华信2厂's initials are hx2c, but a query with a digit is no pinyin: it searches names (and similar names) only
    ix = SearchIndex.build(MORE)
    assert ix.find("hxc") == [] and ix.find("hx2") == [] and ix.find("xin2") == []  # (pinyin: huaxin2chang)
    assert ix.find("华信2") == [("G4", "name", 100.0)]


def test_similar_names_ranked_by_similarity() -> None:
    # rapidfuzz's WRatio: 91.67 and 81.82 (12 of 12 and 9 of 11 characters in order), rounded to one place
    ix = SearchIndex.build(pd.DataFrame({"golden_id": ["G1", "G2", "G3"],
                                         "name": ["上海华信机械有限公司", "上海华信机械设备有限公司", "华信达"]}))
    assert ix.find("上海华新机械设备有限公司") == [("G2", "similar name", 91.7), ("G1", "similar name", 81.8)]
    assert ix.find("华达") == [("G3", "similar name", 80.0)]          # two characters: 2 of 3 in order
    # the cutoff, 75 by default: 华新机械设备 against 华信机械设备有限公司 scores 75 exactly (6 characters in 10)
    assert ix.find("华新机械设备") == [("G2", "similar name", 75.0)]
    assert ix.find("华新机械设备", fuzzy_cutoff=76) == []


def test_at_most_twenty_hits_by_default_and_as_many_similar_names() -> None:
    many = pd.DataFrame({"golden_id": [f"G{i:02d}" for i in range(25)],
                         "name": [f"华信机械设备有限公司{i}厂" for i in range(25)]})
    ix = SearchIndex.build(many)
    assert ids(ix.find("华信机械")) == [f"G{i:02d}" for i in range(20)]
    similar = ix.find("华新机械设备有限公司")                          # no exact hit: 20 similar names
    assert len(similar) == 20 and {h for _, h, _ in similar} == {"similar name"}


def test_missing_columns_and_values_hold_nothing() -> None:
    # names only, on another index: no contact, address or short name to find, and a missing value is no text
    ix = SearchIndex.build(pd.DataFrame({"golden_id": ["G1", "G2", "G3"], "name": ["华信机械", None, "ABC Trading"]},
                                        index=[5, 7, 9]))
    assert ix.find("华信机械") == [("G1", "name", 100.0)]
    assert ix.find("huaxin") == [("G1", "pinyin", 100.0)]
    assert ix.find("abctrading") == [("G3", "name", 100.0)]
    assert ix.find("xx") == [] and ix.find("xxxx") == []
    nameless = SearchIndex.build(pd.DataFrame({"golden_id": ["G1"], "name": [None], "contact_name": ["王芳"]}))
    assert nameless.find("王芳") == [("G1", "contact", 100.0)] and nameless.find("华信") == []

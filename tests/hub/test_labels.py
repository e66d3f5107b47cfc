"""The console names every field and every comparison of the customer model in each of its languages."""

from __future__ import annotations

from hub.console import labels
from mdm.specs import CUSTOMER_COMPARISONS


def test_every_field_and_comparison_has_a_chinese_label() -> None:
    # a missing Chinese label falls back to the English one: the Chinese console would show English words
    assert [f for f in labels.FIELDS if f not in labels.FIELDS_ZH] == []
    names = [c.name for c in CUSTOMER_COMPARISONS]
    assert [n for n in names if n not in labels.FIELDS_ZH and n not in labels.COMPARISONS_ZH] == []
    assert labels.label("reg_no", "zh") == "工商注册号" and labels.label("pinyin", "zh") == "英文名 ↔ 字号拼音"
    assert labels.label("pinyin", "en") == "English name ↔ brand in pinyin"

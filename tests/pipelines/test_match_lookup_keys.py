"""The match API index's blocking-key hashes: text columns and object columns give exactly the hashes of the texts
written out record by record (a query's keys must find the keys stored for the same values)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mdm.blocking import BlockingRule
from pipelines.match_lookup import key_hashes

RULES = (BlockingRule("name_key", ("name_key",)), BlockingRule("core_city", ("name_core", "city_any")))
VALUES = {"name_key": ["瑞丰信息", None, "", "华通", "瑞丰信息", "a\x1fb"],
          "name_core": ["瑞丰", "华通", "华通", None, "瑞丰", "x"],
          "city_any": ["上海市", "北京市", "", "北京市", "上海市", "y"]}


def expected(frame: pd.DataFrame) -> tuple[list[int], list[int], list[int]]:
    """Written out record by record: `name␞value␟value`, hashed as pandas hashes texts."""
    rows, texts, which = [], [], []
    for r, rule in enumerate(RULES):
        for i in range(len(frame)):
            vals = [frame[c].iloc[i] for c in rule.columns]
            if all(v is not None and not pd.isna(v) and str(v) != "" for v in vals):
                rows.append(i)
                texts.append(rule.name + "\x1e" + "\x1f".join(str(v) for v in vals))
                which.append(r)
    hashes = pd.util.hash_array(np.array(texts, dtype=object)).view(np.int64)
    return rows, hashes.tolist(), which


def test_text_columns_and_object_columns_hash_as_their_texts_written_out_record_by_record() -> None:
    as_text = pd.DataFrame({c: pd.array(v, dtype="string[pyarrow]") for c, v in VALUES.items()})
    as_objects = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in VALUES.items()})
    of_text = [a.tolist() for a in key_hashes(as_text, RULES)]
    of_objects = [a.tolist() for a in key_hashes(as_objects, RULES)]
    assert of_text == of_objects == list(expected(as_objects))
    assert of_text[0] == [0, 3, 4, 5, 0, 1, 4, 5]  # (rule by rule: no key where a value is missing or empty)
    one = key_hashes(as_text.iloc[[4]].reset_index(drop=True), RULES)  # a query of one record: the stored keys
    assert one[1].tolist() == [of_text[1][2], of_text[1][6]]


def test_no_record_with_a_key_gives_empty_arrays() -> None:
    frame = pd.DataFrame({c: pd.array([None, ""], dtype="string[pyarrow]") for c in VALUES})
    assert [len(a) for a in key_hashes(frame, RULES)] == [0, 0, 0]
    assert [a.dtype for a in key_hashes(frame.iloc[:0], RULES)] == [np.int64] * 3

"""Value transforms in a mapping (strip, replace, regex, split) stage the same on DuckDB and PostgreSQL, and bad
ones are config errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import HubConfig
from pipelines.stage import stage_all
from pipelines.sync import sync_source
from warehouse.engine import Warehouse


def config(path: Path, mapping: dict[str, Any]) -> HubConfig:
    return HubConfig.model_validate({"sources": {"erp": {"connector": "file", "config": {"path": str(path)},
                                                         "streams": {"customers": {
                                                             "primary_key": "编号", "entity": "customer",
                                                             "mapping": mapping}}}}})


def test_transforms_clean_values_as_written_in_the_mapping(tmp_path: Path, warehouse_url: str) -> None:
    f = tmp_path / "customers.csv"
    f.write_text("编号,名称,电话,地址,税号\n"
                 "K1,**厦门优润包装材料有限公司**,电话：0592-5012345 / 13800138000,福建省/厦门市/湖里区,"
                 "税号:91350200MA2XXXXX1X\n"
                 "K2,福建闽江建材（停用）,无,福建省,\n", encoding="utf-8")
    mapping = {
        "name": {"path": "名称", "strip": "*", "replace": {"（停用）": ""}},
        "phone": {"path": "电话", "regex": r"(0\d{2,3}-\d{7,8})"},
        "mobile": {"path": "电话", "regex": r"1[3-9]\d{9}"},
        "address": {"path": "地址", "split": {"by": "/", "index": 2}},
        "uscc": {"path": "税号", "replace": {"税号:": ""}, "default": "未知"},
    }
    wh = Warehouse(warehouse_url)
    cfg = config(f, mapping)
    assert sync_source(cfg, wh, "erp").status == "succeeded"
    stage_all(cfg, wh)
    df = wh.read_frame("SELECT source_key, name, phone, mobile, address, uscc FROM staging.customer "
                       "ORDER BY source_key")
    rows = [tuple(None if v is None or v != v else v for v in r) for r in df.itertuples(index=False)]
    assert rows == [
        ("K1", "厦门优润包装材料有限公司", "0592-5012345", "13800138000", "厦门市", "91350200MA2XXXXX1X"),
        ("K2", "福建闽江建材", None, None, None, "未知"),
    ]
    wh.dispose()


@pytest.mark.parametrize(("value", "message"), [
    ({"path": "a", "regex": "(x"}, "mapping.name: regex: missing ), unterminated subpattern"),
    ({"path": "a", "regex": "(a)(b)"}, "mapping.name: regex: at most one (group)"),
    ({"path": "a", "split": {"by": "/", "index": 0}}, "mapping.name: split: expected {by: SEPARATOR, index: N}"),
    ({"path": "a", "replace": ["x"]}, "mapping.name: replace: expected {old: new, ...}"),
    ({"path": "a", "trim": "x"}, "mapping.name: expected a column name"),
])
def test_bad_transforms_are_config_errors(tmp_path: Path, value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")
                       .replace("}", r"\}")):
        config(tmp_path / "x.csv", {"name": value})

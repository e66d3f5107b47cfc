"""The golden phone is the standardized number (issue 16, item 13), not one source's typing of it: the demo's
sources write phones a dozen ways ('(0551)56608362', '138 1234 5678', '+86-138…', '… 转549'); every golden
customer shows the standardized form of the number its phone_source record holds, on DuckDB and PostgreSQL,
and the customer view keeps the value as typed."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from core.config_file import load_config
from mdm.standardize.phones import standardize_phones
from pipelines.run import run_all
from pipelines.steward import customers
from warehouse.engine import Warehouse

STANDARD = re.compile(r"^\+86-\d{2,3}-\d{7,8}( 转\d+)?$|^\+861[3-9]\d{9}$")


def test_golden_phones_are_standardized_and_keep_the_typed_value(demo_project: Path, warehouse_url: str) -> None:
    cfg = load_config(demo_project, warehouse_url=warehouse_url)
    wh = Warehouse(cfg.warehouse.url)
    run_all(cfg, wh)
    golden = wh.read_frame("SELECT g.golden_id, g.phone, g.phone_source, r.phone AS typed, r.phone_std, r.phone_ext, "
                           "r.phone_type FROM mdm.golden_customer g JOIN mdm.customer_records r "
                           "ON r.record_id = g.phone_source ORDER BY g.golden_id")
    assert len(golden) > 100
    # the standardized number of the record that supplied it (a landline without its area code takes the one of
    # the record's city: '83051434' of a company in Xi'an is +86-29-83051434), with its extension
    expected = [t if not isinstance(p, str) else p + (f" 转{e}" if isinstance(e, str) else "")
                for p, e, t in zip(golden["phone_std"].astype(object), golden["phone_ext"].astype(object),
                                   golden["typed"], strict=True)]
    assert golden["phone"].tolist() == expected
    std = standardize_phones(golden["typed"])
    same_number = std["phone"].notna().to_numpy()  # where the number alone says it all, they agree
    assert all(g.endswith(s.lstrip("0")) for g, s in zip(golden["phone_std"][same_number],
                                                          std["phone"][same_number], strict=True))
    # the sources' typings really differ from the standardized form, and each gave one form
    assert (golden["phone"] != golden["typed"]).sum() > len(golden) // 2
    assert golden["typed"].str.contains(r"[() ]", regex=True).any()
    valid = golden[golden["phone_type"].isin(["mobile", "landline"]) & golden["phone_std"].str.startswith("+86")]
    assert len(valid) and valid["phone"].str.match(STANDARD).all(), valid[~valid["phone"].str.match(STANDARD)]
    # The customer view: the standardized value, and as the source typed it, from the record that supplied it.
    row = golden[golden["phone"] != golden["typed"]].iloc[0]
    detail = customers.golden_detail(cfg, wh, row["golden_id"])
    phone = next(a for a in detail["attributes"] if a["attribute"] == "phone")
    assert (phone["value"], phone["typed"], phone["source_record"]) == (row["phone"], row["typed"],
                                                                        row["phone_source"])
    name = next(a for a in detail["attributes"] if a["attribute"] == "name")
    assert name["typed"] is None  # a value kept as typed repeats nothing
    wh.dispose()


def test_an_extension_and_a_non_number_in_the_golden_phone(tmp_path: Path) -> None:
    """Exact values for the forms of the issue (two sources, one company each; the later record supplies the
    phone): parentheses, spaces, +86 with dashes, an extension, and text that is no phone at all (kept as typed)."""
    rows = [("上海瑞丰信息技术有限公司", "(021)51803117", "021-5180 3117"),
            ("北京华通科技有限公司", "010 82336141", "01082336141"),
            ("深圳超瑞服饰有限公司", "+86-136-2851-0947", "13628510947"),
            ("厦门优润包装材料有限公司", "0592-5012345转123", "0592-5012345"),
            ("杭州青木文化传播有限公司", "见备注", "")]
    a = pd.DataFrame({"编号": [f"A{i}" for i in range(5)], "名称": [r[0] for r in rows],
                      "电话": [r[1] for r in rows], "修改时间": "2024-06-01 10:00:00"})
    b = pd.DataFrame({"编号": [f"B{i}" for i in range(5)], "名称": [r[0] for r in rows],
                      "电话": [r[2] for r in rows], "修改时间": "2023-01-01 10:00:00"})
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    stream = ("    streams:\n      customers:\n        primary_key: 编号\n        entity: customer\n"
              "        mapping: {name: 名称, phone: 电话, updated_at: 修改时间}\n")
    (tmp_path / "hub.yaml").write_text(
        'warehouse: {url: "duckdb:///w.duckdb"}\nsources:\n'
        f"  crm_a:\n    connector: file\n    config: {{path: a.csv}}\n{stream}"
        f"  crm_b:\n    connector: file\n    config: {{path: b.csv}}\n{stream}", encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    wh = Warehouse(cfg.warehouse.url)
    run_all(cfg, wh)
    g = wh.read_frame("SELECT name, phone, phone_source FROM mdm.golden_customer ORDER BY name")
    got = {r["name"]: (r["phone"], r["phone_source"]) for r in g.to_dict("records")}
    assert got == {"上海瑞丰信息技术有限公司": ("+86-21-51803117", "crm_a:customers:A0"),
                   "北京华通科技有限公司": ("+86-10-82336141", "crm_a:customers:A1"),
                   "深圳超瑞服饰有限公司": ("+8613628510947", "crm_a:customers:A2"),
                   "厦门优润包装材料有限公司": ("+86-592-5012345 转123", "crm_a:customers:A3"),
                   "杭州青木文化传播有限公司": ("见备注", "crm_a:customers:A4")}
    wh.dispose()

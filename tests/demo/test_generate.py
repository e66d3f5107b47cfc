"""Tests of the seeded demo universe and its three dirty legacy sources."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from connectors.fakes.universe import make_sales_reps, make_universe
from demo.generate import DemoData, generate, main, scaled_customers, write_demo

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_ok(code: str) -> bool:
    """Independent GB 32100-2015 check, including the embedded GB 11714 organization code."""
    if not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", code):
        return False
    total = sum(CHARSET.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    if CHARSET[(31 - total % 31) % 31] != code[17]:
        return False
    org = 11 - sum(int(c, 36) * w for c, w in zip(code[8:16], ORG_WEIGHTS, strict=True)) % 11
    return code[16] == {10: "X", 11: "0"}.get(org, str(org))


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(2000, seed=11)


def keyed_truth(data: DemoData, source: str) -> pd.Series:
    t = data.truth[data.truth["source_name"] == source]
    return t.set_index("source_key")["entity_id"]


def test_universe_columns_and_uniqueness() -> None:
    u = make_universe(3000, seed=3)
    assert list(u.columns) == [
        "entity_id", "legal_name", "short_name", "brand", "trade", "form", "province", "city",
        "district", "street", "address", "uscc", "phone", "contact_name", "kind", "parent_entity_id",
        "rep_id", "industry", "created_at",
    ]  # fmt: skip
    assert len(u) == 3000
    assert u["entity_id"].is_unique and u["entity_id"].iloc[0] == "E0000001"
    assert u["legal_name"].is_unique and u["uscc"].is_unique
    assert (u["short_name"] == u["brand"] + u["trade"]).all()
    assert u["phone"].str.fullmatch(r"1\d{10}|0\d{2,3}-\d{8}").all()
    assert pd.api.types.is_datetime64_any_dtype(u["created_at"])
    assert u["rep_id"].between(1, 40).all()
    assert u["city"].str.endswith("市").all()
    muni = u["province"] == u["city"]  # 北京市 北京市
    prefix = u["province"].where(~muni, "") + u["city"]
    assert (u["address"] == prefix + u["district"] + u["street"]).all()
    assert u.loc[muni, "city"].isin(["北京市", "上海市", "天津市", "重庆市"]).all()
    city_first = ~u["legal_name"].str.contains("（") & (u["kind"] != "branch")
    plain = u[city_first]
    assert (plain["legal_name"] == plain["city"].str[:-1] + plain["short_name"] + plain["form"]).all()


def test_uscc_valid_with_area_code() -> None:
    u = make_universe(3000, seed=5)
    assert all(uscc_ok(c) for c in u["uscc"])
    assert u["uscc"].str.startswith("91").all()
    assert (u.loc[u["city"] == "北京市", "uscc"].str[2:4] == "11").all()
    code = u["uscc"].iloc[0]
    for i in range(18):  # any single keying error is caught by the check character
        wrong = CHARSET[(CHARSET.index(code[i]) + 7) % 31]
        assert not uscc_ok(code[:i] + wrong + code[i + 1 :])


def test_kinds_present_and_proportions_sane() -> None:
    u = make_universe(5000, seed=9)
    share = u["kind"].value_counts(normalize=True)
    assert set(share.index) == {"base", "sibling", "branch", "nearname"}
    assert 0.8 < share["base"] < 0.93
    for kind in ("sibling", "branch", "nearname"):
        assert 0.01 < share[kind] < 0.12
    by_id = u.set_index("entity_id")
    branches = u[u["kind"] == "branch"]
    assert (u.loc[u["kind"] != "branch", "parent_entity_id"] == "").all()
    heads = by_id.loc[branches["parent_entity_id"]]
    assert (heads["kind"] == "base").all()
    assert all(b.startswith(h) for b, h in zip(branches["legal_name"], heads["legal_name"], strict=True))
    assert branches["legal_name"].str.contains("分公司|办事处").all()
    assert (branches["city"].to_numpy() != heads["city"].to_numpy()).all()
    assert (branches["uscc"].to_numpy() != heads["uscc"].to_numpy()).all()
    base = u[u["kind"] == "base"]
    for _, s in u[u["kind"] == "sibling"].head(30).iterrows():  # same brand and trade, another city
        same = base[(base["brand"] == s["brand"]) & (base["trade"] == s["trade"])]
        assert (same["city"] != s["city"]).any()
    for _, s in u[u["kind"] == "nearname"].head(30).iterrows():  # same city and trade, one char differs
        same = base[(base["city"] == s["city"]) & (base["trade"] == s["trade"])]
        assert any(sum(x != y for x, y in zip(b, s["brand"], strict=True)) == 1 for b in same["brand"])


def test_deterministic_for_a_seed() -> None:
    a, b, c = generate(300, seed=5), generate(300, seed=5), generate(300, seed=6)
    for field in ("universe", "reps", "crm_a", "crm_b", "erp_customers", "erp_orders", "truth"):
        pd.testing.assert_frame_equal(getattr(a, field), getattr(b, field))
    assert not a.universe["legal_name"].equals(c.universe["legal_name"])
    pd.testing.assert_frame_equal(make_sales_reps(12, 3), make_sales_reps(12, 3))


def test_truth_covers_every_record_exactly_once(data: DemoData) -> None:
    t = data.truth
    assert list(t.columns) == ["source_name", "stream", "source_key", "entity_id"]
    assert not t.duplicated(["source_name", "stream", "source_key"]).any()
    assert (t["stream"] == "customers").all()
    keys = {
        "crm_a": data.crm_a["cust_id"].astype(str),
        "crm_b": data.crm_b["客户编号"],
        "erp": data.erp_customers["FCUSTID"].astype(str),
    }
    assert len(t) == sum(len(k) for k in keys.values())
    for source, k in keys.items():
        assert set(t.loc[t["source_name"] == source, "source_key"]) == set(k)
    assert t["entity_id"].isin(data.universe["entity_id"]).all()


def test_sources_overlap_and_crm_a_has_duplicates(data: DemoData) -> None:
    per_source = data.truth.groupby("entity_id")["source_name"].nunique()
    assert (per_source == 3).sum() > 0.2 * len(per_source)
    assert (per_source == 1).sum() > 0
    counts = data.truth[data.truth["source_name"] == "crm_a"]["entity_id"].value_counts()
    assert 0.03 < (counts > 1).mean() < 0.2
    assert 4000 < len(data.truth) < 6000  # ~5,000 records for 2,000 companies
    # the derived companies are in the sources too, as themselves
    kinds = data.universe.set_index("entity_id").loc[data.truth["entity_id"], "kind"]
    assert set(kinds) == {"base", "sibling", "branch", "nearname"}


def test_source_dirtiness(data: DemoData) -> None:
    legal = data.universe.set_index("entity_id")["legal_name"]
    uscc = data.universe.set_index("entity_id")["uscc"]
    a = data.crm_a.assign(eid=data.crm_a["cust_id"].astype(str).map(keyed_truth(data, "crm_a")))
    b = data.crm_b.assign(eid=data.crm_b["客户编号"].map(keyed_truth(data, "crm_b")))
    e = data.erp_customers.assign(eid=data.erp_customers["FCUSTID"].astype(str).map(keyed_truth(data, "erp")))
    exact = {
        "crm_a": (a["cust_name"] == a["eid"].map(legal)).mean(),
        "crm_b": (b["客户名称"] == b["eid"].map(legal)).mean(),
        "erp": (e["FNAME"] == e["eid"].map(legal)).mean(),
    }
    assert exact["crm_b"] < exact["crm_a"] < exact["erp"] < 0.9
    assert (~b["客户名称"].str.contains("公司")).mean() > 0.2  # many short names
    missing = {
        "crm_a": (a["tax_code"] == "").mean(),
        "crm_b": (b["统一社会信用代码"] == "").mean(),
        "erp": (e["FTAXREGISTERCODE"] == "").mean(),
    }
    assert 0.35 < missing["crm_a"] < 0.65 and missing["crm_b"] > 0.55 and missing["erp"] < 0.2
    codes = pd.concat([a[["tax_code", "eid"]], e.rename(columns={"FTAXREGISTERCODE": "tax_code"})])
    codes = codes[codes["tax_code"] != ""]
    true = codes["eid"].map(uscc)
    assert (codes["tax_code"] == true).mean() > 0.85
    assert codes["tax_code"].str.contains(r"[a-z]").any()  # lower-case
    assert codes["tax_code"].str.contains(" ").any()  # spaced
    typos = codes[codes["tax_code"].str.replace(" ", "").str.upper() != true]
    assert len(typos) > 0 and not any(uscc_ok(c.replace(" ", "").upper()) for c in typos["tax_code"])
    brand = data.universe.set_index("entity_id")["brand"]
    assert (
        0 < sum(x not in n for n, x in zip(a["cust_name"], a["eid"].map(brand), strict=True)) < 0.05 * len(a)
    )
    names = pd.concat([a["cust_name"], b["客户名称"], e["FNAME"]])
    assert names.str.contains(r"\(").any() and names.str.startswith(" ").any()
    assert names.str.contains("有限责任公司").any()
    phones = pd.concat([a["tel"], b["联系电话"], e["FTEL"]])
    shapes = set(phones.str.replace(r"\d", "9", regex=True))
    assert len(shapes) >= 12
    for shape in (
        "+99-99999999999",
        "999 9999 9999",
        "999-9999-9999",
        "(9999)99999999",
        "9999-99999999 转999",
    ):
        assert shape in shapes
    addresses = pd.concat([a["address"], b["详细地址"], e["FADDRESS"]])
    assert addresses.str.contains("[０-９]").any() and (addresses == "").any()


def test_orders_reference_existing_customers_and_reps(data: DemoData) -> None:
    o = data.erp_orders
    assert list(o.columns) == ["FID", "FBILLNO", "FCUSTID", "FDATE", "FSALERID", "FAMOUNT", "FSTATUS", "FMODIFYDATE",
                               "FCURRENCY"]
    assert set(o["FCURRENCY"]) == {"CNY", "USD"} and 0.02 < (o["FCURRENCY"] == "USD").mean() < 0.06
    assert len(o) > len(data.erp_customers)
    assert o["FCUSTID"].isin(data.erp_customers["FCUSTID"]).all()
    assert o["FSALERID"].isin(data.erp_salesmen["FID"]).all()
    assert o["FID"].is_unique and o["FBILLNO"].is_unique
    assert (o["FAMOUNT"] == o["FAMOUNT"].round(2)).all() and (o["FAMOUNT"] > 0).all()
    assert pd.to_datetime(o["FDATE"], format="%Y-%m-%d").notna().all()
    assert set(o["FSTATUS"]) <= {"A", "B", "C"}
    # last changed on the order day or up to three days later (a cursor for incremental reads)
    lag = pd.to_datetime(o["FMODIFYDATE"]) - pd.to_datetime(o["FDATE"])
    assert (lag >= pd.Timedelta(0)).all() and (lag < pd.Timedelta(days=4)).all()


def test_reps(data: DemoData) -> None:
    r = data.reps
    assert list(r.columns) == ["rep_id", "name", "team", "region", "mobile", "email", "userid"]
    assert list(r["rep_id"]) == list(range(1, 41))
    assert r["userid"].str.fullmatch(r"[a-z]+\d+").all() and r["userid"].is_unique
    assert r["name"].is_unique and r["team"].nunique() == 5
    assert data.crm_a["owner"].str.fullmatch(r"rep0[0-4]\d").all()
    assert data.crm_b["所属销售"].isin(r["name"]).all()


def test_write_demo_files(tmp_path: Path, data: DemoData) -> None:
    paths = write_demo(tmp_path / "out", data)
    paths = write_demo(tmp_path / "out", data)  # idempotent
    assert set(paths) == {"crm_a", "crm_b", "erp", "truth", "entities"}
    b = pd.read_csv(paths["crm_b"], encoding="gbk", dtype=str, keep_default_na=False)
    assert list(b.columns) == [
        "客户编号",
        "客户名称",
        "统一社会信用代码",
        "联系电话",
        "详细地址",
        "联系人",
        "所属销售",
        "最后修改时间",
    ]
    pd.testing.assert_frame_equal(b, data.crm_b.reset_index(drop=True).astype(str))
    with sqlite3.connect(paths["crm_a"]) as con:
        a = pd.read_sql("SELECT * FROM t_customer", con)
    assert len(a) == len(data.crm_a) and list(a.columns) == list(data.crm_a.columns)
    with sqlite3.connect(paths["erp"]) as con:
        sizes = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("T_BD_CUSTOMER", "T_BD_SALESMAN", "T_SAL_ORDER")
        }
        orphans = con.execute(
            "SELECT count(*) FROM T_SAL_ORDER o LEFT JOIN T_BD_CUSTOMER c USING (FCUSTID) "
            "WHERE c.FCUSTID IS NULL"
        ).fetchone()[0]
    assert sizes == {
        "T_BD_CUSTOMER": len(data.erp_customers),
        "T_BD_SALESMAN": 40,
        "T_SAL_ORDER": len(data.erp_orders),
    }
    assert orphans == 0
    truth = pd.read_csv(paths["truth"], dtype=str)
    assert len(truth) == len(data.truth)
    entities = pd.read_csv(paths["entities"], dtype=str, keep_default_na=False)
    assert {"entity_id", "legal_name", "uscc", "kind"} <= set(entities.columns)
    assert len(entities) == len(data.universe)


def test_scaled_customers() -> None:
    records, truth = scaled_customers(5000, seed=4)
    assert list(records.columns) == [
        "source_name", "stream", "source_key", "name", "short_name", "uscc", "phone", "address",
        "contact_name", "owner", "updated_at",
    ]  # fmt: skip
    assert len(records) == 5000 and len(truth) == 5000
    assert list(truth.columns) == ["source_name", "stream", "source_key", "entity_id"]
    assert (
        (truth[["source_name", "stream", "source_key"]] == records[["source_name", "stream", "source_key"]])
        .all()
        .all()
    )
    assert not truth.duplicated(["source_name", "source_key"]).any()
    assert set(records["source_name"]) == {"crm_a", "crm_b", "erp"}
    assert truth["entity_id"].value_counts().max() > 1
    assert records["name"].notna().all() and records["uscc"].isna().any()
    again, _ = scaled_customers(5000, seed=4)
    pd.testing.assert_frame_equal(records, again)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--entities", "150", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "crm_a" in out and "truth" in out
    assert (tmp_path / "crm_b_export.csv").exists() and (tmp_path / "erp.sqlite").exists()


@pytest.mark.slow
def test_scaled_customers_are_sized_exactly_at_scale() -> None:
    """The sizing loop at benchmark scale: exactly the records asked for, unique keys, truth for each (its speed
    is the matching benchmark's business, not a unit test's)."""
    records, truth = scaled_customers(300_000)
    assert len(records) == len(truth) == 300_000
    keys = ["source_name", "stream", "source_key"]
    assert not records.duplicated(keys).any()
    assert records[keys].reset_index(drop=True).equals(truth[keys].reset_index(drop=True))
    assert set(records["source_name"]) == {"crm_a", "crm_b", "erp"}

"""The hard cases of Chinese B2B master data: placeholders and common values, 15-digit registration numbers,
former names, English names, public institutions, groups and their companies (issue 19)."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from demo.generate import scaled_customers
from mdm.engine import LinkSettings, explain, link
from mdm.golden import survivorship_sql
from mdm.hierarchy import branch_parents
from mdm.latin_names import brand_pinyin, parse_latin, pinyin_of
from mdm.placeholders import email_placeholder, phone_placeholder, text_placeholder
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
)
from mdm.standardize import standardize_customers
from mdm.standardize.codes import reg_no_check_digit, reg_no_is_valid, standardize_uscc
from mdm.standardize.names import standardize_names
from warehouse.engine import Warehouse

SETTINGS = LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS)


@functools.cache
def _background() -> pd.DataFrame:
    """3,000 generated customer records (three sources, their usual dirt): what EM learns the weights on."""
    recs, truth = scaled_customers(3000, seed=3)
    return recs.assign(entity=truth["entity_id"].to_numpy(), former_name=None, email=None)


def link_with(rows: list[dict[str, object]]) -> tuple[pd.DataFrame, object]:
    """Standardize and link the background plus `rows` (each with an `entity`); the rows' part of the records
    with their cluster label, and the link result."""
    extra = pd.DataFrame(rows)
    extra["source_key"] = [f"x{i}" for i in range(len(extra))]
    extra["stream"] = "customers"
    recs = pd.concat([_background(), extra], ignore_index=True)
    recs = recs.astype({c: object for c in recs.columns if c != "updated_at"}).where(recs.notna(), None)
    std = derive_customer_columns(standardize_customers(recs.drop(columns=["entity"])))
    res = link(std, SETTINGS)
    out = std.assign(label=res.labels, entity=recs["entity"].to_numpy())
    return out.iloc[len(_background()):], res


def together(part: pd.DataFrame, a: int, b: int) -> bool:
    return bool(part["label"].iloc[a] == part["label"].iloc[b])


# --- 1. placeholders and values too common to identify anything ---------------------------------------------


@pytest.mark.parametrize("value, fake", [
    ("新联系人", True), ("无", True), ("未知", True), ("联系人2", True), ("N/A", True), ("某某", True), ("老板", True),
    ("  ", True), ("??", True), ("张伟", False), ("王总", False), ("李 经理", False), ("Zhang Wei", False),
])  # fmt: skip
def test_contact_placeholders(value: str, fake: bool) -> None:
    assert text_placeholder(pa.array([value]), "contact").to_pylist() == [fake]


@pytest.mark.parametrize("value, fake", [
    ("13800000000", True), ("138-0013-8000", True), ("123456", True), ("12345678", True), ("010-88888888", True),
    ("+86 13888888888", True), ("13912345678", True), ("13812349876", False), ("021-62345679", False),
])  # fmt: skip
def test_phone_placeholders(value: str, fake: bool) -> None:
    assert phone_placeholder(pa.array([value])).to_pylist() == [fake]


@pytest.mark.parametrize("value, fake", [
    ("test@test.com", True), ("123456@qq.com", True), ("111111@163.com", True), ("none", True), ("无", True),
    ("sales@example.com", True), ("zhangwei@huaxin.com.cn", False), ("info@kaibang-env.cn", False),
])  # fmt: skip
def test_email_placeholders(value: str, fake: bool) -> None:
    assert email_placeholder(pa.array([value])).to_pylist() == [fake]


def test_placeholders_become_missing_in_standardized_records() -> None:
    std = standardize_customers(pd.DataFrame({
        "name": ["北京凯邦环保科技有限公司", "上海华信科技有限公司"], "contact_name": ["新联系人", "张 伟"],
        "phone": ["13800000000", "021-62345679"], "email": ["test@test.com", "ZhangWei@HuaXin.com"],
        "address": ["无", "上海市徐汇区漕溪北路88号"],
    }))
    assert std["contact_std"].tolist()[0] is pd.NA and std["contact_std"].iloc[1] == "张伟"
    assert std["phone_std"].isna().tolist() == [True, False] and std["phone_digits"].isna().tolist() == [True, False]
    assert std["email_std"].iloc[1] == "zhangwei@huaxin.com" and std["email_std"].isna().iloc[0]
    assert std["address_norm"].isna().tolist() == [True, False]


def _sharing(contact: str, phone: str, city: str = "北京", area: str = "010") -> list[dict[str, object]]:
    """15 distinct companies of one city and trade, each with a record holding the shared contact and phone and
    a record of its own with its real phone."""
    brands = ["凯邦", "华信", "同腾", "宏锦", "立正", "鼎顺", "云峰", "科康", "通兴", "中昌", "达云", "伟祥",
              "威安", "润航", "峰安"]
    rows = []
    for i, b in enumerate(brands):
        own = f"{area}-6{i:02d}4{i:02d}77"
        rows.append({"source_name": "crm_a", "name": f"{city}{b}环保科技有限公司", "contact_name": contact,
                     "phone": phone, "entity": f"S{i}"})
        rows.append({"source_name": "crm_b", "name": f"{b}环保科技", "contact_name": None, "phone": own,
                     "address": f"{city}市朝阳区建国路{10 + i}号", "entity": f"S{i}"})
    return rows


def test_fifteen_companies_sharing_a_placeholder_contact_and_phone_are_not_merged() -> None:
    part, _ = link_with(_sharing("新联系人", "13800000000"))
    shared = part[part["source_name"] == "crm_a"]
    assert shared["label"].nunique() == 15  # 15 companies, 15 customers
    assert all(together(part, 2 * i, 2 * i + 1) for i in range(15))  # each still joined to its own record


def test_a_value_no_list_knows_loses_its_weight_by_frequency() -> None:
    # 李经理 and 021-55550000 pass the placeholder detector; held by 15 brands, they identify nothing.
    assert not text_placeholder(pa.array(["李经理"]), "contact").to_pylist()[0]
    assert not phone_placeholder(pa.array(["021-55550000"])).to_pylist()[0]
    part, res = link_with(_sharing("李经理", "021-55550000", "上海", "021"))
    assert res.model.common["contact"] == ["李经理"] and res.model.common["phone"] == ["+86-21-55550000"]
    assert part[part["source_name"] == "crm_a"]["label"].nunique() == 15
    a, b = part.iloc[0], part.iloc[2]
    table = explain(res.model, a, b, 0.8, 0.3).set_index("comparison")
    assert table.loc["phone", "level"].startswith("common value: identifies nothing")
    assert table.loc["phone", "weight"] == 0.0 and table.loc["contact", "weight"] == 0.0
    assert table.attrs["band"] != "match"


# --- 2. 15-digit registration numbers (注册号) -----------------------------------------------------------------


def test_registration_number_check_digit() -> None:
    # 110108000000016: the example public validators of GS15-2006 use (ISO 7064 MOD 11,10).
    assert reg_no_check_digit("11010800000001") == "6" and reg_no_is_valid("110108000000016")
    assert reg_no_is_valid("110108 000000016") and not reg_no_is_valid("110108000000017")
    rng = np.random.default_rng(5)
    for _ in range(200):  # every single-digit error is detected
        body = "".join(map(str, rng.integers(0, 10, 14)))
        code = body + reg_no_check_digit(body)
        pos, digit = int(rng.integers(15)), str(rng.integers(10))
        typo = code[:pos] + digit + code[pos + 1:]
        assert reg_no_is_valid(typo) == (typo == code)


def test_registration_numbers_are_identifiers_not_invalid_usccs() -> None:
    body = [f"3101150{i:07d}" for i in range(300)]
    codes = [b + reg_no_check_digit(b) for b in body]
    bad = [c[:14] + str((int(c[14]) + 1) % 10) for c in codes]
    out = standardize_uscc(pd.Series(codes + bad + ["91110108551385082Q"]))
    assert out["reg_no"].iloc[:300].tolist() == codes  # vectorized check = the scalar one
    assert out["reg_no"].iloc[300:].isna().all()
    assert not out["uscc_valid"].iloc[:600].any()


def test_same_registration_number_links_and_two_numbers_stay_apart() -> None:
    r1, r2 = "310115000123456", "310115000765434"
    assert reg_no_is_valid(r1) and reg_no_is_valid(r2)
    part, _ = link_with([
        {"source_name": "crm_a", "name": "上海璟琨贸易有限公司", "uscc": r1, "entity": "A"},
        {"source_name": "crm_b", "name": "璟琨贸易（上海）有限责任公司", "uscc": "310115 000123456",
         "phone": "13611112222", "contact_name": "王建国", "entity": "A"},
        # a near-identical name in the same city, another registration number, the same agent (phone, name)
        {"source_name": "crm_a", "name": "上海璟珲贸易有限公司", "uscc": r2, "entity": "B"},
        {"source_name": "crm_b", "name": "璟珲贸易（上海）有限责任公司", "uscc": r2, "phone": "13611112222",
         "contact_name": "王建国", "entity": "B"},
    ])
    assert together(part, 0, 1) and together(part, 2, 3)
    assert not together(part, 1, 3)
    assert part["reg_no"].tolist() == [r1, r1, r2, r2]


# --- 3. former names (曾用名) ----------------------------------------------------------------------------------


def test_former_name_in_brackets_and_in_its_own_field() -> None:
    got = standardize_names(pd.Series(["北京华信科技有限公司（原北京化信电子有限公司）"]))
    assert got["name_key"].iloc[0] == "华信科技" and got["former"].iloc[0] == "北京化信电子有限公司"
    std = standardize_customers(pd.DataFrame({"name": ["杭州哲珲物流有限公司", "北京华信科技有限公司（原化信电子）"],
                                              "former_name": ["杭州犇驰科技有限公司", None]}))
    assert std["former_name_key"].tolist() == ["犇驰科技", "化信电子"]
    assert std["name_or_former_key"].tolist() == ["犇驰科技", "化信电子"]


def test_a_record_under_its_former_name_links_to_the_renamed_company() -> None:
    part, res = link_with([
        {"source_name": "erp", "name": "杭州哲珲物流有限公司", "uscc": "91330106WQ1TLC5W79",
         "former_name": "杭州犇驰科技有限公司", "address": "杭州市西湖区科技路8号14层", "entity": "R"},
        {"source_name": "crm_b", "name": "哲珲物流", "phone": "0571-25996479", "address": "杭州市西湖区科技路8号14层",
         "entity": "R"},
        # the old CRM: the former name and an older address, nothing else in common
        {"source_name": "crm_a", "name": "杭州犇驰科技有限公司", "address": "杭州市滨江区江南大道100号",
         "entity": "R"},
        # another company still called like that former name, in another city
        {"source_name": "crm_a", "name": "南京犇驰科技有限公司", "address": "南京市玄武区中山路1号", "entity": "N"},
    ])
    assert together(part, 0, 1) and together(part, 0, 2)
    assert not together(part, 0, 3)
    table = explain(res.model, part.iloc[0], part.iloc[2], 0.8, 0.3).set_index("comparison")
    assert table.loc["name", "level"].startswith("exact") and table.loc["name", "weight"] > 0
    assert table.loc["name", "left"] == "哲珲物流 (former: 犇驰科技)"


# --- 4. English names of foreign-invested companies --------------------------------------------------------------


@pytest.mark.parametrize("name, parsed", [
    ("Beijing Huaxin Technology Co., Ltd.", ("HUAXIN", "TECHNOLOGY", "有限公司", "北京市", "北京")),
    ("HUAXIN TECH (SHANGHAI) CO.,LTD", ("HUAXIN", "TECH", "有限公司", "上海市", "上海")),
    ("Chongqing Changan Trading Co Ltd", ("CHANGAN", "TRADING", "有限公司", "重庆市", "重庆")),
    ("XI AN TONGTENG ENGINEERING CO., LTD.", ("TONGTENG", "ENGINEERING", "有限公司", "西安市", "西安")),
    ("Hua Xin Group", ("HUAXIN", None, "集团有限公司", None, None)),
])  # fmt: skip
def test_english_names_are_read_into_brand_trade_form_and_city(name: str, parsed: tuple) -> None:
    assert parse_latin(name) == parsed


@pytest.mark.parametrize("core, context, pinyin", [
    ("华信", "华信科技", "HUAXIN"), ("重庆", "重庆银行", "CHONGQING"), ("朝阳", "朝阳建设", "CHAOYANG"),
    ("长沙", "长沙商行", "CHANGSHA"), ("银行家", "银行家", "YINHANGJIA"), ("行远", "行远科技", "XINGYUAN"),
])  # fmt: skip
def test_brand_pinyin_reads_polyphones_as_company_names_need(core: str, context: str, pinyin: str) -> None:
    assert brand_pinyin(core, context) == pinyin
    assert pinyin_of("中国银行重庆分行") == "ZHONGGUOYINHANGCHONGQINGFENHANG"


def test_english_and_chinese_names_share_the_pinyin_key() -> None:
    std = standardize_names(pd.Series(["北京华信科技有限公司", "Beijing Huaxin Technology Co., Ltd.",
                                       "HUAXIN TECH (SHANGHAI) CO.,LTD", "华信环保科技"]))
    assert std["brand_pinyin"].tolist() == ["HUAXIN"] * 4
    assert std["trade_head"].tolist() == ["科技"] * 4
    assert std["name_city"].tolist()[:3] == ["北京市", "北京市", "上海市"]
    assert std["latin"].isna().tolist() == [True, False, False, True]
    assert std["brand_trade"].tolist() == ["HUAXIN|科技"] * 4


def test_an_english_name_links_to_its_chinese_name_in_its_city_only() -> None:
    part, _ = link_with([
        {"source_name": "crm_a", "name": "北京华信科技有限公司", "phone": "010-62785001", "entity": "B"},
        {"source_name": "erp", "name": "Beijing Huaxin Technology Co., Ltd.", "uscc": "91110108MA01ABCD3X",
         "entity": "B"},
        {"source_name": "crm_a", "name": "上海华信科技有限公司", "phone": "021-62785002", "entity": "S"},
        {"source_name": "erp", "name": "HUAXIN TECH (SHANGHAI) CO.,LTD", "entity": "S"},
        {"source_name": "crm_b", "name": "北京华信物流有限公司", "entity": "L"},  # same brand, another trade
    ])
    assert together(part, 0, 1) and together(part, 2, 3)
    assert not together(part, 1, 3) and not together(part, 0, 2) and not together(part, 1, 4)


# --- 5. public institutions ------------------------------------------------------------------------------------


def test_institutions_are_parsed_into_district_name_and_kind() -> None:
    got = standardize_names(pd.Series(["北京市海淀区中医医院", "海淀区中医医院", "北京海淀中医医院",
                                       "北京市朝阳区中医医院", "上海市浦东新区妇幼保健院", "上海浦东妇幼保健院"]))
    assert got["institution_district"].tolist() == ["海淀区", "海淀区", "海淀区", "朝阳区", "浦东新区", "浦东新区"]
    assert got["form"].tolist() == ["医院"] * 4 + ["妇幼保健院"] * 2
    assert got["name_key"].tolist() == ["海淀中医医院"] * 3 + ["朝阳中医医院"] + ["浦东妇幼保健院"] * 2
    std = standardize_customers(pd.DataFrame({"name": ["北京市海淀区中医医院", "北京华信科技有限公司", "某某"],
                                              "uscc": [None, None, "12110108MB0123456X"]}))
    assert std["org_kind"].tolist()[:2] == ["institution", "company"]


def test_institutions_of_one_name_in_two_districts_stay_apart() -> None:
    part, _ = link_with([
        {"source_name": "erp", "name": "北京市海淀区中医医院", "phone": "010-62835678", "entity": "H"},
        {"source_name": "crm_a", "name": "海淀区中医医院", "phone": "010-62835678", "entity": "H"},
        {"source_name": "crm_b", "name": "北京海淀中医医院", "entity": "H"},
        {"source_name": "erp", "name": "北京市朝阳区中医医院", "phone": "010-65913456", "entity": "C"},
        {"source_name": "crm_b", "name": "朝阳区中医医院", "entity": "C"},
    ])
    assert together(part, 0, 1) and together(part, 0, 2) and together(part, 3, 4)
    assert not together(part, 0, 3) and not together(part, 2, 4)


# --- 6. groups and their companies -----------------------------------------------------------------------------


def test_a_group_and_a_company_of_its_brand_stay_apart_even_at_one_address() -> None:
    part, _ = link_with([
        {"source_name": "erp", "name": "深圳骐骥集团有限公司", "phone": "0755-86001234",
         "address": "深圳市南山区科技园路1号", "entity": "G"},
        {"source_name": "crm_a", "name": "深圳骐骥集团有限责任公司", "phone": "0755-86001234", "entity": "G"},
        {"source_name": "erp", "name": "深圳骐骥科技有限公司", "phone": "0755-86001234",
         "address": "深圳市南山区科技园路1号", "entity": "T"},
        {"source_name": "crm_a", "name": "深圳骐骥科技有限责任公司", "phone": "0755-86001234", "entity": "T"},
    ])
    assert part["group_key"].tolist() == ["group", "group", "member", "member"]
    assert together(part, 0, 1) and together(part, 2, 3) and not together(part, 0, 2)


def test_groups_are_linked_to_the_companies_of_their_brand_in_the_hierarchy() -> None:
    std = standardize_customers(pd.DataFrame({"name": [
        "深圳骐骥集团有限公司", "深圳骐骥科技有限公司", "深圳骐骥科技有限公司南山分公司", "深圳骐骥物流有限责任公司",
        "广州骐骥科技有限公司"]}))
    links = branch_parents(std.assign(golden_id=["G1", "G2", "G3", "G4", "G5"]))
    got = {(r.child_golden_id, r.parent_golden_id, r.relation) for r in links.itertuples()}
    # the branch hangs under its head office; the companies of the brand in the group's city under the group;
    # the brand in another city (G5) under nothing
    assert got == {("G2", "G1", "group"), ("G3", "G2", "branch"), ("G4", "G1", "group")}


# --- 7. survivorship: confirmed by more sources, then the cleaner spelling ----------------------------------------


def test_survivorship_prefers_confirmed_values_then_the_clean_spelling(warehouse_url: str) -> None:
    rows = [  # golden, record, source, name
        ("G1", "a", "crm_b", "北京 凯邦环保科技 有限责任公司"),  # the most recent, the longest: spaces
        ("G1", "b", "erp", "北京凯邦环保科技有限责任公司"), ("G1", "c", "crm_a", "北京凯邦环保科技有限责任公司"),
        ("G2", "d", "erp", "北京华信科技有限公司"), ("G2", "e", "crm_a", "华信科技"), ("G2", "f", "crm_b", "华信科技"),
        ("G3", "g", "erp", "上海鼎顺软件有限责任公司"), ("G3", "h", "crm_a", "上海鼎顺软件有限公司"),
        ("G3", "i", "crm_b", "上海 鼎顺软件有限公司"),
    ]
    wh = Warehouse(warehouse_url)
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE surv (golden_id VARCHAR, record_id VARCHAR, source_name VARCHAR, "
                             "updated_at TIMESTAMP, name VARCHAR)")
        for i, (g, r, s, n) in enumerate(rows):
            conn.execute(sa.text("INSERT INTO surv VALUES (:g, :r, :s, :t, :n)"),
                         {"g": g, "r": r, "s": s, "n": n, "t": dt.datetime(2025, 1, 1) + dt.timedelta(days=9 - i)})
    rules = {"name": ["most_sources", "cleanest", "most_complete", "source_priority", "most_recent"]}
    out = wh.read_frame(survivorship_sql("surv", ["name"], rules, ["erp", "crm_a", "crm_b"]))
    wh.dispose()
    # G1: one spelling in three sources, the clean one wins; G2: the legal name contains the short name, so the
    # two CRMs confirm it; G3: the spelling two sources agree on beats the one source's longer form.
    assert dict(zip(out["golden_id"], out["name"], strict=True)) == {
        "G1": "北京凯邦环保科技有限责任公司", "G2": "北京华信科技有限公司", "G3": "上海鼎顺软件有限公司"}
    assert dict(zip(out["golden_id"], out["name_source"], strict=True)) == {"G1": "b", "G2": "d", "G3": "h"}

"""Readable names for what the console shows: fields, comparisons, levels, rules, and times in the
configured zone. Column names stay in the JSON and CLI outputs; people read these."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

FIELDS: dict[str, str] = {
    # source values
    "name": "Company name", "short_name": "Short name (简称)", "uscc": "Tax code (USCC)", "phone": "Phone",
    "mobile": "Mobile", "email": "E-mail", "address": "Address", "contact_name": "Contact person",
    "customer_number": "Customer number", "industry": "Industry", "owner": "Sales rep", "updated_at": "Last changed",
    "created_at": "Created", "channel": "Channel", "golden_id": "Golden customer",
    # what standardization made of them
    "name_norm": "Name, normalized", "name_key": "Name key (brand + trade)", "name_core": "Brand (字号)",
    "name_region": "Region in the name", "name_trade": "Trade", "name_form": "Legal form", "branch": "Branch",
    "is_branch": "Is a branch", "uscc_std": "Tax code, normalized", "uscc_valid": "Tax code valid",
    "org_code": "Organization code", "phone_std": "Phone, normalized", "phone_type": "Phone type",
    "area_code": "Area code", "address_norm": "Address, normalized", "province": "Province", "city": "City",
    "city_any": "City (best known)", "district": "District",
    # golden customer
    "source_count": "Source records", "system_count": "Systems", "first_seen": "First seen",
    "last_seen": "Last seen", "uscc_valid_code": "Valid tax code", "branch_key": "Branch identity",
    # the hard cases (issue 19)
    "former_name": "Former name (曾用名)", "former_name_key": "Former name key",
    "reg_no": "Registration number (注册号)",
    "contact_std": "Contact, normalized", "email_std": "E-mail, normalized", "name_district": "District (institution)",
    "group_key": "Group or company of a group", "brand_pinyin": "Brand in pinyin", "brand_trade": "Brand and trade",
    "name_latin": "Name in Latin letters", "name_trade_head": "Trade head word", "org_kind": "Kind of organization",
    "name_or_former_key": "Name key or former name key",
}

FIELDS_ZH: dict[str, str] = {
    "name": "公司名称", "short_name": "简称", "uscc": "统一社会信用代码", "phone": "电话", "mobile": "手机",
    "email": "电子邮件", "address": "地址", "contact_name": "联系人", "customer_number": "客户编号",
    "industry": "行业", "owner": "所属销售", "updated_at": "最后修改", "created_at": "创建时间", "channel": "渠道",
    "golden_id": "黄金客户",
    "name_norm": "名称（规范化）", "name_key": "名称键（字号+行业）", "name_core": "字号",
    "name_region": "名称中的地区",
    "name_trade": "行业词", "name_form": "组织形式", "branch": "分支", "is_branch": "是否分支机构",
    "uscc_std": "税号（规范化）", "uscc_valid": "税号有效", "org_code": "组织机构代码", "phone_std": "电话（规范化）",
    "phone_type": "电话类型", "area_code": "区号", "address_norm": "地址（规范化）", "province": "省份", "city": "城市",
    "city_any": "城市（最佳推断）", "district": "区县",
    "source_count": "源记录数", "system_count": "系统数", "first_seen": "首次出现", "last_seen": "最近出现",
    "uscc_valid_code": "有效税号", "branch_key": "分支标识",
    # the hard cases (issue 19)
    "former_name": "曾用名", "former_name_key": "曾用名键", "reg_no": "工商注册号",
    "contact_std": "联系人（规范化）", "email_std": "电子邮件（规范化）", "name_district": "区县（事业单位）",
    "group_key": "集团或集团成员", "brand_pinyin": "字号拼音", "brand_trade": "字号与行业",
    "name_latin": "英文名称", "name_trade_head": "行业主词", "org_kind": "组织类型",
    "name_or_former_key": "名称键或曾用名键",
}

COMPARISONS_ZH: dict[str, str] = {"uscc": "税号", "name": "名称", "phone": "电话", "address": "地址",
                                  "contact": "联系人", "form": "组织形式", "prior": "先验（基础比率）",
                                  "stewards": "从数据管家学习", "reg_no": "工商注册号",
                                  "pinyin": "英文名 ↔ 字号拼音", "email": "电子邮件"}

COMPARISONS: dict[str, str] = {"uscc": "Tax code", "name": "Name", "phone": "Phone", "address": "Address",
                               "contact": "Contact person", "form": "Legal form", "prior": "Prior (base rate)",
                               "stewards": "Learned from stewards", "reg_no": "Registration number (注册号)",
                               "pinyin": "English name ↔ brand in pinyin", "email": "E-mail"}

MATCHED_BY: dict[str, str] = {"model": "matched by the model", "rule": "joined by a rule (tax code or decision)",
                              "singleton": "alone", "steward": "placed by a steward"}


def label(name: str | None, lang: str = "en") -> str:
    """The readable name of a field or a comparison in `lang` (en, zh; the name itself when there is none)."""
    if not name:
        return ""
    if lang == "zh" and (name in FIELDS_ZH or name in COMPARISONS_ZH):
        return FIELDS_ZH.get(name) or COMPARISONS_ZH[name]
    return FIELDS.get(name) or COMPARISONS.get(name) or name.replace("_", " ")


def matched_by(how: str | None) -> str:
    """How a record joined its golden customer, in words."""
    return MATCHED_BY.get(how or "", how or "")


def level_text(level: str | None) -> str:
    """A comparison level as a person reads it: `exact, city_any same` → `exact, same city`."""
    if not level:
        return ""
    text = level.replace("city_any same", "same city").replace("city_any different", "another city")
    text = text.replace("common value: identifies nothing", "shared by many companies: no evidence")
    return text.replace("city_any", "city").replace("_", " ")


def local_time(value: Any, zone: str) -> str:
    """A warehouse timestamp (naive UTC, as runs and steward actions write them) in the configured zone, with
    the zone's abbreviation: `2026-12-03 21:46:58 CST`. Anything else is shown as it is."""
    if value in (None, ""):
        return ""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    if pd.isna(ts):
        return ""
    when = ts.to_pydatetime()
    when = (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when).astimezone(ZoneInfo(zone))
    return when.strftime("%Y-%m-%d %H:%M:%S %Z")

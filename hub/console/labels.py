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

COMPARISONS: dict[str, str] = {"uscc": "Tax code", "name": "Name", "phone": "Phone", "address": "Address",
                               "contact": "Contact person", "form": "Legal form", "prior": "Prior (base rate)",
                               "stewards": "Learned from stewards", "reg_no": "Registration number (注册号)",
                               "pinyin": "English name ↔ brand in pinyin", "email": "E-mail"}

MATCHED_BY: dict[str, str] = {"model": "matched by the model", "rule": "joined by a rule (tax code or decision)",
                              "singleton": "alone", "steward": "placed by a steward"}


def label(name: str | None) -> str:
    """The readable name of a field or a comparison (the name itself when there is none)."""
    if not name:
        return ""
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

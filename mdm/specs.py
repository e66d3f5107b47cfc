"""The default matching spec for companies: blocking rules, comparisons and hard-rule attributes.

Columns refer to the output of `mdm.standardize.standardize_customers`. A config may replace
the blocking rules and comparisons (`mdm.customer.blocking`, `mdm.customer.comparisons`), which
is how the same engine links persons (see `tests/mdm/test_febrl.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mdm.blocking import BlockingRule
from mdm.compare import ComparisonSpec

CUSTOMER_BLOCKING: tuple[BlockingRule, ...] = (
    BlockingRule("uscc", ("uscc_std",)),
    BlockingRule("org_code", ("org_code",)),
    BlockingRule("name_key", ("name_key",)),
    BlockingRule("phone", ("phone_digits",)),
    BlockingRule("address", ("city_any", "address_norm")),
    BlockingRule("core_city", ("name_core", "city_any")),
    BlockingRule("trade_city_contact", ("name_trade", "city_any", "contact_std")),
    BlockingRule("reg_no", ("reg_no",)),
    BlockingRule("former_name", ("name_or_former_key",)),
    BlockingRule("pinyin_city", ("brand_pinyin", "city_any")),
    BlockingRule("email", ("email_std",)),
)

# An identifying value (contact, phone, e-mail, address) held by records of this many distinct brands or more
# identifies nothing: it is compared as missing (mdm.classify.common_values).
COMMON_OWNERS = 10

CUSTOMER_COMPARISONS: tuple[ComparisonSpec, ...] = (
    ComparisonSpec("uscc", "uscc", "uscc_std", extra=("org_code",),
                   doc="统一社会信用代码: equal, a keying error apart, or different"),
    ComparisonSpec("reg_no", "exact", "reg_no",
                   doc="15-digit 工商注册号 of before 2015 (its check digit right): equal or different"),
    ComparisonSpec("name", "string", "name_key", (0.85,), context="city_any", tf=True, alias="former_name_key",
                   doc="brand + trade without region or legal form, split by whether the cities agree; "
                       "an exact match on a common name says less (term-frequency adjustment); a former name "
                       "(曾用名) is matched like the current one"),
    ComparisonSpec("pinyin", "exact", "brand_trade", gate="name_latin", tf=True,
                   doc="an English name's brand and trade against the other name's brand in pinyin and trade "
                       "(HUAXIN|科技: TECH and 环保科技 both end in 科技); only when one name is in Latin letters"),
    ComparisonSpec("phone", "phone", "phone_std", extra=("phone_digits",), tf=True, common=COMMON_OWNERS,
                   owner="name_core", doc="canonical phone number, or the same last eight digits; a number "
                                          "shared by many companies counts as missing"),
    ComparisonSpec("address", "string", "address_norm", (0.9, 0.75), tf=True, common=COMMON_OWNERS,
                   owner="name_core", doc="street, number and floor without the administrative divisions"),
    ComparisonSpec("contact", "string", "contact_std", (0.8,), tf=True, common=COMMON_OWNERS, owner="name_core",
                   doc="contact person (placeholders such as 新联系人 are missing)"),
    ComparisonSpec("email", "exact", "email_std", tf=True, common=COMMON_OWNERS, owner="name_core",
                   doc="e-mail address (placeholders such as test@test.com are missing)"),
    ComparisonSpec("form", "exact", "name_form", doc="legal form (有限公司, 股份有限公司, ...) or institution kind"),
)

# Exclusive attributes: a cluster never holds two different non-null values of one. Two valid tax codes or
# registration numbers, two cities, a head office and its branch, two districts of an institution, a group and
# a company of its brand are different legal entities.
CUSTOMER_EXCLUSIVE: tuple[str, ...] = ("uscc_valid_code", "city_any", "branch_key", "reg_no", "name_district",
                                       "group_key")
# A record is anchored (placed) when it has one of these.
CUSTOMER_ANCHORS: tuple[str, ...] = ("uscc_valid_code", "reg_no", "city_any")

def specs_from_config(blocking: Sequence[Any], comparisons: Sequence[Any]) -> tuple[
        tuple[BlockingRule, ...], tuple[ComparisonSpec, ...]]:
    """Blocking rules and comparisons from their config models (`core.config.BlockingRuleConfig`,
    `ComparisonConfig`): the spec is data, so any entity can be linked without code."""
    rules = tuple(BlockingRule(b.name, tuple(b.columns), b.max_block) for b in blocking)
    comps = tuple(ComparisonSpec(c.name, c.kind, c.column, tuple(c.thresholds), c.metric, tuple(c.extra),
                                 c.context, c.tf, gate=c.gate, common=c.common, owner=c.owner,
                                 alias=c.alias) for c in comparisons)
    return rules, comps


NO_BRANCH = "(none)"


def flag(s: pd.Series) -> pd.Series:
    """A boolean column that may hold nulls (from the warehouse) as plain bool, null → False."""
    return s.astype("boolean").fillna(False).astype(bool)


def derive_customer_columns(std: pd.DataFrame) -> pd.DataFrame:
    """Add the hard-rule columns to standardized customers: the tax code only when valid, and a
    branch identity that is never null (a head office and its branch may not share a cluster)."""
    valid = flag(std["uscc_valid"])
    return std.assign(uscc_valid_code=std["uscc_std"].where(valid),  # (one assign: the frame is copied once)
                      branch_key=std["branch"].astype(object).where(std["branch"].notna(), NO_BRANCH))

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
    BlockingRule("trade_city_contact", ("name_trade", "city_any", "contact_name")),
)

CUSTOMER_COMPARISONS: tuple[ComparisonSpec, ...] = (
    ComparisonSpec("uscc", "uscc", "uscc_std", extra=("org_code",),
                   doc="统一社会信用代码: equal, a keying error apart, or different"),
    ComparisonSpec("name", "string", "name_key", (0.85,), context="city_any", tf=True,
                   doc="brand + trade without region or legal form, split by whether the cities agree; "
                       "an exact match on a common name says less (term-frequency adjustment)"),
    ComparisonSpec("phone", "phone", "phone_std", extra=("phone_digits",),
                   doc="canonical phone number, or the same last eight digits"),
    ComparisonSpec("address", "string", "address_norm", (0.9, 0.75),
                   doc="street, number and floor without the administrative divisions"),
    ComparisonSpec("contact", "string", "contact_name", (0.8,), doc="contact person"),
    ComparisonSpec("form", "exact", "name_form", doc="legal form (有限公司, 股份有限公司, ...)"),
)

# Exclusive attributes: a cluster never holds two different non-null values of one.
CUSTOMER_EXCLUSIVE: tuple[str, ...] = ("uscc_valid_code", "city_any", "branch_key")
# A record is anchored (placed) when it has one of these.
CUSTOMER_ANCHORS: tuple[str, ...] = ("uscc_valid_code", "city_any")

def specs_from_config(blocking: Sequence[Any], comparisons: Sequence[Any]) -> tuple[
        tuple[BlockingRule, ...], tuple[ComparisonSpec, ...]]:
    """Blocking rules and comparisons from their config models (`hub.config.BlockingRuleConfig`,
    `ComparisonConfig`): the spec is data, so any entity can be linked without code."""
    rules = tuple(BlockingRule(b.name, tuple(b.columns), b.max_block) for b in blocking)
    comps = tuple(ComparisonSpec(c.name, c.kind, c.column, tuple(c.thresholds), c.metric, tuple(c.extra),
                                 c.context, c.tf) for c in comparisons)
    return rules, comps


NO_BRANCH = "(none)"


def flag(s: pd.Series) -> pd.Series:
    """A boolean column that may hold nulls (from the warehouse) as plain bool, null → False."""
    return s.astype("boolean").fillna(False).astype(bool)


def derive_customer_columns(std: pd.DataFrame) -> pd.DataFrame:
    """Add the hard-rule columns to standardized customers: the tax code only when valid, and a
    branch identity that is never null (a head office and its branch may not share a cluster)."""
    valid = flag(std["uscc_valid"])
    out = std.assign(uscc_valid_code=std["uscc_std"].where(valid))
    return out.assign(branch_key=out["branch"].astype(object).where(out["branch"].notna(), NO_BRANCH))

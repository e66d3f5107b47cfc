"""Unit tests of mdm/specs.py written against its surviving mutants (issue 20): the spec read from a config carries
every field, and the hard-rule columns derived from standardized customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.config import BlockingRuleConfig, ComparisonConfig
from mdm.blocking import BlockingRule
from mdm.compare import ComparisonSpec
from mdm.specs import NO_BRANCH, derive_customer_columns, flag, specs_from_config


def test_specs_from_config_carry_every_field() -> None:
    # every field away from its default, so a field dropped on the way shows
    blocking = [BlockingRuleConfig(name="city_name", columns=["city", "name"], max_block=50)]
    comparisons = [
        ComparisonConfig(
            name="name",
            kind="string",
            column="name_key",
            thresholds=[0.9, 0.8],
            metric="levenshtein",
            extra=["brand"],
            context="city",
            tf=True,
            gate="latin",
            common=7,
            owner="core",
            alias="former_key",
        ),
        ComparisonConfig(name="phone", kind="phone", column="phone_std"),
    ]
    rules, comps = specs_from_config(blocking, comparisons)
    assert rules == (BlockingRule("city_name", ("city", "name"), 50),)
    assert comps == (
        ComparisonSpec(
            "name",
            "string",
            "name_key",
            (0.9, 0.8),
            "levenshtein",
            ("brand",),
            "city",
            True,
            gate="latin",
            common=7,
            owner="core",
            alias="former_key",
        ),
        ComparisonSpec("phone", "phone", "phone_std"),
    )
    # (dataclass equality, field by field; the tuple fields as tuples)
    assert comps[0].tf is True and comps[0].context == "city" and comps[0].alias == "former_key"


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([True, None, False], dtype=object),
        pd.Series([True, pd.NA, False], dtype=object),  # a missing value as pandas writes it
        pd.Series([True, None, False], dtype="boolean"),
        pd.Series([True, None, False], dtype="bool[pyarrow]"),
    ],
)
def test_a_flag_with_missing_values_is_false_there(values: pd.Series) -> None:
    got = flag(values)
    assert got.dtype == np.bool_ and got.tolist() == [True, False, False]


def test_derived_columns_keep_valid_tax_codes_and_name_every_head_office() -> None:
    std = pd.DataFrame(
        {
            "uscc_std": ["91310000MA1K000001", "91310000MA1K000002", None],
            "uscc_valid": [True, None, False],
            "branch": [None, "上海分公司", pd.NA],
        }
    )
    out = derive_customer_columns(std)
    assert out["uscc_valid_code"].iloc[0] == "91310000MA1K000001"  # only a valid code
    assert out["uscc_valid_code"].iloc[1:].isna().all()
    assert out["branch_key"].tolist() == [NO_BRANCH, "上海分公司", NO_BRANCH] and NO_BRANCH == "(none)"
    assert list(out.columns) == ["uscc_std", "uscc_valid", "branch", "uscc_valid_code", "branch_key"]

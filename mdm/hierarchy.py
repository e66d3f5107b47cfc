"""Customer hierarchy: a branch (分公司, 办事处) is its own legal entity, linked to its head office.

A branch's name carries its head office's name: `广州同腾建设工程股份有限公司上海分公司` →
brand+trade `同腾建设工程`, head-office region `广州`. The parent is the one non-branch golden
customer with that brand+trade in that city (or, when the name gives no region, the only
non-branch golden customer with that brand+trade). Ambiguous heads are not guessed.
"""

from __future__ import annotations

import pandas as pd

from mdm.specs import flag

_CITY_SUFFIX = r"(市|地区|自治州|盟)$"


def _short(city: pd.Series) -> pd.Series:
    return city.astype("string").str.replace(_CITY_SUFFIX, "", regex=True)


def branch_parents(std: pd.DataFrame) -> pd.DataFrame:
    """child_golden_id, parent_golden_id, relation, evidence from standardized records with golden IDs."""
    cols = ["child_golden_id", "parent_golden_id", "relation", "evidence"]
    is_branch = flag(std["is_branch"])
    heads = std[~is_branch & std["name_key"].notna()]
    heads = pd.DataFrame({"name_key": heads["name_key"], "region": _short(heads["city_any"]),
                          "parent_golden_id": heads["golden_id"]}).drop_duplicates()
    branches = std[is_branch & std["name_key"].notna()]
    branches = pd.DataFrame({"name_key": branches["name_key"], "region": _short(branches["name_region"]),
                             "child_golden_id": branches["golden_id"],
                             "evidence": branches["name"].astype(str)}).drop_duplicates("child_golden_id")
    if not len(branches) or not len(heads):
        return pd.DataFrame(columns=cols)
    with_region = branches[branches["region"].notna()]
    by_city = heads.dropna(subset=["region"]).groupby(["name_key", "region"])["parent_golden_id"] \
        .agg(["nunique", "first"]).reset_index()
    by_city = by_city[by_city["nunique"] == 1].rename(columns={"first": "parent_golden_id"})
    a = with_region.merge(by_city[["name_key", "region", "parent_golden_id"]], on=["name_key", "region"])
    no_region = branches[branches["region"].isna()]
    by_name = heads.groupby("name_key")["parent_golden_id"].agg(["nunique", "first"]).reset_index()
    by_name = by_name[by_name["nunique"] == 1].rename(columns={"first": "parent_golden_id"})
    b = no_region.merge(by_name[["name_key", "parent_golden_id"]], on="name_key")
    out = pd.concat([a, b], ignore_index=True)
    out = out[out["child_golden_id"] != out["parent_golden_id"]]
    out["relation"] = "branch"
    out["evidence"] = "branch name: " + out["evidence"]
    return out[cols].reset_index(drop=True)

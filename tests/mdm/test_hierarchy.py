"""The customer hierarchy against its rules written out in Python."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from mdm.hierarchy import COLUMNS, branch_parents


def _short(city: str | None) -> str | None:
    return None if city is None else re.sub(r"(市|地区|自治州|盟)$", "", city, count=1)


def reference(recs: list[dict]) -> list[tuple]:
    """(child, parent, relation, evidence) by the rules of `mdm.hierarchy`, sorted by child."""
    heads = {(r["name_key"], _short(r["city_any"]), r["golden_id"]) for r in recs
             if not r["is_branch"] and r["name_key"] is not None}
    by_city: dict[tuple, set] = {}
    by_name: dict[str, set] = {}
    for key, region, parent in heads:
        if region is not None:
            by_city.setdefault((key, region), set()).add(parent)
        by_name.setdefault(key, set()).add(parent)
    linked = {}
    for g in sorted({r["golden_id"] for r in recs}):
        mine = sorted((r for r in recs if r["golden_id"] == g and r["is_branch"] and r["name_key"] is not None),
                      key=lambda r: r["record_id"])
        if not mine:
            continue
        b = mine[0]
        region = _short(b["name_region"])
        parents = by_city.get((b["name_key"], region), set()) if region is not None else by_name.get(b["name_key"],
                                                                                                     set())
        if len(parents) == 1 and next(iter(parents)) != g:
            linked[g] = (g, next(iter(parents)), "branch", "branch name: " + b["name"])
    groups: dict[tuple, list[dict]] = {}
    for r in recs:
        if (r["group_key"] == "group" and not r["is_branch"] and r["name_core"] is not None
                and r["city_any"] is not None):
            groups.setdefault((r["name_core"], r["city_any"]), []).append(r)
    group_golden = {r["golden_id"] for r in recs if r["group_key"] == "group"}
    out = list(linked.values())
    for g in sorted({r["golden_id"] for r in recs} - group_golden - set(linked)):
        mine = sorted((r for r in recs if r["golden_id"] == g and r["group_key"] == "member" and not r["is_branch"]
                       and r["name_core"] is not None), key=lambda r: r["record_id"])
        if not mine:
            continue
        m = mine[0]
        group = groups.get((m["name_core"], m["city_any"]), [])
        if len({r["golden_id"] for r in group}) == 1 and group[0]["golden_id"] != g:
            out.append((g, group[0]["golden_id"], "group", f"same brand ({m['name_core']}) and city as the group "
                                                           f"{min(r['name'] for r in group)}"))
    return sorted(out)


def _records(rng: random.Random) -> list[dict]:
    return [{"record_id": f"r{i:02d}", "golden_id": f"G{rng.randint(1, 5)}", "name": f"名称{rng.randint(0, 99)}",
             "name_key": rng.choice(["同腾建设", "凯邦", None]),
             "name_region": rng.choice(["北京", "上海市", "广州市", None]),
             "city_any": rng.choice(["北京市", "北京", "上海市", "广州", None]),
             "is_branch": rng.choice([True, False, False, None]), "name_core": rng.choice(["骐骥", "凯邦", None]),
             "group_key": rng.choice(["group", "member", "member", None])}
            for i in range(rng.randint(0, 20))]


@pytest.mark.parametrize("seed", range(120))
def test_hierarchy_follows_its_rules(seed: int) -> None:
    rng = random.Random(seed)
    recs = _records(rng)
    rng.shuffle(recs)  # rows in any order: a golden customer's first record is the first by record id
    frame = pd.DataFrame(recs, columns=["record_id", "golden_id", "name", "name_key", "name_region", "city_any",
                                        "is_branch", "name_core", "group_key"]).astype(object)
    got = branch_parents(frame)
    assert list(got.columns) == COLUMNS
    rows = [tuple(r) for r in got.itertuples(index=False)]
    want = reference([{**r, "is_branch": bool(r["is_branch"])} for r in recs])
    assert sorted(rows) == want
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_records_without_record_ids_are_taken_in_their_order_and_a_null_flag_is_no_branch() -> None:
    frame = pd.DataFrame({"golden_id": ["G1", "G2", "G2"], "name": ["同腾", "同腾上海分公司", "同腾上海办事处"],
                          "name_key": ["同腾", "同腾", "同腾"], "name_region": [None, "上海", "上海"],
                          "city_any": ["上海市", "上海市", "上海市"], "is_branch": [None, True, True],
                          "name_core": [None, None, None], "group_key": [None, None, None]})
    got = branch_parents(frame)
    assert got.to_dict("records") == [{"child_golden_id": "G2", "parent_golden_id": "G1", "relation": "branch",
                                       "evidence": "branch name: 同腾上海分公司"}]


def test_a_branch_linked_to_its_head_office_is_not_also_linked_to_a_group() -> None:
    cols = ["record_id", "golden_id", "name", "name_key", "name_region", "city_any", "is_branch", "name_core",
            "group_key"]
    frame = pd.DataFrame([
        ["r1", "G1", "深圳骐骥科技有限公司", "骐骥科技", None, "深圳市", False, "骐骥", None],        # head office
        ["r2", "G2", "深圳骐骥科技有限公司上海分公司", "骐骥科技", "深圳", "上海市", True, "骐骥", "member"],  # branch
        ["r3", "G2", "骐骥科技", None, None, "上海市", False, "骐骥", "member"],   # the branch's other record
        ["r4", "G3", "上海骐骥集团有限公司", "骐骥集团", None, "上海市", False, "骐骥", "group"],  # a group in its city
        ["r5", "G4", "上海骐骥软件有限公司", "骐骥软件", None, "上海市", False, "骐骥", "member"],
    ], columns=cols)
    got = branch_parents(frame)
    assert [tuple(r[:3]) for r in got.itertuples(index=False)] == [("G2", "G1", "branch"), ("G4", "G3", "group")]

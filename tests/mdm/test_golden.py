"""Golden IDs against a plain reference of the rules in `mdm.golden`'s docstring, and the helpers around them."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.vocabulary import FALLBACK_RULES
from mdm.golden import (
    assign_codes,
    assign_ids,
    describe_rules,
    first_free_number,
    format_id,
    format_ids,
    id_number,
    sorted_codes,
    survive,
    survivorship_sql,
)


def reference_assign(clusters: list[tuple[str, int]], previous: dict[str, str], next_number: int,
                     ) -> tuple[dict[str, str], list[tuple]]:
    """The rules written out record by record: (golden ID of each record, history rows in order)."""
    members: dict[int, list[str]] = {}
    for rid, c in clusters:
        members.setdefault(c, []).append(rid)
    first = {c: min(rids) for c, rids in members.items()}
    held = {c: Counter(previous[r] for r in rids if r in previous) for c, rids in members.items()}
    ids = sorted(set(previous.values()))
    number = {g: int(g[1:]) for g in ids}
    owner = {}
    for g in ids:  # the cluster holding most of the ID's records, then the one with the smallest record
        holders = [c for c in members if held[c][g]]
        if holders:
            owner[g] = min(holders, key=lambda c: (-held[c][g], first[c]))
    kept, merged = {}, []
    for c in sorted(members):
        owned = sorted((g for g, o in owner.items() if o == c), key=lambda g: (number[g], g))
        if owned:
            kept[c] = owned[0]
            merged += [(g, owned[0], "merged", None) for g in owned[1:]]
    n = max([next_number, *[v + 1 for v in number.values()]])
    for c in sorted((c for c in members if c not in kept), key=lambda c: first[c]):
        kept[c], n = f"G{n:010d}", n + 1
    retired = {m[0] for m in merged}
    split = [(None, g, "split", kept[c]) for c in sorted(members) for g in sorted(held[c])
             if owner[g] != c and g not in retired]
    return {r: kept[c] for r, c in clusters}, merged + split


def _case(rng: random.Random) -> tuple[list[tuple[str, int]], dict[str, str], int]:
    n = rng.randint(1, 14)
    rids = rng.sample([f"r{i}" for i in range(40)], n)  # r10 sorts before r9: text order, as record ids are
    labels = [rng.randint(0, max(1, n // 2)) * 7 for _ in rids]  # labels far from 0..k-1
    pool = [f"G{rng.randint(1, 30):010d}" for _ in range(rng.randint(0, 5))]
    previous = {r: rng.choice(pool) for r in [*rids, "gone1", "gone2"] if pool and rng.random() < 0.7}
    return list(zip(rids, labels, strict=True)), previous, rng.randint(1, 35)


@pytest.mark.parametrize("seed", range(300))
def test_ids_and_history_follow_the_rules_as_written(seed: int) -> None:
    clusters, previous, next_number = _case(random.Random(seed))
    got = assign_ids(pd.DataFrame(clusters, columns=["record_id", "cluster"]),
                     pd.DataFrame(list(previous.items()), columns=["record_id", "golden_id"]) if previous else None,
                     next_number)
    ids, history = reference_assign(clusters, previous, next_number)
    assert got.ids["record_id"].tolist() == [r for r, _ in clusters]
    assert dict(zip(got.ids["record_id"], got.ids["golden_id"], strict=True)) == ids
    assert got.history.index.tolist() == list(range(len(got.history)))  # merged rows, then split rows, numbered
    h = got.history.reindex(columns=["retired_id", "survivor_id", "reason", "split_id"])
    rows = [tuple(None if pd.isna(v) else v for v in row) for row in h.itertuples(index=False)]
    assert rows == history


def test_a_record_given_twice_in_the_previous_xref_counts_once_and_missing_ids_count_not() -> None:
    previous = pd.DataFrame({"record_id": ["a", "a", "b", "c"],
                             "golden_id": ["G0000000004", "G0000000009", None, "G0000000004"]})
    got = assign_ids(pd.DataFrame({"record_id": ["a", "b", "c"], "cluster": [1, 2, 1]}), previous)
    assert got.ids["golden_id"].tolist() == ["G0000000004", "G0000000005", "G0000000004"]
    assert got.history.empty


def test_no_cluster_gets_no_id() -> None:
    got = assign_ids(pd.DataFrame({"record_id": pd.Series([], dtype=object), "cluster": pd.Series([], dtype=int)}),
                     pd.DataFrame({"record_id": ["a"], "golden_id": ["G0000000003"]}))
    assert got.ids.empty and got.history.empty
    per_cluster, history = assign_codes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                                        pa.array(["G0000000003"]), 4)
    assert len(per_cluster) == 0 and history.empty


def test_id_text_and_numbers() -> None:
    assert format_id(7) == "G0000000007" and format_id(12345678901) == "G12345678901"
    assert format_id(pd.Series([1, 42])).tolist() == ["G0000000001", "G0000000042"]
    assert format_ids(np.array([3, 10_000_000_000])).to_pylist() == ["G0000000003", "G10000000000"]
    assert id_number(pd.Series(["G0000000012", "G7", "Gx", "X0000000003"])).tolist() == [12, 7, 0, 3]
    assert id_number(pd.Series(["G0000000012"])).dtype == np.int64
    assert first_free_number(pd.Series(["G0000000099", "G0000000100"])) == 101


@pytest.mark.parametrize("values", [
    ["b", "a", "c", "a", "北京", "上海", "b"],
    ["r10", "r9", "r1", "r10"],
    [3, 1, 2, 3, 10],
    ["b", None, "a", "b"],
    ["x"],
    [],
])
def test_sorted_codes_equal_pandas_factorize_sorted(values: list) -> None:
    s = pd.Series(values, dtype=object)
    codes, uniques = sorted_codes(s)
    want_codes, want_uniques = pd.factorize(s, sort=True)
    assert codes.dtype == np.int64 and codes.tolist() == want_codes.tolist()
    assert list(uniques) == list(want_uniques)


def test_sorted_codes_of_text_come_from_arrow_in_byte_order() -> None:
    s = pd.Series(["b", "B", "a", "é", "b"], dtype=object)
    codes, uniques = sorted_codes(s)
    assert codes.tolist() == [2, 0, 1, 3, 2] and list(uniques) == ["B", "a", "b", "é"]
    assert isinstance(pa.array(list(uniques)), pa.StringArray)


def test_rules_read_as_a_sentence() -> None:
    assert describe_rules(["valid_only", "source_priority", "most_recent"], ["erp", "crm_a"]) == (
        "valid values only; the most trusted source (erp > crm_a), then the most recently changed record")
    assert describe_rules(["source_priority"], []) == "the most trusted source"
    assert describe_rules(["most_frequent", "most_complete", "custom"], ["erp"]) == (
        "the value most records agree on, then the longest (most complete) value, then custom")
    assert describe_rules(["valid_only"], ["erp"]) == "valid values only"
    assert describe_rules([], []) == ""
    assert describe_rules(["most_sources", "cleanest"], []) == (
        "the value most sources confirm (their value is in it, spacing aside), then the cleanest spelling "
        "(no stray spaces)")


def test_survivorship_quotes_odd_column_and_source_names() -> None:
    recs = pd.DataFrame({"golden_id": ["G1", "G1"], "record_id": ["a", "b"], "source_name": ["x", "o'brien"],
                         'we"ird': ["from a", "from b"], "updated_at": pd.to_datetime(["2024-01-01", "2023-01-01"])})
    out = survive(recs, ['we"ird'], {'we"ird': ["source_priority"]}, ["o'brien", "x"])
    assert out.to_dict("records") == [{"golden_id": "G1", 'we"ird': "from b", 'we"ird_source': "b"}]


# --- survivorship against a plain chooser ---------------------------------------------------------------------

SIMPLE_RULES = ["source_priority", "most_recent", "most_frequent", "most_complete", "cleanest"]


def reference_survive(recs: pd.DataFrame, attr: str, rules: list[str], priority: list[str],
                      valid: str | None) -> dict[str, tuple]:
    """Per golden ID: (value, record that supplied it, its valid flag) by sorting the candidates in Python."""
    out = {}
    for g, grp in recs.groupby("golden_id"):
        cand = grp[grp[attr].notna() & (grp[attr].astype(str).str.strip() != "")]
        if "valid_only" in rules and valid:
            cand = cand[cand[valid].eq(True)]
        if not len(cand):
            out[g] = (None, None, False if valid else None)
            continue
        freq = cand[attr].map(cand[attr].value_counts())

        def key(i: int, c: pd.DataFrame = cand, f: pd.Series = freq) -> tuple:
            r, parts = c.loc[i], []
            for rule in rules:
                if rule == "source_priority":
                    parts.append(priority.index(r["source_name"]) if r["source_name"] in priority else len(priority))
                elif rule == "most_recent":
                    t = r["updated_at"]
                    parts.append((1, 0) if pd.isna(t) else (0, -t.value))
                elif rule == "most_frequent":
                    parts.append(-f[i])
                elif rule == "most_complete":
                    parts.append(-len(r[attr]))
                elif rule == "cleanest":
                    v = r[attr]
                    stray = v != v.strip() or "  " in v or any(
                        (a == " " and "一" <= b <= "鿿") or (b == " " and "一" <= a <= "鿿") for a, b in pairwise(v))
                    parts.append(int(stray))
            return (*parts, r["record_id"])

        best = cand.loc[min(cand.index, key=key)]
        out[g] = (best[attr], best["record_id"], bool(best[valid]) if valid and pd.notna(best[valid]) else
                  (False if valid else None))
    return out


def _records(rng: random.Random) -> pd.DataFrame:
    rows = []
    values = ["甲", "甲公司", "甲 公司", " 甲公司", "乙有限公司", "", "  ", None, "ab", "abc"]
    for g in range(rng.randint(1, 4)):
        for j in range(rng.randint(1, 6)):
            rows.append({"golden_id": f"G{g}", "record_id": f"{rng.choice('abcd')}:{g}{j}",
                         "source_name": rng.choice(["erp", "crm_a", "crm_b", "wecom"]),
                         "updated_at": rng.choice([None, *pd.date_range("2024-01-01", periods=5, freq="D")]),
                         "name": rng.choice(values), "name_ok": rng.choice([True, False, None]),
                         "code": rng.choice([None, "c1", "c2"])})
    return pd.DataFrame(rows).astype({"updated_at": "datetime64[ns]"})


@pytest.mark.parametrize("seed", range(120))
def test_survivorship_sql_chooses_as_the_rules_sort(seed: int) -> None:
    rng = random.Random(seed)
    recs = _records(rng)
    rules = rng.sample(SIMPLE_RULES, rng.randint(0, 3))
    if rng.random() < 0.5:
        rules.insert(0, "valid_only")
    priority = rng.sample(["erp", "crm_a", "crm_b"], rng.randint(0, 3))
    with_valid = rng.random() < 0.7
    sql = survivorship_sql("recs", ["name"], {"name": rules} if rules else {}, priority,
                           valid={"name": "name_ok"} if with_valid else None,
                           first={"first_code": "code", "first_source": "source_name"})
    con = duckdb.connect()
    con.register("recs", recs)
    got = con.sql(sql).df()
    con.close()
    want = reference_survive(recs, "name", rules or list(FALLBACK_RULES), priority, "name_ok" if with_valid else None)
    assert got["golden_id"].tolist() == sorted(want)
    for row in got.to_dict("records"):
        value, source, ok = want[row["golden_id"]]
        assert (None if pd.isna(row["name"]) else row["name"], None if pd.isna(row["name_source"]) else
                row["name_source"]) == (value, source), (rules, priority, row)
        assert ("name_valid" in row) == with_valid
        if with_valid:
            assert bool(row["name_valid"]) is ok
        grp = recs[(recs["golden_id"] == row["golden_id"]) & recs["code"].notna()].sort_values("record_id")
        assert (None if pd.isna(row["first_code"]) else row["first_code"]) == (
            grp["code"].iloc[0] if len(grp) else None)
        mine = recs[recs["golden_id"] == row["golden_id"]].sort_values("record_id")
        assert row["first_source"] == mine["source_name"].iloc[0]

"""The engine's memory in the warehouse: what an incremental run reads of it (neighbours sharing a blocking key,
the affected closure) on hand-made records and pairs, on DuckDB and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from mdm.blocking import BlockingRule
from pipelines.match_store import MatchStore
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse


def warehouse(url: str, records: list[tuple[str, str | None, str | None, str | None]],
              pairs: list[tuple[str, str, float]], same: list[tuple[str, str]] = ()) -> Warehouse:
    """`records`: (record_id, golden_id, name_key, phone_digits); `pairs`: (left, right, prob); `same`: decisions."""
    wh = Warehouse(url)
    with wh.begin() as c:
        ensure_mdm(wh, c)
        wh.create_table(c, "mdm", "customer_records", {"record_id": "text", "golden_id": "text", "name_key": "text",
                                                       "phone_digits": "text"})
        wh.create_table(c, "mdm", "match_pairs", {"left_record": "text", "right_record": "text", "rules": "integer",
                                                  "prob": "float"})
        wh.insert_frame(c, "mdm", "customer_records", pa.Table.from_pylist(
            [dict(zip(("record_id", "golden_id", "name_key", "phone_digits"), r, strict=True)) for r in records]))
        wh.insert_frame(c, "mdm", "match_pairs", pa.Table.from_pylist(
            [{"left_record": a, "right_record": b, "rules": 1, "prob": p} for a, b, p in pairs]))
        if same:
            wh.insert_frame(c, "mdm", "decisions", pa.Table.from_pylist(
                [{"decision_id": f"d{i}", "left_record": a, "right_record": b, "verdict": "same", "active": True}
                 for i, (a, b) in enumerate(same)]))
    return wh


def closure(wh: Warehouse, seeds: list[str], review: float = 0.3) -> list[str]:
    with wh.begin() as c:
        return MatchStore(wh, c).closure(seeds, review)


def test_the_closure_follows_review_pairs_both_ways_golden_customers_and_steward_links(warehouse_url: str) -> None:
    # a - b (0.9); c - b (0.5, stored with c first); c - d (0.2: below review, not followed);
    # e is in c's golden customer G3, so it comes with c; f - e (0.95) follows; g is linked to f by a
    # steward only; h is alone; d - i (0.99) lies beyond the weak pair and is not reached from a
    wh = warehouse(warehouse_url, [
        ("a", "G1", None, None), ("b", "G1", None, None), ("c", "G3", None, None), ("d", "G4", None, None),
        ("e", "G3", None, None), ("f", "G6", None, None), ("g", "G7", None, None), ("h", "G8", None, None),
        ("i", "G4", None, None)],
        [("a", "b", 0.9), ("c", "b", 0.5), ("c", "d", 0.2), ("f", "e", 0.95), ("d", "i", 0.99)],
        same=[("g", "f")])
    assert closure(wh, ["a"]) == ["a", "b", "c", "e", "f", "g"]
    assert closure(wh, ["i"]) == ["d", "i"]
    assert closure(wh, ["h"]) == ["h"]
    assert closure(wh, ["a"], review=0.6) == ["a", "b"]  # c - b is below this review threshold


def test_neighbours_are_the_records_sharing_a_blocking_key_with_the_changed_ones(warehouse_url: str) -> None:
    wh = warehouse(warehouse_url, [
        ("r1", "G1", "华信科技", "12345678"), ("r2", "G2", "华信科技", None), ("r3", "G3", "同腾建设", "12345678"),
        ("r4", "G4", "同腾建设", ""), ("r5", "G5", None, "87654321"), ("r6", "G6", "", "")], [])
    rules = [BlockingRule("name", ("name_key",)), BlockingRule("phone", ("phone_digits",))]
    changed = pd.DataFrame({"record_id": ["r1", "new"], "name_key": ["华信科技", ""],
                            "phone_digits": ["12345678", "87654321"]})
    with wh.begin() as c:
        near = MatchStore(wh, c).neighbours(changed, rules, exclude=["r1", "new"], columns=["name_key"])
    # r2 by name, r3 by phone (r1's), r5 by phone (new's); an empty key blocks nothing (r4, r6); with their columns
    assert near["record_id"].tolist() == ["r2", "r3", "r5"]
    assert near["name_key"].fillna("-").tolist() == ["华信科技", "同腾建设", "-"]

"""`Warehouse.upsert_from`: rows replaced by key, new rows added, and with `unless_same` a stored row equal in
the compared columns left as it is (its other columns too), on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.engine import Warehouse

KINDS = {"k": "text", "name": "text", "score": "float", "written": "timestamp"}
OLD, NEW = dt.datetime(2026, 1, 1, 8), dt.datetime(2026, 6, 1, 9)


def stored(wh: Warehouse) -> dict[str, tuple]:
    rows = wh.read_frame("SELECT k, name, score, written FROM t.rows ORDER BY k")
    return {r.k: (None if pd.isna(r.name) else r.name, None if pd.isna(r.score) else float(r.score),
                  pd.Timestamp(r.written).to_pydatetime()) for r in rows.itertuples()}


def load(wh: Warehouse) -> None:
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS t")
        wh.create_table(conn, "t", "rows", KINDS, ["k"])
        wh.insert_frame(conn, "t", "rows", pd.DataFrame({"k": ["a", "b", "c", "d"], "name": ["甲", "乙", None, "丁"],
                                                          "score": [1.0, 2.0, 3.0, None], "written": OLD}))


def upsert(wh: Warehouse, unless_same: list[str]) -> None:
    new = pd.DataFrame({"k": ["a", "b", "c", "d", "e"], "name": ["甲", "乙乙", None, "丁", "戊"],
                        "score": [1.0, 2.0, 3.5, None, 5.0], "written": NEW})
    with wh.begin() as conn:
        wh.upsert_frame(conn, "t", "rows", new, ["k"], KINDS, unless_same=unless_same)


def test_unless_same_writes_only_the_rows_that_differ(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    load(wh)
    upsert(wh, ["name", "score"])
    assert stored(wh) == {"a": ("甲", 1.0, OLD),  # the same name and score: left, with when it was written
                          "b": ("乙乙", 2.0, NEW),  # another name
                          "c": (None, 3.5, NEW),  # another score (both names empty: the same)
                          "d": ("丁", None, OLD),  # both scores empty: the same
                          "e": ("戊", 5.0, NEW)}  # new
    wh.dispose()


def test_without_unless_same_every_row_is_written(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    load(wh)
    upsert(wh, [])
    assert {k: v[2] for k, v in stored(wh).items()} == dict.fromkeys("abcde", NEW)
    assert stored(wh)["b"][0] == "乙乙" and len(stored(wh)) == 5
    wh.dispose()

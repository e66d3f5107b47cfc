"""`warehouse.compaction`: DuckDB's own row-group merging is off, and the hub rewrites a table whose dead rows pass
a share of its live rows, with the same rows and definition after; PostgreSQL is left to its autovacuum."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from warehouse.compaction import DEAD_SHARE, MIN_DEAD_ROWS, Bloat, bloated, compact
from warehouse.engine import Warehouse


def fill(wh: Warehouse, table: str, rows: int, replaced: int) -> None:
    """`t.<table>` with `rows` live rows (a primary key, a default) of which `replaced` were deleted and inserted
    again: the table holds `rows + replaced`."""
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS t")
        conn.exec_driver_sql(f"CREATE TABLE t.{table} (k INTEGER PRIMARY KEY, name VARCHAR, "
                             "n INTEGER DEFAULT 7)")
        conn.exec_driver_sql(f"INSERT INTO t.{table} (k, name) SELECT i, '客户' || i FROM range({rows}) r(i)")
    with wh.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM t.{table} WHERE k < {replaced}")
        conn.exec_driver_sql(f"INSERT INTO t.{table} (k, name, n) SELECT i, '新客户' || i, 8 FROM range({replaced}) "
                             "r(i)")


def held(wh: Warehouse, table: str) -> int:
    return int(wh.scalar(f"SELECT estimated_size FROM duckdb_tables() WHERE schema_name = 't' "
                         f"AND table_name = '{table}'"))


def test_duckdbs_own_row_group_merging_is_off(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert wh.scalar("SELECT current_setting('max_vacuum_tasks')") == 0
    wh.dispose()


def test_a_bloated_table_is_rewritten_with_the_same_rows_and_definition(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    fill(wh, "bloated", 40_000, 12_000)       # 12,000 dead: past 20% of 40,000 and past 10,000
    fill(wh, "few_dead", 20_000, 9_000)       # 45% dead, but fewer than MIN_DEAD_ROWS
    fill(wh, "low_share", 100_000, 15_000)    # 15,000 dead: past MIN_DEAD_ROWS, 15% of the live rows
    fill(wh, "edge", 50_000, 10_000)          # exactly 20% and exactly 10,000: compacted (the bounds count)
    assert (DEAD_SHARE, MIN_DEAD_ROWS) == (0.2, 10_000)
    before = wh.read_frame("SELECT * FROM t.bloated ORDER BY k")
    assert bloated(wh) == [Bloat("t.bloated", 52_000, 40_000), Bloat("t.edge", 60_000, 50_000)]
    messages: list[str] = []

    assert compact(wh, messages.append) == [Bloat("t.bloated", 52_000, 40_000), Bloat("t.edge", 60_000, 50_000)]

    assert [m.split(" in ")[0] for m in messages] == [
        "compacted t.bloated: 52,000 rows held for 40,000 live (30% dead)",
        "compacted t.edge: 60,000 rows held for 50,000 live (20% dead)"]
    assert (held(wh, "bloated"), held(wh, "edge"), held(wh, "few_dead"), held(wh, "low_share")) == (
        40_000, 50_000, 29_000, 115_000)
    pd.testing.assert_frame_equal(wh.read_frame("SELECT * FROM t.bloated ORDER BY k"), before)
    assert wh.scalar("SELECT count(*) FROM t.bloated WHERE n = 8") == 12_000
    with pytest.raises(sa.exc.DBAPIError, match=r"(?i)duplicate key|constraint"), wh.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t.bloated (k, name) VALUES (5, 'x')")  # the primary key holds
    with wh.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t.bloated (k, name) VALUES (-1, 'x')")  # the default too
    assert wh.scalar("SELECT n FROM t.bloated WHERE k = -1") == 7
    assert bloated(wh) == [] and compact(wh) == []
    wh.dispose()


def test_a_run_compacts_at_its_end(demo_project: Path, tmp_path: Path) -> None:
    from core.config_file import load_config
    from pipelines.run import run_all

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = Warehouse(url)
    fill(wh, "side", 30_000, 10_000)
    messages: list[str] = []
    summary = run_all(load_config(demo_project, warehouse_url=url), wh, progress=messages.append)
    assert summary.compacted == ["t.side"] and "compact" in summary.phases
    assert any(m.startswith("compacted t.side: 40,000 rows held for 30,000 live (33% dead)") for m in messages)
    assert bloated(wh) == []

    # a pipeline table compacted keeps its version: the marts that read it have nothing to do
    from pipelines.publish import publish
    from warehouse.changes import versions

    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE x AS SELECT * FROM mdm.xref")
        conn.exec_driver_sql("DELETE FROM mdm.xref")
        conn.exec_driver_sql("INSERT INTO mdm.xref SELECT * FROM x")
        before = versions(conn, ["mdm.xref", "marts.dim_customer"])
    xref = wh.read_frame("SELECT * FROM mdm.xref ORDER BY source_name, stream, source_key")
    assert "mdm.xref" in [b.table for b in compact(wh, min_dead=1)]  # (and raw._versions, written in place)
    with wh.begin() as conn:
        assert versions(conn, ["mdm.xref", "marts.dim_customer"]) == before
    pd.testing.assert_frame_equal(wh.read_frame("SELECT * FROM mdm.xref ORDER BY source_name, stream, source_key"),
                                  xref)
    messages.clear()
    publish(wh, progress=messages.append)
    assert not [m for m in messages if m.startswith(("built", "refreshed"))], messages
    wh.dispose()


@pytest.mark.postgres
def test_postgresql_is_left_to_its_autovacuum(pg_url: str) -> None:
    wh = Warehouse(pg_url)
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE gone AS SELECT generate_series(1, 30000) AS k")
        conn.exec_driver_sql("DELETE FROM gone WHERE k <= 20000")
    assert bloated(wh) == [] and compact(wh) == []
    wh.dispose()

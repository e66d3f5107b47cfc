"""Compaction of a DuckDB warehouse's tables, when the rows they hold outgrow their live rows.

DuckDB's checkpoint merges under-filled row groups by itself ("vacuum"), rewriting a table from its first
under-filled row group to its end. A parallel bulk build leaves such groups mid-table, so the first small write
after a full run rewrote most of every table it touched: at 1M customer records, 2.7 s of a rerun in which 1% of
the records changed, for a few thousand rows. The hub turns that off (`max_vacuum_tasks = 0`, set by
`warehouse.engine.make_engine`) and compacts here instead, like PostgreSQL's autovacuum
(`autovacuum_vacuum_scale_factor` 0.2): a table is rewritten when the rows it still holds for deleted or replaced
ones pass `DEAD_SHARE` of its live rows (and `MIN_DEAD_ROWS`). An incremental run deletes and inserts about what
changed, so a table is rewritten once in many runs, at the end of a run (`hub run`, the Dagster run metrics).
PostgreSQL compacts by its own autovacuum: nothing to do there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from warehouse.engine import Warehouse, value
from warehouse.identifiers import quote

DEAD_SHARE = 0.2
"""A table is rewritten when the rows it holds for deleted ones pass this share of its live rows."""
MIN_DEAD_ROWS = 10_000
"""…and at least this many (a small table costs nothing to scan)."""


@dataclass(frozen=True)
class Bloat:
    """A table holding `held` rows for `live` ones (the others deleted, their space not reclaimed)."""

    table: str
    held: int
    live: int

    @property
    def dead(self) -> int:
        return self.held - self.live

    def describe(self) -> str:
        share = self.dead / self.live if self.live else 1.0
        return f"{self.table}: {self.held:,} rows held for {self.live:,} live ({share:.0%} dead)"


def bloated(wh: Warehouse, share: float = DEAD_SHARE, min_dead: int = MIN_DEAD_ROWS) -> list[Bloat]:
    """The tables of a DuckDB warehouse whose dead rows pass `share` of their live rows and `min_dead`, largest
    first (none on PostgreSQL). DuckDB's `estimated_size` counts the rows a table holds, deleted ones included."""
    if wh.dialect.name != "duckdb":
        return []
    with wh.begin() as conn:
        held = conn.exec_driver_sql(
            "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
            "WHERE NOT temporary AND database_name = current_database() AND estimated_size >= ?",
            (min_dead,)).fetchall()
        out = []
        for schema, table, rows in held:
            name = f"{quote(schema)}.{quote(table)}"
            live = int(value(conn, f"SELECT count(*) FROM {name}") or 0)
            if rows - live >= max(min_dead, share * live):
                out.append(Bloat(f"{schema}.{table}", int(rows), live))
    return sorted(out, key=lambda b: -b.dead)


def compact(wh: Warehouse, progress: Callable[[str], None] | None = None, share: float = DEAD_SHARE,
            min_dead: int = MIN_DEAD_ROWS) -> list[Bloat]:
    """Rewrite each bloated table (`bloated`) in a transaction of its own: its rows copied aside, the table
    emptied and filled again, between two checkpoints (the first puts what the tables hold on disk, so the rows
    written again fill row groups of their own; the second drops the old ones whole). Same rows, same definition
    (constraints, defaults), same version: nothing reading it has anything to do. Returns what was compacted."""
    todo = bloated(wh, share, min_dead)
    if todo:
        _checkpoint(wh)
    done = []
    for bloat in todo:
        started = time.monotonic()
        schema, _, table = bloat.table.partition(".")
        name = f"{quote(schema)}.{quote(table)}"
        with wh.begin() as conn:
            conn.exec_driver_sql("CREATE TEMPORARY TABLE _hub_compact AS SELECT * FROM " + name)
            conn.exec_driver_sql("DELETE FROM " + name)
            conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM _hub_compact")
            conn.exec_driver_sql("DROP TABLE _hub_compact")
        done.append(bloat)
        if progress is not None:
            progress(f"compacted {bloat.describe()} in {time.monotonic() - started:.1f} s")
    if done:
        _checkpoint(wh)
    return done


def _checkpoint(wh: Warehouse) -> None:
    with wh.engine.connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")

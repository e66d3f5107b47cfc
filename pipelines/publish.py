"""Publish: build the marts from their SQL files, each swapped in atomically, only when its inputs changed.

Each mart remembers the versions of the tables its SQL reads (`warehouse.changes`) when it was built; a
mart whose inputs kept their versions (and whose SQL did not change) is not built again. A mart that is
rebuilt gets a new version, so the marts reading it follow. Every build is one set-based
`CREATE TABLE … AS SELECT` in the warehouse.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from importlib import resources

from pipelines.progress import Progress, as_progress
from pipelines.stage import ensure_staging
from warehouse.changes import bump, set_watermark, versions, watermark
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse, value
from warehouse.marts.catalog import mart_docs

log = logging.getLogger("hub.publish")

_TABLE_REF = re.compile(r"\b(raw|staging|mdm|marts)\.([a-z_][a-z0-9_]*)\b")

# Build order, the order of warehouse/marts/marts.yaml: a mart may read the marts before it.
MARTS: tuple[str, ...] = tuple(mart_docs())


def mart_sql(name: str) -> str:
    """The SELECT of a mart, from `warehouse/marts/<name>.sql`."""
    return resources.files("warehouse.marts").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def mart_inputs(name: str) -> set[tuple[str, str]]:
    """The `(schema, table)` of every raw, staging, mdm and mart table a mart's SQL reads (comments ignored)."""
    sql = re.sub(r"--[^\n]*", "", mart_sql(name))
    return {(m.group(1), m.group(2)) for m in _TABLE_REF.finditer(sql)} - {("marts", name)}


def _sql_hash(name: str) -> str:
    return hashlib.sha1(mart_sql(name).encode()).hexdigest()[:12]


def _input_tables(name: str) -> list[str]:
    """`schema.table` of a mart's inputs, as `raw._versions` names them."""
    return sorted(f"{s}.{t}" for s, t in mart_inputs(name))


def build_mart(wh: Warehouse, name: str) -> int:
    """(Re)build one mart in a single transaction; returns its row count."""
    sql = mart_sql(name).strip().rstrip(";")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS marts")
        wh.swap_table(conn, "marts", name, sql)
        wh.dialect.analyze(conn, f"marts.{name}")  # PostgreSQL: statistics, or the marts after it plan blind
        return int(value(conn, f"SELECT count(*) FROM marts.{name}") or 0)


def mart_columns(wh: Warehouse, name: str) -> list[tuple[str, str]]:
    """(column, type) of a built mart, in order."""
    rows = wh.read_frame("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = 'marts' AND table_name = :t ORDER BY ordinal_position", {"t": name})
    return list(zip(rows["column_name"], rows["data_type"], strict=True))


def publish(wh: Warehouse, marts: tuple[str, ...] = MARTS,
            progress: Callable[[str], None] | Progress | None = None, force: bool = False) -> dict[str, int]:
    """Build the marts whose inputs changed since they were built (all of them with `force`); returns the row
    count of every mart."""
    prog = as_progress(progress, log)
    with wh.begin() as conn:  # the staging and mdm tables the marts read exist, even before any data
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
    counts = {}
    for name in marts:
        with wh.begin() as conn:
            seen = versions(conn, _input_tables(name))
            mark = watermark(conn, f"mart:{name}")
            exists = wh.table_exists(conn, "marts", name)
        if (not force and exists and mark is not None and mark[1].get("inputs") == seen
                and mark[1].get("sql") == _sql_hash(name)):
            counts[name] = int(mark[1].get("rows", 0))
            continue
        started = time.monotonic()
        counts[name] = build_recorded(wh, name, seen)
        prog(f"built marts.{name}: {counts[name]:,} rows in {time.monotonic() - started:.1f} s")
    return counts


def build_recorded(wh: Warehouse, name: str, seen: dict[str, int] | None = None) -> int:
    """`build_mart`, then a new version for the mart and, as its watermark, the versions of the inputs it read
    (`seen`, read now when not given): what `publish` checks to skip it next time (the Dagster asset builds
    through here too, so a `hub run` after a materialization does not build the mart again)."""
    if seen is None:
        with wh.begin() as conn:
            seen = versions(conn, _input_tables(name))
    rows = build_mart(wh, name)
    with wh.begin() as conn:
        bump(conn, f"marts.{name}")
        set_watermark(conn, f"mart:{name}", 0, {"inputs": seen, "sql": _sql_hash(name), "rows": rows})
    return rows

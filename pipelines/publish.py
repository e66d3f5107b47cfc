"""Publish: build the marts from their SQL files, each swapped in atomically."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from importlib import resources

from pipelines.match import load_customers
from warehouse.engine import Warehouse, value
from warehouse.marts.catalog import mart_docs

log = logging.getLogger("hub.publish")

_TABLE_REF = re.compile(r"\b(staging|mdm|marts)\.([a-z_][a-z0-9_]*)\b")

# Build order, the order of warehouse/marts/marts.yaml: a mart may read the marts before it.
MARTS: tuple[str, ...] = tuple(mart_docs())


def mart_sql(name: str) -> str:
    """The SELECT of a mart, from `warehouse/marts/<name>.sql`."""
    return resources.files("warehouse.marts").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def mart_inputs(name: str) -> set[tuple[str, str]]:
    """The `(schema, table)` of every staging, mdm and mart table a mart's SQL reads (comments ignored)."""
    sql = re.sub(r"--[^\n]*", "", mart_sql(name))
    return {(m.group(1), m.group(2)) for m in _TABLE_REF.finditer(sql)} - {("marts", name)}


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
            progress: Callable[[str], None] | None = None) -> dict[str, int]:
    progress = progress or log.info
    load_customers(wh)  # makes sure the staging and mdm tables the marts read exist
    counts = {}
    for name in marts:
        counts[name] = build_mart(wh, name)
        progress(f"built marts.{name}: {counts[name]:,} rows")
    return counts

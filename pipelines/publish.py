"""Publish: build the marts from their SQL files, each swapped in atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources

from pipelines.match import load_customers
from warehouse.engine import Warehouse, value

log = logging.getLogger("hub.publish")

# Build order: a mart may read the marts before it.
MARTS: tuple[str, ...] = ("dim_customer", "fct_sales_orders")


def mart_sql(name: str) -> str:
    """The SELECT of a mart, from `warehouse/marts/<name>.sql`."""
    return resources.files("warehouse.marts").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def build_mart(wh: Warehouse, name: str) -> int:
    """(Re)build one mart in a single transaction; returns its row count."""
    sql = mart_sql(name).strip().rstrip(";")
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS marts")
        wh.swap_table(conn, "marts", name, sql)
        return int(value(conn, f"SELECT count(*) FROM marts.{name}") or 0)


def publish(wh: Warehouse, marts: tuple[str, ...] = MARTS,
            progress: Callable[[str], None] | None = None) -> dict[str, int]:
    progress = progress or log.info
    load_customers(wh)  # makes sure the staging and mdm tables the marts read exist
    counts = {}
    for name in marts:
        counts[name] = build_mart(wh, name)
        progress(f"built marts.{name}: {counts[name]:,} rows")
    return counts

"""Data checks on the warehouse, shared by the CLI and the Dagster asset checks.

Each check returns a `CheckOutcome`: whether it passed, a sentence saying what it found, and
numbers (and a few example keys) to show beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from warehouse.engine import Warehouse

_EXAMPLES = 5


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, int | float | str] = field(default_factory=dict)


def _examples(wh: Warehouse, sql: str) -> str:
    rows = wh.read_frame(f"{sql} LIMIT {_EXAMPLES}")
    return ", ".join(str(v) for v in rows.iloc[:, 0]) if len(rows) else ""


def golden_ids_unique(wh: Warehouse) -> CheckOutcome:
    """Each golden ID has exactly one golden record, and every golden ID of mdm.xref has one."""
    counts = wh.read_frame("SELECT COUNT(*) AS n, COUNT(DISTINCT golden_id) AS ids FROM mdm.golden_customer")
    n, ids = int(counts["n"][0]), int(counts["ids"][0])
    orphans = int(wh.scalar("SELECT COUNT(DISTINCT x.golden_id) FROM mdm.xref x LEFT JOIN mdm.golden_customer g "
                            "ON g.golden_id = x.golden_id WHERE g.golden_id IS NULL") or 0)
    dupes = _examples(wh, "SELECT golden_id FROM mdm.golden_customer GROUP BY golden_id HAVING COUNT(*) > 1 "
                          "ORDER BY golden_id")
    passed = n == ids and orphans == 0
    desc = (f"{ids:,} golden IDs, each with one golden record" if passed else
            f"{n - ids:,} duplicate golden record(s), {orphans:,} golden ID(s) of mdm.xref without a golden record")
    return CheckOutcome(passed, desc, {"golden_records": n, "golden_ids": ids, "duplicates": n - ids,
                                       "xref_ids_without_record": orphans, "examples": dupes})


def staged_customers_in_xref(wh: Warehouse) -> CheckOutcome:
    """Every staged customer record is in mdm.xref, with a golden ID."""
    missing_sql = ("SELECT c.source_name || ':' || c.stream || ':' || c.source_key AS record FROM staging.customer c "
                   "LEFT JOIN mdm.xref x ON x.source_name = c.source_name AND x.stream = c.stream "
                   "AND x.source_key = c.source_key WHERE x.golden_id IS NULL")
    missing = int(wh.scalar(f"SELECT COUNT(*) FROM ({missing_sql}) m") or 0)
    staged = int(wh.scalar("SELECT COUNT(*) FROM staging.customer") or 0)
    desc = (f"all {staged:,} staged customer records have a golden ID" if not missing else
            f"{missing:,} of {staged:,} staged customer records are not in mdm.xref")
    return CheckOutcome(missing == 0, desc, {"staged": staged, "missing": missing,
                                             "examples": _examples(wh, missing_sql + " ORDER BY 1")})


def orders_have_customers(wh: Warehouse) -> CheckOutcome:
    """Every order of marts.fct_sales_orders has a golden customer."""
    orphan_sql = ("SELECT source_name || ':' || order_key AS order_ref FROM marts.fct_sales_orders "
                  "WHERE golden_id IS NULL")
    orphans = int(wh.scalar(f"SELECT COUNT(*) FROM ({orphan_sql}) o") or 0)
    orders = int(wh.scalar("SELECT COUNT(*) FROM marts.fct_sales_orders") or 0)
    desc = (f"all {orders:,} orders have a golden customer" if not orphans else
            f"{orphans:,} of {orders:,} orders have no golden customer (their customer record is unknown)")
    return CheckOutcome(orphans == 0, desc, {"orders": orders, "without_customer": orphans,
                                             "examples": _examples(wh, orphan_sql + " ORDER BY 1")})


def revenue_reconciles(wh: Warehouse) -> CheckOutcome:
    """The order total of marts.fct_sales_orders equals that of the staged source orders, to the cent."""
    rows = wh.read_frame("SELECT 'mart' AS side, COUNT(*) AS n, SUM(amount) AS total FROM marts.fct_sales_orders "
                         "UNION ALL SELECT 'source', COUNT(*), SUM(amount) FROM staging.sales_order")
    got = {r.side: (int(r.n), Decimal(str(r.total or 0)).quantize(Decimal("0.01"))) for r in rows.itertuples()}
    (mart_n, mart_total), (src_n, src_total) = got["mart"], got["source"]
    passed = mart_n == src_n and mart_total == src_total
    desc = (f"{mart_n:,} orders totalling {mart_total:,} in both the mart and the sources" if passed else
            f"mart: {mart_n:,} orders, {mart_total:,}; sources: {src_n:,} orders, {src_total:,}")
    return CheckOutcome(passed, desc, {"mart_orders": mart_n, "source_orders": src_n, "mart_total": str(mart_total),
                                       "source_total": str(src_total), "difference": str(mart_total - src_total)})


CHECKS: dict[str, Callable[[Warehouse], CheckOutcome]] = {
    "golden_ids_unique": golden_ids_unique,
    "staged_customers_in_xref": staged_customers_in_xref,
    "orders_have_customers": orders_have_customers,
    "revenue_reconciles": revenue_reconciles,
}


def run_checks(wh: Warehouse) -> dict[str, CheckOutcome]:
    """Every check, by name."""
    return {name: check(wh) for name, check in CHECKS.items()}

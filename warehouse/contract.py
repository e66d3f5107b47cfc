"""The `mdm` tables of the warehouse contract (DESIGN.md), as column kinds.

These names and columns are a public interface for BI and other tools: change them only with
a migration note in the README.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from warehouse.engine import Warehouse

GOLDEN_ATTRIBUTES = ("name", "short_name", "uscc", "phone", "address", "contact_name", "email",
                     "industry", "customer_number")

MDM_TABLES: dict[str, tuple[dict[str, str], list[str] | None]] = {
    "xref": ({"source_name": "text", "stream": "text", "source_key": "text", "golden_id": "text",
              "match_score": "float", "matched_by": "text", "updated_at": "timestamp"},
             ["source_name", "stream", "source_key"]),
    "golden_customer": ({"golden_id": "text", **dict.fromkeys(GOLDEN_ATTRIBUTES, "text"),
                         "province": "text", "city": "text", "uscc_valid": "boolean",
                         **{f"{a}_source": "text" for a in GOLDEN_ATTRIBUTES},
                         "source_count": "integer", "system_count": "integer",
                         "first_seen": "timestamp", "last_seen": "timestamp", "updated_at": "timestamp"},
                        ["golden_id"]),
    "golden_id_history": ({"retired_id": "text", "survivor_id": "text", "reason": "text",
                           "run_id": "text", "retired_at": "timestamp"}, None),
}


def ensure_mdm(wh: Warehouse, conn: Connection) -> None:
    conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS mdm")
    for table, (cols, pk) in MDM_TABLES.items():
        wh.create_table(conn, "mdm", table, cols, pk)

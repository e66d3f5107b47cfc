"""The `mdm` tables of the warehouse contract (DESIGN.md), as column kinds.

These names and columns are a public interface for BI and other tools: change them only with
a migration note in the docs (docs/migrations.md).
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
                         "province": "text", "city": "text", "uscc_valid": "boolean", "is_branch": "boolean",
                         **{f"{a}_source": "text" for a in GOLDEN_ATTRIBUTES},
                         "source_count": "integer", "system_count": "integer",
                         "first_seen": "timestamp", "last_seen": "timestamp", "updated_at": "timestamp"},
                        ["golden_id"]),
    # The xref rows of records deleted from their sources, as they were when deleted: a record that comes back
    # takes its golden ID again when that ID was retired as `deleted` and no live customer holds it
    # (`mdm.golden`, reason `revived`). A record leaves this table when it comes back.
    "xref_deleted": ({"source_name": "text", "stream": "text", "source_key": "text", "golden_id": "text",
                      "deleted_at": "timestamp"}, ["source_name", "stream", "source_key"]),
    # reason `split`: no retired_id; survivor_id stays active, split_id took some of its records;
    # reason `revived`: no retired_id; survivor_id, retired as `deleted`, is active again (a deleted record came back)
    "golden_id_history": ({"retired_id": "text", "survivor_id": "text", "reason": "text",
                           "run_id": "text", "retired_at": "timestamp", "split_id": "text"}, None),
    "customer_hierarchy": ({"child_golden_id": "text", "parent_golden_id": "text", "relation": "text",
                            "evidence": "text", "updated_at": "timestamp"}, ["child_golden_id"]),
    "review_queue": ({"item_id": "text", "left_record": "text", "right_record": "text", "left_golden_id": "text",
                      "right_golden_id": "text", "probability": "float", "weight": "float", "reason": "text",
                      "explanation": "json", "priority": "float", "status": "text", "created_at": "timestamp",
                      "left_values": "json", "right_values": "json", "revenue": "float"},
                     ["item_id"]),
    "decisions": ({"decision_id": "text", "item_id": "text", "left_record": "text", "right_record": "text",
                   "verdict": "text", "reason": "text", "decided_by": "text", "decided_at": "timestamp",
                   "active": "boolean", "undone_by": "text", "undone_at": "timestamp",
                   "action_id": "text", "origin": "text",
                   # the records' golden customers and content hashes when decided: what the steward saw
                   # (`pipelines.settled`: a run does not ask again about what a decision settled)
                   "left_golden_id": "text", "right_golden_id": "text",
                   "left_record_hash": "text", "right_record_hash": "text"}, ["decision_id"]),
    # Former names (曾用名) stewards added to a golden customer (`pipelines.steward.former_names`); an undone one
    # stays, inactive.
    "former_names": ({"action_id": "text", "golden_id": "text", "former_name": "text", "added_by": "text",
                      "added_at": "timestamp", "reason": "text", "active": "boolean"}, ["action_id"]),
    # The stewards' audit log: every decide, merge, unmerge and undo with the state before and after.
    "merge_log": ({"action_id": "text", "action": "text", "actor": "text", "acted_at": "timestamp",
                   "golden_ids": "json", "records": "json", "decision_ids": "json", "reason": "text",
                   "before": "json", "after": "json", "undone_by": "text", "undone_at": "timestamp",
                   "undo_of": "text"}, ["action_id"]),
    # The stewards' shared work on review items (keyed by item id, which is the same in every run): who
    # has claimed or was given an item, and their comments on an item or on a record (`subject`).
    "review_assignment": ({"item_id": "text", "assignee": "text", "assigned_by": "text", "assigned_at": "timestamp"},
                          ["item_id"]),
    "review_comment": ({"comment_id": "text", "subject": "text", "author": "text", "written_at": "timestamp",
                        "body": "text"}, ["comment_id"]),
    # Console sessions ended by a logout, until they would have expired (a hash of the session id only).
    "console_logout": ({"session_hash": "text", "user_name": "text", "logged_out_at": "timestamp",
                        "expires_at": "timestamp"}, ["session_hash"]),
    "match_model": ({"model_id": "text", "spec_fingerprint": "text", "created_at": "timestamp",
                     "active": "boolean", "model": "json"}, ["model_id"]),
    # A model's term frequencies (`pipelines.model_store`): the share of records holding each value held more than
    # once, per comparison; one row with no value marks each comparison the model adjusts by frequency. Kept
    # apart from the model's JSON, so that a run reads those of the values it compares, not all of them.
    "match_model_tf": ({"model_id": "text", "comparison": "text", "value": "text", "share": "float"}, None),
}

# Standardized columns the engine keeps per record in mdm.customer_records (its memory between runs).
STD_COLUMNS = [
    "name_norm", "name_region", "name_core", "name_trade", "name_form", "branch", "is_branch", "name_key",
    "name_city", "uscc_std", "uscc_valid", "org_code", "org_code_valid", "phone_std", "phone_type", "area_code",
    "phone_ext", "phone_digits", "phone_city", "province", "city", "district", "address_norm", "city_any",
    "uscc_valid_code", "branch_key", "reg_no", "contact_std", "email_std", "former_name_key", "name_or_former_key",
    "name_district", "group_key", "brand_pinyin", "brand_trade", "name_latin", "name_trade_head", "org_kind",
]


# Tables of a million rows and more that runs rewrite in part: on DuckDB they keep no primary-key index (their
# keys stay unique by construction; the checks verify golden IDs). PostgreSQL keeps every primary key.
UNINDEXED_ON_DUCKDB = ("xref", "golden_customer")


def primary_key(wh: Warehouse, table: str) -> list[str] | None:
    """The primary key an `mdm` contract table is created with in this warehouse."""
    pk = MDM_TABLES[table][1]
    return None if wh.dialect.name == "duckdb" and table in UNINDEXED_ON_DUCKDB else pk


def ensure_mdm(wh: Warehouse, conn: Connection) -> None:
    conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS mdm")
    fresh = ("mdm", "xref") not in wh._ensured
    for table, (cols, _) in MDM_TABLES.items():
        wh.create_table(conn, "mdm", table, cols, primary_key(wh, table))
    if fresh:  # warehouses written before: their large tables lose the index
        for table in UNINDEXED_ON_DUCKDB:
            wh.drop_primary_key(conn, "mdm", table)


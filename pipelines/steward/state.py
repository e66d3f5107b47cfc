"""Where the customer records are now, as the steward functions read it: each record's golden ID, the records of
golden customers, the decisions in force and the snapshot an action logs before and after."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from pipelines.steward.errors import StewardError
from pipelines.steward.sql import RECORD_ID_SQL, frame, in_list, plain_rows
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse


def ready(wh: Warehouse, conn: Connection) -> None:
    """The mdm tables exist and a run has matched (else a StewardError saying to run first)."""
    ensure_mdm(wh, conn)
    if not wh.table_exists(conn, "mdm", "customer_records"):
        raise StewardError("no match results in this warehouse yet: run `hub run` first")


def golden_of(wh: Warehouse, conn: Connection, record_ids: Iterable[str]) -> dict[str, str]:
    """record id → golden ID (from mdm.xref) for those of `record_ids` that exist."""
    ids = list(record_ids)
    if not ids:
        return {}
    sql, params = in_list(ids, "r")
    df = frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref "
                         f"WHERE {RECORD_ID_SQL} IN {sql}", params)
    return dict(zip(df["record_id"], df["golden_id"], strict=True))


def member_records(wh: Warehouse, conn: Connection, golden_ids: Iterable[str]) -> dict[str, str]:
    """record id → golden ID for every record of these golden customers."""
    sql, params = in_list(golden_ids, "g")
    df = frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref WHERE golden_id IN {sql} "
                         f"ORDER BY 1", params)
    return dict(zip(df["record_id"], df["golden_id"], strict=True))


def snapshot(wh: Warehouse, conn: Connection, records: Iterable[str]) -> dict[str, Any]:
    """The golden IDs of `records` and a summary of those golden customers: merge_log's before/after."""
    mapping = golden_of(wh, conn, records)
    gids = sorted(set(mapping.values()))
    sql, params = in_list(gids, "g")
    g = frame(wh, conn, f"SELECT golden_id, name, uscc, phone, address, source_count FROM mdm.golden_customer "
                        f"WHERE golden_id IN {sql}", params)
    goldens = {r["golden_id"]: {k: v for k, v in r.items() if k != "golden_id"} for r in plain_rows(g)}
    return {"records": dict(sorted(mapping.items())), "goldens": goldens}


def active_decisions(wh: Warehouse, conn: Connection, records: Iterable[str]) -> pd.DataFrame:
    """Active decisions touching any of `records`."""
    sql, params = in_list(records, "r")
    return frame(wh, conn, "SELECT decision_id, item_id, left_record, right_record, verdict, origin, reason, "
                           "decided_by, decided_at, action_id "
                           f"FROM mdm.decisions WHERE active AND (left_record IN {sql} OR right_record IN {sql})",
                 params)


def record_rows(wh: Warehouse, conn: Connection, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """record id → its row of mdm.customer_records (plain values)."""
    sql, params = in_list(record_ids, "r")
    df = frame(wh, conn, f"SELECT * FROM mdm.customer_records WHERE record_id IN {sql}", params)
    return {r["record_id"]: r for r in plain_rows(df)}

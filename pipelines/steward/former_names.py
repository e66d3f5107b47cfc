"""Former names (曾用名) stewards add to a golden customer, matched like a current name.

A company renamed since some CRM typed it keeps both names apart: the sources hold records under the old
name, and nothing on them names the new one. A steward who knows adds the former name to the golden customer
(`actions.add_former_name`, `hub steward former-name`, the customer page); it lives in `mdm.former_names`.
From the next run on, every record of that customer without a former name of its own carries it (the newest
added): the records block on it (`former_name`: the name key or the former name's key) and the name comparison
takes the better of name–name, former–name and name–former, so records typed with the old name join the
customer. Adding a name marks the customer's records for the next run (their content hash cleared and their
keys in `staging._changes`): an incremental run links them again, as it does records that changed.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.steward.sql import frame, in_list
from warehouse.changes import bump
from warehouse.engine import Warehouse

_XREF_ID = "x.source_name || ':' || x.stream || ':' || x.source_key"


def active_former_names(wh: Warehouse, conn: Connection, golden_id: str | None = None) -> pd.DataFrame:
    """The former names in force (golden_id, former_name, added_by, added_at, reason, action_id), newest first."""
    if not wh.table_exists(conn, "mdm", "former_names"):
        return pd.DataFrame(columns=["golden_id", "former_name", "added_by", "added_at", "reason", "action_id"])
    where = " AND golden_id = :g" if golden_id else ""
    return frame(wh, conn, "SELECT golden_id, former_name, added_by, added_at, reason, action_id FROM "
                           f"mdm.former_names WHERE active{where} ORDER BY added_at DESC, action_id DESC",
                 {"g": golden_id} if golden_id else None)


def record_aliases(wh: Warehouse, conn: Connection) -> dict[str, str]:
    """Record id → the newest former name a steward added to its golden customer (through `mdm.xref`): what a
    run's standardization gives records that hold no former name of their own."""
    if not (wh.table_exists(conn, "mdm", "former_names") and wh.table_exists(conn, "mdm", "xref")):
        return {}
    names = frame(wh, conn, "SELECT golden_id, former_name, added_at, action_id FROM mdm.former_names WHERE active")
    if not len(names):
        return {}
    names["golden_id"] = names["golden_id"].map(current_ids(wh, conn, names["golden_id"].tolist()))
    sql, params = in_list(names["golden_id"].tolist(), "g")
    members = frame(wh, conn, f"SELECT {_XREF_ID} AS record_id, x.golden_id FROM mdm.xref x "
                              f"WHERE x.golden_id IN {sql}", params)
    rows = members.merge(names, on="golden_id")
    if not len(rows):
        return {}
    rows = rows.sort_values(["added_at", "action_id"]).drop_duplicates("record_id", keep="last")
    return dict(zip(rows["record_id"].astype(str), rows["former_name"].astype(str), strict=True))


def current_ids(wh: Warehouse, conn: Connection, golden_ids: list[str]) -> dict[str, str]:
    """Each golden ID → the ID it lives on as now: itself, or the survivor of the merges that retired it (a name
    added to a customer follows it into the customer it was merged into)."""
    step: dict[str, str] = {}
    todo = set(golden_ids)
    while todo:  # one query per hop of the chains (they are short)
        sql, params = in_list(sorted(todo), "g")
        hops = frame(wh, conn, "SELECT retired_id, survivor_id FROM mdm.golden_id_history WHERE survivor_id IS NOT "
                               f"NULL AND retired_id IN {sql} ORDER BY retired_at", params)
        found = dict(zip(hops["retired_id"], hops["survivor_id"], strict=True))  # (the latest of each)
        step.update(found)
        todo = set(found.values()) - set(step)
    out = {}
    for g in golden_ids:
        now, seen = g, {g}
        while now in step and step[now] not in seen:
            now = step[now]
            seen.add(now)
        out[g] = now
    return out


def relink(wh: Warehouse, conn: Connection, golden_id: str) -> list[str]:
    """Mark the records of a golden customer for the next run (content hash cleared, keys logged as changed);
    returns their ids."""
    keys = frame(wh, conn, f"SELECT x.source_name, x.stream, x.source_key, {_XREF_ID} AS record_id "
                           "FROM mdm.xref x WHERE x.golden_id = :g", {"g": golden_id})
    if not len(keys):
        return []
    sql, params = in_list(keys["record_id"].tolist(), "r")
    if wh.table_exists(conn, "mdm", "customer_records"):
        conn.execute(sa.text(f"UPDATE mdm.customer_records SET record_hash = NULL WHERE record_id IN {sql}"), params)
    seq = bump(conn, "staging._changes")
    conn.execute(sa.text("INSERT INTO staging._changes (seq, entity, source_name, stream, source_key, op) "
                         "SELECT :q, 'customer', source_name, stream, source_key, 'upsert' FROM mdm.xref "
                         "WHERE golden_id = :g"), {"q": seq, "g": golden_id})
    return keys["record_id"].astype(str).tolist()

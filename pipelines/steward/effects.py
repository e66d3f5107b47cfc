"""What a steward action writes, in the action's transaction: its decisions (`mdm.decisions`), the records' moves to
other golden IDs with everything that follows them (xref, survivorship, hierarchy, the match API's index, the review
queue), the golden-ID history and the audit log (`mdm.merge_log`); and the reclustering that decides the moves,
exactly as the next run will."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import HubConfig
from mdm.golden import assign_ids
from mdm.stewardship import ordered_pair, pair_id, recluster
from pipelines.match import settings_of
from pipelines.match_lookup import follow_steward
from pipelines.match_outputs import next_id_number, refresh_golden
from pipelines.settled import settled_pairs
from pipelines.stage import to_arrow
from pipelines.steward.sql import RECORD_ID_SQL, case_when, frame, in_list, plain
from pipelines.steward.state import golden_of
from warehouse.changes import bump_golden
from warehouse.contract import MDM_TABLES
from warehouse.engine import Warehouse


def insert_decisions(wh: Warehouse, conn: Connection, pairs: Sequence[tuple[str, str]], verdict: str, by: str,
                     reason: str | None, origin: str, action_id: str, now: dt.datetime, start: int = 0) -> list[str]:
    """Store the decision `verdict` on each pair of records as taken by the action `action_id`; their ids."""
    rows: list[dict[str, Any]] = []
    seen = _seen(wh, conn, {r for pair in pairs for r in pair})
    for i, (a, b) in enumerate(pairs, start):
        lo, hi = ordered_pair(a, b)
        (lg, lh), (rg, rh) = seen.get(lo, (None, None)), seen.get(hi, (None, None))
        rows.append({"decision_id": f"D{action_id[1:]}-{i:03d}", "item_id": pair_id(lo, hi), "left_record": lo,
                     "right_record": hi, "verdict": verdict, "reason": reason, "decided_by": by, "decided_at": now,
                     "active": True, "undone_by": None, "undone_at": None, "action_id": action_id,
                     "origin": origin, "left_golden_id": lg, "right_golden_id": rg, "left_record_hash": lh,
                     "right_record_hash": rh})
    if rows:
        wh.insert_frame(conn, "mdm", "decisions", to_arrow(pd.DataFrame(rows), MDM_TABLES["decisions"][0]))
    return [r["decision_id"] for r in rows]


def _seen(wh: Warehouse, conn: Connection, records: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """record id → (golden ID, content hash) as the steward sees the record now (kept with a decision)."""
    sql, params = in_list(sorted(records), "r")
    df = frame(wh, conn, f"SELECT record_id, golden_id, record_hash FROM mdm.customer_records "
                         f"WHERE record_id IN {sql}", params)
    return {r: (plain(g), plain(h))
            for r, g, h in zip(df["record_id"], df["golden_id"], df["record_hash"], strict=True)}


def deactivate(conn: Connection, decision_ids: Sequence[str], by: str, now: dt.datetime) -> None:
    """Take decisions out of force (`by` undid or replaced them)."""
    if decision_ids:
        sql, params = in_list(decision_ids, "d")
        conn.execute(sa.text(f"UPDATE mdm.decisions SET active = FALSE, undone_by = :by, undone_at = :t "
                             f"WHERE decision_id IN {sql}"), {**params, "by": by, "t": now})


def apply_moves(cfg: HubConfig, wh: Warehouse, conn: Connection, mapping: Mapping[str, str], now: dt.datetime) -> None:
    """Move records to golden IDs and bring everything that depends on it up to date: xref, the
    engine's records, survivorship of every touched golden customer, the hierarchy, the queue."""
    if not mapping:
        return
    old = golden_of(wh, conn, mapping)
    touched = sorted(set(old.values()) | set(mapping.values()))
    keys, kparams = in_list(mapping, "m")
    case, cparams = case_when(RECORD_ID_SQL, mapping, "x")
    conn.execute(sa.text(f"UPDATE mdm.xref SET golden_id = {case}, matched_by = 'steward', updated_at = :t "
                         f"WHERE {RECORD_ID_SQL} IN {keys}"), {**cparams, **kparams, "t": now})
    case, cparams = case_when("record_id", mapping, "x")
    conn.execute(sa.text(f"UPDATE mdm.customer_records SET golden_id = {case} WHERE record_id IN {keys}"),
                 {**cparams, **kparams})
    # Survivorship and hierarchy links again for every golden customer that gained or lost records (as a run).
    rewritten = refresh_golden(cfg, wh, conn, touched, None, now)
    # the marts reading them follow on the next run (those keyed by golden ID: these golden IDs only)
    bump_golden(wh, conn, rewritten, "mdm.customer_records", "mdm.review_queue")
    follow_steward(cfg, wh, conn, dict(mapping), touched)  # the match API's index follows
    # Queue items follow their records; a pair now in one customer is resolved, apart again reopened unless the
    # decisions in force settle it (`settle_queue`).
    for side in ("left", "right"):
        case, cparams = case_when(f"{side}_record", mapping, "q")
        conn.execute(sa.text(f"UPDATE mdm.review_queue SET {side}_golden_id = {case} "
                             f"WHERE {side}_record IN {keys}"), {**cparams, **kparams})
    # (the items of the moved records only: an item a decision settled stays resolved, whatever moved elsewhere)
    conn.execute(sa.text("UPDATE mdm.review_queue SET status = 'resolved' WHERE status = 'open' "
                         f"AND left_golden_id = right_golden_id AND (left_record IN {keys} OR right_record IN {keys})"),
                 kparams)
    settle_queue(wh, conn, list(mapping))


def settle_queue(wh: Warehouse, conn: Connection, records: Iterable[str]) -> None:
    """The queue items of `records` as the next run will leave them: an open pair of two customers that the
    decisions in force now settle (`pipelines.settled`) is resolved; a resolved one they no longer settle
    (after an undo) is open again."""
    sql, params = in_list(records, "r")
    q = frame(wh, conn, "SELECT item_id, left_record, right_record, left_golden_id, right_golden_id, status "
                        "FROM mdm.review_queue WHERE status IN ('open', 'resolved') AND "
                        f"left_golden_id <> right_golden_id AND (left_record IN {sql} OR right_record IN {sql})",
              params)
    done = settled_pairs(wh, conn, q["left_record"], q["right_record"], q["left_golden_id"], q["right_golden_id"])
    for status, ids in (("resolved", q.loc[done & (q["status"] == "open").to_numpy(), "item_id"]),
                        ("open", q.loc[~done & (q["status"] == "resolved").to_numpy(), "item_id"])):
        if len(ids):
            isql, iparams = in_list(ids, "i")
            conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = '{status}' WHERE item_id IN {isql}"), iparams)


def add_id_history(wh: Warehouse, conn: Connection, rows: pd.DataFrame, action_id: str, now: dt.datetime) -> None:
    """Add the golden IDs the action `action_id` retired (retired_id, survivor_id, reason) to the ID history."""
    if len(rows):
        h = rows.assign(run_id=action_id, retired_at=now)
        wh.insert_frame(conn, "mdm", "golden_id_history", to_arrow(h, MDM_TABLES["golden_id_history"][0]))


def log_action(wh: Warehouse, conn: Connection, action_id: str, action: str, actor: str, now: dt.datetime,
               records: Iterable[str], created: list[str], deactivated: list[str], reason: str | None,
               before: dict[str, Any], after: dict[str, Any], undo_of: str | None = None) -> None:
    """The action's row of the audit log (`mdm.merge_log`): its decisions and the state before and after."""
    goldens = sorted(set(before["records"].values()) | set(after["records"].values()))
    row = {"action_id": action_id, "action": action, "actor": actor, "acted_at": now,
           "golden_ids": json.dumps(goldens), "records": json.dumps(sorted(set(records)), ensure_ascii=False),
           "decision_ids": json.dumps({"created": created, "deactivated": deactivated}),
           "reason": reason, "before": json.dumps(before, ensure_ascii=False, default=str),
           "after": json.dumps(after, ensure_ascii=False, default=str), "undone_by": None, "undone_at": None,
           "undo_of": undo_of}
    wh.insert_frame(conn, "mdm", "merge_log", to_arrow(pd.DataFrame([row]), MDM_TABLES["merge_log"][0]))


def recluster_moves(cfg: HubConfig, wh: Warehouse, conn: Connection, moved: Mapping[str, str] | None = None,
                    fresh: Sequence[str] = ()) -> tuple[dict[str, str], pd.DataFrame]:
    """Cluster every record again from the stored pairs and the decisions in force, exactly as the next
    run with unchanged sources will, and give the clusters golden IDs the same way. Returns the records
    whose golden ID changes (against the xref with `moved` applied) and the history rows. Records in
    `fresh` may not keep their old ID (an unmerged record goes, the rest of its customer stays)."""
    settings = settings_of(cfg.mdm.customer)
    cols = ", ".join(["record_id", *dict.fromkeys([*settings.exclusive, *settings.anchors])])
    # The order of `pipelines.match.load_customers`: positions, hence ties, as in a run.
    recs = frame(wh, conn, f"SELECT {cols} FROM mdm.customer_records ORDER BY source_name, stream, source_key")
    pairs = frame(wh, conn, "SELECT left_record, right_record, prob FROM mdm.match_pairs")
    dec = frame(wh, conn, "SELECT left_record, right_record, verdict FROM mdm.decisions WHERE active")
    labels = recluster(recs, pairs, dec, settings.match, settings.review, settings.exclusive, settings.anchors)
    x = frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref")
    current = dict(zip(x["record_id"], x["golden_id"], strict=True))
    previous = {**current, **(moved or {})}
    for r in fresh:
        previous.pop(r, None)
    assignment = assign_ids(pd.DataFrame({"record_id": recs["record_id"], "cluster": labels}),
                            pd.DataFrame({"record_id": list(previous), "golden_id": list(previous.values())}),
                            next_id_number(wh, conn))
    new = assignment.ids.set_index("record_id")["golden_id"]
    return {r: g for r, g in new.items() if current.get(r) != g}, assignment.history

"""The stewards' shared work on the review queue, beside the decisions of `pipelines.steward`: the queue
as questions (a short record matching several customers is one question with all its candidates), the
candidates of such a record side by side, claiming and assigning items, comments, and what keeps two
customers apart (the hard rule and the records that trigger it).

Claims and comments live in their own tables (`mdm.review_assignment`, `mdm.review_comment`), keyed by
the item id (the same in every run) or the record id, so a run, which rebuilds the queue, keeps them.
They do not change master data: they need no writer lock and are not in the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import HubConfig
from mdm.stewardship import candidate_groups
from pipelines.stage import to_arrow
from pipelines.steward.errors import StewardError
from pipelines.steward.review_queue import (
    QUEUE_COLUMNS,
    QUEUE_FROM,
    QUEUE_SORTS,
    QueueFilter,
    item_json,
    kept_apart,
    queue_where,
)
from pipelines.steward.sql import QUEUE_JSON_VERSION, bounded, frame, in_list, plain, plain_rows, utc_now
from warehouse.contract import MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse

MAX_COMMENT = 2000
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63}$")


# --- the queue as questions ---------------------------------------------------------------------------------


def queue_page(cfg: HubConfig, wh: Warehouse, criteria: QueueFilter, limit: int = 50,
               offset: int = 0) -> dict[str, Any]:
    """The filtered queue as entries, in the queue's order: an item, or a group of the items that pair one short
    record with each customer it may belong to (`{"kind": "group", "record_id", "record", "items"}`), which
    a steward settles at once (`steward.actions.resolve_record`). `total` counts entries, `items` the items in them."""
    mcfg = cfg.mdm.customer
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        cond, params = queue_where(cfg, criteria)
        light = frame(wh, conn, f"SELECT q.item_id, q.left_record, q.right_record, q.reason FROM {QUEUE_FROM} "
                                f"WHERE {cond} ORDER BY {QUEUE_SORTS[criteria.sort]}", params)
        light["group"] = candidate_groups(light) if len(light) else pd.Series(dtype=object)
        key = light["group"].where(light["group"].notna(), light["item_id"])
        entries = list(dict.fromkeys(key))  # in queue order: a group where its first item would be
        page_keys = entries[bounded(offset, len(entries)):][:bounded(limit, len(entries))]
        chosen = light[key.isin(page_keys)]
        sql, iparams = in_list(chosen["item_id"], "i")
        df = frame(wh, conn, f"SELECT {QUEUE_COLUMNS} FROM {QUEUE_FROM} WHERE q.item_id IN {sql} "
                             f"ORDER BY {QUEUE_SORTS[criteria.sort]}", iparams)
        notes = _comment_counts(wh, conn, [*chosen["item_id"], *chosen["group"].dropna()])
    items = {r["item_id"]: {**item_json(r, mcfg.thresholds.match, mcfg.thresholds.review),
                            "comments": notes.get(r["item_id"], 0)} for r in df.to_dict("records")}
    group_of = dict(zip(chosen["item_id"], chosen["group"], strict=True))
    out: list[dict[str, Any]] = []
    for k in page_keys:
        members = [items[i] for i, g in group_of.items() if (g or i) == k and i in items]
        if not members:
            continue
        if group_of.get(members[0]["item_id"]) is None:
            out.append({"kind": "item", **members[0]})
            continue
        side = "left" if members[0]["left"]["record_id"] == k else "right"
        others: dict[str, str | None] = {}  # candidate golden ID → a name, best scoring first
        for m in sorted(members, key=lambda m: -m["probability"]):
            o = m["right"] if m["left"]["record_id"] == k else m["left"]
            others.setdefault(o["golden_id"], o["values"].get("name"))
        out.append({"kind": "group", "record_id": k, "record": members[0][side], "items": members,
                    "candidates": [{"golden_id": g, "name": n} for g, n in others.items()],
                    "priority": max(m["priority"] for m in members), "comments": notes.get(k, 0),
                    "assignees": sorted({m["assignee"] for m in members if m["assignee"]})})
    return {"version": QUEUE_JSON_VERSION, "total": len(entries), "items_total": len(light), "offset": offset,
            "entries": out}


def candidates(cfg: HubConfig, wh: Warehouse, record_id: str) -> dict[str, Any]:
    """A record and every golden customer its open review items pair it with, side by side, best first: per
    candidate the customer, its records that scored against this one (best first, with score and explanation),
    the items, and what keeps them apart."""
    mcfg = cfg.mdm.customer
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        df = frame(wh, conn, f"SELECT {QUEUE_COLUMNS} FROM {QUEUE_FROM} WHERE q.status = 'open' AND "
                             "(q.left_record = :r OR q.right_record = :r) ORDER BY q.probability DESC, q.item_id",
                   {"r": record_id})
        if not len(df):
            raise StewardError(f"no open review item for record {record_id}")
        items = [item_json(r, mcfg.thresholds.match, mcfg.thresholds.review) for r in df.to_dict("records")]
        own = items[0]["left"] if items[0]["left"]["record_id"] == record_id else items[0]["right"]
        others = [it["right"] if it["left"]["record_id"] == record_id else it["left"] for it in items]
        gids = list(dict.fromkeys(o["golden_id"] for o in others))
        gsql, gparams = in_list(gids, "g")
        golden = {r["golden_id"]: r for r in plain_rows(frame(
            wh, conn, f"SELECT golden_id, name, short_name, uscc, uscc_valid, phone, address, contact_name, city, "
                      f"source_count, system_count, is_branch FROM mdm.golden_customer WHERE golden_id IN {gsql}",
            gparams))}
        rec = frame(wh, conn, "SELECT * FROM mdm.customer_records WHERE record_id = :r", {"r": record_id})
        notes = comments(wh, [record_id, *(it["item_id"] for it in items)], conn=conn)
        apart = kept_apart(cfg, wh, [(own["golden_id"], g) for g in gids], conn)
    cands = []
    for g in gids:
        mine = [(it, o) for it, o in zip(items, others, strict=True) if o["golden_id"] == g]
        best, best_other = mine[0]
        cands.append({"golden_id": g, "golden": golden.get(g, {"golden_id": g}), "record": best_other,
                      "probability": best["probability"], "band": best["band"], "weight": best["weight"],
                      "reason": best["reason"], "explanation": best["explanation"],
                      "items": [it["item_id"] for it, _ in mine],
                      "records": [{"record_id": o["record_id"], "probability": it["probability"]} for it, o in mine],
                      "assignees": sorted({it["assignee"] for it, _ in mine if it["assignee"]}),
                      "kept_apart": apart.get((own["golden_id"], g))})
    return {"version": QUEUE_JSON_VERSION, "record_id": record_id, "record": own, "golden_id": own["golden_id"],
            "std": plain_rows(rec)[0] if len(rec) else {}, "candidates": cands,
            "items": [it["item_id"] for it in items],
            "comments": notes}


# --- claims and assignments ----------------------------------------------------------------------------------


def assign(wh: Warehouse, item_ids: Iterable[str], assignee: str | None, by: str) -> int:
    """Give review items to `assignee` (claim them: `assignee` = `by`), or release them (`None`). Returns how
    many items are now so assigned."""
    ids = list(dict.fromkeys(item_ids))
    if not by or not _USER.match(by):
        raise StewardError("say who assigns (a user name)")
    if assignee is not None and not _USER.match(assignee):
        raise StewardError(f"{assignee!r} is not a user name")
    if not ids:
        raise StewardError("no review items selected")
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        sql, params = in_list(ids, "i")
        known = set(frame(wh, conn, f"SELECT item_id FROM mdm.review_queue WHERE item_id IN {sql}", params)["item_id"])
        unknown = sorted(set(ids) - known)
        if unknown:
            raise StewardError(f"no review item {unknown[0]!r}")
        conn.execute(sa.text(f"DELETE FROM mdm.review_assignment WHERE item_id IN {sql}"), params)
        if assignee is not None:
            now = utc_now()
            rows = pd.DataFrame({"item_id": ids, "assignee": assignee, "assigned_by": by, "assigned_at": now})
            wh.insert_frame(conn, "mdm", "review_assignment", to_arrow(rows, MDM_TABLES["review_assignment"][0]))
    return len(ids)


# --- comments ---------------------------------------------------------------------------------------------------


def add_comment(wh: Warehouse, subject: str, author: str, body: str) -> dict[str, Any]:
    """A steward's note on a review item (its id) or a record (`SOURCE:STREAM:KEY`); kept across runs."""
    body = (body or "").strip()
    if not body:
        raise StewardError("an empty comment")
    if len(body) > MAX_COMMENT:
        raise StewardError(f"a comment of {len(body):,} characters: at most {MAX_COMMENT:,}")
    if not author or not _USER.match(author):
        raise StewardError("say who writes (a user name)")
    now = utc_now()
    row = {"comment_id": f"C{now:%Y%m%d%H%M%S}{secrets.token_hex(3)}", "subject": subject, "author": author,
           "written_at": now, "body": body}
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        if ":" in subject:
            hit = frame(wh, conn, "SELECT 1 AS x FROM mdm.xref WHERE source_name || ':' || stream || ':' || "
                                  "source_key = :s", {"s": subject})
        else:
            hit = frame(wh, conn, "SELECT 1 AS x FROM mdm.review_queue WHERE item_id = :s", {"s": subject})
        if not len(hit):
            raise StewardError(f"no review item or record {subject!r}")
        wh.insert_frame(conn, "mdm", "review_comment", to_arrow(pd.DataFrame([row]), MDM_TABLES["review_comment"][0]))
    return {k: plain(v) for k, v in row.items()}


def comments(wh: Warehouse, subjects: Iterable[str], conn: Connection | None = None) -> list[dict[str, Any]]:
    """The comments on these items and records, oldest first."""
    subjects = list(dict.fromkeys(subjects))
    if conn is None:
        with wh.begin() as c:
            ensure_mdm(wh, c)
            return comments(wh, subjects, c)
    sql, params = in_list(subjects, "s")
    return plain_rows(frame(wh, conn, f"SELECT * FROM mdm.review_comment WHERE subject IN {sql} "
                                      "ORDER BY written_at, comment_id", params))


def _comment_counts(wh: Warehouse, conn: Connection, subjects: Sequence[str]) -> dict[str, int]:
    sql, params = in_list(subjects, "s")
    df = frame(wh, conn, f"SELECT subject, count(*) AS n FROM mdm.review_comment WHERE subject IN {sql} "
                         "GROUP BY subject", params)
    return dict(zip(df["subject"], df["n"].astype(int), strict=True))


def parse_day(text: str | None) -> dt.date | None:
    """A `YYYY-MM-DD` filter value (None when empty); a clear error otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise StewardError(f"date {text!r}: expected YYYY-MM-DD") from None


__all__ = ["MAX_COMMENT", "add_comment", "assign", "candidates", "comments", "parse_day", "queue_page"]

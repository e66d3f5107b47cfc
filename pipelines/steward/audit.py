"""The audit log of steward actions (`mdm.merge_log`), newest first, and what each action changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.steward.sql import QUEUE_JSON_VERSION, bounded, frame, from_json, plain_rows
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse, value


def history(wh: Warehouse, golden_id: str | None = None, record: str | None = None, actor: str | None = None,
            action: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Steward actions from `mdm.merge_log`, newest first."""
    where, params = ["TRUE"], {}
    if golden_id:
        where.append("golden_ids LIKE :g")
        params["g"] = f'%"{golden_id}"%'
    if record:
        where.append("(records LIKE :r OR before LIKE :r)")
        params["r"] = f'%"{record}"%'
    if actor:
        where.append("actor = :actor")
        params["actor"] = actor
    if action:
        where.append("action = :action")
        params["action"] = action
    cond = " AND ".join(where)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        total = int(value(conn, f"SELECT count(*) FROM mdm.merge_log WHERE {cond}", params) or 0)
        df = frame(wh, conn, f"SELECT * FROM mdm.merge_log WHERE {cond} ORDER BY acted_at DESC, action_id DESC "
                             f"LIMIT {bounded(limit, total)} OFFSET {bounded(offset, total)}", params)
    out = []
    for r in plain_rows(df):
        for k in ("golden_ids", "records", "decision_ids", "before", "after"):
            r[k] = from_json(r[k])
        r["undoable"] = r["action"] != "undo" and not r["undone_by"]
        r["changes"] = action_changes(r["before"] or {}, r["after"] or {})
        out.append(r)
    return {"version": QUEUE_JSON_VERSION, "total": total, "actions": out}


SNAPSHOT_FIELDS = ("name", "uscc", "phone", "address", "source_count")


def action_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What an action changed, from its merge_log before/after: the records that moved (from → to golden ID)
    and per golden customer whether it is new, retired or changed, with each changed field before → after."""
    rb, ra = before.get("records") or {}, after.get("records") or {}
    moved = [{"record": r, "from": rb.get(r), "to": ra.get(r)} for r in sorted(set(rb) | set(ra))
             if rb.get(r) != ra.get(r)]
    gb, ga = before.get("goldens") or {}, after.get("goldens") or {}
    customers = []
    for g in sorted(set(gb) | set(ga)):
        old, new = gb.get(g), ga.get(g)
        state = "new" if old is None else "retired" if new is None else "changed"
        fields = [{"field": f, "before": (old or {}).get(f), "after": (new or {}).get(f)} for f in SNAPSHOT_FIELDS
                  if (old or {}).get(f) != (new or {}).get(f)]
        if state == "changed" and not fields:
            state = "unchanged"
        customers.append({"golden_id": g, "state": state, "fields": fields})
    return {"moved": moved, "customers": customers}

"""The steward's actions: decide a review item or any pair of records, settle a record with several candidate
customers, merge, unmerge, undo.

The CLI (`hub steward`) and the console call these and nothing else to change master data, so every face
behaves the same. Each action holds the writer lock, runs in one transaction and writes (`effects`):

- `mdm.decisions`: the must-link (`same`) / cannot-link (`different`) pairs, keyed by the two
  record ids, that every later run honours (`pipelines.match._decisions` → `mdm.cluster`);
- the immediate effect on `mdm.xref`, `mdm.customer_records`, `mdm.golden_customer` (survivorship
  rerun for the touched golden customers), `mdm.customer_hierarchy`, `mdm.golden_id_history` and
  the review queue's status;
- one row of `mdm.merge_log` with the state before and after, which `undo` restores.

- decide same: same(a, b); the records of the two golden customers are clustered again under it,
  as the next run will cluster them: one customer, the older ID surviving (unless other hard
  rules keep some of their records apart).
- decide different: different(a, b); nothing moves when they are apart; inside one golden
  customer its records are clustered again.
- merge S O: same(representative record of S, every record of O) and same(representative of O,
  every record of S); O's records move to S, O is retired into the history. The next run keeps
  them together whatever the hard rules say, and so does unmerging any single record later.
- unmerge R: different(R, every other record of its golden customer); R gets a new golden ID,
  the rest is clustered again.
- undo A: A's decisions are deactivated (those A replaced come back); the records return to their
  golden IDs before A.

A decision on a pair replaces (deactivates) an earlier active decision on the same pair; a merge
replaces the cannot-links between the two customers; an unmerge the must-links it contradicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import HubConfig
from mdm.stewardship import VERDICTS, ordered_pair, pair_id
from pipelines.stage import to_arrow
from pipelines.steward.effects import (
    add_id_history,
    apply_moves,
    deactivate,
    insert_decisions,
    log_action,
    recluster_moves,
    settle_queue,
)
from pipelines.steward.errors import StewardBusy, StewardError
from pipelines.steward.former_names import active_former_names, current_ids, relink
from pipelines.steward.sql import QUEUE_JSON_VERSION, frame, from_json, in_list, make_id, plain, utc_now
from pipelines.steward.state import active_decisions, golden_of, member_records, ready, snapshot
from warehouse.contract import MDM_TABLES
from warehouse.engine import Warehouse, value
from warehouse.lock import RunLocked, held_by, run_lock

# A steward's action waits this long for another steward's action (they take a second or so); while
# anything else writes the warehouse (`hub run`, a sync, a Dagster step) it fails at once, saying who.
STEWARD_WAIT_SECONDS = 10.0


@contextmanager
def _writing(wh: Warehouse, action: str, by: str) -> Iterator[None]:
    """Hold the warehouse's writer lock (`warehouse.lock`) for one steward action, so a run never
    overwrites it and it never lands in the middle of a run."""
    try:
        with run_lock(wh, f"hub steward {action} by {by}", wait=STEWARD_WAIT_SECONDS,
                      keep_waiting=held_by("hub steward")):
            yield
    except RunLocked as e:
        raise StewardBusy(f"not saved: {e}") from None


@dataclass
class ActionResult:
    """What a steward action did (also the `--json` output of the CLI's actions)."""

    action_id: str
    action: str
    actor: str
    golden_ids: list[str]
    records: list[str]
    decisions_created: list[str]
    decisions_deactivated: list[str]
    message: str
    moved: dict[str, str] = field(default_factory=dict)   # record id → its new golden ID

    def to_dict(self) -> dict[str, Any]:
        return {"version": QUEUE_JSON_VERSION, **asdict(self)}


def _check_actor(by: str) -> str:
    by = (by or "").strip()
    if not by:
        raise StewardError("say who decides (--by NAME)")
    return by


def decide(cfg: HubConfig, wh: Warehouse, item_id: str, verdict: str, by: str,
           reason: str | None = None) -> ActionResult:
    """Decide a review-queue item: `same` company or `different` companies."""
    with wh.begin() as conn:
        ready(wh, conn)
        q = frame(wh, conn, "SELECT left_record, right_record FROM mdm.review_queue WHERE item_id = :i",
                  {"i": item_id})
    if not len(q):
        raise StewardError(f"no review item {item_id!r} (list them with `hub steward queue`)")
    return decide_pair(cfg, wh, q["left_record"].iloc[0], q["right_record"].iloc[0], verdict, by, reason)


def decide_pair(cfg: HubConfig, wh: Warehouse, left: str, right: str, verdict: str, by: str,
                reason: str | None = None, origin: str = "review") -> ActionResult:
    """Decide any pair of customer records (by record id). The records are clustered again under the
    new decision, as the next run will cluster them: `same` normally merges the two customers (the
    older ID survives), `different` splits one customer or lets an ambiguous record settle elsewhere."""
    return decide_pairs(cfg, wh, [(left, right, verdict)], by, reason, origin)


MAX_DECISIONS_PER_ACTION = 1000


def decide_pairs(cfg: HubConfig, wh: Warehouse, decisions: Sequence[tuple[str, str, str]], by: str,
                 reason: str | None = None, origin: str = "review") -> ActionResult:
    """Decide several pairs of records, each (left, right, verdict), in one action: one transaction, one
    clustering under all of them, one audit entry that one undo reverts (bulk decisions, and picking one
    of a short record's candidates)."""
    by = _check_actor(by)
    pairs: dict[tuple[str, str], str] = {}
    for left, right, verdict in decisions:
        if verdict not in VERDICTS:
            raise StewardError(f"verdict {verdict!r}: expected one of {', '.join(VERDICTS)}")
        lo, hi = ordered_pair(left, right)
        if lo == hi:
            raise StewardError("a record is always the same as itself")
        pairs[(lo, hi)] = verdict
    if not pairs:
        raise StewardError("nothing to decide")
    if len(pairs) > MAX_DECISIONS_PER_ACTION:
        raise StewardError(f"{len(pairs):,} decisions at once: at most {MAX_DECISIONS_PER_ACTION:,} per action")
    records = sorted({r for pair in pairs for r in pair})
    now = utc_now()
    action_id = make_id("A", now)
    with _writing(wh, "decide", by), wh.begin() as conn:
        ready(wh, conn)
        gold = golden_of(wh, conn, records)
        missing = [r for r in records if r not in gold]
        if missing:
            raise StewardError(f"no customer record {missing[0]} in mdm.xref")
        prior = active_decisions(wh, conn, records)
        same_pair = np.array([ordered_pair(a, b) in pairs for a, b in
                              zip(prior["left_record"], prior["right_record"], strict=True)], dtype=bool)
        prior = prior[same_pair]
        deactivated = prior["decision_id"].tolist()
        deactivate(conn, deactivated, by, now)
        created: list[str] = []
        for verdict in VERDICTS:
            these = [pair for pair, v in pairs.items() if v == verdict]
            created += insert_decisions(wh, conn, these, verdict, by, reason, origin, action_id, now, len(created))
        mapping, hist = recluster_moves(cfg, wh, conn)
        touched = sorted(set(member_records(wh, conn, set(gold.values()))) | set(mapping))
        before = snapshot(wh, conn, touched)
        add_id_history(wh, conn, hist, action_id, now)
        apply_moves(cfg, wh, conn, mapping, now)
        isql, iparams = in_list([pair_id(a, b) for a, b in pairs], "i")
        conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = 'decided' WHERE item_id IN {isql}"), iparams)
        settle_queue(wh, conn, records)
        after = snapshot(wh, conn, touched)
        log_action(wh, conn, action_id, "decide", by, now, records, created, deactivated, reason, before, after)
    moved = f" ({len(mapping)} record(s) moved)" if mapping else ""
    if len(pairs) == 1:
        [((left, right), verdict)] = pairs.items()
        ga, gb = after["records"][left], after["records"][right]
        if verdict == "same":
            message = f"same company: now {ga}{moved}" if ga == gb else \
                f"same: recorded, but a cannot-link keeps {ga} and {gb} apart"
        else:
            message = f"different companies: {ga} and {gb}{moved}" if mapping else \
                "different: recorded (already apart)"
    else:
        counts = ", ".join(f"{n} {v}" for v in VERDICTS if (n := sum(x == v for x in pairs.values())))
        message = f"{len(pairs)} pairs decided ({counts}){moved}"
    return ActionResult(action_id, "decide", by, sorted({*gold.values(), *mapping.values()}), records, created,
                        deactivated, message, dict(mapping))


def decide_items(cfg: HubConfig, wh: Warehouse, item_ids: Sequence[str], verdict: str, by: str,
                 reason: str | None = None) -> ActionResult:
    """Decide several review items the same way, as one action (see `decide_pairs`)."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise StewardError("no review items selected")
    with wh.begin() as conn:
        ready(wh, conn)
        sql, params = in_list(ids, "i")
        q = frame(wh, conn, f"SELECT item_id, left_record, right_record FROM mdm.review_queue WHERE item_id IN {sql}",
                  params)
    unknown = sorted(set(ids) - set(q["item_id"]))
    if unknown:
        raise StewardError(f"no review item {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1
                                                               else ""))
    return decide_pairs(cfg, wh, [(a, b, verdict) for a, b in zip(q["left_record"], q["right_record"], strict=True)],
                        by, reason)


def resolve_record(cfg: HubConfig, wh: Warehouse, record_id: str, chosen_golden: str | None, by: str,
                   reason: str | None = None) -> ActionResult:
    """Settle a record that matches several customers (its open review items pair it with records of each):
    `same` with the records of the chosen golden customer, `different` with those of every other; with no
    choice, `different` with all. One action, undone as one."""
    with wh.begin() as conn:
        ready(wh, conn)
        q = frame(wh, conn, "SELECT item_id, left_record, right_record FROM mdm.review_queue WHERE status = 'open' "
                            "AND (left_record = :r OR right_record = :r) ORDER BY item_id", {"r": record_id})
        other = [b if a == record_id else a for a, b in zip(q["left_record"], q["right_record"], strict=True)]
        gold = golden_of(wh, conn, other)
    if not len(q):
        raise StewardError(f"no open review item for record {record_id}")
    if chosen_golden is not None and chosen_golden not in set(gold.values()):
        raise StewardError(f"{chosen_golden} is not (or no longer) a candidate of {record_id}; reload the page")
    verdicts = ["same" if gold.get(o) == chosen_golden else "different" for o in other]
    out = decide_pairs(cfg, wh, [(record_id, o, v) for o, v in zip(other, verdicts, strict=True)], by, reason)
    ruled_out = len({gold.get(o) for o, v in zip(other, verdicts, strict=True) if v == "different"})
    if chosen_golden is None:
        out.message = f"{record_id}: none of its {ruled_out} candidate customers"
    else:
        out.message = f"{record_id} joins {_golden_now(wh, record_id)}; {ruled_out} other candidate(s) ruled out"
    return out


def _golden_now(wh: Warehouse, record_id: str) -> str | None:
    with wh.begin() as conn:
        return golden_of(wh, conn, [record_id]).get(record_id)


def _representative(wh: Warehouse, conn: Connection, golden_id: str, members: Sequence[str]) -> str:
    """The record that supplied the golden customer's name (else its first record)."""
    src = value(conn, "SELECT name_source FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden_id})
    return src if src in members else sorted(members)[0]


def _current(wh: Warehouse, conn: Connection, golden_id: str) -> dict[str, str]:
    members = member_records(wh, conn, [golden_id])
    if not members:
        survivor = value(conn, "SELECT survivor_id FROM mdm.golden_id_history WHERE retired_id = :g "
                               "ORDER BY retired_at DESC", {"g": golden_id})
        hint = f" (it was retired into {survivor})" if survivor else ""
        raise StewardError(f"no golden customer {golden_id}{hint}")
    return members


def merge(cfg: HubConfig, wh: Warehouse, survivor: str, other: str, by: str,
          reason: str | None = None) -> ActionResult:
    """Merge golden customer `other` into `survivor`: the survivor keeps its ID, the other is retired."""
    by = _check_actor(by)
    if survivor == other:
        raise StewardError("merge needs two different golden customers")
    now = utc_now()
    action_id = make_id("A", now)
    with _writing(wh, "merge", by), wh.begin() as conn:
        ready(wh, conn)
        ms, mo = _current(wh, conn, survivor), _current(wh, conn, other)
        dec = active_decisions(wh, conn, [*ms, *mo])
        across = dec[(dec["verdict"] == "different")
                     & ((dec["left_record"].isin(ms) & dec["right_record"].isin(mo))
                        | (dec["left_record"].isin(mo) & dec["right_record"].isin(ms)))]
        deactivated = across["decision_id"].tolist()
        deactivate(conn, deactivated, by, now)
        rep = (_representative(wh, conn, survivor, list(ms)), _representative(wh, conn, other, list(mo)))
        # Every record of each customer is linked to the other's representative, so that the next run
        # (whatever the hard rules say) and unmerging any one record keep the rest together.
        links = list(dict.fromkeys([*((rep[0], o) for o in sorted(mo)), *((rep[1], x) for x in sorted(ms)
                                                                          if x != rep[0])]))
        created = insert_decisions(wh, conn, links, "same", by, reason, "merge", action_id, now)
        # The other customer's records take the survivor's ID; then everything is clustered as a run would.
        mapping, hist = recluster_moves(cfg, wh, conn, moved=dict.fromkeys(mo, survivor))
        mapping = {**dict.fromkeys(mo, survivor), **mapping}
        touched = sorted({*ms, *mo, *mapping})
        before = snapshot(wh, conn, touched)
        add_id_history(wh, conn, pd.concat([pd.DataFrame({"retired_id": [other], "survivor_id": [survivor],
                                                          "reason": ["manual_merge"]}), hist], ignore_index=True),
                       action_id, now)
        apply_moves(cfg, wh, conn, mapping, now)
        settle_queue(wh, conn, touched)
        after = snapshot(wh, conn, touched)
        log_action(wh, conn, action_id, "merge", by, now, list(rep), created, deactivated, reason, before, after)
    return ActionResult(action_id, "merge", by, [survivor, other], list(rep), created, deactivated,
                        f"{other} merged into {survivor} ({len(mo)} record(s) moved)", mapping)


def unmerge(cfg: HubConfig, wh: Warehouse, record_id: str, by: str, reason: str | None = None,
            golden_id: str | None = None) -> ActionResult:
    """Move one source record out of its golden customer into a golden customer of its own. With `golden_id`,
    only if the record is in that golden customer (the console's unmerge names the customer it shows)."""
    by = _check_actor(by)
    now = utc_now()
    action_id = make_id("A", now)
    with _writing(wh, "unmerge", by), wh.begin() as conn:
        ready(wh, conn)
        gid = golden_of(wh, conn, [record_id]).get(record_id)
        if gid is None:
            raise StewardError(f"no customer record {record_id} in mdm.xref")
        if golden_id is not None and gid != golden_id:
            raise StewardError(f"{record_id} is not a record of {golden_id} (it belongs to {gid}); nothing was "
                               "changed")
        members = member_records(wh, conn, [gid])
        others = [r for r in members if r != record_id]
        if not others:
            raise StewardError(f"{record_id} is already the only record of {gid}")
        dec = active_decisions(wh, conn, [record_id])
        contra = dec[(dec["verdict"] == "same") & (dec["left_record"].isin(others) | dec["right_record"].isin(others))]
        deactivated = contra["decision_id"].tolist()
        deactivate(conn, deactivated, by, now)
        created = insert_decisions(wh, conn, [(record_id, o) for o in others], "different", by, reason, "unmerge",
                                   action_id, now)
        mapping, hist = recluster_moves(cfg, wh, conn, fresh=[record_id])
        touched = sorted({*members, *mapping})
        before = snapshot(wh, conn, touched)
        add_id_history(wh, conn, hist, action_id, now)
        apply_moves(cfg, wh, conn, mapping, now)
        settle_queue(wh, conn, touched)
        after = snapshot(wh, conn, touched)
        log_action(wh, conn, action_id, "unmerge", by, now, [record_id], created, deactivated, reason, before, after)
    new_id = after["records"][record_id]
    regrouped = len([r for r in mapping if r != record_id])
    return ActionResult(action_id, "unmerge", by, sorted({gid, *mapping.values()}), [record_id], created,
                        deactivated, f"{record_id} moved out of {gid} into {new_id}"
                        + (f"; {regrouped} other record(s) regrouped" if regrouped else ""), mapping)


def add_former_name(cfg: HubConfig, wh: Warehouse, golden_id: str, name: str, by: str,
                    reason: str | None = None) -> ActionResult:
    """Give golden customer `golden_id` a former name (曾用名): from the next run on its records are matched
    under it too (`pipelines.steward.former_names`)."""
    by = _check_actor(by)
    name = " ".join(str(name or "").split())
    if not name:
        raise StewardError("a former name cannot be empty")
    now = utc_now()
    action_id = make_id("A", now)
    with _writing(wh, "former_name", by), wh.begin() as conn:
        ready(wh, conn)
        current = value(conn, "SELECT name FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden_id})
        if current is None:
            raise StewardError(f"no golden customer {golden_id} (a retired ID names the customer it was merged into:"
                               " see `hub steward customer`)")
        if name == current:
            raise StewardError(f"{name!r} is the current name of {golden_id}, not a former one")
        known = active_former_names(wh, conn, golden_id)
        if name in set(known["former_name"]):
            raise StewardError(f"{golden_id} already has the former name {name!r}")
        wh.insert_frame(conn, "mdm", "former_names", to_arrow(pd.DataFrame([{
            "action_id": action_id, "golden_id": golden_id, "former_name": name, "added_by": by, "added_at": now,
            "reason": reason, "active": True}]), MDM_TABLES["former_names"][0]))
        records = relink(wh, conn, golden_id)
        state = snapshot(wh, conn, records)
        log_action(wh, conn, action_id, "former_name", by, now, records, [], [], reason,
                   {**state, "former_names": known["former_name"].tolist()},
                   {**state, "former_names": [name, *known["former_name"].tolist()]})
    return ActionResult(action_id, "former_name", by, [golden_id], records, [], [],
                        f"{golden_id} has the former name {name!r}: its {len(records)} record(s) are matched under it "
                        "from the next run", {})


def undo(cfg: HubConfig, wh: Warehouse, action_id: str, by: str, reason: str | None = None) -> ActionResult:
    """Undo an action: its decisions are deactivated (those it replaced come back) and its records
    return to their golden IDs before it. Refused when a later action or run moved those records."""
    by = _check_actor(by)
    now = utc_now()
    undo_id = make_id("A", now)
    with _writing(wh, "undo", by), wh.begin() as conn:
        ready(wh, conn)
        row = frame(wh, conn, "SELECT * FROM mdm.merge_log WHERE action_id = :a", {"a": action_id})
        if not len(row):
            raise StewardError(f"no action {action_id} in mdm.merge_log (see `hub steward history`)")
        r = row.iloc[0]
        if r["action"] == "undo":
            raise StewardError(f"{action_id} is itself an undo; do the original action again instead")
        if isinstance(r["undone_by"], str):
            raise StewardError(f"{action_id} was already undone by {r['undone_by']} at {plain(r['undone_at'])}")
        if r["action"] == "former_name":  # the name leaves the customer; its records are matched again
            conn.execute(sa.text("UPDATE mdm.former_names SET active = FALSE WHERE action_id = :a"), {"a": action_id})
            golden = (from_json(r["golden_ids"]) or [None])[0]
            moved_to = current_ids(wh, conn, [golden])[golden] if golden else None
            records = relink(wh, conn, moved_to) if moved_to else []
            conn.execute(sa.text("UPDATE mdm.merge_log SET undone_by = :by, undone_at = :t WHERE action_id = :a"),
                         {"by": by, "t": now, "a": action_id})
            snap = snapshot(wh, conn, records)
            log_action(wh, conn, undo_id, "undo", by, now, records, [], [], reason, snap, snap, undo_of=action_id)
            return ActionResult(undo_id, "undo", by, [g for g in (moved_to,) if g], records, [], [],
                                f"undid former_name {action_id}: its records are matched again from the next run", {})
        before, after = from_json(r["before"]), from_json(r["after"])
        ids = from_json(r["decision_ids"]) or {}
        records = list(before["records"])
        now_map = golden_of(wh, conn, records)
        moved = sorted(x for x in records if now_map.get(x) != after["records"].get(x))
        if moved:
            raise StewardError(f"cannot undo {action_id}: {len(moved)} of its records moved since "
                               f"(e.g. {moved[0]}: {after['records'].get(moved[0])} → {now_map.get(moved[0])}); "
                               "undo the later actions first")
        snap = snapshot(wh, conn, records)
        created, revived = list(ids.get("created", [])), list(ids.get("deactivated", []))
        deactivate(conn, created, by, now)
        if revived:
            sql, params = in_list(revived, "d")
            conn.execute(sa.text(f"UPDATE mdm.decisions SET active = TRUE, undone_by = NULL, undone_at = NULL "
                                 f"WHERE decision_id IN {sql}"), params)
        mapping = {x: g for x, g in before["records"].items() if now_map.get(x) != g}
        conn.execute(sa.text("DELETE FROM mdm.golden_id_history WHERE run_id = :a"), {"a": action_id})
        gone = sorted(set(after["records"].values()) - set(before["records"].values()))
        if gone:
            back = {g: next(before["records"][x] for x, y in after["records"].items() if y == g) for g in gone}
            add_id_history(wh, conn, pd.DataFrame({"retired_id": list(back), "survivor_id": list(back.values()),
                                                   "reason": "undone"}), undo_id, now)
        if created:
            sql, params = in_list(created, "d")
            items = frame(wh, conn, f"SELECT item_id FROM mdm.decisions WHERE decision_id IN {sql}", params)
            isql, iparams = in_list(items["item_id"], "i")
            conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = 'open' WHERE status = 'decided' "
                                 f"AND item_id IN {isql}"), iparams)
        apply_moves(cfg, wh, conn, mapping, now)
        settle_queue(wh, conn, records)
        conn.execute(sa.text("UPDATE mdm.merge_log SET undone_by = :by, undone_at = :t WHERE action_id = :a"),
                     {"by": by, "t": now, "a": action_id})
        after_undo = snapshot(wh, conn, records)
        log_action(wh, conn, undo_id, "undo", by, now, from_json(r["records"]) or [], revived, created, reason, snap,
                   after_undo, undo_of=action_id)
    return ActionResult(undo_id, "undo", by, sorted(set(before["records"].values()) | set(after["records"].values())),
                        records, revived, created, f"undid {r['action']} {action_id} ({len(mapping)} record(s) moved "
                        "back)", mapping)

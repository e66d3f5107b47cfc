"""Stewardship workflow: the review queue, decisions, merge, unmerge, undo, history, search and the
golden-customer view, plus one-record matching for the match API.

These are the only functions the CLI (`hub steward`), the console and the API call, so every face
behaves the same. Each action runs in one transaction and writes:

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

import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import HubConfig
from core.entities import ENTITIES
from mdm.engine import BANDS as ENGINE_BANDS
from mdm.golden import FALLBACK_RULES, assign_ids, describe_rules, id_number
from mdm.lookup import build_index
from mdm.search import SearchIndex
from mdm.specs import derive_customer_columns
from mdm.standardize import standardize_customers
from mdm.stewardship import (
    HEAD_OFFICE,
    REASONS,
    VERDICTS,
    band,
    hard_rule_conflicts,
    ordered_pair,
    pair_id,
    recluster,
)
from pipelines.explain import explain_records
from pipelines.match import DEFAULT_SURVIVORSHIP, fingerprint, refresh_golden, settings_of
from pipelines.match_lookup import follow_steward
from pipelines.model_store import active_model, active_model_id
from pipelines.settled import settled_pairs
from pipelines.stage import to_arrow
from warehouse.changes import bump
from warehouse.contract import GOLDEN_ATTRIBUTES, MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse, value
from warehouse.lock import RunLocked, held_by, run_lock

log = logging.getLogger("hub.steward")

QUEUE_JSON_VERSION = 1
BANDS = tuple(reversed(ENGINE_BANDS))  # ("match", "review", "low"): best first, as the console lists them
RECORD_ID_SQL = "source_name || ':' || stream || ':' || source_key"


class StewardError(Exception):
    """An action that cannot be done as asked; the message says why (shown to the steward)."""


class StewardBusy(StewardError):
    """The warehouse is being written by a run (or a sync, or a Dagster step): the action was not done."""


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


# --- small helpers ------------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _new_id(prefix: str, now: dt.datetime) -> str:
    return f"{prefix}{now:%Y%m%d%H%M%S}{secrets.token_hex(3)}"


LIKE_ESCAPE = "ESCAPE '\\'"


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with its `%`, `_` and `\\` taken as plain characters (with LIKE_ESCAPE)."""
    return re.sub(r"([%_\\])", r"\\\1", text)


def _in(values: Iterable[str], name: str) -> tuple[str, dict[str, str]]:
    """`(:name0, :name1, ...)` and its parameters; `(NULL)` (matches nothing) for no values."""
    vals = list(dict.fromkeys(values))
    if not vals:
        return "(NULL)", {}
    return "(" + ", ".join(f":{name}{i}" for i in range(len(vals))) + ")", {f"{name}{i}": v for i, v in
                                                                          enumerate(vals)}


def _bounded(n: int, total: int) -> int:
    """A LIMIT or OFFSET between 0 and `total` (a page number far past the end must not overflow the SQL)."""
    return max(0, min(int(n), total))


def _frame(wh: Warehouse, conn: Connection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    return wh.read_frame(sql, params or None, conn=conn)


def _ready(wh: Warehouse, conn: Connection) -> None:
    ensure_mdm(wh, conn)
    if not wh.table_exists(conn, "mdm", "customer_records"):
        raise StewardError("no match results in this warehouse yet: run `hub run` first")


def _py(v: Any) -> Any:
    """A warehouse value as plain JSON-able Python."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp | dt.datetime | dt.date):
        return None if pd.isna(v) else v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
    if v is pd.NaT or v is pd.NA:
        return None
    return v


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _py(v) for k, v in r.items()} for r in df.to_dict("records")]


def _json(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return json.loads(v) if isinstance(v, str) else v


def _golden_of(wh: Warehouse, conn: Connection, record_ids: Iterable[str]) -> dict[str, str]:
    ids = list(record_ids)
    if not ids:
        return {}
    sql, params = _in(ids, "r")
    df = _frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref "
                          f"WHERE {RECORD_ID_SQL} IN {sql}", params)
    return dict(zip(df["record_id"], df["golden_id"], strict=True))


def _members(wh: Warehouse, conn: Connection, golden_ids: Iterable[str]) -> dict[str, str]:
    """record id → golden ID for every record of these golden customers."""
    sql, params = _in(golden_ids, "g")
    df = _frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref WHERE golden_id IN {sql} "
                          f"ORDER BY 1", params)
    return dict(zip(df["record_id"], df["golden_id"], strict=True))


def _snapshot(wh: Warehouse, conn: Connection, records: Iterable[str]) -> dict[str, Any]:
    """The golden IDs of `records` and a summary of those golden customers: merge_log's before/after."""
    mapping = _golden_of(wh, conn, records)
    gids = sorted(set(mapping.values()))
    sql, params = _in(gids, "g")
    g = _frame(wh, conn, f"SELECT golden_id, name, uscc, phone, address, source_count FROM mdm.golden_customer "
                         f"WHERE golden_id IN {sql}", params)
    goldens = {r["golden_id"]: {k: v for k, v in r.items() if k != "golden_id"} for r in _rows(g)}
    return {"records": dict(sorted(mapping.items())), "goldens": goldens}


def _active_decisions(wh: Warehouse, conn: Connection, records: Iterable[str]) -> pd.DataFrame:
    """Active decisions touching any of `records`."""
    sql, params = _in(records, "r")
    return _frame(wh, conn, "SELECT decision_id, item_id, left_record, right_record, verdict, origin, reason, "
                            "decided_by, decided_at, action_id "
                            f"FROM mdm.decisions WHERE active AND (left_record IN {sql} OR right_record IN {sql})",
                  params)


def _next_id_number(wh: Warehouse, conn: Connection) -> int:
    ids = _frame(wh, conn, "SELECT golden_id AS g FROM mdm.xref UNION SELECT retired_id FROM mdm.golden_id_history "
                           "UNION SELECT survivor_id FROM mdm.golden_id_history")["g"].dropna()
    return int(id_number(ids).max()) + 1 if len(ids) else 1


# --- writing ------------------------------------------------------------------------------------------------


def _insert_decisions(wh: Warehouse, conn: Connection, pairs: Sequence[tuple[str, str]], verdict: str, by: str,
                      reason: str | None, origin: str, action_id: str, now: dt.datetime, start: int = 0) -> list[str]:
    rows = []
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
    sql, params = _in(sorted(records), "r")
    df = _frame(wh, conn, f"SELECT record_id, golden_id, record_hash FROM mdm.customer_records "
                          f"WHERE record_id IN {sql}", params)
    return {r: (_py(g), _py(h)) for r, g, h in zip(df["record_id"], df["golden_id"], df["record_hash"], strict=True)}


def _deactivate(conn: Connection, decision_ids: Sequence[str], by: str, now: dt.datetime) -> None:
    if decision_ids:
        sql, params = _in(decision_ids, "d")
        conn.execute(sa.text(f"UPDATE mdm.decisions SET active = FALSE, undone_by = :by, undone_at = :t "
                             f"WHERE decision_id IN {sql}"), {**params, "by": by, "t": now})


def _case(column: str, mapping: Mapping[str, str], name: str) -> tuple[str, dict[str, str]]:
    """`CASE column WHEN :k0 THEN :v0 ... END` for a small mapping."""
    whens, params = [], {}
    for i, (k, v) in enumerate(mapping.items()):
        whens.append(f"WHEN :{name}k{i} THEN :{name}v{i}")
        params[f"{name}k{i}"], params[f"{name}v{i}"] = k, v
    return f"CASE {column} {' '.join(whens)} END", params


def _apply(cfg: HubConfig, wh: Warehouse, conn: Connection, mapping: Mapping[str, str], now: dt.datetime) -> None:
    """Move records to golden IDs and bring everything that depends on it up to date: xref, the
    engine's records, survivorship of every touched golden customer, the hierarchy, the queue."""
    if not mapping:
        return
    bump(conn, "mdm.xref", "mdm.customer_records", "mdm.golden_customer", "mdm.customer_hierarchy",
         "mdm.review_queue")  # the marts reading them rebuild on the next run
    old = _golden_of(wh, conn, mapping)
    touched = sorted(set(old.values()) | set(mapping.values()))
    keys, kparams = _in(mapping, "m")
    case, cparams = _case(RECORD_ID_SQL, mapping, "x")
    conn.execute(sa.text(f"UPDATE mdm.xref SET golden_id = {case}, matched_by = 'steward', updated_at = :t "
                         f"WHERE {RECORD_ID_SQL} IN {keys}"), {**cparams, **kparams, "t": now})
    case, cparams = _case("record_id", mapping, "x")
    conn.execute(sa.text(f"UPDATE mdm.customer_records SET golden_id = {case} WHERE record_id IN {keys}"),
                 {**cparams, **kparams})
    # Survivorship and hierarchy links again for every golden customer that gained or lost records (as a run).
    refresh_golden(cfg, wh, conn, touched, (), now)
    follow_steward(cfg, wh, conn, dict(mapping), touched)  # the match API's index follows
    # Queue items follow their records; a pair now in one customer is resolved, apart again reopened.
    for side in ("left", "right"):
        case, cparams = _case(f"{side}_record", mapping, "q")
        conn.execute(sa.text(f"UPDATE mdm.review_queue SET {side}_golden_id = {case} "
                             f"WHERE {side}_record IN {keys}"), {**cparams, **kparams})
    conn.execute(sa.text("UPDATE mdm.review_queue SET status = 'resolved' "
                         "WHERE status = 'open' AND left_golden_id = right_golden_id"))
    conn.execute(sa.text("UPDATE mdm.review_queue SET status = 'open' "
                         "WHERE status = 'resolved' AND left_golden_id <> right_golden_id"))


def _settle_queue(wh: Warehouse, conn: Connection, records: Iterable[str]) -> None:
    """The queue items of `records` as the next run will leave them: an open pair of two customers that the
    decisions in force now settle (`pipelines.settled`) is resolved; a resolved one they no longer settle
    (after an undo) is open again."""
    sql, params = _in(records, "r")
    q = _frame(wh, conn, "SELECT item_id, left_record, right_record, left_golden_id, right_golden_id, status "
                         "FROM mdm.review_queue WHERE status IN ('open', 'resolved') AND "
                         f"left_golden_id <> right_golden_id AND (left_record IN {sql} OR right_record IN {sql})",
               params)
    done = settled_pairs(wh, conn, q["left_record"], q["right_record"], q["left_golden_id"], q["right_golden_id"])
    for status, ids in (("resolved", q.loc[done & (q["status"] == "open").to_numpy(), "item_id"]),
                        ("open", q.loc[~done & (q["status"] == "resolved").to_numpy(), "item_id"])):
        if len(ids):
            isql, iparams = _in(ids, "i")
            conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = '{status}' WHERE item_id IN {isql}"), iparams)


def _history(wh: Warehouse, conn: Connection, rows: pd.DataFrame, action_id: str, now: dt.datetime) -> None:
    if len(rows):
        h = rows.assign(run_id=action_id, retired_at=now)
        wh.insert_frame(conn, "mdm", "golden_id_history", to_arrow(h, MDM_TABLES["golden_id_history"][0]))


def _log(wh: Warehouse, conn: Connection, action_id: str, action: str, actor: str, now: dt.datetime,
         records: Iterable[str], created: list[str], deactivated: list[str], reason: str | None,
         before: dict[str, Any], after: dict[str, Any], undo_of: str | None = None) -> None:
    goldens = sorted(set(before["records"].values()) | set(after["records"].values()))
    row = {"action_id": action_id, "action": action, "actor": actor, "acted_at": now,
           "golden_ids": json.dumps(goldens), "records": json.dumps(sorted(set(records)), ensure_ascii=False),
           "decision_ids": json.dumps({"created": created, "deactivated": deactivated}),
           "reason": reason, "before": json.dumps(before, ensure_ascii=False, default=str),
           "after": json.dumps(after, ensure_ascii=False, default=str), "undone_by": None, "undone_at": None,
           "undo_of": undo_of}
    wh.insert_frame(conn, "mdm", "merge_log", to_arrow(pd.DataFrame([row]), MDM_TABLES["merge_log"][0]))


def _check_actor(by: str) -> str:
    by = (by or "").strip()
    if not by:
        raise StewardError("say who decides (--by NAME)")
    return by


def _recluster(cfg: HubConfig, wh: Warehouse, conn: Connection, moved: Mapping[str, str] | None = None,
               fresh: Sequence[str] = ()) -> tuple[dict[str, str], pd.DataFrame]:
    """Cluster every record again from the stored pairs and the decisions in force, exactly as the next
    run with unchanged sources will, and give the clusters golden IDs the same way. Returns the records
    whose golden ID changes (against the xref with `moved` applied) and the history rows. Records in
    `fresh` may not keep their old ID (an unmerged record goes, the rest of its customer stays)."""
    settings = settings_of(cfg.mdm.customer)
    cols = ", ".join(["record_id", *dict.fromkeys([*settings.exclusive, *settings.anchors])])
    # The order of `pipelines.match.load_customers`: positions, hence ties, as in a run.
    recs = _frame(wh, conn, f"SELECT {cols} FROM mdm.customer_records ORDER BY source_name, stream, source_key")
    pairs = _frame(wh, conn, "SELECT left_record, right_record, prob FROM mdm.match_pairs")
    dec = _frame(wh, conn, "SELECT left_record, right_record, verdict FROM mdm.decisions WHERE active")
    labels = recluster(recs, pairs, dec, settings.match, settings.review, settings.exclusive, settings.anchors)
    x = _frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, golden_id FROM mdm.xref")
    current = dict(zip(x["record_id"], x["golden_id"], strict=True))
    previous = {**current, **(moved or {})}
    for r in fresh:
        previous.pop(r, None)
    assignment = assign_ids(pd.DataFrame({"record_id": recs["record_id"], "cluster": labels}),
                            pd.DataFrame({"record_id": list(previous), "golden_id": list(previous.values())}),
                            _next_id_number(wh, conn))
    new = assignment.ids.set_index("record_id")["golden_id"]
    return {r: g for r, g in new.items() if current.get(r) != g}, assignment.history


# --- actions ------------------------------------------------------------------------------------------------


def decide(cfg: HubConfig, wh: Warehouse, item_id: str, verdict: str, by: str,
           reason: str | None = None) -> ActionResult:
    """Decide a review-queue item: `same` company or `different` companies."""
    with wh.begin() as conn:
        _ready(wh, conn)
        q = _frame(wh, conn, "SELECT left_record, right_record FROM mdm.review_queue WHERE item_id = :i",
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
    now = _now()
    action_id = _new_id("A", now)
    with _writing(wh, "decide", by), wh.begin() as conn:
        _ready(wh, conn)
        gold = _golden_of(wh, conn, records)
        missing = [r for r in records if r not in gold]
        if missing:
            raise StewardError(f"no customer record {missing[0]} in mdm.xref")
        prior = _active_decisions(wh, conn, records)
        same_pair = np.array([ordered_pair(a, b) in pairs for a, b in
                              zip(prior["left_record"], prior["right_record"], strict=True)], dtype=bool)
        prior = prior[same_pair]
        deactivated = prior["decision_id"].tolist()
        _deactivate(conn, deactivated, by, now)
        created: list[str] = []
        for verdict in VERDICTS:
            these = [pair for pair, v in pairs.items() if v == verdict]
            created += _insert_decisions(wh, conn, these, verdict, by, reason, origin, action_id, now, len(created))
        mapping, hist = _recluster(cfg, wh, conn)
        touched = sorted(set(_members(wh, conn, set(gold.values()))) | set(mapping))
        before = _snapshot(wh, conn, touched)
        _history(wh, conn, hist, action_id, now)
        _apply(cfg, wh, conn, mapping, now)
        isql, iparams = _in([pair_id(a, b) for a, b in pairs], "i")
        conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = 'decided' WHERE item_id IN {isql}"), iparams)
        _settle_queue(wh, conn, records)
        after = _snapshot(wh, conn, touched)
        _log(wh, conn, action_id, "decide", by, now, records, created, deactivated, reason, before, after)
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
        _ready(wh, conn)
        sql, params = _in(ids, "i")
        q = _frame(wh, conn, f"SELECT item_id, left_record, right_record FROM mdm.review_queue WHERE item_id IN {sql}",
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
        _ready(wh, conn)
        q = _frame(wh, conn, "SELECT item_id, left_record, right_record FROM mdm.review_queue WHERE status = 'open' "
                             "AND (left_record = :r OR right_record = :r) ORDER BY item_id", {"r": record_id})
        other = [b if a == record_id else a for a, b in zip(q["left_record"], q["right_record"], strict=True)]
        gold = _golden_of(wh, conn, other)
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
        return _golden_of(wh, conn, [record_id]).get(record_id)


def _representative(wh: Warehouse, conn: Connection, golden_id: str, members: Sequence[str]) -> str:
    """The record that supplied the golden customer's name (else its first record)."""
    src = value(conn, "SELECT name_source FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden_id})
    return src if src in members else sorted(members)[0]


def _current(wh: Warehouse, conn: Connection, golden_id: str) -> dict[str, str]:
    members = _members(wh, conn, [golden_id])
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
    now = _now()
    action_id = _new_id("A", now)
    with _writing(wh, "merge", by), wh.begin() as conn:
        _ready(wh, conn)
        ms, mo = _current(wh, conn, survivor), _current(wh, conn, other)
        dec = _active_decisions(wh, conn, [*ms, *mo])
        across = dec[(dec["verdict"] == "different")
                     & ((dec["left_record"].isin(ms) & dec["right_record"].isin(mo))
                        | (dec["left_record"].isin(mo) & dec["right_record"].isin(ms)))]
        deactivated = across["decision_id"].tolist()
        _deactivate(conn, deactivated, by, now)
        rep = (_representative(wh, conn, survivor, list(ms)), _representative(wh, conn, other, list(mo)))
        # Every record of each customer is linked to the other's representative, so that the next run
        # (whatever the hard rules say) and unmerging any one record keep the rest together.
        links = list(dict.fromkeys([*((rep[0], o) for o in sorted(mo)), *((rep[1], x) for x in sorted(ms)
                                                                          if x != rep[0])]))
        created = _insert_decisions(wh, conn, links, "same", by, reason, "merge", action_id, now)
        # The other customer's records take the survivor's ID; then everything is clustered as a run would.
        mapping, hist = _recluster(cfg, wh, conn, moved=dict.fromkeys(mo, survivor))
        mapping = {**dict.fromkeys(mo, survivor), **mapping}
        touched = sorted({*ms, *mo, *mapping})
        before = _snapshot(wh, conn, touched)
        _history(wh, conn, pd.concat([pd.DataFrame({"retired_id": [other], "survivor_id": [survivor],
                                                    "reason": ["manual_merge"]}), hist], ignore_index=True),
                 action_id, now)
        _apply(cfg, wh, conn, mapping, now)
        _settle_queue(wh, conn, touched)
        after = _snapshot(wh, conn, touched)
        _log(wh, conn, action_id, "merge", by, now, list(rep), created, deactivated, reason, before, after)
    return ActionResult(action_id, "merge", by, [survivor, other], list(rep), created, deactivated,
                        f"{other} merged into {survivor} ({len(mo)} record(s) moved)", mapping)


def unmerge(cfg: HubConfig, wh: Warehouse, record_id: str, by: str, reason: str | None = None,
            golden_id: str | None = None) -> ActionResult:
    """Move one source record out of its golden customer into a golden customer of its own. With `golden_id`,
    only if the record is in that golden customer (the console's unmerge names the customer it shows)."""
    by = _check_actor(by)
    now = _now()
    action_id = _new_id("A", now)
    with _writing(wh, "unmerge", by), wh.begin() as conn:
        _ready(wh, conn)
        gid = _golden_of(wh, conn, [record_id]).get(record_id)
        if gid is None:
            raise StewardError(f"no customer record {record_id} in mdm.xref")
        if golden_id is not None and gid != golden_id:
            raise StewardError(f"{record_id} is not a record of {golden_id} (it belongs to {gid}); nothing was "
                               "changed")
        members = _members(wh, conn, [gid])
        others = [r for r in members if r != record_id]
        if not others:
            raise StewardError(f"{record_id} is already the only record of {gid}")
        dec = _active_decisions(wh, conn, [record_id])
        contra = dec[(dec["verdict"] == "same") & (dec["left_record"].isin(others) | dec["right_record"].isin(others))]
        deactivated = contra["decision_id"].tolist()
        _deactivate(conn, deactivated, by, now)
        created = _insert_decisions(wh, conn, [(record_id, o) for o in others], "different", by, reason, "unmerge",
                                    action_id, now)
        mapping, hist = _recluster(cfg, wh, conn, fresh=[record_id])
        touched = sorted({*members, *mapping})
        before = _snapshot(wh, conn, touched)
        _history(wh, conn, hist, action_id, now)
        _apply(cfg, wh, conn, mapping, now)
        _settle_queue(wh, conn, touched)
        after = _snapshot(wh, conn, touched)
        _log(wh, conn, action_id, "unmerge", by, now, [record_id], created, deactivated, reason, before, after)
    new_id = after["records"][record_id]
    regrouped = len([r for r in mapping if r != record_id])
    return ActionResult(action_id, "unmerge", by, sorted({gid, *mapping.values()}), [record_id], created,
                        deactivated, f"{record_id} moved out of {gid} into {new_id}"
                        + (f"; {regrouped} other record(s) regrouped" if regrouped else ""), mapping)


def undo(cfg: HubConfig, wh: Warehouse, action_id: str, by: str, reason: str | None = None) -> ActionResult:
    """Undo an action: its decisions are deactivated (those it replaced come back) and its records
    return to their golden IDs before it. Refused when a later action or run moved those records."""
    by = _check_actor(by)
    now = _now()
    undo_id = _new_id("A", now)
    with _writing(wh, "undo", by), wh.begin() as conn:
        _ready(wh, conn)
        row = _frame(wh, conn, "SELECT * FROM mdm.merge_log WHERE action_id = :a", {"a": action_id})
        if not len(row):
            raise StewardError(f"no action {action_id} in mdm.merge_log (see `hub steward history`)")
        r = row.iloc[0]
        if r["action"] == "undo":
            raise StewardError(f"{action_id} is itself an undo; do the original action again instead")
        if isinstance(r["undone_by"], str):
            raise StewardError(f"{action_id} was already undone by {r['undone_by']} at {_py(r['undone_at'])}")
        before, after = _json(r["before"]), _json(r["after"])
        ids = _json(r["decision_ids"]) or {}
        records = list(before["records"])
        now_map = _golden_of(wh, conn, records)
        moved = sorted(x for x in records if now_map.get(x) != after["records"].get(x))
        if moved:
            raise StewardError(f"cannot undo {action_id}: {len(moved)} of its records moved since "
                               f"(e.g. {moved[0]}: {after['records'].get(moved[0])} → {now_map.get(moved[0])}); "
                               "undo the later actions first")
        snap = _snapshot(wh, conn, records)
        created, revived = list(ids.get("created", [])), list(ids.get("deactivated", []))
        _deactivate(conn, created, by, now)
        if revived:
            sql, params = _in(revived, "d")
            conn.execute(sa.text(f"UPDATE mdm.decisions SET active = TRUE, undone_by = NULL, undone_at = NULL "
                                 f"WHERE decision_id IN {sql}"), params)
        mapping = {x: g for x, g in before["records"].items() if now_map.get(x) != g}
        conn.execute(sa.text("DELETE FROM mdm.golden_id_history WHERE run_id = :a"), {"a": action_id})
        gone = sorted(set(after["records"].values()) - set(before["records"].values()))
        if gone:
            back = {g: next(before["records"][x] for x, y in after["records"].items() if y == g) for g in gone}
            _history(wh, conn, pd.DataFrame({"retired_id": list(back), "survivor_id": list(back.values()),
                                             "reason": "undone"}), undo_id, now)
        if created:
            sql, params = _in(created, "d")
            items = _frame(wh, conn, f"SELECT item_id FROM mdm.decisions WHERE decision_id IN {sql}", params)
            isql, iparams = _in(items["item_id"], "i")
            conn.execute(sa.text(f"UPDATE mdm.review_queue SET status = 'open' WHERE status = 'decided' "
                                 f"AND item_id IN {isql}"), iparams)
        _apply(cfg, wh, conn, mapping, now)
        _settle_queue(wh, conn, records)
        conn.execute(sa.text("UPDATE mdm.merge_log SET undone_by = :by, undone_at = :t WHERE action_id = :a"),
                     {"by": by, "t": now, "a": action_id})
        after_undo = _snapshot(wh, conn, records)
        _log(wh, conn, undo_id, "undo", by, now, _json(r["records"]) or [], revived, created, reason, snap,
             after_undo, undo_of=action_id)
    return ActionResult(undo_id, "undo", by, sorted(set(before["records"].values()) | set(after["records"].values())),
                        records, revived, created, f"undid {r['action']} {action_id} ({len(mapping)} record(s) moved "
                        "back)", mapping)


# --- reading ------------------------------------------------------------------------------------------------


def _item(row: Mapping[str, Any], match: float, review: float) -> dict[str, Any]:
    """A review item as the stable JSON shape (`hub steward queue --json`, the console, the README)."""
    def side(s: str) -> dict[str, Any]:
        rid = row[f"{s}_record"]
        return {"record_id": rid, "source": rid.split(":", 1)[0], "golden_id": row[f"{s}_golden_id"],
                "values": _json(row.get(f"{s}_values")) or {}}

    prob = float(row["probability"])
    return {"item_id": row["item_id"], "priority": round(float(row["priority"]), 6),
            "probability": round(prob, 6), "weight": round(float(row["weight"]), 4),
            "band": band(prob, match, review), "reason": row["reason"], "reason_key": REASON_KEYS.get(row["reason"]),
            "revenue": None if _py(row.get("revenue")) is None else float(row["revenue"]),
            "status": row["status"], "created_at": _py(row["created_at"]),
            "assignee": _py(row.get("assignee")), "decided_by": _py(row.get("decided_by")),
            "decided_at": _py(row.get("decided_at")),
            "explanation": _json(row["explanation"]) or {}, "left": side("left"), "right": side("right")}


REASON_KEYS = {text: key for key, text in REASONS.items()}
STATUSES = ("open", "decided", "resolved", "all")
NOBODY = "-"  # the assignee filter for items nobody has claimed
QUEUE_SORTS = {
    "priority": "q.priority DESC, q.item_id",
    "score": "q.probability DESC, q.priority DESC, q.item_id",
    "score_asc": "q.probability ASC, q.priority DESC, q.item_id",
    "revenue": "coalesce(q.revenue, 0) DESC, q.priority DESC, q.item_id",
    "newest": "coalesce(d.decided_at, q.created_at) DESC, q.priority DESC, q.item_id",
    "oldest": "coalesce(d.decided_at, q.created_at) ASC, q.priority DESC, q.item_id",
}


@dataclass
class QueueFilter:
    """Which review items, in which order: by source, score band, a search text, status, why they are in
    review (a key of `mdm.stewardship.REASONS`), who decided them, who has claimed them (a user, or `-`
    for nobody), a date range (days in the configured zone: when decided, else when queued), and a sort
    (a key of QUEUE_SORTS)."""

    source: str | None = None
    band: str | None = None
    search: str | None = None
    status: str = "open"
    reason: str | None = None
    decided_by: str | None = None
    assignee: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    sort: str = "priority"
    found: tuple[str, ...] = ()   # golden IDs the customer search found for `search` (pinyin, initials, fuzzy)

    def check(self) -> None:
        for name, got, allowed in (("band", self.band, BANDS), ("status", self.status, STATUSES),
                                   ("reason", self.reason, tuple(REASONS)), ("sort", self.sort, tuple(QUEUE_SORTS))):
            if got is not None and got not in allowed:
                raise StewardError(f"{name} {got!r}: expected one of {', '.join(allowed)}")


_QUEUE_FROM = ("mdm.review_queue q LEFT JOIN mdm.review_assignment a ON a.item_id = q.item_id "
               "LEFT JOIN (SELECT item_id, max(decided_by) AS decided_by, max(decided_at) AS decided_at "
               "FROM mdm.decisions WHERE active GROUP BY item_id) d ON d.item_id = q.item_id")
_QUEUE_COLUMNS = "q.*, a.assignee, d.decided_by, d.decided_at"


def _utc_day_start(day: dt.date, zone: str) -> dt.datetime:
    """Midnight of `day` in `zone` as the warehouse's naive UTC."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)


def _queue_where(cfg: HubConfig, f: QueueFilter) -> tuple[str, dict[str, Any]]:
    f.check()
    mcfg = cfg.mdm.customer
    where, params = ["TRUE"], {}
    if f.status != "all":
        where.append("q.status = :status")
        params["status"] = f.status
    if f.source:
        where.append(f"(q.left_record LIKE :src {LIKE_ESCAPE} OR q.right_record LIKE :src {LIKE_ESCAPE})")
        params["src"] = like_literal(f"{f.source}:") + "%"
    if f.band:
        cond = {"match": "q.probability >= :hi", "review": "q.probability >= :lo AND q.probability < :hi",
                "low": "q.probability < :lo"}[f.band]
        where.append(cond)
        params.update({k: v for k, v in {"hi": mcfg.thresholds.match, "lo": mcfg.thresholds.review}.items()
                       if f":{k}" in cond})
    if f.search and f.search.strip():
        # Case-insensitive on both sides (record ids such as crm_b:customers:KH74626381 have capitals);
        # `%` and `_` in the search are plain characters. Names, contacts, addresses and phones are in the values.
        cols = ("q.left_values", "q.right_values", "q.left_record", "q.right_record")
        cond = " OR ".join(f"lower({c}) LIKE :q {LIKE_ESCAPE}" for c in cols)
        cond += " OR upper(q.left_golden_id) = :qe OR upper(q.right_golden_id) = :qe"
        if f.found:  # customers found by the customer search (pinyin, initials, fuzzy)
            gsql, gparams = _in(f.found, "sg")
            cond += f" OR q.left_golden_id IN {gsql} OR q.right_golden_id IN {gsql}"
            params.update(gparams)
        where.append(f"({cond})")
        params["q"] = f"%{like_literal(f.search.strip().lower())}%"
        params["qe"] = f.search.strip().upper()
    if f.reason:
        where.append("q.reason = :reason")
        params["reason"] = REASONS[f.reason]
    if f.decided_by:
        where.append("d.decided_by = :decided_by")
        params["decided_by"] = f.decided_by
    if f.assignee == NOBODY:
        where.append("a.assignee IS NULL")
    elif f.assignee:
        where.append("a.assignee = :assignee")
        params["assignee"] = f.assignee
    when = {"open": "q.created_at", "resolved": "q.created_at", "decided": "d.decided_at"}.get(
        f.status, "coalesce(d.decided_at, q.created_at)")
    if f.since:
        where.append(f"{when} >= :since")
        params["since"] = _utc_day_start(f.since, cfg.timezone)
    if f.until:
        where.append(f"{when} < :until")
        params["until"] = _utc_day_start(f.until + dt.timedelta(days=1), cfg.timezone)
    return " AND ".join(where), params


def _queue_filter(f: QueueFilter | None, source: str | None, band_: str | None, search: str | None,
                  status: str) -> QueueFilter:
    if f is not None:
        return f
    return QueueFilter(source=source, band=band_, search=search, status=status)


def list_queue(cfg: HubConfig, wh: Warehouse, source: str | None = None, band_: str | None = None,
               search: str | None = None, status: str = "open", limit: int = 50, offset: int = 0,
               criteria: QueueFilter | None = None) -> dict[str, Any]:
    """Review items by priority (or `criteria.sort`), filtered by source, score band (match/review/low), a name
    or record search, and status (`open`, `decided`, `resolved` or `all`); `criteria` gives every criterion
    of `QueueFilter` at once instead."""
    mcfg = cfg.mdm.customer
    f = _queue_filter(criteria, source, band_, search, status)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        cond, params = _queue_where(cfg, f)
        total = int(value(conn, f"SELECT count(*) FROM {_QUEUE_FROM} WHERE {cond}", params) or 0)
        df = _frame(wh, conn, f"SELECT {_QUEUE_COLUMNS} FROM {_QUEUE_FROM} WHERE {cond} ORDER BY {QUEUE_SORTS[f.sort]} "
                              f"LIMIT {_bounded(limit, total)} OFFSET {_bounded(offset, total)}", params)
    items = [_item(r, mcfg.thresholds.match, mcfg.thresholds.review) for r in df.to_dict("records")]
    return {"version": QUEUE_JSON_VERSION, "total": total, "offset": offset, "items": items}


def queue_ids(cfg: HubConfig, wh: Warehouse, source: str | None = None, band_: str | None = None,
              search: str | None = None, status: str = "open", criteria: QueueFilter | None = None) -> list[str]:
    """The item ids of the filtered queue in its order (for next/previous navigation and bulk decisions)."""
    f = _queue_filter(criteria, source, band_, search, status)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        cond, params = _queue_where(cfg, f)
        df = _frame(wh, conn, f"SELECT q.item_id FROM {_QUEUE_FROM} WHERE {cond} ORDER BY {QUEUE_SORTS[f.sort]}",
                    params)
    return df["item_id"].tolist()


def _record_rows(wh: Warehouse, conn: Connection, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    sql, params = _in(record_ids, "r")
    df = _frame(wh, conn, f"SELECT * FROM mdm.customer_records WHERE record_id IN {sql}", params)
    return {r["record_id"]: r for r in _rows(df)}


def pair_detail(cfg: HubConfig, wh: Warehouse, left: str, right: str) -> dict[str, Any]:
    """Two records side by side with the explanation (per comparison: values, level, weight), the
    queue item if there is one, and the decisions ever taken on the pair."""
    left, right = ordered_pair(left, right)
    mcfg = cfg.mdm.customer
    iid = pair_id(left, right)
    with wh.begin() as conn:
        _ready(wh, conn)
        recs = _record_rows(wh, conn, [left, right])
        for r in (left, right):
            if r not in recs:
                raise StewardError(f"no customer record {r} in mdm.customer_records")
        gold = _golden_of(wh, conn, [left, right])
        q = _frame(wh, conn, f"SELECT {_QUEUE_COLUMNS} FROM {_QUEUE_FROM} WHERE q.item_id = :i", {"i": iid})
        dec = _frame(wh, conn, "SELECT * FROM mdm.decisions WHERE item_id = :i ORDER BY decided_at", {"i": iid})
        gl, gr = gold.get(left), gold.get(right)
        apart = kept_apart(cfg, wh, [(gl, gr)], conn).get((gl, gr)) if gl and gr and gl != gr else None
    try:
        table = explain_records(cfg, wh, left, right)
        explanation = _rows(table)
        score = {"weight": float(table.attrs["weight"]), "probability": float(table.attrs["probability"]),
                 "band": band(float(table.attrs["probability"]), mcfg.thresholds.match, mcfg.thresholds.review)}
    except LookupError as e:
        explanation, score = [], {"weight": None, "probability": None, "band": None, "error": str(e)}
    item = _item(q.to_dict("records")[0], mcfg.thresholds.match, mcfg.thresholds.review) if len(q) else None
    return {"version": QUEUE_JSON_VERSION, "item_id": iid, "item": item,
            "left": {**recs[left], "golden_id": gold.get(left)}, "right": {**recs[right], "golden_id": gold.get(right)},
            "explanation": explanation, "score": score, "decisions": _rows(dec), "kept_apart": apart}


def kept_apart(cfg: HubConfig, wh: Warehouse, pairs: Sequence[tuple[str, str]],
               conn: Connection | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """For pairs of golden IDs: the hard rules their union would break (with the values and the records that
    trigger them, `mdm.stewardship.hard_rule_conflicts`) and the stewards' `different` decisions between
    their records. From the customers as they are now, so a steward's merge since the run shows here."""
    pairs = [(a, b) for a, b in pairs if a and b and a != b]
    if not pairs:
        return {}
    if conn is None:
        with wh.begin() as c:
            return kept_apart(cfg, wh, pairs, c)
    exclusive = list(settings_of(cfg.mdm.customer).exclusive)
    gsql, gparams = _in({g for p in pairs for g in p}, "g")
    members = _frame(wh, conn, f"SELECT record_id, golden_id, {', '.join(exclusive)} FROM mdm.customer_records "
                               f"WHERE golden_id IN {gsql} ORDER BY record_id", gparams)
    rsql, rparams = _in(members["record_id"], "r")
    cannot = _frame(wh, conn, "SELECT left_record, right_record, decided_by, decided_at, reason FROM mdm.decisions "
                              f"WHERE active AND verdict = 'different' AND left_record IN {rsql} "
                              f"AND right_record IN {rsql}", rparams)
    golden_of = dict(zip(members["record_id"], members["golden_id"], strict=True))
    out = {}
    for a, b in pairs:
        rules = hard_rule_conflicts(members, a, b, exclusive)
        for r in rules:
            for side in ("left", "right"):
                for v in r[side]:
                    v["shown"] = "head office" if r["rule"] == "branch_key" and v["value"] == HEAD_OFFICE \
                        else v["value"]
        between = cannot[[ordered_pair(golden_of.get(x, ""), golden_of.get(y, "")) == ordered_pair(a, b)
                          for x, y in zip(cannot["left_record"], cannot["right_record"], strict=True)]] \
            if len(cannot) else cannot
        out[(a, b)] = {"rules": rules, "decisions": _rows(between)}
    return out


def queue_item(cfg: HubConfig, wh: Warehouse, item_id: str) -> dict[str, Any]:
    """A review item with everything a steward needs to decide it (see `pair_detail`)."""
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        q = _frame(wh, conn, "SELECT left_record, right_record FROM mdm.review_queue WHERE item_id = :i",
                   {"i": item_id})
    if not len(q):
        raise StewardError(f"no review item {item_id!r}")
    return pair_detail(cfg, wh, q["left_record"].iloc[0], q["right_record"].iloc[0])


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
        df = _frame(wh, conn, f"SELECT * FROM mdm.merge_log WHERE {cond} ORDER BY acted_at DESC, action_id DESC "
                              f"LIMIT {_bounded(limit, total)} OFFSET {_bounded(offset, total)}", params)
    out = []
    for r in _rows(df):
        for k in ("golden_ids", "records", "decision_ids", "before", "after"):
            r[k] = _json(r[k])
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


_USCC = re.compile(r"^[0-9A-Z]{15,18}$")


def search_customers(wh: Warehouse, q: str, limit: int = 20,
                     search: CustomerSearch | None = None) -> list[dict[str, Any]]:
    """Golden customers by golden ID, tax code (USCC), phone number, or text: any record's name or short name
    (as written, in pinyin or by initials), contact person or address, and similar names (`mdm.search`;
    `search` keeps its index between calls). Each result says how it was found (`matched_on`, `score`)."""
    q = (q or "").strip()
    if not q:
        return []
    cols = "g.golden_id, g.name, g.uscc, g.phone, g.city, g.source_count, g.is_branch"
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        if not wh.table_exists(conn, "mdm", "customer_records"):
            return []
        up = re.sub(r"\s", "", q).upper()
        digits = re.sub(r"\D", "", q)
        sql = None
        if re.fullmatch(r"G\d+", up):
            sql, params, how = "g.golden_id = :q", {"q": up}, "golden ID"
        elif _USCC.match(up) and re.search(r"\d", up) and (re.search(r"[A-Z]", up) or len(up) == 18):
            sql = "g.golden_id IN (SELECT golden_id FROM mdm.customer_records WHERE uscc_std = :q) OR g.uscc = :q"
            params, how = {"q": up}, "tax code"
        elif len(digits) >= 7 and digits == re.sub(r"[\s+()\-]", "", q):
            sql = ("g.golden_id IN (SELECT golden_id FROM mdm.customer_records WHERE phone_digits LIKE :q "
                   "OR phone_std LIKE :q)")
            params, how = {"q": f"%{digits[-8:]}"}, "phone"
        if sql is not None:
            df = _frame(wh, conn, f"SELECT {cols} FROM mdm.golden_customer g WHERE {sql} "
                                  f"ORDER BY g.source_count DESC, g.golden_id LIMIT {int(limit)}", params)
            return [{**r, "matched_on": how, "score": 100.0} for r in _rows(df)]
    hits = (search or CustomerSearch(wh)).find(q, limit)
    if not hits:
        return []
    with wh.begin() as conn:
        gsql, gparams = _in([g for g, _, _ in hits], "g")
        rows = {r["golden_id"]: r for r in _rows(_frame(wh, conn, f"SELECT {cols} FROM mdm.golden_customer g "
                                                                  f"WHERE g.golden_id IN {gsql}", gparams))}
    return [{**rows[g], "matched_on": how, "score": score} for g, how, score in hits if g in rows]


class CustomerSearch:
    """The text search over the customer records (`mdm.search.SearchIndex`), kept in memory and rebuilt (only
    new names converted to pinyin again) when a run or a steward action changed the records; checked at
    most every `refresh_seconds`."""

    def __init__(self, wh: Warehouse, refresh_seconds: float = 30.0,
                 reading: Callable[[], AbstractContextManager[Any]] | None = None):
        self.wh, self.refresh_seconds = wh, refresh_seconds
        self.reading = reading or nullcontext  # held around warehouse reads (the console's DuckDB release)
        self._index: SearchIndex | None = None
        self._version: tuple[Any, ...] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._checked = float("-inf")

    def warm(self) -> threading.Thread:
        """Build the index in the background (converting every name to pinyin takes seconds on a large
        warehouse), so that the first search does not wait for it; errors are left to that search."""
        def build() -> None:
            try:
                self.index()
            except Exception:  # a warehouse not ready yet: the first search will say why
                log.info("customer search index not built ahead", exc_info=True)

        thread = threading.Thread(target=build, name="customer-search-index", daemon=True)
        thread.start()
        return thread

    def find(self, q: str, limit: int = 20) -> list[tuple[str, str, float]]:
        index = self.index()
        return index.find(q, limit) if index is not None else []

    def golden_ids(self, q: str | None, limit: int = 200) -> list[str]:
        """Golden IDs a text finds (for the queue's search); empty for an empty text."""
        return [g for g, _, _ in self.find(q, limit)] if q and q.strip() else []

    def index(self) -> SearchIndex | None:
        with self._lock:
            if time.monotonic() - self._checked > self.refresh_seconds:
                with self.reading(), self.wh.begin() as conn:
                    ensure_mdm(self.wh, conn)
                    if not self.wh.table_exists(conn, "mdm", "customer_records"):
                        return None
                    x = conn.execute(sa.text("SELECT count(*), max(updated_at) FROM mdm.xref")).fetchall()[0]
                version = (int(x[0]), str(x[1]))
                if self._index is None or version != self._version:
                    with self.reading():
                        recs = self.wh.read_frame("SELECT golden_id, name, short_name, name_norm, contact_name, "
                                                  "address, address_norm FROM mdm.customer_records")
                    self._index = SearchIndex.build(recs, self._index)  # pinyin: no connection held meanwhile
                    self._version = version
                self._checked = time.monotonic()
            return self._index


def survivorship_rules(cfg: HubConfig) -> tuple[dict[str, list[str]], list[str]]:
    """The survivorship rules in force per golden attribute (as `pipelines.match.golden_sql` applies them)
    and the source priority."""
    mcfg = cfg.mdm.customer
    configured = {k: [v] if isinstance(v, str) else list(v) for k, v in mcfg.survivorship.items()}
    rules = {**DEFAULT_SURVIVORSHIP, **configured}
    return ({a: list(rules.get(a) or FALLBACK_RULES) for a in GOLDEN_ATTRIBUTES},
            list(mcfg.source_priority or cfg.sources))


def golden_detail(cfg: HubConfig, wh: Warehouse, golden_id: str) -> dict[str, Any]:
    """A golden customer: its attributes and which record supplied each, all its source records, its
    hierarchy (parent, branches), its ID history and the steward actions that touched it."""
    with wh.begin() as conn:
        _ready(wh, conn)
        g = _frame(wh, conn, "SELECT * FROM mdm.golden_customer WHERE golden_id = :g", {"g": golden_id})
        hist = _frame(wh, conn, "SELECT * FROM mdm.golden_id_history WHERE retired_id = :g OR survivor_id = :g "
                                "OR split_id = :g ORDER BY retired_at DESC", {"g": golden_id})
        if not len(g):
            retired = hist[hist["retired_id"] == golden_id]
            if len(retired):
                return {"version": QUEUE_JSON_VERSION, "golden_id": golden_id, "retired": True,
                        "survivor_id": retired["survivor_id"].iloc[0], "history": _rows(hist)}
            raise StewardError(f"no golden customer {golden_id}")
        xref = _frame(wh, conn, f"SELECT {RECORD_ID_SQL} AS record_id, match_score, matched_by, updated_at "
                                "FROM mdm.xref WHERE golden_id = :g ORDER BY 1", {"g": golden_id})
        recs = _record_rows(wh, conn, xref["record_id"].tolist())
        parent = _frame(wh, conn, "SELECT h.parent_golden_id AS golden_id, p.name, h.relation, h.evidence "
                                  "FROM mdm.customer_hierarchy h LEFT JOIN mdm.golden_customer p "
                                  "ON p.golden_id = h.parent_golden_id WHERE h.child_golden_id = :g", {"g": golden_id})
        branches = _frame(wh, conn, "SELECT h.child_golden_id AS golden_id, c.name, h.relation, h.evidence "
                                    "FROM mdm.customer_hierarchy h LEFT JOIN mdm.golden_customer c "
                                    "ON c.golden_id = h.child_golden_id WHERE h.parent_golden_id = :g "
                                    "ORDER BY 1", {"g": golden_id})
        dec = _active_decisions(wh, conn, xref["record_id"].tolist())
        orders = _frame(wh, conn, "SELECT count(*) AS n, sum(amount) AS amount FROM staging.sales_order "
                                  f"WHERE source_name || ':' || customer_stream || ':' || customer_key IN "
                                  f"(SELECT {RECORD_ID_SQL} FROM mdm.xref WHERE golden_id = :g)", {"g": golden_id}) \
            if wh.table_exists(conn, "staging", "sales_order") else pd.DataFrame({"n": [0], "amount": [None]})
    row = _rows(g)[0]
    rules, priority = survivorship_rules(cfg)
    attributes = []
    for a in GOLDEN_ATTRIBUTES:
        src = row.get(f"{a}_source")
        typed = recs.get(src, {}).get(a) if src else None  # the value as the source holds it (provenance)
        attributes.append({"attribute": a, "value": row.get(a), "source_record": src,
                           "source": (src or "").split(":", 1)[0] or None, "rules": rules[a],
                           "rule_text": describe_rules(rules[a], priority),
                           "typed": typed if typed != row.get(a) else None})
    records = []
    for x in _rows(xref):
        rec = recs.get(x["record_id"], {})
        records.append({**x, "source": x["record_id"].split(":", 1)[0],
                        "values": {f: rec.get(f) for f in ENTITIES["customer"].field_names if rec.get(f) is not None},
                        "uscc_valid": rec.get("uscc_valid"), "city": rec.get("city_any")})
    acts = history(wh, golden_id=golden_id, limit=50)["actions"]
    o = _rows(orders)[0] if len(orders) else {"n": 0, "amount": None}
    return {"version": QUEUE_JSON_VERSION, "golden_id": golden_id, "retired": False, "golden": row,
            "attributes": attributes, "records": records, "parent": (_rows(parent) or [None])[0],
            "branches": _rows(branches), "history": _rows(hist), "actions": acts, "decisions": _rows(dec),
            "orders": {"count": int(o["n"] or 0), "amount": None if o["amount"] is None else float(o["amount"])}}


# --- one-record matching (the match API) --------------------------------------------------------------------

MATCH_FIELDS = ("name", "short_name", "uscc", "phone", "mobile", "email", "address", "contact_name")


class MatchService:
    """Candidate golden customers for one new customer record, with the model in force.

    Candidates are looked up by blocking key in the match API's index (`pipelines.match_lookup`: a SQLite file
    beside the warehouse that runs keep current), so memory and start-up do not grow with the warehouse; the
    model is reloaded when the warehouse's changes (checked at most every `refresh_seconds`) or after a
    steward action in this process (`invalidate`). Without an index, the first request builds it.
    """

    def __init__(self, cfg: HubConfig, wh: Warehouse, refresh_seconds: float = 30.0):
        from pipelines.match_lookup import LookupStore, store_path

        self.cfg, self.wh, self.refresh_seconds = cfg, wh, refresh_seconds
        self.store = LookupStore(store_path(cfg, wh))
        self._model: Any = None
        self._version: Any = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._checked = 0.0
        self._version = None

    def _current_version(self) -> tuple[Any, ...]:
        with self.wh.begin() as conn:
            ensure_mdm(self.wh, conn)
            model = active_model_id(conn)
        return (model, self.store.meta().get("records_version"))

    def model(self) -> Any:
        """The model in force, with the index current (built here when there is none)."""
        from pipelines.match_lookup import refresh

        with self._lock:
            if self._model is None or time.monotonic() - self._checked > self.refresh_seconds:
                version = self._current_version()
                if self._model is None or version != self._version:
                    settings = settings_of(self.cfg.mdm.customer)
                    model = active_model(self.wh, fingerprint(settings))
                    if model is None:
                        raise StewardError("no matching model in this warehouse yet: run `hub run` first")
                    if not self.store.meta():
                        refresh(self.cfg, self.wh, force=True)  # (no index yet: built once, then runs keep it)
                    self._model, self._version = model, self._current_version()
                self._checked = time.monotonic()
            return self._model

    def match(self, record: Mapping[str, Any], limit: int = 5, include_low: bool = False) -> dict[str, Any]:
        """Score `record` (canonical customer fields) against every golden customer it blocks with."""
        mcfg = self.cfg.mdm.customer
        settings = settings_of(mcfg)
        model = self.model()
        row = {f: None for f in ENTITIES["customer"].field_names}
        row.update({k: (str(v).strip() or None) if v is not None else None for k, v in record.items() if k in row})
        row.update({"source_name": "api", "stream": "api", "source_key": "query"})
        std = derive_customer_columns(standardize_customers(pd.DataFrame([row])))
        found = self.store.candidates(std, settings.blocking)
        index = build_index(found, (), model, settings.exclusive)  # the candidates only: scored in memory
        cand = np.arange(len(found))
        golden = self.store.golden(sorted(set(found["golden_id"].dropna())))
        out: list[dict[str, Any]] = []
        if len(cand):  # a handful of candidates: plain Python from here on
            scored = index.score(std, cand)
            specs = index.model.specs
            conflicts = index.conflicts(std, cand, settings_of(mcfg).exclusive)
            gids = index.records["golden_id"].to_numpy()[cand]
            rids = index.records["record_id"].to_numpy()[cand]
            prob, weight = scored["prob"].to_numpy(), scored["weight"].to_numpy()
            levels = scored[[sp.name for sp in specs]].to_numpy()
            names = [sp.level_names() for sp in specs]
            seen: set[str] = set()
            for i in np.lexsort((rids.astype(str), -prob)).tolist():  # best first; one per golden customer
                if gids[i] in seen:
                    continue
                seen.add(gids[i])
                b = "low" if conflicts[i] else band(float(prob[i]), mcfg.thresholds.match, mcfg.thresholds.review)
                if b == "low" and not include_low:
                    continue
                g = golden.get(gids[i], {})
                out.append({"golden_id": gids[i], "score": round(float(prob[i]), 6),
                            "weight": round(float(weight[i]), 4), "band": b, "matched_record": rids[i],
                            **{k: g.get(k) for k in ("name", "uscc", "phone", "city")}, "conflicts": conflicts[i],
                            "explanation": {sp.name: names[j][int(lv)] if lv >= 0 else "missing"
                                            for j, (sp, lv) in enumerate(zip(specs, levels[i], strict=True))}})
                if len(out) >= limit:
                    break
        keep = ("name_key", "uscc_std", "uscc_valid", "phone_std", "address_norm", "city_any", "branch")
        return {"candidates": out, "standardized": {k: _py(std[k].iloc[0]) for k in keep},
                "thresholds": {"match": mcfg.thresholds.match, "review": mcfg.thresholds.review}}

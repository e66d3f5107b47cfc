"""Reading the review queue: the items filtered and sorted (`QueueFilter`), their ids in that order, one item or
any pair of records side by side with the explanation, and what keeps two customers apart. The stable JSON shape
of an item is `item_json`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from core.config import HubConfig
from mdm.engine import BANDS as ENGINE_BANDS
from mdm.stewardship import HEAD_OFFICE, REASONS, band, hard_rule_conflicts, ordered_pair, pair_id
from pipelines.explain import explain_records
from pipelines.match import settings_of
from pipelines.steward.errors import StewardError
from pipelines.steward.sql import (
    LIKE_ESCAPE,
    QUEUE_JSON_VERSION,
    bounded,
    frame,
    from_json,
    in_list,
    like_literal,
    plain,
    plain_rows,
)
from pipelines.steward.state import golden_of, ready, record_rows
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse, value

BANDS = tuple(reversed(ENGINE_BANDS))  # ("match", "review", "low"): best first, as the console lists them


def item_json(row: Mapping[str, Any], match: float, review: float) -> dict[str, Any]:
    """A review item as the stable JSON shape (`hub steward queue --json`, the console, docs/stewardship.md)."""
    def side(s: str) -> dict[str, Any]:
        rid = row[f"{s}_record"]
        return {"record_id": rid, "source": rid.split(":", 1)[0], "golden_id": row[f"{s}_golden_id"],
                "values": from_json(row.get(f"{s}_values")) or {}}

    prob = float(row["probability"])
    return {"item_id": row["item_id"], "priority": round(float(row["priority"]), 6),
            "probability": round(prob, 6), "weight": round(float(row["weight"]), 4),
            "band": band(prob, match, review), "reason": row["reason"], "reason_key": REASON_KEYS.get(row["reason"]),
            "revenue": None if plain(row.get("revenue")) is None else float(row["revenue"]),
            "status": row["status"], "created_at": plain(row["created_at"]),
            "assignee": plain(row.get("assignee")), "decided_by": plain(row.get("decided_by")),
            "decided_at": plain(row.get("decided_at")),
            "explanation": from_json(row["explanation"]) or {}, "left": side("left"), "right": side("right")}


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


QUEUE_FROM = ("mdm.review_queue q LEFT JOIN mdm.review_assignment a ON a.item_id = q.item_id "
              "LEFT JOIN (SELECT item_id, max(decided_by) AS decided_by, max(decided_at) AS decided_at "
              "FROM mdm.decisions WHERE active GROUP BY item_id) d ON d.item_id = q.item_id")
QUEUE_COLUMNS = "q.*, a.assignee, d.decided_by, d.decided_at"


def _utc_day_start(day: dt.date, zone: str) -> dt.datetime:
    """Midnight of `day` in `zone` as the warehouse's naive UTC."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)


def queue_where(cfg: HubConfig, f: QueueFilter) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (over QUEUE_FROM) and its parameters for a filter."""
    f.check()
    mcfg = cfg.mdm.customer
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
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
            gsql, gparams = in_list(f.found, "sg")
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
        cond, params = queue_where(cfg, f)
        total = int(value(conn, f"SELECT count(*) FROM {QUEUE_FROM} WHERE {cond}", params) or 0)
        df = frame(wh, conn, f"SELECT {QUEUE_COLUMNS} FROM {QUEUE_FROM} WHERE {cond} ORDER BY {QUEUE_SORTS[f.sort]} "
                             f"LIMIT {bounded(limit, total)} OFFSET {bounded(offset, total)}", params)
    items = [item_json(r, mcfg.thresholds.match, mcfg.thresholds.review) for r in df.to_dict("records")]
    return {"version": QUEUE_JSON_VERSION, "total": total, "offset": offset, "items": items}


def queue_ids(cfg: HubConfig, wh: Warehouse, source: str | None = None, band_: str | None = None,
              search: str | None = None, status: str = "open", criteria: QueueFilter | None = None) -> list[str]:
    """The item ids of the filtered queue in its order (for next/previous navigation and bulk decisions)."""
    f = _queue_filter(criteria, source, band_, search, status)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        cond, params = queue_where(cfg, f)
        df = frame(wh, conn, f"SELECT q.item_id FROM {QUEUE_FROM} WHERE {cond} ORDER BY {QUEUE_SORTS[f.sort]}",
                   params)
    return df["item_id"].tolist()


def pair_detail(cfg: HubConfig, wh: Warehouse, left: str, right: str) -> dict[str, Any]:
    """Two records side by side with the explanation (per comparison: values, level, weight), the
    queue item if there is one, and the decisions ever taken on the pair."""
    left, right = ordered_pair(left, right)
    mcfg = cfg.mdm.customer
    iid = pair_id(left, right)
    with wh.begin() as conn:
        ready(wh, conn)
        recs = record_rows(wh, conn, [left, right])
        for r in (left, right):
            if r not in recs:
                raise StewardError(f"no customer record {r} in mdm.customer_records")
        gold = golden_of(wh, conn, [left, right])
        q = frame(wh, conn, f"SELECT {QUEUE_COLUMNS} FROM {QUEUE_FROM} WHERE q.item_id = :i", {"i": iid})
        dec = frame(wh, conn, "SELECT * FROM mdm.decisions WHERE item_id = :i ORDER BY decided_at", {"i": iid})
        gl, gr = gold.get(left), gold.get(right)
        apart = kept_apart(cfg, wh, [(gl, gr)], conn).get((gl, gr)) if gl and gr and gl != gr else None
    try:
        table = explain_records(cfg, wh, left, right)
        explanation = plain_rows(table)
        score = {"weight": float(table.attrs["weight"]), "probability": float(table.attrs["probability"]),
                 "band": band(float(table.attrs["probability"]), mcfg.thresholds.match, mcfg.thresholds.review)}
    except LookupError as e:
        explanation, score = [], {"weight": None, "probability": None, "band": None, "error": str(e)}
    item = item_json(q.to_dict("records")[0], mcfg.thresholds.match, mcfg.thresholds.review) if len(q) else None
    return {"version": QUEUE_JSON_VERSION, "item_id": iid, "item": item,
            "left": {**recs[left], "golden_id": gold.get(left)}, "right": {**recs[right], "golden_id": gold.get(right)},
            "explanation": explanation, "score": score, "decisions": plain_rows(dec), "kept_apart": apart}


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
    gsql, gparams = in_list({g for p in pairs for g in p}, "g")
    members = frame(wh, conn, f"SELECT record_id, golden_id, {', '.join(exclusive)} FROM mdm.customer_records "
                              f"WHERE golden_id IN {gsql} ORDER BY record_id", gparams)
    rsql, rparams = in_list(members["record_id"], "r")
    cannot = frame(wh, conn, "SELECT left_record, right_record, decided_by, decided_at, reason FROM mdm.decisions "
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
        out[(a, b)] = {"rules": rules, "decisions": plain_rows(between)}
    return out


def queue_item(cfg: HubConfig, wh: Warehouse, item_id: str) -> dict[str, Any]:
    """A review item with everything a steward needs to decide it (see `pair_detail`)."""
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        q = frame(wh, conn, "SELECT left_record, right_record FROM mdm.review_queue WHERE item_id = :i",
                  {"i": item_id})
    if not len(q):
        raise StewardError(f"no review item {item_id!r}")
    return pair_detail(cfg, wh, q["left_record"].iloc[0], q["right_record"].iloc[0])

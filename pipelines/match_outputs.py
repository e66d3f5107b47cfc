"""Match outputs: what a run writes for the golden customers it resolved, and the counts it returns.

Golden IDs (numbered after the highest ever issued: `next_id_number`) and their history (`mdm.golden_id_history`),
xref (how each record joined its customer), the golden records (survivorship: `golden_sql`), the hierarchy
(branch → head office, member → group) and the review queue (without what the stewards settled). An incremental
run publishes for its affected records (`_publish`), a full run for all of them, set-based (`_publish_all`);
`refresh_golden` rewrites the golden records and links of some golden customers (a run's, a steward's action's).
`MatchResult`: what a run did, counted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import HubConfig
from mdm.classify import FellegiSunter
from mdm.engine import LinkResult
from mdm.golden import assign_codes, assign_ids, first_free_number, survivorship_sql
from mdm.hierarchy import branch_parents, hierarchy_sql
from mdm.stewardship import SHOWN_FIELDS, pair_ids, record_values
from mdm.stewardship import priority as stewardship_priority
from pipelines.match_store import (
    CHUNK,
    PAIRS,
    RECORD_COLUMNS,
    RECORDS,
    MatchStore,
    _q,
    record_id_sql,
)
from pipelines.settled import settled_pairs
from pipelines.stage import to_arrow
from warehouse.changes import GOLDEN_TABLES, bump, bump_golden
from warehouse.contract import GOLDEN_ATTRIBUTES, MDM_TABLES, primary_key
from warehouse.engine import Warehouse, value

log = logging.getLogger("hub.match")

DEFAULT_SURVIVORSHIP: dict[str, list[str]] = {
    "name": ["most_sources", "cleanest", "most_complete", "source_priority", "most_recent"],
    "uscc": ["valid_only", "source_priority", "most_recent"],
    "phone": ["most_recent", "source_priority"],
    "address": ["most_complete", "most_recent"],
}
# What the hierarchy reads of each record.
HIERARCHY_INPUTS = ["record_id", "golden_id", "name", "name_key", "name_region", "city_any", "is_branch", "name_core",
                    "group_key"]
HIERARCHY_KEYS = ("name_key", "name_core", "city_any", "group_key")
"""The columns by which a record's hierarchy links reach other golden customers' (`_hierarchy_targets`)."""
WHOLE_HIERARCHY_SHARE = 0.25
"""Beyond this share of the golden customers whose links may change, an incremental run links every record: the
records those links read are then most of them, and gathering them costs more than linking all (at 10M, 332,017
changed golden customers reach 3.1M of 4.4M, whose slice is 9.7M of 10M records: 56 s against 17 s; 33,280 reach
13%, a slice of 44%: 12 against 22 s)."""


@dataclass
class MatchResult:
    records: int
    golden: int
    merged_ids: int
    new_ids: int
    revived_ids: int = 0
    incremental: bool = False
    changed: int = 0
    review_items: int = 0
    deleted: int = 0
    affected: int = 0
    stats: dict[str, object] = field(default_factory=dict)
    # the record ids an incremental run changed, deleted and clustered again (for the indexes that follow it)
    changed_ids: list[str] = field(default_factory=list)
    deleted_ids: list[str] = field(default_factory=list)
    affected_ids: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def next_id_number(wh: Warehouse, conn: Connection | None = None) -> int:
    ids = wh.read_frame("SELECT max(golden_id) AS g FROM (SELECT golden_id FROM mdm.xref UNION ALL SELECT retired_id "
                        "FROM mdm.golden_id_history UNION ALL SELECT survivor_id FROM mdm.golden_id_history) i",
                        conn=conn)["g"]
    return first_free_number(ids)


def revivable_sql(rid: str = record_id_sql("d"), xref: str = "mdm.xref", history: str = "mdm.golden_id_history",
                  deleted: str = "mdm.xref_deleted", among: str = "") -> str:
    """The rows of deleted records (`mdm.xref_deleted`: record_id, golden_id; those in the relation `among` when
    given) with `revivable`: their ID was retired as `deleted`, never otherwise, and no record holds it
    (`mdm.golden.assign_codes` may revive it)."""
    within = f" AND {rid} IN (SELECT record_id FROM {among})" if among else ""
    return (f"SELECT {rid} AS record_id, d.golden_id, (NOT EXISTS (SELECT 1 FROM {xref} x "
            f"WHERE x.golden_id = d.golden_id) AND EXISTS (SELECT 1 FROM {history} h WHERE h.retired_id = d.golden_id "
            f"AND h.reason = 'deleted') AND NOT EXISTS (SELECT 1 FROM {history} h WHERE h.retired_id = d.golden_id "
            f"AND h.reason <> 'deleted')) AS revivable FROM {deleted} d WHERE d.golden_id IS NOT NULL{within}")


def _keep_deleted(conn: Connection, records: str, now: dt.datetime) -> None:
    """The xref rows of the records in the relation `records` (record_id) kept in `mdm.xref_deleted`, before they
    leave xref (a record deleted again replaces its row)."""
    _forget_deleted(conn, records)
    cols = ", ".join(MDM_TABLES["xref_deleted"][0])
    conn.execute(sa.text(f"INSERT INTO mdm.xref_deleted ({cols}) SELECT source_name, stream, source_key, golden_id, "
                         f":now FROM mdm.xref WHERE {record_id_sql()} IN (SELECT record_id FROM {records})"),
                 {"now": now})


def _forget_deleted(conn: Connection, records: str) -> None:
    """The records of the relation `records` (record_id) out of `mdm.xref_deleted` (they came back)."""
    conn.exec_driver_sql(f"DELETE FROM mdm.xref_deleted WHERE {record_id_sql()} IN (SELECT record_id FROM {records})")


def _counts(conn: Connection, incremental: bool) -> MatchResult:
    records = int(value(conn, f"SELECT count(*) FROM {RECORDS}") or 0)
    golden = int(value(conn, "SELECT count(*) FROM mdm.golden_customer") or 0)
    review = int(value(conn, "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'") or 0)
    return MatchResult(records, golden, 0, 0, incremental=incremental, review_items=review)


def _publish(cfg: HubConfig, wh: Warehouse, conn: Connection, rid: np.ndarray, labels: np.ndarray,
             pairs: pd.DataFrame, model: FellegiSunter, decisions: pd.DataFrame, now: dt.datetime,
             deleted: Sequence[str] = (), previous_golden: Sequence[str] = (),
             old_keys: pd.DataFrame | None = None) -> MatchResult:
    """Golden IDs for the clusters of the affected records `rid`, then every output for them (an incremental
    run; a full run publishes with `_publish_all`). `pairs`: their pairs at review level or above (left/right
    positions into `rid`, prob, the level columns, rejected, ambiguous)."""
    mcfg = cfg.mdm.customer
    store = MatchStore(wh, conn)
    ids = pd.DataFrame({"record_id": rid})
    prev_xref = store.stored(rid.tolist(), ["golden_id"]).dropna(subset=["golden_id"])
    back = pd.DataFrame({"record_id": sorted(set(rid) - set(prev_xref["record_id"]))})  # new, or deleted before
    revive = None
    if len(back):
        with store.relation("_hub_back", back) as b:
            revive = wh.read_frame(revivable_sql(among=b), conn=conn)
            _forget_deleted(conn, b)
        revive = revive[revive["revivable"].astype(bool)]
    assignment = assign_ids(ids.assign(cluster=labels), prev_xref, next_id_number(wh, conn), revive)
    gid = assignment.ids.set_index("record_id")["golden_id"].reindex(rid).to_numpy()
    old_ids = set(prev_xref["golden_id"]) | set(previous_golden)
    retired = sorted(old_ids - set(gid) - set(assignment.history["retired_id"]))
    gone = pd.DataFrame({"retired_id": retired, "survivor_id": None, "reason": "deleted"})
    history = pd.concat([assignment.history, gone], ignore_index=True) if retired else assignment.history
    left, right = pairs["left"].to_numpy(np.int64), pairs["right"].to_numpy(np.int64)
    prob = pairs["prob"].to_numpy(float)
    # xref: how each record joined its cluster: its best match-band edge inside it, or a steward's link.
    inside = (gid[left] == gid[right]) & (prob >= mcfg.thresholds.match)
    best = pd.concat([pd.Series(prob[inside], index=left[inside]), pd.Series(prob[inside], index=right[inside])])
    best = best.groupby(level=0).max()
    score = pd.Series(np.arange(len(rid))).map(best).to_numpy()
    sizes = pd.Series(gid).map(pd.Series(gid).value_counts()).to_numpy()
    steward = np.zeros(len(rid), bool)
    same = decisions[decisions["verdict"] == "same"]
    if len(same):
        lp, rp = same["lp"].to_numpy(np.int64), same["rp"].to_numpy(np.int64)
        joined = gid[lp] == gid[rp]
        steward[lp[joined]] = True
        steward[rp[joined]] = True
    matched_by = np.where(sizes == 1, "singleton", np.where(steward, "steward",
                                                             np.where(pd.isna(score), "rule", "model")))
    source, stream, key = split_ids(rid)
    xref = pd.DataFrame({"source_name": source, "stream": stream, "source_key": key, "golden_id": gid,
                         "match_score": np.where(sizes == 1, 1.0, score), "matched_by": matched_by,
                         "updated_at": now})
    golden_ids = sorted(set(gid))
    # Golden records: survivorship over every record of each golden ID (all of them are in `rid`).
    # The engine's records take their golden IDs first: the hierarchy reads them.
    with store.relation("_hub_assign", pd.DataFrame({"record_id": rid, "golden_id": gid})) as a:
        conn.exec_driver_sql(f"UPDATE {RECORDS} AS r SET golden_id = a.golden_id FROM {a} a "
                             "WHERE r.record_id = a.record_id AND r.golden_id IS DISTINCT FROM a.golden_id")
    review = _review(cfg, wh, conn, rid, gid, pairs, model, now)
    touched = sorted(set(rid) | set(deleted))
    spec = MDM_TABLES
    with store.relation("_hub_deleted", pd.DataFrame({"record_id": sorted(deleted)})) as d:
        if deleted:
            _keep_deleted(conn, d, now)
        conn.exec_driver_sql(f"DELETE FROM mdm.xref WHERE {record_id_sql()} IN (SELECT record_id FROM {d})")
    with store.relation("_hub_touched", pd.DataFrame({"record_id": touched})) as t:
        conn.exec_driver_sql("DELETE FROM mdm.review_queue WHERE status <> 'decided' AND ("
                             f"left_record IN (SELECT record_id FROM {t}) OR right_record IN "
                             f"(SELECT record_id FROM {t}))")
    wh.upsert_frame(conn, "mdm", "xref", to_arrow(xref, spec["xref"][0]), list(spec["xref"][1] or ()),
                    spec["xref"][0], unless_same=_compared(spec["xref"]))  # (only the rows that changed)
    rewritten = refresh_golden(cfg, wh, conn, golden_ids, old_keys, now, gone=sorted(old_ids - set(golden_ids)))
    if len(review):
        kept = set(wh.read_frame("SELECT item_id FROM mdm.review_queue", conn=conn)["item_id"])
        wh.insert_frame(conn, "mdm", "review_queue", to_arrow(review[~review["item_id"].isin(kept)],
                                                              spec["review_queue"][0]))
    revived = set(history.loc[history["reason"] == "revived", "survivor_id"])
    return _history_and_counts(wh, conn, history, now, len(set(gid) - old_ids - revived), incremental=True,
                               changed=sorted(rewritten))  # (old_ids: in golden_ids or gone)


def _history_and_counts(wh: Warehouse, conn: Connection, history: pd.DataFrame, now: dt.datetime, new_ids: int,
                        incremental: bool, changed: Sequence[str] | None = None) -> MatchResult:
    """The run's golden-ID history written, the mdm tables marked changed (an incremental run logs the golden IDs
    it `changed`: `warehouse.changes.bump_golden`), the counts."""
    if len(history):
        hist = history.assign(run_id=now.strftime("%Y%m%dT%H%M%S"), retired_at=now)
        wh.insert_frame(conn, "mdm", "golden_id_history", to_arrow(hist, MDM_TABLES["golden_id_history"][0]))
    others = ("mdm.review_queue", "mdm.golden_id_history", RECORDS, PAIRS)
    if changed is not None:
        bump_golden(wh, conn, changed, *others)
    else:
        bump(conn, *GOLDEN_TABLES, *others)
    counts = _counts(conn, incremental=incremental)
    counts.merged_ids = int((history["reason"] == "merged").sum())
    counts.revived_ids = int((history["reason"] == "revived").sum())
    counts.new_ids = new_ids
    counts.review_items = int(value(conn, "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'") or 0)
    return counts


def _publish_all(cfg: HubConfig, wh: Warehouse, conn: Connection, ids: pa.Array, result: LinkResult,
                 decisions: pd.DataFrame, now: dt.datetime, large: bool) -> MatchResult:
    """Every output of a full run: `ids` the record ids in the engine's order (sorted), `result` their link.
    Golden IDs are assigned on integers (`mdm.golden.assign_codes`), xref and the records' golden IDs are written
    a chunk of Arrow rows at a time, golden records and hierarchy by SQL: no Python object per record, so 10M
    records publish in the memory of a few columns. The result's pairs are taken from it (and freed before the
    golden records, which get DuckDB's whole memory). `large`: each chunk is committed (see `_full`)."""
    with wh.lend_memory(conn, keep="768MB"):  # (Python holds the pairs until the review items are built)
        history, new_ids = _publish_ids(cfg, wh, conn, ids, result, decisions, now, large)
    pa.default_memory_pool().release_unused()
    t0 = time.perf_counter()
    if large:  # survivorship a tenth of the golden IDs at a time (by their last character): linear, not spilled
        wh.replace_table(conn, "mdm", "golden_customer", MDM_TABLES["golden_customer"][0],
                         primary_key(wh, "golden_customer"))
        last, digits = "RIGHT(r.golden_id, 1)", ", ".join(f"'{d}'" for d in range(9))
        for where in [*(f"{last} = '{d}'" for d in range(9)), f"{last} NOT IN ({digits})"]:
            select = f"({golden_sql(cfg, _golden_relation(None, where), wh.dialect.text_order)}) _bucket"
            conn.execute(sa.text(f"INSERT INTO mdm.golden_customer ({', '.join(MDM_TABLES['golden_customer'][0])}) "
                                 f"{_with_time(select, MDM_TABLES['golden_customer'][0])}"), {"now": now})
            wh.commit_and_continue(conn)
        _golden_and_hierarchy(cfg, wh, conn, None, None, golden=False)
        _replace_from(wh, conn, "customer_hierarchy", "_hub_hierarchy", now)
    else:
        _golden_and_hierarchy(cfg, wh, conn, None, None)
        _replace_from(wh, conn, "golden_customer", "_hub_golden", now)
        _replace_from(wh, conn, "customer_hierarchy", "_hub_hierarchy", now)
    log.debug("publishing: golden records and hierarchy in %.1f s", time.perf_counter() - t0)
    return _history_and_counts(wh, conn, history, now, new_ids, incremental=False)


def _replace_from(wh: Warehouse, conn: Connection, name: str, built: str, now: dt.datetime) -> None:
    """All rows of `mdm.<name>` replaced by those of the temporary table `built` (dropped)."""
    wh.replace_table(conn, "mdm", name, MDM_TABLES[name][0], primary_key(wh, name),
                     select=_with_time(built, MDM_TABLES[name][0]), params={"now": now})
    conn.exec_driver_sql(f"DROP TABLE {built}")


def _deleted_since(wh: Warehouse, conn: Connection, gone: pa.Array, now: dt.datetime) -> None:
    """A full run's records deleted since the last (`gone`: in xref, not linked) kept in `mdm.xref_deleted`."""
    if len(gone):
        with wh.dialect.arrow_relation(conn, "_hub_deleted", pa.table({"record_id": gone})) as d:
            _keep_deleted(conn, d, now)


def _revivable_codes(wh: Warehouse, conn: Connection, ids: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """A full run's `back` and `back_ids` for `assign_codes` (the IDs deleted records among `ids` may revive), and
    the records of `mdm.xref_deleted` among `ids` (they came back: `_forget_deleted` once xref holds them)."""
    rows = wh.read_arrow(revivable_sql(), conn=conn)
    back = np.full(len(ids), -1, np.int64)
    if not rows.num_rows:  # (whose columns may then have no type)
        return back, pa.array([], pa.string()), pa.array([], pa.string())
    rows = rows.cast(pa.schema({"record_id": pa.string(), "golden_id": pa.string(), "revivable": pa.bool_()}))
    at = pc.index_in(rows["record_id"], value_set=ids).to_numpy(zero_copy_only=False).astype(float)
    found = ~np.isnan(at)
    ok = found & rows["revivable"].to_numpy(zero_copy_only=False).astype(bool)
    back_ids = pc.unique(rows["golden_id"].filter(pa.array(ok))).sort()
    back[at[ok].astype(np.int64)] = pc.index_in(rows["golden_id"].filter(pa.array(ok)), value_set=back_ids) \
        .to_numpy(zero_copy_only=False).astype(np.int64)
    return back, back_ids, rows["record_id"].filter(pa.array(found))


def _publish_ids(cfg: HubConfig, wh: Warehouse, conn: Connection, ids: pa.Array, result: LinkResult,
                 decisions: pd.DataFrame, now: dt.datetime, large: bool) -> tuple[pd.DataFrame, int]:
    """`_publish_all`'s golden IDs, xref, the records' golden IDs and review queue; returns the ID history and
    the number of new IDs. Takes the pairs out of `result`."""
    mcfg = cfg.mdm.customer
    spec = MDM_TABLES
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    n = len(ids)
    labels = np.asarray(result.labels, np.int64)
    pairs, model = result.pairs, result.model
    result.pairs = pairs.iloc[:0]
    kept = pairs["prob"].to_numpy() >= mcfg.thresholds.review  # (no other pair is an output)
    if not kept.all():  # (in steps, only those were kept: no copy)
        pairs = pairs[kept]
    del kept
    old = wh.read_arrow(f"SELECT {record_id_sql()} AS record_id, golden_id FROM mdm.xref "
                        "WHERE golden_id IS NOT NULL", conn=conn)
    prev_ids = pc.unique(old["golden_id"]).sort() if old.num_rows else pa.array([], pa.string())
    prev = np.full(n, -1, np.int64)
    if old.num_rows:
        at = pc.index_in(old["record_id"], value_set=ids).to_numpy(zero_copy_only=False)
        code = pc.index_in(old["golden_id"], value_set=prev_ids).to_numpy(zero_copy_only=False)
        found = ~np.isnan(at.astype(float))
        prev[at[found].astype(np.int64)] = code[found].astype(np.int64)
        _deleted_since(wh, conn, old["record_id"].filter(pa.array(~found)), now)
    del old
    back, back_ids, returned = _revivable_codes(wh, conn, ids)
    t0 = time.perf_counter()
    per_cluster, history = assign_codes(labels, np.arange(n, dtype=np.int64), prev, prev_ids,
                                        next_id_number(wh, conn), back, back_ids)
    del prev, back
    kept = pc.is_in(prev_ids, value_set=per_cluster).to_numpy(zero_copy_only=False)
    retired = prev_ids.filter(pa.array(~kept & ~np.isin(prev_ids.to_numpy(zero_copy_only=False),
                                                         history["retired_id"].dropna().to_numpy())))
    if len(retired):
        history = pd.concat([history, pd.DataFrame({"retired_id": retired.to_numpy(zero_copy_only=False),
                                                    "survivor_id": None, "reason": "deleted"})], ignore_index=True)
    new_ids = int(len(per_cluster) - pc.sum(pc.is_in(per_cluster, value_set=prev_ids)).as_py()) \
        if len(prev_ids) else len(per_cluster)
    new_ids -= int((history["reason"] == "revived").sum())
    # xref: how each record joined its cluster: its best match-band edge inside it, or a steward's link.
    left, right = pairs["left"].to_numpy(np.int64), pairs["right"].to_numpy(np.int64)
    prob = pairs["prob"].to_numpy(float)
    inside = (labels[left] == labels[right]) & (prob >= mcfg.thresholds.match)
    best = pd.concat([pd.Series(prob[inside], index=left[inside]), pd.Series(prob[inside], index=right[inside])])
    best = best.groupby(level=0).max()
    score = np.full(n, np.nan)
    score[best.index.to_numpy(np.int64)] = best.to_numpy(float)
    alone = np.bincount(labels, minlength=len(per_cluster))[labels] == 1
    steward = np.zeros(n, bool)
    same = decisions[decisions["verdict"] == "same"]
    if len(same):
        lp, rp = same["lp"].to_numpy(np.int64), same["rp"].to_numpy(np.int64)
        joined = labels[lp] == labels[rp]
        steward[lp[joined]] = steward[rp[joined]] = True
    how = np.where(alone, 0, np.where(steward, 1, np.where(np.isnan(score), 2, 3))).astype(np.int8)
    how_names = pa.array(["singleton", "steward", "rule", "model"])
    score[alone] = 1.0
    del steward, best
    log.debug("publishing: golden IDs of %s clusters assigned in %.1f s", f"{len(per_cluster):,}",
              time.perf_counter() - t0)
    t0, t_update = time.perf_counter(), 0.0
    wh.replace_table(conn, "mdm", "xref", spec["xref"][0], primary_key(wh, "xref"))
    stamp = pa.scalar(now, pa.timestamp("us"))
    for lo in range(0, n, CHUNK * 5):
        hi = min(n, lo + CHUNK * 5)
        rid = ids.slice(lo, hi - lo)
        parts = pc.split_pattern(rid, ":", max_splits=2)
        chunk = pa.table({
            **{c: pc.list_element(parts, i) for i, c in enumerate(["source_name", "stream", "source_key"])},
            "golden_id": per_cluster.take(pa.array(labels[lo:hi])),
            # a record joined by the rules alone has no score: NULL (as the incremental path writes it), not NaN
            "match_score": pa.array(score[lo:hi], from_pandas=True),
            "matched_by": how_names.take(pa.array(how[lo:hi])),
            "updated_at": pa.array(np.full(hi - lo, stamp.value, np.int64)).cast(pa.timestamp("us"))})
        wh.insert_frame(conn, "mdm", "xref", chunk)
        t1 = time.perf_counter()
        with wh.dialect.arrow_relation(conn, "_hub_assign", pa.table({"record_id": rid,
                                                                      "golden_id": chunk["golden_id"]})) as a:
            conn.exec_driver_sql(f"UPDATE {RECORDS} AS r SET golden_id = a.golden_id FROM {a} a "
                                 "WHERE r.record_id = a.record_id")
        if large:
            wh.commit_and_continue(conn)
        t_update += time.perf_counter() - t1
    del score, how
    if len(returned):
        with wh.dialect.arrow_relation(conn, "_hub_back", pa.table({"record_id": returned})) as b:
            _forget_deleted(conn, b)
    log.debug("publishing: xref and the records' golden IDs written in %.1f s (the records' update %.1f s)",
              time.perf_counter() - t0, t_update)
    t0 = time.perf_counter()
    # Review items: the pairs across clusters, on the records they and their clusters hold (a small part).
    across = labels[left] != labels[right]
    want = across & ((prob >= mcfg.thresholds.review) | pairs["ambiguous"].to_numpy(bool)
                     | pairs["rejected"].to_numpy(bool))
    involved = np.unique(np.concatenate([left[want], right[want]]))
    local = np.flatnonzero(np.isin(labels, labels[involved]))  # (their clusters' records: the revenue)
    sel = pairs[want].assign(left=np.searchsorted(local, left[want]), right=np.searchsorted(local, right[want]))
    review = _review(cfg, wh, conn, ids.take(pa.array(local)).to_numpy(zero_copy_only=False),
                     per_cluster.take(pa.array(labels[local])).to_numpy(zero_copy_only=False), sel, model, now)
    decided = wh.read_frame("SELECT * FROM mdm.review_queue WHERE status = 'decided'", conn=conn)
    if len(decided):  # (decided queue items are the stewards' record: they stay)
        review = pd.concat([decided, review[~review["item_id"].isin(set(decided["item_id"]))]], ignore_index=True)
    wh.replace_table(conn, "mdm", "review_queue", spec["review_queue"][0], primary_key(wh, "review_queue"),
                     to_arrow(review, spec["review_queue"][0]))
    log.debug("publishing: %s review items in %.1f s", f"{len(review):,}", time.perf_counter() - t0)
    return history, new_ids


def _golden_relation(golden_ids: str | None, condition: str | None = None) -> str:
    """The records survivorship reads (of the golden IDs in table `golden_ids`, or all; those meeting the SQL
    `condition` on `r`)."""
    where = f" WHERE r.golden_id IN (SELECT golden_id FROM {golden_ids})" if golden_ids else ""
    where = (f"{where} AND {condition}" if where else f" WHERE {condition}") if condition else where
    return ("(SELECT r.golden_id, r.record_id, r.source_name, r.updated_at, r.created_at, r.is_branch, r.province, "
            "r.city_any, COALESCE(r.uscc_std, r.uscc) AS uscc, COALESCE(r.uscc_valid, FALSE) AS uscc_is_valid, "
            f"{GOLDEN_PHONE_SQL} AS phone, "
            + ", ".join(f"r.{_q(a)}" for a in GOLDEN_ATTRIBUTES if a not in ("uscc", "phone"))
            + f" FROM {RECORDS} r{where})")


# The golden phone in its standardized form (+86-21-51803117, +8613628510947; an extension as ` 转123`), as typed
# when it has none (not a phone number); the record named in phone_source keeps the value as typed.
GOLDEN_PHONE_SQL = "COALESCE(r.phone_std || COALESCE(' 转' || r.phone_ext, ''), r.phone)"


def golden_sql(cfg: HubConfig, relation: str, text_order: Callable[[str], str]) -> str:
    """One row per golden customer of `relation` (see `_golden_relation`): survived attributes, where each came
    from, the province and city of its first record, and counts; set-based, in the warehouse."""
    mcfg = cfg.mdm.customer
    rules = {**DEFAULT_SURVIVORSHIP, **{k: [v] if isinstance(v, str) else list(v)
                                        for k, v in mcfg.survivorship.items()}}
    survived = survivorship_sql(relation, GOLDEN_ATTRIBUTES, rules, mcfg.source_priority or list(cfg.sources),
                                valid={"uscc": "uscc_is_valid"}, first={"province": "province", "city": "city_any"},
                                text_order=text_order)
    return (f"SELECT s.*, a.source_count, a.system_count, a.first_seen, a.last_seen, a.is_branch FROM ({survived}) s "
            "JOIN (SELECT golden_id, COUNT(*) AS source_count, COUNT(DISTINCT source_name) AS system_count, "
            "MIN(created_at) AS first_seen, MAX(updated_at) AS last_seen, "
            f"BOOL_OR(COALESCE(is_branch, FALSE)) AS is_branch FROM {relation} a GROUP BY golden_id) a "
            "ON a.golden_id = s.golden_id")


def _with_time(table: str, columns: dict[str, str]) -> str:
    """SELECT of a built table's rows in a contract table's column order, `updated_at` from :now."""
    select = ", ".join(":now AS updated_at" if c == "updated_at" else _q(c) for c in columns)
    return f"SELECT {select} FROM {table}"


def _golden_and_hierarchy(cfg: HubConfig, wh: Warehouse, conn: Connection, golden_ids: list[str] | None,
                          old_keys: pd.DataFrame | None, golden: bool = True,
                          whole_share: float = WHOLE_HIERARCHY_SHARE) -> list[str]:
    """Build `_hub_golden` (the golden records of `golden_ids`, or all; with all, not when `golden` is false) and
    `_hub_hierarchy` (branch → head and member → group links) as temporary tables. With `golden_ids`, the links are
    those of the golden customers whose links may have changed (`_hierarchy_targets`), computed from the records
    they read (`_hierarchy_slice`), or from every record when the targets are more than `whole_share` of the golden
    customers; `old_keys`: the `HIERARCHY_KEYS` the changed and deleted records carried before. Returns the golden
    IDs the links were computed for (none for all)."""
    order = wh.dialect.text_order
    store = MatchStore(wh, conn)
    cols = ", ".join(f"r.{c}" for c in HIERARCHY_INPUTS)
    for t in ("_hub_golden", "_hub_hierarchy", "_hub_slice", "_hub_targets"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    if golden_ids is None:
        if golden:
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_golden AS "
                                 f"{golden_sql(cfg, _golden_relation(None), order)}")
        _hierarchy_table(wh, conn, f"(SELECT {cols} FROM {RECORDS} r)")
        return []
    with store.relation("_hub_gids", pd.DataFrame({"golden_id": golden_ids})) as g:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_golden AS {golden_sql(cfg, _golden_relation(g), order)}")
        before = (old_keys if old_keys is not None else pd.DataFrame(columns=list(HIERARCHY_KEYS)))[
            list(HIERARCHY_KEYS)].drop_duplicates()
        with store.relation("_hub_old_keys", before.astype(object).where(before.notna(), None)) as k:
            _hierarchy_targets(conn, g, k)
    targets = int(value(conn, "SELECT count(*) FROM _hub_targets") or 0)
    if targets > whole_share * int(value(conn, "SELECT count(*) FROM mdm.golden_customer") or 0):
        _hierarchy_table(wh, conn, f"(SELECT {cols} FROM {RECORDS} r)")  # (most links may change: link them all)
    else:
        _hierarchy_slice(conn, cols)
        _hierarchy_table(wh, conn, "_hub_slice")
        conn.exec_driver_sql("DROP TABLE _hub_slice")
    # (the slice's other golden customers are there for what the targets' links read: their links are not these)
    conn.exec_driver_sql("DELETE FROM _hub_hierarchy WHERE child_golden_id NOT IN (SELECT golden_id FROM _hub_targets)")
    ids = [r[0] for r in conn.exec_driver_sql("SELECT golden_id FROM _hub_targets").fetchall()]
    conn.exec_driver_sql("DROP TABLE _hub_targets")
    return ids


def _hierarchy_table(wh: Warehouse, conn: Connection, relation: str) -> None:
    """`_hub_hierarchy`: the links (`hierarchy_sql`) of the records of `relation`. PostgreSQL's plans of that SQL go
    quadratic (35–98 s for a 1M warehouse's slice, 3 minutes for its whole records): there, the records are read
    and linked by an in-process DuckDB (`branch_parents`, the same SQL; seconds) and the links written back."""
    if wh.dialect.name != "postgresql":
        sql = hierarchy_sql(relation, wh.dialect.text_order)
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_hierarchy AS {sql}")
        return
    links = branch_parents(wh.read_frame(f"SELECT * FROM {relation} _hub_r", conn=conn, arrow_strings=True))
    conn.exec_driver_sql("CREATE TEMPORARY TABLE _hub_hierarchy (child_golden_id TEXT, parent_golden_id TEXT, "
                         "relation TEXT, evidence TEXT)")
    wh.insert_frame(conn, "pg_temp", "_hub_hierarchy", pa.Table.from_pandas(
        links.astype(object).where(links.notna(), None), preserve_index=False))


def _hierarchy_targets(conn: Connection, gids: str, old_keys: str) -> None:
    """`_hub_targets`: the golden customers whose hierarchy links may differ after a change of the golden customers
    `gids` (whose records changed, moved or were deleted; `old_keys`: the `HIERARCHY_KEYS` their changed and
    deleted records carried before): those, the golden customers with a record of a name key they carry or carried
    (a branch's head office is found by name key), those with a group or member record of a brand and city they
    carry or carried (a member's group), and the children of their links."""
    grouped = "group_key IN ('group', 'member')"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE _hub_targets AS WITH keys AS ("
        f"SELECT name_key, name_core, city_any, group_key FROM {RECORDS} WHERE golden_id IN (SELECT golden_id FROM "
        f"{gids}) UNION SELECT name_key, name_core, city_any, group_key FROM {old_keys}) "
        f"SELECT golden_id FROM {gids} "
        f"UNION SELECT golden_id FROM {RECORDS} WHERE name_key IN (SELECT name_key FROM keys) "
        f"UNION SELECT r.golden_id FROM {RECORDS} r JOIN (SELECT DISTINCT name_core, city_any FROM keys WHERE "
        f"{grouped}) p ON r.name_core = p.name_core AND r.city_any = p.city_any WHERE r.{grouped} "
        f"UNION SELECT child_golden_id FROM mdm.customer_hierarchy WHERE parent_golden_id IN "
        f"(SELECT golden_id FROM {gids})")


def _hierarchy_slice(conn: Connection, cols: str) -> None:
    """`_hub_slice`: every record the link of a golden customer of `_hub_targets` reads: the targets' own, those of
    their name keys, the group records of their members' brand and city."""
    # (the targets' records are read once: they are part of the slice and give the keys of the rest)
    conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_theirs")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_theirs AS SELECT {cols} FROM {RECORDS} r "
                         "WHERE r.golden_id IN (SELECT golden_id FROM _hub_targets)")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE _hub_slice AS "
        f"SELECT * FROM _hub_theirs "
        f"UNION SELECT {cols} FROM {RECORDS} r WHERE r.name_key IN (SELECT name_key FROM _hub_theirs) "
        f"UNION SELECT {cols} FROM {RECORDS} r JOIN (SELECT DISTINCT name_core, city_any FROM _hub_theirs "
        f"WHERE group_key = 'member') p ON r.name_core = p.name_core AND r.city_any = p.city_any "
        f"WHERE r.group_key = 'group'")
    conn.exec_driver_sql("DROP TABLE _hub_theirs")


def _review(cfg: HubConfig, wh: Warehouse, conn: Connection, rid: np.ndarray, gid: np.ndarray, pairs: pd.DataFrame,
            model: FellegiSunter, now: dt.datetime) -> pd.DataFrame:
    """The review items among the pairs of `rid`, without what the stewards settled (`pipelines.settled`)."""
    mcfg = cfg.mdm.customer
    left, right = pairs["left"].to_numpy(np.int64), pairs["right"].to_numpy(np.int64)
    prob = pairs["prob"].to_numpy(float)
    apart = gid[left] != gid[right]
    want = apart & ((prob >= mcfg.thresholds.review) | pairs["ambiguous"].to_numpy(bool)
                    | pairs["rejected"].to_numpy(bool))
    sel = pairs[want]
    if not len(sel):
        return pd.DataFrame(columns=list(MDM_TABLES["review_queue"][0]))
    store = MatchStore(wh, conn)
    l_id, r_id = rid[sel["left"].to_numpy(np.int64)], rid[sel["right"].to_numpy(np.int64)]
    ids = pd.Series(pair_ids(l_id, r_id))
    keep = ~settled_pairs(wh, conn, l_id, r_id, gid[sel["left"].to_numpy(np.int64)],
                          gid[sel["right"].to_numpy(np.int64)])  # decided pairs, and what decisions settled
    sel, l_id, r_id, ids = sel[keep], l_id[keep], r_id[keep], ids[keep]
    if not len(sel):
        return pd.DataFrame(columns=list(MDM_TABLES["review_queue"][0]))
    # (only the fields the review shows: a lookup by id scans every column it reads of the records, at 1M 0.3 s
    # for all of them, 0.17 s for these)
    values = store.stored(pd.unique(np.concatenate([l_id, r_id])).tolist(),
                          [c for c in SHOWN_FIELDS if c in RECORD_COLUMNS])
    texts = pd.Series(record_values(values), index=values["record_id"].to_numpy(), dtype=object)  # (once a record)
    del values
    lg, rg = gid[sel["left"].to_numpy(np.int64)], gid[sel["right"].to_numpy(np.int64)]
    revenue = _revenue(wh, conn, sorted(set(lg) | set(rg)), rid, gid)
    reason = np.where(sel["rejected"], "kept apart by a hard rule",
                      np.where(sel["ambiguous"], "short record matching several customers",
                               np.where(sel["prob"] >= mcfg.thresholds.match, "match-band pair in different clusters",
                                        "score in the review band")))
    names = [s.level_names() for s in model.specs]
    lv = sel[[s.name for s in model.specs]].to_numpy()
    patterns, which = np.unique(lv, axis=0, return_inverse=True)  # (a few hundred level patterns: one text each)
    explanation = np.array([json.dumps({s.name: names[j][int(x)] if x >= 0 else "missing" for j, (s, x) in
                                        enumerate(zip(model.specs, row, strict=True))}, ensure_ascii=False)
                            for row in patterns], dtype=object)[np.asarray(which).ravel()]
    pair_revenue = np.maximum(pd.Series(lg).map(revenue).fillna(0.0).to_numpy(float),
                              pd.Series(rg).map(revenue).fillna(0.0).to_numpy(float))
    return pd.DataFrame({
        "item_id": ids.to_numpy(), "left_record": l_id, "right_record": r_id,
        "left_golden_id": lg, "right_golden_id": rg,
        "probability": sel["prob"].to_numpy(), "weight": sel["weight"].to_numpy(),
        "reason": reason, "explanation": explanation,
        "priority": stewardship_priority(sel["prob"].to_numpy(), pair_revenue),
        "status": "open", "created_at": now,
        "left_values": texts.reindex(l_id).fillna("{}").to_numpy(),
        "right_values": texts.reindex(r_id).fillna("{}").to_numpy(),
        "revenue": pair_revenue,
    })


def _revenue(wh: Warehouse, conn: Connection, golden_ids: Sequence[str], rid: np.ndarray, gid: np.ndarray
             ) -> pd.Series:
    """Order revenue per golden customer (of `golden_ids`), through the records' current golden IDs."""
    store = MatchStore(wh, conn)
    owner = pd.Series(gid, index=rid)
    members = owner[owner.isin(set(golden_ids))]
    if not len(members):
        return pd.Series(dtype=float)
    with store.relation("_hub_rev", pd.DataFrame({"record_id": members.index.to_numpy()})) as r:
        orders = store.frame("SELECT source_name || ':' || customer_stream || ':' || customer_key AS record_id, "
                             "SUM(amount) AS amount FROM staging.sales_order WHERE customer_stream IS NOT NULL "
                             "AND source_name || ':' || customer_stream || ':' || customer_key IN "
                             f"(SELECT record_id FROM {r}) GROUP BY 1")
    amount = pd.to_numeric(orders["amount"], errors="coerce").astype(float)
    per_record = pd.Series(amount.to_numpy(), index=orders["record_id"].to_numpy())
    return per_record.groupby(members.reindex(per_record.index).to_numpy()).sum().astype(float)


def refresh_golden(cfg: HubConfig, wh: Warehouse, conn: Connection, golden_ids: Sequence[str],
                   old_keys: pd.DataFrame | None, now: dt.datetime, gone: Sequence[str] = ()) -> set[str]:
    """Rewrite the golden records and hierarchy links of `golden_ids` from their records as they are now (a run's
    affected customers, a steward's action): golden IDs left without records, and those in `gone`, are
    removed; `old_keys`: the `HIERARCHY_KEYS` the changed and deleted records carried before (the links they reached
    are redone; only the links that differ are written). Returns `golden_ids`, `gone` and the children whose
    hierarchy link changed."""
    spec = MDM_TABLES
    store = MatchStore(wh, conn)
    slice_ids = _golden_and_hierarchy(cfg, wh, conn, sorted(set(golden_ids)), old_keys)
    with store.relation("_hub_gids", pd.DataFrame({"golden_id": sorted(set(golden_ids) | set(gone))})) as g, \
            store.relation("_hub_children", pd.DataFrame({"golden_id": sorted(set(golden_ids) | set(gone)
                                                                              | set(slice_ids))})) as c:
        conn.exec_driver_sql(f"DELETE FROM mdm.golden_customer WHERE golden_id IN (SELECT golden_id FROM {g}) "
                             "AND golden_id NOT IN (SELECT golden_id FROM _hub_golden)")
        # the links of these children computed again: only those that differ are written (and reported)
        link = ", ".join([*_compared(spec["customer_hierarchy"]), "child_golden_id"])
        old = f"SELECT {link} FROM mdm.customer_hierarchy WHERE child_golden_id IN (SELECT golden_id FROM {c})"
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_relinked")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_relinked AS SELECT DISTINCT child_golden_id FROM ("
                             f"SELECT * FROM ({old}) o EXCEPT SELECT {link} FROM _hub_hierarchy) gone_or_changed "
                             f"UNION SELECT child_golden_id FROM (SELECT {link} FROM _hub_hierarchy "
                             f"EXCEPT SELECT * FROM ({old}) o) new_or_changed")
    relinked = {r[0] for r in conn.exec_driver_sql("SELECT child_golden_id FROM _hub_relinked").fetchall()}
    conn.exec_driver_sql("DELETE FROM mdm.customer_hierarchy WHERE child_golden_id IN "
                         "(SELECT child_golden_id FROM _hub_relinked)")
    wh.upsert_from(conn, "mdm", "golden_customer", _with_time("_hub_golden", spec["golden_customer"][0]),
                   list(spec["golden_customer"][0]), spec["golden_customer"][1], {"now": now},
                   unless_same=_compared(spec["golden_customer"]))
    conn.execute(sa.text(f"INSERT INTO mdm.customer_hierarchy ({', '.join(spec['customer_hierarchy'][0])}) "
                         f"{_with_time('_hub_hierarchy', spec['customer_hierarchy'][0])} "
                         "WHERE child_golden_id IN (SELECT child_golden_id FROM _hub_relinked)"), {"now": now})
    for t in ("_hub_golden", "_hub_hierarchy", "_hub_relinked"):
        conn.exec_driver_sql(f"DROP TABLE {t}")
    return set(golden_ids) | set(gone) | relinked


def _compared(table: tuple[dict[str, str], list[str] | None]) -> list[str]:
    """The columns of an mdm table that say whether a row changed: all but its key and when it was written (a row
    recomputed to the same values is not written again, and keeps the time it last changed)."""
    columns, key = table
    return [c for c in columns if c not in (key or ()) and c != "updated_at"]


def split_ids(rid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Record ids `SOURCE:STREAM:KEY` split into their parts (the key may hold colons), by Arrow."""
    parts = pc.split_pattern(pa.array(rid, pa.string()), ":", max_splits=2)
    source, stream, key = (pc.list_element(parts, i).to_numpy(zero_copy_only=False) for i in range(3))
    return source, stream, key


__all__ = [
    "DEFAULT_SURVIVORSHIP",
    "MatchResult",
    "next_id_number",
    "refresh_golden",
]

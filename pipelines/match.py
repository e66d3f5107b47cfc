"""Match: resolve staged customers into golden customers, incrementally when it can.

Reads `staging.customer`, standardizes, links with the matching engine and writes, in one
transaction: `mdm.xref`, `mdm.golden_customer`, `mdm.golden_id_history`,
`mdm.customer_hierarchy`, `mdm.review_queue`, and the engine's memory for the next run
(`mdm.customer_records`: standardized records and their content hash; `mdm.match_pairs`: every
scored candidate pair; `mdm.match_model`: the fitted model).

A run is incremental when a model and the previous run's records exist and the configuration
of the engine did not change: only new and changed records are standardized, blocked and
compared (against everything); earlier pairs between unchanged records are reused. A full
rebuild (`rebuild=True`, or no earlier state) retrains the model unless `retrain=False`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from hub.config import CustomerMdmConfig, HubConfig
from hub.entities import ENTITIES
from mdm.classify import FellegiSunter
from mdm.engine import LinkResult, LinkSettings, link
from mdm.golden import assign_ids, id_number, survive
from mdm.hierarchy import branch_parents
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
    flag,
    specs_from_config,
)
from mdm.standardize import standardize_customers
from mdm.stewardship import pair_ids, record_values, revenue_by_golden
from mdm.stewardship import priority as stewardship_priority
from pipelines.stage import ensure_staging, to_arrow
from warehouse.contract import GOLDEN_ATTRIBUTES, MDM_TABLES, STD_COLUMNS, ensure_mdm
from warehouse.engine import Warehouse

log = logging.getLogger("hub.match")

ENTITY_FIELDS = ENTITIES["customer"].field_names
DEFAULT_SURVIVORSHIP: dict[str, list[str]] = {
    "name": ["most_complete", "source_priority", "most_recent"],
    "uscc": ["valid_only", "source_priority", "most_recent"],
    "phone": ["most_recent", "source_priority"],
    "address": ["most_complete", "most_recent"],
}


@dataclass
class MatchResult:
    records: int
    golden: int
    merged_ids: int
    new_ids: int
    incremental: bool = False
    changed: int = 0
    review_items: int = 0
    stats: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def record_ids(df: pd.DataFrame) -> pd.Series:
    return df["source_name"] + ":" + df["stream"] + ":" + df["source_key"].astype(str)


def load_customers(wh: Warehouse) -> pd.DataFrame:
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
    df = wh.read_frame("SELECT * FROM staging.customer ORDER BY source_name, stream, source_key")
    df["record_id"] = record_ids(df)
    return df


def content_hash(df: pd.DataFrame) -> pd.Series:
    """A hash of each record's canonical fields: equal hash, unchanged record."""
    cols = [c for c in ENTITY_FIELDS if c in df]
    return pd.util.hash_pandas_object(df[cols].astype(str), index=False).astype("int64").astype(str)


def settings_of(mcfg: CustomerMdmConfig) -> LinkSettings:
    blocking, comparisons = specs_from_config(mcfg.blocking, mcfg.comparisons)
    blocking = blocking or CUSTOMER_BLOCKING
    comparisons = comparisons or CUSTOMER_COMPARISONS
    return LinkSettings(blocking, comparisons, mcfg.thresholds.match, mcfg.thresholds.review,
                        CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS, u_pairs=mcfg.u_pairs, workers=mcfg.workers,
                        feedback_strength=mcfg.feedback.strength)


def fingerprint(settings: LinkSettings) -> str:
    """What must not change for earlier pairs to stay valid: blocking and comparisons."""
    text = repr((settings.blocking, settings.comparisons, settings.exclusive, settings.anchors))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def next_id_number(wh: Warehouse) -> int:
    ids = wh.read_frame("SELECT golden_id AS g FROM mdm.xref UNION SELECT retired_id FROM mdm.golden_id_history "
                        "UNION SELECT survivor_id FROM mdm.golden_id_history")
    ids = ids["g"].dropna()
    return int(id_number(ids).max()) + 1 if len(ids) else 1


def _read_table(wh: Warehouse, table: str) -> pd.DataFrame:
    """An engine-memory table of `mdm`, empty when an earlier run never wrote it."""
    with wh.begin() as conn:
        if not wh.table_exists(conn, "mdm", table):
            return pd.DataFrame()
        return wh.read_frame(f"SELECT * FROM mdm.{table}", conn=conn)


def _active_model(wh: Warehouse, fp: str) -> FellegiSunter | None:
    rows = wh.read_frame("SELECT model FROM mdm.match_model WHERE active AND spec_fingerprint = :f", {"f": fp})
    return FellegiSunter.from_json(rows["model"].iloc[0]) if len(rows) else None


def _decisions(wh: Warehouse, pos: pd.Series) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Steward decisions in force, as must-link and cannot-link position pairs."""
    d = wh.read_frame("SELECT left_record, right_record, verdict FROM mdm.decisions WHERE active")
    d = d[d["left_record"].isin(pos.index) & d["right_record"].isin(pos.index)]
    lp, rp = pos.reindex(d["left_record"]).to_numpy(), pos.reindex(d["right_record"]).to_numpy()
    same = (d["verdict"] == "same").to_numpy()
    return (lp[same], rp[same]), (lp[~same], rp[~same])


def _labelled(wh: Warehouse, pos: pd.Series, mcfg: CustomerMdmConfig) -> tuple[np.ndarray, np.ndarray,
                                                                                np.ndarray] | None:
    """Pairs stewards decided in the review queue, as training labels, when there are enough."""
    if not mcfg.feedback.enabled:
        return None
    d = wh.read_frame("SELECT left_record, right_record, verdict FROM mdm.decisions "
                      "WHERE active AND (origin IS NULL OR origin = 'review')")
    d = d[d["left_record"].isin(pos.index) & d["right_record"].isin(pos.index)]
    if len(d) < mcfg.feedback.min_labels:
        return None
    return (pos.reindex(d["left_record"]).to_numpy(), pos.reindex(d["right_record"]).to_numpy(),
            (d["verdict"] == "same").to_numpy())


def _standardize(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return pd.DataFrame(columns=[*df.columns, *STD_COLUMNS])
    return derive_customer_columns(standardize_customers(df))


def run_match(cfg: HubConfig, wh: Warehouse, progress: Callable[[str], None] | None = None,
              rebuild: bool = False, retrain: bool = True) -> MatchResult:
    """Match all staged customers; see the module docstring."""
    progress = progress or log.info
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    mcfg = cfg.mdm.customer
    settings = settings_of(mcfg)
    fp = fingerprint(settings)
    df = load_customers(wh)
    df["record_hash"] = content_hash(df)
    prev = _read_table(wh, "customer_records")
    model = _active_model(wh, fp)
    incremental = not rebuild and model is not None and len(prev) > 0
    # Standardize only what changed when earlier standardized records can be reused.
    if incremental:
        known = df[["record_id", "record_hash"]].merge(prev[["record_id", "record_hash"]], how="left",
                                                       on="record_id", suffixes=("", "_prev"))
        is_changed = (known["record_hash"] != known["record_hash_prev"]).to_numpy()
        reuse = prev.set_index("record_id")[STD_COLUMNS].reindex(df.loc[~is_changed, "record_id"]).reset_index(
            drop=True)
        parts = [pd.concat([df[~is_changed].reset_index(drop=True), reuse], axis=1)]
        if is_changed.any():
            parts.append(_standardize(df[is_changed]).reset_index(drop=True))
        std = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        std = std.set_index("record_id").loc[df["record_id"]].reset_index()
        changed = np.flatnonzero(is_changed)
    else:
        std = _standardize(df)
        changed = None
        if retrain:
            model = None  # a full rebuild fits a new model unless told to keep the current one
    timings["standardize"] = time.perf_counter() - t0
    pos = pd.Series(np.arange(len(std)), index=std["record_id"])
    must, cannot = _decisions(wh, pos)
    previous = None
    if incremental:
        pairs = _read_table(wh, "match_pairs")
        pairs = pairs[pairs["left_record"].isin(pos.index) & pairs["right_record"].isin(pos.index)]
        previous = pairs.assign(left=pos.reindex(pairs["left_record"]).to_numpy(),
                                right=pos.reindex(pairs["right_record"]).to_numpy()).drop(
            columns=["left_record", "right_record"])
        lo, hi = np.minimum(previous["left"], previous["right"]), np.maximum(previous["left"], previous["right"])
        previous = previous.assign(left=lo, right=hi)
    progress(f"linking {len(std):,} customer records" + (f" ({len(changed):,} new or changed)" if incremental else ""))
    labelled = _labelled(wh, pos, mcfg) if model is None else None
    result = link(std, settings, model=model, must=must, cannot=cannot, previous=previous, changed=changed,
                  labelled=labelled)
    timings.update(result.timings)
    t1 = time.perf_counter()
    out = _persist(cfg, wh, std, result, fp, new_model=not incremental and model is None)
    timings["golden_and_write"] = time.perf_counter() - t1
    out.incremental = incremental
    out.changed = len(changed) if changed is not None else len(std)
    out.stats = {**result.stats, "feedback": result.model.info.get("feedback")}
    out.timings = timings
    progress(f"matched {out.records:,} customer records into {out.golden:,} golden customers"
             f" ({out.review_items:,} pairs for review)")
    return out


def _persist(cfg: HubConfig, wh: Warehouse, std: pd.DataFrame, result: LinkResult, fp: str,
             new_model: bool) -> MatchResult:
    mcfg = cfg.mdm.customer
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rid = std["record_id"].to_numpy()
    prev_xref = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    prev_xref["record_id"] = record_ids(prev_xref) if len(prev_xref) else pd.Series(dtype=str)
    clusters = pd.DataFrame({"record_id": rid, "cluster": result.labels})
    assignment = assign_ids(clusters, prev_xref[["record_id", "golden_id"]], next_id_number(wh))
    gid = assignment.ids.set_index("record_id")["golden_id"].reindex(rid).to_numpy()
    std = std.assign(golden_id=gid)
    pairs = result.pairs
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    # xref: how each record joined its cluster: its best match-band edge inside the cluster.
    inside = (gid[left] == gid[right]) & (pairs["prob"].to_numpy() >= mcfg.thresholds.match)
    best = pd.concat([pd.DataFrame({"r": left[inside], "p": pairs["prob"].to_numpy()[inside]}),
                      pd.DataFrame({"r": right[inside], "p": pairs["prob"].to_numpy()[inside]})])
    best = best.groupby("r")["p"].max()
    score = pd.Series(np.arange(len(std))).map(best).to_numpy()
    sizes = pd.Series(gid).map(pd.Series(gid).value_counts()).to_numpy()
    matched_by = np.where(sizes == 1, "singleton", np.where(pd.isna(score), "rule", "model"))
    xref = pd.DataFrame({"source_name": std["source_name"], "stream": std["stream"], "source_key": std["source_key"],
                         "golden_id": gid, "match_score": np.where(sizes == 1, 1.0, score),
                         "matched_by": matched_by, "updated_at": now})
    golden = build_golden(cfg, std)
    golden = golden.assign(updated_at=now)
    hierarchy = branch_parents(std)
    hierarchy = hierarchy.assign(updated_at=now)
    orders = wh.read_frame("SELECT source_name || ':' || customer_stream || ':' || customer_key AS record_id, "
                           "amount FROM staging.sales_order WHERE customer_stream IS NOT NULL")
    orders["amount"] = pd.to_numeric(orders["amount"], errors="coerce").astype(float)
    revenue = revenue_by_golden(orders, std[["record_id", "golden_id"]])
    review = review_items(std, result, mcfg.thresholds.match, mcfg.thresholds.review, now, revenue)
    decided = wh.read_frame("SELECT left_record, right_record FROM mdm.decisions WHERE active")
    review = review[~review["item_id"].isin(pair_ids(decided["left_record"], decided["right_record"]))]
    history = assignment.history.assign(run_id=now.strftime("%Y%m%dT%H%M%S"), retired_at=now)
    records = std[["record_id", "record_hash", "source_name", "stream", "source_key", *ENTITY_FIELDS,
                   *STD_COLUMNS, "golden_id"]]
    stored_pairs = pairs.assign(left_record=rid[left], right_record=rid[right]).drop(columns=["left", "right"])
    stored_pairs = stored_pairs[["left_record", "right_record", "rules",
                                 *[s.name for s in result.model.specs], "weight", "prob"]]
    with wh.begin() as conn:
        for name, frame in (("xref", xref), ("golden_customer", golden), ("customer_hierarchy", hierarchy),
                            ("review_queue", review)):
            wh.replace_rows(conn, "mdm", name, to_arrow(frame, MDM_TABLES[name][0]))
        for name, frame in (("customer_records", records), ("match_pairs", stored_pairs)):
            kinds = _kinds(frame)  # engine memory: its columns follow the spec, so it is recreated
            wh.recreate_table(conn, "mdm", name, kinds)
            wh.insert_frame(conn, "mdm", name, to_arrow(frame, kinds))
        if len(history):
            wh.insert_frame(conn, "mdm", "golden_id_history", to_arrow(history, MDM_TABLES["golden_id_history"][0]))
        if new_model:
            conn.execute(sa.text("UPDATE mdm.match_model SET active = FALSE WHERE active"))
            conn.execute(sa.text("INSERT INTO mdm.match_model (model_id, spec_fingerprint, created_at, active, model) "
                                 "VALUES (:i, :f, :t, TRUE, :m)"),
                         {"i": now.strftime("%Y%m%dT%H%M%S%f"), "f": fp, "t": now, "m": result.model.to_json()})
    new_ids = int((~pd.Series(gid).isin(prev_xref["golden_id"])).groupby(gid).any().sum())
    return MatchResult(len(std), int(golden["golden_id"].nunique()),
                       int((history["reason"] == "merged").sum()), new_ids, review_items=len(review))


_INFERRED = {"boolean": "boolean", "floating": "float", "integer": "integer", "mixed-integer-float": "float",
             "datetime64": "timestamp", "datetime": "timestamp", "date": "date"}


def _kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Column kinds of an engine-memory frame, from the values (object columns included)."""
    return {c: _INFERRED.get(pd.api.types.infer_dtype(frame[c], skipna=True), "text") for c in frame.columns}


def build_golden(cfg: HubConfig, std: pd.DataFrame) -> pd.DataFrame:
    """One row per golden customer: survived attributes, where they came from, and counts."""
    mcfg = cfg.mdm.customer
    rules = {**DEFAULT_SURVIVORSHIP, **{k: [v] if isinstance(v, str) else list(v)
                                        for k, v in mcfg.survivorship.items()}}
    recs = std.assign(uscc=std["uscc_std"].where(std["uscc_std"].notna(), std["uscc"]),
                      uscc_is_valid=flag(std["uscc_valid"]))
    golden = survive(recs, GOLDEN_ATTRIBUTES, rules, mcfg.source_priority or list(cfg.sources),
                     valid={"uscc": "uscc_is_valid"})
    g = recs.groupby("golden_id")
    extra = pd.DataFrame({
        "province": g["province"].first(),
        "city": g["city_any"].first(),
        "source_count": g.size(), "system_count": g["source_name"].nunique(),
        "first_seen": g["created_at"].min(), "last_seen": g["updated_at"].max(),
        "is_branch": g["is_branch"].max(),
    })
    golden = golden.join(extra, on="golden_id")
    valid = recs.set_index("record_id")["uscc_is_valid"]
    golden["uscc_valid"] = flag(golden["uscc_source"].map(valid)) & golden["uscc"].notna()
    return golden


def review_items(std: pd.DataFrame, result: LinkResult, match: float, review: float,
                 now: dt.datetime, revenue: pd.Series | None = None) -> pd.DataFrame:
    """The pairs a steward should look at, with both records (source and standardized values), the
    score, the per-field explanation and a priority from the uncertainty and the customers' revenue
    (`revenue`: per golden ID). The item id is the pair's, in either order (`mdm.stewardship.pair_id`)."""
    p = result.pairs
    gid = std["golden_id"].to_numpy()
    left, right = p["left"].to_numpy(), p["right"].to_numpy()
    apart = gid[left] != gid[right]
    prob = p["prob"].to_numpy()
    want = apart & ((prob >= review) | p["ambiguous"].to_numpy() | p["rejected"].to_numpy())
    sel = p[want]
    if not len(sel):
        return pd.DataFrame(columns=list(MDM_TABLES["review_queue"][0]))
    l_id, r_id = std["record_id"].to_numpy()[sel["left"]], std["record_id"].to_numpy()[sel["right"]]
    reason = np.where(sel["rejected"], "kept apart by a hard rule",
                      np.where(sel["ambiguous"], "short record matching several customers",
                               np.where(sel["prob"] >= match, "match-band pair in different clusters",
                                        "score in the review band")))
    specs = result.model.specs
    names = [s.level_names() for s in specs]
    lv = sel[[s.name for s in specs]].to_numpy()
    explanation = [json.dumps({s.name: names[j][int(x)] if x >= 0 else "missing" for j, (s, x) in
                               enumerate(zip(specs, row, strict=True))}, ensure_ascii=False) for row in lv]
    lg, rg = gid[sel["left"]], gid[sel["right"]]
    rev = revenue if revenue is not None else pd.Series(dtype=float)
    pair_revenue = np.maximum(pd.Series(lg).map(rev).fillna(0.0).to_numpy(dtype=float),
                              pd.Series(rg).map(rev).fillna(0.0).to_numpy(dtype=float))
    return pd.DataFrame({
        "item_id": pair_ids(l_id, r_id), "left_record": l_id, "right_record": r_id,
        "left_golden_id": lg, "right_golden_id": rg,
        "probability": sel["prob"].to_numpy(), "weight": sel["weight"].to_numpy(),
        "reason": reason, "explanation": explanation,
        "priority": stewardship_priority(sel["prob"].to_numpy(), pair_revenue),
        "status": "open", "created_at": now,
        "left_values": record_values(std.iloc[sel["left"].to_numpy()]),
        "right_values": record_values(std.iloc[sel["right"].to_numpy()]),
        "revenue": pair_revenue,
    })

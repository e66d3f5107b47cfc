"""Match: resolve staged customers into golden customers, reading and writing only what changed.

The engine's memory lives in the warehouse (`pipelines.match_store`): `mdm.customer_records` (every
staged customer standardized, with its content hash and golden ID), `mdm.match_pairs` (every scored
candidate pair at review level or above: no other pair can change a cluster or reach the queue) and
`mdm.match_model` (the fitted model). Matching keeps a watermark in staging's change log
(`staging._changes`).

- A **full run** (the first, `rebuild=True`, or a changed spec) standardizes staging a chunk at a time
  into `mdm.customer_records`, links every record (`mdm.engine.link`: block, compare, train unless
  `retrain=False`, score, cluster) from the few columns the engine needs, and writes every output. Beyond
  `train_sample` records the model is trained on a sample and the link runs in steps of candidate pairs
  (`mdm.engine.link_in_steps`), each step's pairs written as it is scored.
- An **incremental run** reads the customer records staged or removed since the watermark, keeps those
  whose content changed, standardizes them, blocks and compares them against the records sharing a
  blocking key with them (looked up in the warehouse), updates the stored pairs, and then re-clusters
  only the *affected* records: everything the changes reach through review-band pairs, steward links
  and golden customers. Golden IDs, survivorship, the hierarchy, the review queue and xref are
  rewritten for those records only. With the same model the result equals a full rebuild (tested).
- Nothing changed: nothing is read beyond the change log, nothing is written.

Records are ordered by record id everywhere (`match_store.sort_records`), so positions, and the ties
they break, are the same in a subset as in the whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import CustomerMdmConfig, HubConfig
from core.entities import ENTITIES
from mdm.blocking import candidate_pairs, rule_keys
from mdm.classify import FellegiSunter
from mdm.cluster import cluster
from mdm.compare import encode
from mdm.engine import LinkResult, LinkSettings, fit, link, link_in_steps, score_pairs
from mdm.golden import assign_codes, assign_ids, first_free_number, survivorship_sql
from mdm.hierarchy import branch_parents, hierarchy_sql
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
    specs_from_config,
)
from mdm.standardize import standardize_customers
from mdm.stewardship import pair_ids, record_values
from mdm.stewardship import priority as stewardship_priority
from pipelines.match_store import PAIRS, RECORDS, MatchStore, as_arrow_strings, record_id_sql, sort_records
from pipelines.model_store import activate_model, active_model
from pipelines.progress import as_progress
from pipelines.settled import settled_pairs
from pipelines.stage import ensure_staging, to_arrow
from pipelines.steward.former_names import record_aliases
from warehouse.changes import GOLDEN_TABLES, bump, bump_golden, set_watermark, watermark
from warehouse.contract import GOLDEN_ATTRIBUTES, MDM_TABLES, STD_COLUMNS, ensure_mdm, primary_key
from warehouse.engine import Warehouse, value

log = logging.getLogger("hub.match")

ENTITY_FIELDS = ENTITIES["customer"].field_names
RECORD_COLUMNS = ["record_id", "record_hash", "source_name", "stream", "source_key", *ENTITY_FIELDS, *STD_COLUMNS,
                  "golden_id"]
CONSUMER = "match:customer"
CHUNK = 200_000
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
"""The columns by which a record's hierarchy links reach other golden customers' (`_hierarchy_slice`)."""


@dataclass
class MatchResult:
    records: int
    golden: int
    merged_ids: int
    new_ids: int
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


def record_ids(df: pd.DataFrame) -> pd.Series:
    return df["source_name"] + ":" + df["stream"] + ":" + df["source_key"].astype(str)


def load_customers(wh: Warehouse) -> pd.DataFrame:
    """Every staged customer with its record id, in record order (small warehouses, tools and tests)."""
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
    df = wh.read_frame("SELECT * FROM staging.customer")
    df["record_id"] = record_ids(df) if len(df) else pd.Series(dtype=str)
    return sort_records(df)


def content_hash_sql(alias: str = "") -> str:
    """SQL for a hash of a staged customer's canonical fields (equal hash, unchanged record), computed by the
    warehouse so that it is the same however the record is read."""
    a = f"{alias}." if alias else ""
    parts = " || '|' || ".join(f"COALESCE(CAST({a}{_q(c)} AS VARCHAR), '\x01')" for c in ENTITY_FIELDS)
    return f"md5({parts})"


def settings_of(mcfg: CustomerMdmConfig) -> LinkSettings:
    blocking, comparisons = specs_from_config(mcfg.blocking, mcfg.comparisons)
    blocking = blocking or CUSTOMER_BLOCKING
    comparisons = comparisons or CUSTOMER_COMPARISONS
    return LinkSettings(blocking, comparisons, mcfg.thresholds.match, mcfg.thresholds.review,
                        CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS, u_pairs=mcfg.u_pairs, workers=mcfg.workers,
                        feedback_strength=mcfg.feedback.strength)


def fingerprint(settings: LinkSettings) -> str:
    """What must not change for earlier pairs to stay valid: blocking and comparisons, and the review threshold
    (the stored pairs are those at or above it)."""
    text = repr((settings.blocking, settings.comparisons, settings.exclusive, settings.anchors, settings.review))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def link_columns(settings: LinkSettings, model: FellegiSunter | None = None) -> list[str]:
    """The standardized columns the engine reads: compared, blocked, exclusive, anchors, steward scope."""
    specs = model.specs if model is not None else settings.comparisons
    scope = _scope(model) if model is not None else []
    return list(dict.fromkeys([*[c for s in specs for c in s.columns], *[c for r in settings.blocking
                                                                        for c in r.columns],
                               *settings.exclusive, *settings.anchors, *scope, *CUSTOMER_ANCHORS]))


def next_id_number(wh: Warehouse, conn: Connection | None = None) -> int:
    ids = wh.read_frame("SELECT max(golden_id) AS g FROM (SELECT golden_id FROM mdm.xref UNION ALL SELECT retired_id "
                        "FROM mdm.golden_id_history UNION ALL SELECT survivor_id FROM mdm.golden_id_history) i",
                        conn=conn)["g"]
    return first_free_number(ids)


def _decisions(wh: Warehouse, conn: Connection, pos: pd.Series, origin_review: bool = False) -> pd.DataFrame:
    """Active steward decisions between records of `pos` (record id → position), with both positions."""
    cond = " AND (origin IS NULL OR origin = 'review')" if origin_review else ""
    d = wh.read_frame(f"SELECT left_record, right_record, verdict FROM mdm.decisions WHERE active{cond}", conn=conn)
    if not len(d):
        return d.assign(lp=np.zeros(0, np.int64), rp=np.zeros(0, np.int64))
    lp, rp = pos.reindex(d["left_record"]).to_numpy(), pos.reindex(d["right_record"]).to_numpy()
    keep = ~(pd.isna(lp) | pd.isna(rp))
    return d[keep].assign(lp=lp[keep].astype(np.int64), rp=rp[keep].astype(np.int64))


def _must_cannot(d: pd.DataFrame) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    same = (d["verdict"] == "same").to_numpy()
    lp, rp = d["lp"].to_numpy(dtype=np.int64), d["rp"].to_numpy(dtype=np.int64)
    return (lp[same], rp[same]), (lp[~same], rp[~same])


def _standardize(df: pd.DataFrame, aliases: dict[str, str] | None = None) -> pd.DataFrame:
    """Standardized records; `aliases` (record id → a former name stewards gave its golden customer) fill the
    former name of records that hold none of their own (`pipelines.steward.former_names`)."""
    if not len(df):
        return pd.DataFrame(columns=[*df.columns, *STD_COLUMNS])
    if aliases:
        given = df["record_id"].astype(str).map(aliases)
        own = df["former_name"].astype(object)
        missing = own.isna() | (own.astype(str).str.strip() == "")
        if (missing & given.notna()).any():
            df = df.assign(former_name=own.where(~missing, given))
    return derive_customer_columns(standardize_customers(df))


def _record_rows(std: pd.DataFrame) -> pd.DataFrame:
    """The `mdm.customer_records` columns of standardized records (golden ID to come)."""
    out = std.reindex(columns=RECORD_COLUMNS)
    out["golden_id"] = None
    return out


_RECORD_KINDS: dict[str, str] = {
    **{c: "text" for c in RECORD_COLUMNS},
    **{f.name: f.type for f in ENTITIES["customer"].fields},
    "uscc_valid": "boolean", "org_code_valid": "boolean", "is_branch": "boolean",
}


def _ensure_records_table(wh: Warehouse, conn: Connection, fresh: bool) -> None:
    if fresh:  # (indexed once filled: `_index_records`)
        wh.recreate_table(conn, "mdm", "customer_records", _RECORD_KINDS)
    else:
        wh.create_table(conn, "mdm", "customer_records", _RECORD_KINDS)


def _index_records(wh: Warehouse, conn: Connection, settings: LinkSettings) -> None:
    """PostgreSQL: the indexes incremental runs look records up by (id, golden ID, every blocking key) and
    pairs by either record, built after a full run has filled the tables and set the golden IDs (updating a
    million indexed rows costs minutes)."""
    if wh.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS match_pairs__left ON mdm.match_pairs (left_record)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS match_pairs__right ON mdm.match_pairs (right_record)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS customer_records__id ON mdm.customer_records (record_id)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS customer_records__golden ON mdm.customer_records (golden_id)")
    for rule in settings.blocking:
        name = "customer_records__" + hashlib.sha1(repr(rule.columns).encode()).hexdigest()[:10]
        cols = ", ".join(f'"{c}"' for c in rule.columns)
        conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON mdm.customer_records ({cols})')


# --- the run ---------------------------------------------------------------------------------------------------


def run_match(cfg: HubConfig, wh: Warehouse, progress: Callable[[str], None] | None = None,
              rebuild: bool = False, retrain: bool = True) -> MatchResult:
    """Match the staged customers; see the module docstring."""
    prog = as_progress(progress, log)
    settings = settings_of(cfg.mdm.customer)
    fp = fingerprint(settings)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        store = MatchStore(wh, conn)
        model = active_model(wh, fp, conn)
        if model is not None and model.info.get("candidate_pairs") == 0:
            model = None  # learnt from no pair at all: a full run trains one on the pairs there are now
        mark = watermark(conn, CONSUMER)
        layout_ok = set(RECORD_COLUMNS) <= set(store.record_columns())
        incremental = (not rebuild and model is not None and mark is not None and layout_ok
                       and mark[1].get("fingerprint") == fp and wh.table_exists(conn, "mdm", "match_pairs"))
        if mark is not None and mark[1].get("backfill"):  # an older version's unfinished steps: link anew
            incremental = False
        if incremental:
            assert mark is not None and model is not None
            out = _incremental(cfg, wh, conn, settings, model, fp, mark[0], prog)
            committing = time.perf_counter()
    if incremental:
        out.timings["commit"] = time.perf_counter() - committing
    if not incremental:
        out = _full(cfg, wh, settings, fp, None if (retrain or model is None) else model, prog,
                    sample=cfg.mdm.customer.train_sample, step_pairs=cfg.mdm.customer.pairs_per_step)
    log.debug("matching steps (s): %s", ", ".join(f"{k} {v:.2f}" for k, v in out.timings.items()))
    return out


def _full(cfg: HubConfig, wh: Warehouse, settings: LinkSettings, fp: str, model: FellegiSunter | None,
          prog: Callable[[str], None], sample: int | None = None, step_pairs: int = 5_000_000) -> MatchResult:
    """Standardize and link every staged customer; write every output. Up to `sample` records are linked at once
    in memory (training the model unless `model` is given); beyond, the model is trained on `sample` of them
    spread over every source (the order of their ids' MD5) and every record is linked with it `step_pairs`
    candidate pairs at a time (`mdm.engine.link_in_steps`: the pairs go to the warehouse step by step)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    now = _now()
    with wh.begin() as conn:
        store = MatchStore(wh, conn)
        top = int(value(conn, "SELECT COALESCE(MAX(seq), 0) FROM staging._changes WHERE entity = 'customer'") or 0)
        previous_model = model
        n = int(value(conn, "SELECT count(*) FROM staging.customer") or 0)
        large = sample is not None and n > sample
        # No watermark until the end: a crash before it means a full run next time. Each chunk of standardized
        # records (and, beyond `sample`, each step's pairs) is committed as it is written: DuckDB holds what a
        # transaction appends in memory beyond its limit, so one transaction of 10M records would not fit.
        conn.execute(sa.text("DELETE FROM raw._watermarks WHERE consumer = :c"), {"c": CONSUMER})
        _ensure_records_table(wh, conn, fresh=True)
        counter = as_progress(prog, log).counter("standardizing customers", total=n)
        conn.exec_driver_sql("DROP TABLE IF EXISTS _hub_staged")
        conn.exec_driver_sql("CREATE TEMPORARY TABLE _hub_staged AS SELECT ROW_NUMBER() OVER () AS _i, s.*, "
                             f"{content_hash_sql('s')} AS record_hash FROM staging.customer s")
        cols = ", ".join(f'"{c}"' for c in ["source_name", "stream", "source_key", *ENTITY_FIELDS, "record_hash"])
        aliases = record_aliases(wh, conn)
        for lo in range(0, n, CHUNK):
            chunk = wh.read_frame(f"SELECT {cols} FROM _hub_staged WHERE _i > {lo} AND _i <= {lo + CHUNK}", conn=conn,
                                  arrow_strings=True)
            chunk["record_id"] = record_ids(chunk)
            wh.insert_frame(conn, "mdm", "customer_records", to_arrow(_record_rows(_standardize(chunk, aliases)),
                                                                      _RECORD_KINDS))
            if large:
                wh.commit_and_continue(conn)
            counter.update(min(lo + CHUNK, n))
        conn.exec_driver_sql("DROP TABLE _hub_staged")
        counter.close(f"{n:,} customer records standardized")
        timings["standardize"] = time.perf_counter() - t0
        log.debug("matching: peak memory %s MB after standardizing", _peak_mb())
        # The standardized records are committed, so that DuckDB can drop their pages while the engine holds the
        # records in memory.
        wh.commit_and_continue(conn)
        wh.dialect.analyze(conn, RECORDS)
        needed = link_columns(settings, previous_model)
        recs = sort_records(store.frame(f"SELECT record_id, {', '.join(_q(c) for c in needed)} FROM {RECORDS}"))
        pos = pd.Series(np.arange(len(recs)), index=recs["record_id"].to_numpy())
        decisions = _decisions(wh, conn, pos)
        must, cannot = _must_cannot(decisions)
        del pos
        ids = pa.array(recs["record_id"].array).cast(pa.string())  # record ids stay Arrow strings
        training = recs
        if large and previous_model is None:
            chosen = store.frame(f"SELECT record_id FROM {RECORDS} ORDER BY md5(record_id) LIMIT {int(sample or 0)}")
            training = recs[recs["record_id"].isin(chosen["record_id"]).to_numpy()].reset_index(drop=True)
            del chosen
        labelled = None
        if previous_model is None and cfg.mdm.customer.feedback.enabled:
            lab = _decisions(wh, conn, pd.Series(np.arange(len(training)), index=training["record_id"].to_numpy()),
                             origin_review=True)
            if len(lab) >= cfg.mdm.customer.feedback.min_labels:
                labelled = (lab["lp"].to_numpy(np.int64), lab["rp"].to_numpy(np.int64),
                            (lab["verdict"] == "same").to_numpy())
        levels = [s.name for s in (previous_model.specs if previous_model is not None else settings.comparisons)]
        pair_kinds = {**dict.fromkeys(["left_record", "right_record"], "text"), "rules": "integer",
                      **dict.fromkeys(levels, "integer"), "weight": "float", "prob": "float"}
        wh.recreate_table(conn, "mdm", "match_pairs", pair_kinds)

        def store_pairs(scored: pd.DataFrame) -> None:  # (those at review level or above: no other is ever read)
            pairs = scored[scored["prob"].to_numpy() >= settings.review]
            wh.insert_frame(conn, "mdm", "match_pairs", pa.table({
                "left_record": ids.take(pairs["left"].to_numpy()),
                "right_record": ids.take(pairs["right"].to_numpy()),
                "rules": pa.array(pairs["rules"].to_numpy(np.int64)),
                **{c: pa.array(pairs[c].to_numpy(np.int64)) for c in levels},
                "weight": pa.array(pairs["weight"].to_numpy(float)), "prob": pa.array(pairs["prob"].to_numpy(float))}))
            if large:
                wh.commit_and_continue(conn)

        if large:
            if previous_model is None:
                prog(f"training the model on {len(training):,} of {len(recs):,} customer records")
                t2 = time.perf_counter()
                with wh.lend_memory(conn):
                    previous_model = fit(training, settings, labelled)
                timings["train_on_sample"] = time.perf_counter() - t2
                activate = previous_model
            else:
                activate = None
            del training
            prog(f"linking {len(recs):,} customer records in steps of about {step_pairs:,} candidate pairs")
            steps = as_progress(prog, log).counter("linking customer records", total=len(recs))
            with wh.lend_memory(conn, keep="512MB"):  # (DuckDB writes each step's pairs)
                result = link_in_steps(recs, settings, previous_model, store_pairs, must=must, cannot=cannot,
                                       step_pairs=step_pairs, progress=lambda done, _n: steps.update(done))
            steps.close(f"{len(recs):,} records linked ({result.stats['candidate_pairs']:,} candidate pairs scored in "
                        f"{result.stats['steps']} steps)")
        else:
            del training
            prog(f"linking {len(recs):,} customer records")
            activate = None
            if len(recs) < 2 and previous_model is None:  # no pair to learn from: no model, each record alone
                result = _nothing_to_link(settings, len(recs))
            else:
                with wh.lend_memory(conn):
                    result = link(recs, settings, model=previous_model, must=must, cannot=cannot, labelled=labelled)
            if previous_model is None:
                activate = result.model
            store_pairs(result.pairs)
        timings.update(result.timings)
        log.debug("matching: peak memory %s MB after linking", _peak_mb())
        t1 = time.perf_counter()
        n_records = len(recs)
        del recs
        out = _publish_all(cfg, wh, conn, ids, result, decisions, now, large)
        t2 = time.perf_counter()
        _index_records(wh, conn, settings)
        log.debug("publishing: the records' lookup indexes built in %.1f s", time.perf_counter() - t2)
        if activate is not None:
            activate_model(conn, activate, fp, now)
        set_watermark(conn, CONSUMER, top, {"fingerprint": fp})
        _trim_changes(conn, top)
        timings["golden_and_write"] = time.perf_counter() - t1
        log.debug("matching: peak memory %s MB after writing", _peak_mb())
    wh.refresh_statistics(RECORDS, PAIRS, "mdm.xref", "mdm.golden_customer", "mdm.review_queue")
    out.changed = n_records
    out.stats = {**result.stats, "feedback": result.model.info.get("feedback") if result.model is not None else None}
    out.timings = timings
    prog(f"matched {out.records:,} customer records into {out.golden:,} golden customers"
         f" ({out.review_items:,} pairs for review)")
    return out


def _nothing_to_link(settings: LinkSettings, n: int) -> LinkResult:
    """The link of fewer than two records before any model exists: each record its own customer, no pair, and no
    model (none can be learnt without pairs; the first run with records trains one)."""
    levels = [s.name for s in settings.comparisons]
    pairs = pd.DataFrame({c: pd.Series(dtype="int64") for c in ["left", "right", "rules", *levels]})
    pairs = pairs.assign(weight=pd.Series(dtype=float), prob=pd.Series(dtype=float), band=pd.Series(dtype=object),
                         rejected=pd.Series(dtype=bool), ambiguous=pd.Series(dtype=bool))
    no_model = None  # (what follows reads the model only for pairs, and there are none)
    return LinkResult(pairs, np.arange(n, dtype=np.int64), no_model,  # type: ignore[arg-type]  # (see above)
                      {"records": n, "candidate_pairs": 0}, {})


def _incremental(cfg: HubConfig, wh: Warehouse, conn: Connection, settings: LinkSettings, model: FellegiSunter,
                 fp: str, after: int, prog: Callable[[str], None]) -> MatchResult:
    """Link only what changed since change `after`; see the module docstring."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    now = _now()
    store = MatchStore(wh, conn)
    keys, top = store.changed_keys(after)
    meta = {"fingerprint": fp}
    staged = store.staged_rows(keys, content_hash_sql("s")) if len(keys) else pd.DataFrame(
        columns=["record_id", "record_hash"])
    old = store.stored(keys["record_id"].tolist(), ["record_hash", "golden_id", *HIERARCHY_KEYS]) if len(keys) \
        else pd.DataFrame(columns=["record_id", "record_hash", "golden_id", *HIERARCHY_KEYS])
    known = dict(zip(old["record_id"], old["record_hash"], strict=True))
    previous = staged["record_id"].astype(object).map(known)
    changed = staged[(previous.isna() | (previous != staged["record_hash"].astype(object))).to_numpy(bool)]
    deleted = sorted(set(old["record_id"]) - set(staged["record_id"]))
    timings["changes"] = time.perf_counter() - t0
    if not len(changed) and not deleted:
        set_watermark(conn, CONSUMER, top, meta)
        _trim_changes(conn, top)
        out = _counts(conn, incremental=True)
        prog(f"matching: no customer record changed ({out.records:,} records, {out.golden:,} golden customers)")
        return out
    prog(f"linking {len(changed):,} new or changed and {len(deleted):,} deleted customer records")
    # 1. Standardize the changed records; find the stored records sharing a blocking key with them.
    t0 = time.perf_counter()
    std = _standardize(changed, record_aliases(wh, conn)) if len(changed) else pd.DataFrame(columns=RECORD_COLUMNS)
    timings["standardize"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gone = sorted(set(std["record_id"]) | set(deleted))
    needed = link_columns(settings, model)
    neighbours = store.neighbours(std, settings.blocking, gone, needed)
    subset = sort_records(pd.concat([as_arrow_strings(std[["record_id", *needed]]), neighbours[["record_id", *needed]]],
                                    ignore_index=True))
    is_changed = subset["record_id"].isin(set(std["record_id"])).to_numpy()
    # 2. Block and score the changed records against their neighbourhood with the stored model.
    sid = subset["record_id"].to_numpy()
    spec_cols = [s.name for s in model.specs]
    oversize: dict[str, np.ndarray] = {}
    skipped: dict[str, int] = {}
    if is_changed.any():
        enc = encode(subset, model.specs, columns=[*[c for r in settings.blocking for c in r.columns],
                                                   *settings.exclusive, *settings.anchors], workers=settings.workers)
        cand = candidate_pairs(enc, settings.blocking, only=np.flatnonzero(is_changed))
        scored = score_pairs(subset, cand.left, cand.right, model, settings.workers, encoded=enc)
        new_pairs = scored.assign(left_record=sid[cand.left], right_record=sid[cand.right], rules=cand.rules)
        oversize, skipped = cand.oversize, cand.skipped_blocks
    else:  # only deletes
        new_pairs = pd.DataFrame(columns=["left_record", "right_record", "rules", *spec_cols, "weight", "prob"])
    timings["block_and_compare"] = time.perf_counter() - t0
    # 3. Stored pairs: out with the changed and deleted records' pairs, rules stripped where blocks outgrew their
    #    limit, in with the new pairs. The changed records replace their stored versions.
    t0 = time.perf_counter()
    before = store.pairs_touching(gone, settings.review)
    store.delete_pairs_touching(gone)
    stripped: set[str] = set()
    for bit, rule in enumerate(settings.blocking):
        if rule.name in oversize:
            at = np.flatnonzero(np.isin(rule_keys(enc.codes, rule), oversize[rule.name]))
            members = sorted(set(sid[at].tolist()) - set(std["record_id"]))
            if members:
                store.strip_rule(bit, members)
                stripped.update(members)
    ins = new_pairs.loc[new_pairs["prob"].to_numpy(float) >= settings.review,
                        ["left_record", "right_record", "rules", *spec_cols, "weight", "prob"]]
    kinds = {**dict.fromkeys(["left_record", "right_record"], "text"), "rules": "integer",
             **dict.fromkeys(spec_cols, "integer"), "weight": "float", "prob": "float"}
    wh.insert_frame(conn, "mdm", "match_pairs", to_arrow(ins, kinds))
    with store.relation("_hub_gone_records", pd.DataFrame({"record_id": gone})) as g:
        conn.exec_driver_sql(f"DELETE FROM {RECORDS} WHERE record_id IN (SELECT record_id FROM {g})")
    rows = _record_rows(std)
    rows["golden_id"] = rows["record_id"].map(dict(zip(old["record_id"], old["golden_id"], strict=True)))
    wh.insert_frame(conn, "mdm", "customer_records", to_arrow(rows, _RECORD_KINDS))  # (a vote for its old ID)
    timings["pairs"] = time.perf_counter() - t0
    # 4. The affected records: everything the changes reach. Seeds: the changed records, the old golden customers
    #    of changed and deleted records, and both ends of every pair added or removed at review level or above.
    t0 = time.perf_counter()
    old_golden = old["golden_id"].dropna().unique().tolist()
    mates = _mates(store, old_golden) if old_golden else pd.DataFrame({"record_id": []})
    review_new = new_pairs[new_pairs["prob"] >= settings.review]
    seeds = (set(std["record_id"]) | set(mates["record_id"]) | set(review_new["left_record"])
             | set(review_new["right_record"]) | set(before["left_record"]) | set(before["right_record"]) | stripped)
    seeds -= set(deleted)
    affected = store.closure(sorted(seeds), settings.review) if seeds else []
    timings["closure"] = time.perf_counter() - t0
    # 5. Cluster the affected records again and write what follows from it.
    t0 = time.perf_counter()
    recs = sort_records(store.stored(affected, list(dict.fromkeys([*settings.exclusive, *settings.anchors,
                                                                   *_scope(model)]))))
    rid = recs["record_id"].to_numpy()
    pos = pd.Series(np.arange(len(recs)), index=rid)
    pairs = store.pairs_among(affected, settings.review)
    pairs = pairs.assign(left=pos.reindex(pairs["left_record"]).to_numpy(np.int64),
                         right=pos.reindex(pairs["right_record"]).to_numpy(np.int64))
    decisions = _decisions(wh, conn, pos)
    must, cannot = _must_cannot(decisions)
    enc_a = encode(recs, columns=[*settings.exclusive, *settings.anchors])
    anchored = np.zeros(len(recs), bool)
    for c in settings.anchors:
        anchored |= enc_a.codes[c].to_numpy() >= 0
    res = cluster(len(recs), pairs["left"].to_numpy(), pairs["right"].to_numpy(), pairs["prob"].to_numpy(float),
                  settings.match, settings.review, {c: enc_a.codes[c].to_numpy() for c in settings.exclusive},
                  anchored if settings.anchors else np.ones(len(recs), bool), must=must, cannot=cannot)
    pairs = pairs.assign(rejected=res.rejected, ambiguous=res.ambiguous)
    timings["cluster"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_new_pairs = len(new_pairs)
    out = _publish(cfg, wh, conn, rid, res.labels, pairs, model, decisions, now,
                   deleted=deleted, previous_golden=old_golden, old_keys=old[list(HIERARCHY_KEYS)])
    set_watermark(conn, CONSUMER, top, meta)
    _trim_changes(conn, top)
    timings["golden_and_write"] = time.perf_counter() - t0
    out.incremental, out.changed, out.deleted, out.affected = True, len(std), len(deleted), len(affected)
    out.changed_ids, out.deleted_ids, out.affected_ids = std["record_id"].astype(str).tolist(), list(deleted), affected
    out.stats = {"new_pairs": n_new_pairs, "affected": len(affected), "neighbours": len(neighbours),
                 "skipped_blocks": skipped, **res.stats}
    out.timings = timings
    prog(f"matched {out.changed:,} changed and {out.deleted:,} deleted records ({out.affected:,} affected): "
         f"{out.golden:,} golden customers ({out.review_items:,} pairs for review)")
    return out


def _peak_mb() -> str:
    """This process's peak memory so far, for the debug log."""
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024:,}"


def _mates(store: MatchStore, golden_ids: Sequence[str]) -> pd.DataFrame:
    with store.relation("_hub_golden", pd.DataFrame({"golden_id": list(golden_ids)})) as g:
        return store.frame(f"SELECT record_id FROM {RECORDS} WHERE golden_id IN (SELECT golden_id FROM {g})")


def _scope(model: FellegiSunter) -> list[str]:
    """The columns the model's steward calibration is scoped by (none when it has none)."""
    got = model.info.get("calibration_scope")
    return [str(c) for c in got] if isinstance(got, list | tuple) else []


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _trim_changes(conn: Connection, top: int) -> None:
    """The customer change log up to `top` is consumed."""
    conn.execute(sa.text("DELETE FROM staging._changes WHERE entity = 'customer' AND seq <= :t"), {"t": top})


def _counts(conn: Connection, incremental: bool) -> MatchResult:
    records = int(value(conn, f"SELECT count(*) FROM {RECORDS}") or 0)
    golden = int(value(conn, "SELECT count(*) FROM mdm.golden_customer") or 0)
    review = int(value(conn, "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'") or 0)
    return MatchResult(records, golden, 0, 0, incremental=incremental, review_items=review)


# --- outputs: golden IDs, xref, golden records, hierarchy, review queue ------------------------------------------


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
    assignment = assign_ids(ids.assign(cluster=labels), prev_xref, next_id_number(wh, conn))
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
    return _history_and_counts(wh, conn, history, now, len(set(gid) - old_ids), incremental=True,
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
    del old
    t0 = time.perf_counter()
    per_cluster, history = assign_codes(labels, np.arange(n, dtype=np.int64), prev, prev_ids,
                                        next_id_number(wh, conn))
    del prev
    kept = pc.is_in(prev_ids, value_set=per_cluster).to_numpy(zero_copy_only=False)
    retired = prev_ids.filter(pa.array(~kept & ~np.isin(prev_ids.to_numpy(zero_copy_only=False),
                                                         history["retired_id"].dropna().to_numpy())))
    if len(retired):
        history = pd.concat([history, pd.DataFrame({"retired_id": retired.to_numpy(zero_copy_only=False),
                                                    "survivor_id": None, "reason": "deleted"})], ignore_index=True)
    new_ids = int(len(per_cluster) - pc.sum(pc.is_in(per_cluster, value_set=prev_ids)).as_py()) \
        if len(prev_ids) else len(per_cluster)
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
            "match_score": pa.array(score[lo:hi]), "matched_by": how_names.take(pa.array(how[lo:hi])),
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
                          old_keys: pd.DataFrame | None, golden: bool = True) -> list[str]:
    """Build `_hub_golden` (the golden records of `golden_ids`, or all; with all, not when `golden` is false) and
    `_hub_hierarchy` (branch → head and member → group links) as temporary tables. With `golden_ids`, the links are
    those of the golden customers whose links may have changed (`_hierarchy_slice`); `old_keys`: the
    `HIERARCHY_KEYS` the changed and deleted records carried before. Returns the golden IDs the links were
    computed for (none for all)."""
    order = wh.dialect.text_order
    store = MatchStore(wh, conn)
    cols = ", ".join(f"r.{c}" for c in HIERARCHY_INPUTS)
    for t in ("_hub_golden", "_hub_hierarchy", "_hub_slice", "_hub_targets"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    if golden_ids is None:
        if golden:
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_golden AS "
                                 f"{golden_sql(cfg, _golden_relation(None), order)}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_hierarchy AS "
                             f"{hierarchy_sql(f'(SELECT {cols} FROM {RECORDS} r)', order)}")
        return []
    with store.relation("_hub_gids", pd.DataFrame({"golden_id": golden_ids})) as g:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_golden AS {golden_sql(cfg, _golden_relation(g), order)}")
        before = (old_keys if old_keys is not None else pd.DataFrame(columns=list(HIERARCHY_KEYS)))[
            list(HIERARCHY_KEYS)].drop_duplicates()
        with store.relation("_hub_old_keys", before.astype(object).where(before.notna(), None)) as k:
            _hierarchy_slice(conn, g, k, cols)
    if wh.dialect.name == "postgresql":  # its plans of the hierarchy SQL go quadratic (35–98 s for a 1M warehouse's
        # slice): the slice's links by an in-process DuckDB instead (`branch_parents`, the same SQL; 0.3 s)
        links = branch_parents(wh.read_frame("SELECT * FROM _hub_slice", conn=conn))
        conn.exec_driver_sql("CREATE TEMPORARY TABLE _hub_hierarchy (child_golden_id TEXT, parent_golden_id TEXT, "
                             "relation TEXT, evidence TEXT)")
        wh.insert_frame(conn, "pg_temp", "_hub_hierarchy", pa.Table.from_pandas(
            links.astype(object).where(links.notna(), None), preserve_index=False))
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE _hub_hierarchy AS {hierarchy_sql('_hub_slice', order)}")
    # (the slice's other golden customers are there for what the targets' links read: their links are not these)
    conn.exec_driver_sql("DELETE FROM _hub_hierarchy WHERE child_golden_id NOT IN (SELECT golden_id FROM _hub_targets)")
    ids = [r[0] for r in conn.exec_driver_sql("SELECT golden_id FROM _hub_targets").fetchall()]
    conn.exec_driver_sql("DROP TABLE _hub_slice")
    conn.exec_driver_sql("DROP TABLE _hub_targets")
    return ids


def _hierarchy_slice(conn: Connection, gids: str, old_keys: str, cols: str) -> None:
    """`_hub_targets`: the golden customers whose hierarchy links may differ after a change of the golden customers
    `gids` (whose records changed, moved or were deleted; `old_keys`: the `HIERARCHY_KEYS` their changed and
    deleted records carried before): those, the golden customers with a record of a name key they carry or carried
    (a branch's head office is found by name key), those with a group or member record of a brand and city they
    carry or carried (a member's group), and the children of their links. `_hub_slice`: every record a target's
    link reads: the targets' own, those of their name keys, the group records of their members' brand and city."""
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
    theirs = (f"(SELECT {', '.join(HIERARCHY_KEYS)} FROM {RECORDS} "
              "WHERE golden_id IN (SELECT golden_id FROM _hub_targets))")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE _hub_slice AS "
        f"SELECT {cols} FROM {RECORDS} r WHERE r.golden_id IN (SELECT golden_id FROM _hub_targets) "
        f"UNION SELECT {cols} FROM {RECORDS} r WHERE r.name_key IN (SELECT name_key FROM {theirs} t) "
        f"UNION SELECT {cols} FROM {RECORDS} r JOIN (SELECT DISTINCT name_core, city_any FROM {theirs} t "
        f"WHERE group_key = 'member') p ON r.name_core = p.name_core AND r.city_any = p.city_any "
        f"WHERE r.group_key = 'group'")


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
    values = store.stored(pd.unique(np.concatenate([l_id, r_id])).tolist(),
                          [c for c in RECORD_COLUMNS if c not in ("record_id",)])
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
    "content_hash_sql",
    "fingerprint",
    "link_columns",
    "load_customers",
    "next_id_number",
    "record_ids",
    "refresh_golden",
    "run_match",
    "settings_of",
]

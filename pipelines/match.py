"""Match: resolve staged customers into golden customers, reading and writing only what changed.

The engine's memory lives in the warehouse (`pipelines.match_store`): `mdm.customer_records` (every
staged customer standardized, with its content hash and golden ID), `mdm.match_pairs` (every scored
candidate pair at review level or above: no other pair can change a cluster or reach the queue) and
`mdm.match_model` (the fitted model). Matching keeps a watermark in staging's change log
(`staging._changes`).

- A **full run** (the first, `rebuild=True`, a changed spec, or a model in force learnt from no
  candidate pair) standardizes staging a chunk at a time
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
they break, are the same in a subset as in the whole. What a run writes (golden IDs, xref, golden
records, hierarchy, review queue, ID history) is `pipelines.match_outputs`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import resource
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.config import CustomerMdmConfig, HubConfig
from core.entities import ENTITIES
from mdm.blocking import candidate_pairs, rule_keys
from mdm.classify import FellegiSunter
from mdm.cluster import cluster
from mdm.compare import encode
from mdm.engine import (
    LinkResult,
    LinkSettings,
    encoded_columns,
    fit,
    link,
    link_in_steps,
    owner_columns,
    score_pairs,
)
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
    specs_from_config,
)
from mdm.standardize import standardize_customers
from pipelines.match_outputs import (
    HIERARCHY_KEYS,
    MatchResult,
    _counts,
    _publish,
    _publish_all,
)
from pipelines.match_store import (
    CHUNK,
    ENTITY_FIELDS,
    PAIRS,
    RECORD_COLUMNS,
    RECORDS,
    MatchStore,
    _q,
    as_arrow_strings,
    sort_records,
)
from pipelines.model_store import activate_model, active_model
from pipelines.progress import as_progress
from pipelines.stage import ensure_staging, to_arrow
from pipelines.steward.former_names import record_aliases
from pipelines.write_behind import write_behind
from warehouse.changes import set_watermark, watermark
from warehouse.contract import STD_COLUMNS, ensure_mdm
from warehouse.engine import Warehouse, value

log = logging.getLogger("hub.match")

CONSUMER = "match:customer"


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
    workers = mcfg.workers or min(os.cpu_count() or 1, 4)
    return LinkSettings(blocking, comparisons, mcfg.thresholds.match, mcfg.thresholds.review,
                        CUSTOMER_EXCLUSIVE, CUSTOMER_ANCHORS, u_pairs=mcfg.u_pairs, workers=workers,
                        feedback_strength=mcfg.feedback.strength)


def fingerprint(settings: LinkSettings) -> str:
    """What must not change for earlier pairs to stay valid: blocking and comparisons, and the review threshold
    (the stored pairs are those at or above it)."""
    text = repr((settings.blocking, settings.comparisons, settings.exclusive, settings.anchors, settings.review))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def link_columns(settings: LinkSettings, model: FellegiSunter | None = None) -> list[str]:
    """The standardized columns the engine reads: compared, blocked, exclusive, anchors, steward scope, and the
    owners of values compared as missing when too many owners share them."""
    specs = model.specs if model is not None else settings.comparisons
    scope = _scope(model) if model is not None else []
    return list(dict.fromkeys([*[c for s in specs for c in s.columns], *[c for r in settings.blocking
                                                                        for c in r.columns],
                               *settings.exclusive, *settings.anchors, *scope, *CUSTOMER_ANCHORS,
                               *owner_columns(specs)]))



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
        model = active_model(wh, fp, conn, tf_values={})  # (an incremental run reads the frequencies it needs)
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
        out = _full(cfg, wh, settings, fp, None if (retrain or model is None) else active_model(wh, fp), prog,
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

        def standardized(chunk: pd.DataFrame) -> pa.Table:
            chunk["record_id"] = record_ids(chunk)
            return to_arrow(_record_rows(_standardize(chunk, aliases)), _RECORD_KINDS)

        def write_records(rows: pa.Table) -> None:
            wh.insert_frame(conn, "mdm", "customer_records", rows)
            if large:
                wh.commit_and_continue(conn)
            counter.add(rows.num_rows)

        # (a chunk's records written while the next is standardized: DuckDB compresses them outside the GIL)
        write_behind(wh.read_chunks(conn, "_hub_staged", cols, n, CHUNK, arrow_strings=True), standardized,
                     write_records)
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
            activate_model(wh, conn, activate, fp, now)
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
    parts = [as_arrow_strings(std[["record_id", *needed]]), neighbours[["record_id", *needed]]]
    # (an empty side, e.g. no changed record when only deletes came, is left out: it has no dtypes to give)
    subset = sort_records(pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True))
    is_changed = subset["record_id"].isin(set(std["record_id"])).to_numpy()
    # the term frequencies of the values compared here (the pairs are among these records), not all of them
    model = active_model(wh, fp, conn, tf_values={s.name: subset[s.column] for s in model.specs if s.tf}) or model
    # 2. Block and score the changed records against their neighbourhood with the stored model.
    sid = subset["record_id"].to_numpy()
    spec_cols = [s.name for s in model.specs]
    oversize: dict[str, np.ndarray] = {}
    skipped: dict[str, int] = {}
    if is_changed.any():
        enc = encode(subset, model.specs, columns=encoded_columns(model.specs, settings), workers=settings.workers)
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



def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _trim_changes(conn: Connection, top: int) -> None:
    """The customer change log up to `top` is consumed."""
    conn.execute(sa.text("DELETE FROM staging._changes WHERE entity = 'customer' AND seq <= :t"), {"t": top})


__all__ = [
    "content_hash_sql",
    "fingerprint",
    "link_columns",
    "load_customers",
    "record_ids",
    "run_match",
    "settings_of",
]

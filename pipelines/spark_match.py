"""Match on Spark: staging's customers into golden customers with the mdm engine's own functions, distributed.

The same steps as `mdm.engine.link` and `pipelines.match`, each where it scales:

- standardize: `mdm.standardize.standardize_customers` on each Arrow batch of staging (`mapInArrow`);
- positions: records in record-id order, numbered without moving them to one partition (range partitioning,
  then each partition's offset), so ties break as in the DuckDB engine;
- blocking: one Spark SQL self-join per rule on its key columns, oversize blocks left out, the union grouped on
  the pair with a bit per rule (what `mdm.blocking.candidate_pairs` computes);
- comparisons: `mdm.compare.compare` (rapidfuzz, recordlinkage) on the *distinct* value pairs, in Arrow batches;
- the model: the comparison patterns of the candidates (and of the random pairs u starts from) counted by Spark,
  collected (a few hundred rows) and fitted by `mdm.classify`'s EM on the driver; term frequencies counted by Spark;
- scoring: `FellegiSunter.match_weight` on the candidates' levels (`mapInArrow`);
- connected components of the review-band edges by iterative label propagation, checkpointed each round;
- clustering: `mdm.cluster.cluster` (hard rules, floaters) on the components, a bucket of them per call
  (`cogroup().applyInPandas`);
- golden IDs: `mdm.golden.assign_ids` against the previous run's xref (on the driver: two columns per record);
- golden records and the hierarchy: `pipelines.match_outputs.golden_sql` and `mdm.hierarchy.hierarchy_sql`, run by
  Spark SQL.

Every run matches all records again (a rebuild, retraining the model, deterministic): unchanged input gives the
same clusters, golden IDs and golden records. Not on Spark yet: steward decisions (must/cannot links, feedback
calibration) and the review queue; the DuckDB engine has them.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.config import HubConfig
from mdm.classify import FellegiSunter, fit_m_em, level_frequencies, pattern_keys, random_pairs, value_frequencies
from mdm.cluster import cluster
from mdm.compare import ComparisonSpec, compare, encode_column
from mdm.golden import assign_ids, first_free_number
from mdm.hierarchy import hierarchy_sql
from mdm.specs import derive_customer_columns
from mdm.standardize import standardize_customers
from pipelines.match import _RECORD_KINDS, record_ids, settings_of
from pipelines.match_outputs import HIERARCHY_INPUTS, _golden_relation, golden_sql, revivable_sql, split_ids
from pipelines.match_store import RECORD_COLUMNS
from pipelines.stage import to_arrow
from warehouse.contract import MDM_TABLES
from warehouse.dialects import arrow_of
from warehouse.spark.dialect import spark_schema, spark_sql
from warehouse.spark.lakehouse import Lakehouse

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("hub.spark.match")

RECORDS = "mdm.customer_records"
PAIR_KINDS_FIXED = {"left_record": "text", "right_record": "text", "rules": "integer"}


@dataclass
class SparkMatchResult:
    records: int
    golden: int
    candidate_pairs: int
    new_ids: int = 0
    revived_ids: int = 0
    merged_ids: int = 0
    stats: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


# --- per-batch functions (run on the executors) -------------------------------------------------------------------


def _frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """A batch as a frame with Arrow-backed text, as `Warehouse.read_frame(arrow_strings=True)` gives it."""
    return pa.Table.from_batches([batch]).to_pandas(types_mapper={
        pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}.get)


def standardize_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Staged customers → `mdm.customer_records` rows (golden ID still empty), a batch at a time."""
    for batch in batches:
        if not batch.num_rows:
            continue
        df = _frame(batch)
        df["record_id"] = record_ids(df)
        std = derive_customer_columns(standardize_customers(df, workers=1))
        rows = std.reindex(columns=RECORD_COLUMNS)
        rows["golden_id"] = None
        yield from to_arrow(rows, _RECORD_KINDS).to_batches()


def _pair_frames(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Value pairs (`l_<col>`, `r_<col>`) as one frame of 2k records and the positions of each pair's two."""
    k = len(df)
    left = pd.DataFrame({c: df[f"l_{c}"].to_numpy() for c in columns})
    right = pd.DataFrame({c: df[f"r_{c}"].to_numpy() for c in columns})
    return pd.concat([left, right], ignore_index=True), np.arange(k), np.arange(k) + k


def level_batches(specs: list[ComparisonSpec], columns: list[str]) -> Callable[[Iterator[pa.RecordBatch]],
                                                                             Iterator[pa.RecordBatch]]:
    """Distinct value pairs → the same with one level column per comparison (`mdm.compare.compare`)."""
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            df = _frame(batch)
            recs, a, b = _pair_frames(df, columns)
            lv = compare(recs, a, b, specs)
            arrays = [*batch.columns, *[pa.array(lv[s.name].to_numpy(np.int8)) for s in specs]]
            yield pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, *[s.name for s in specs]])
    return run


def weight_batches(model_json: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Pairs with their levels (and the left value `l_<column>` of each term-frequency comparison) → the same with
    the model's match weight and probability."""
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = FellegiSunter.from_json(model_json)
        for batch in batches:
            if not batch.num_rows:
                continue
            df = _frame(batch)
            lv = df[[s.name for s in model.specs]].astype(np.int64)
            tf_values = {s.name: df[f"l_{s.column}"].astype(object).where(df[f"l_{s.column}"].notna(), None)
                         .to_numpy() for s in model.specs if s.tf}
            w = model.match_weight(lv, tf_values=tf_values)
            yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(w, pa.float64()),
                                              pa.array(FellegiSunter.probability(w), pa.float64())],
                                             names=[*batch.schema.names, "weight", "prob"])
    return run


def cluster_component(match: float, review: float, exclusive: list[str], anchors: list[str]
                      ) -> Callable[[Any, pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """The records and review-band edges of some connected components → each record's cluster (the smallest
    position in it), by `mdm.cluster.cluster`; local positions keep the records' global order, so ties break
    alike."""
    def run(_key: Any, recs: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
        recs = recs.sort_values("pos", kind="stable", ignore_index=True)
        pos = recs["pos"].to_numpy(np.int64)
        local = pd.Series(np.arange(len(recs)), index=pos)
        left = local.reindex(edges["l"].to_numpy()).to_numpy(np.int64)
        right = local.reindex(edges["r"].to_numpy()).to_numpy(np.int64)
        excl = {c: encode_column(recs[c])[0] for c in exclusive}
        anchored = np.zeros(len(recs), bool)
        for c in anchors:
            anchored |= encode_column(recs[c])[0] >= 0
        res = cluster(len(recs), left, right, edges["prob"].to_numpy(float), match, review, excl,
                      anchored if anchors else np.ones(len(recs), bool))
        first = pd.Series(pos).groupby(res.labels).transform("min").to_numpy(np.int64)
        return pd.DataFrame({"pos": pos, "cluster": first})
    return run


# --- the run --------------------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def with_positions(df: DataFrame, order: str, partitions: int) -> DataFrame:
    """`df` with `pos`: 0.. in `order` (a unique key), numbered per range partition plus the partition's offset,
    checkpointed (the numbering must not be computed twice)."""
    from pyspark.sql import functions as F

    ranged = (df.repartitionByRange(partitions, order).sortWithinPartitions(order)
              .withColumn("_part", F.spark_partition_id()).withColumn("_mono", F.monotonically_increasing_id())
              .localCheckpoint(eager=True))
    counts = sorted((r["_part"], r["count"]) for r in ranged.groupBy("_part").count().collect())
    offsets, total = [], 0
    for part, n in counts:
        offsets.append((part, total))
        total += n
    spark = df.sparkSession
    off = spark.createDataFrame(offsets or [(0, 0)], "_part INT, _off BIGINT")
    return (ranged.join(F.broadcast(off), "_part")
            .withColumn("pos", F.col("_off") + F.col("_mono") - F.shiftleft(F.col("_part").cast("bigint"), 33))
            .drop("_part", "_mono", "_off"))


def block(recs: DataFrame, rules: Any) -> tuple[DataFrame, dict[str, int]]:
    """Candidate pairs (l < r positions, `rules` bit mask) of the blocking rules, oversize blocks skipped."""
    from pyspark.sql import functions as F

    parts, sizes_all = [], []
    for bit, rule in enumerate(rules):
        cols = list(rule.columns)
        present = F.lit(True)
        for c in cols:
            present = present & F.col(c).isNotNull() & (F.col(c).cast("string") != "")
        keys = [F.col(c).cast("string").alias(f"k{j}") for j, c in enumerate(cols)]
        keyed = recs.where(present).select("pos", *keys)
        kcols = [f"k{j}" for j in range(len(cols))]
        sizes = keyed.groupBy(*kcols).count()
        sizes_all.append(sizes.where(F.col("count") > rule.max_block).select(F.lit(rule.name).alias("rule")))
        keyed = keyed.join(sizes.where(F.col("count") <= rule.max_block).drop("count"), kcols)
        a, b = keyed.alias("a"), keyed.alias("b")
        cond = [F.col(f"a.{k}") == F.col(f"b.{k}") for k in kcols] + [F.col("a.pos") < F.col("b.pos")]
        parts.append(a.join(b, cond).select(F.col("a.pos").alias("l"), F.col("b.pos").alias("r"),
                                            F.lit(1 << bit).alias("f")))
    union, big = parts[0], sizes_all[0]
    for p, b in zip(parts[1:], sizes_all[1:], strict=True):
        union, big = union.unionAll(p), big.unionAll(b)
    skipped = {r["rule"]: int(r["count"]) for r in big.groupBy("rule").count().collect()}
    return union.groupBy("l", "r").agg(F.bit_or("f").cast("bigint").alias("rules")), skipped


def compared(pairs: DataFrame, recs: DataFrame, specs: list[ComparisonSpec]) -> DataFrame:
    """`pairs` (l, r, ...) with their comparison levels, computed once per distinct pair of compared values."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ByteType, StructField, StructType

    columns = sorted({c for s in specs for c in s.columns})
    left = recs.select(F.col("pos").alias("l"), *[F.col(c).alias(f"l_{c}") for c in columns])
    right = recs.select(F.col("pos").alias("r"), *[F.col(c).alias(f"r_{c}") for c in columns])
    with_values = pairs.join(left, "l").join(right, "r")
    vcols = [f"{side}_{c}" for side in ("l", "r") for c in columns]
    values = with_values.select(*vcols).distinct()
    schema = StructType([*values.schema.fields, *[StructField(s.name, ByteType()) for s in specs]])
    levels = values.mapInArrow(level_batches(specs, columns), schema)
    p, v = with_values.alias("p"), levels.alias("v")
    cond = [F.col(f"p.{c}").eqNullSafe(F.col(f"v.{c}")) for c in vcols]
    keep = [F.col(f"p.{c}") for c in pairs.columns]
    return p.join(v, cond).select(*keep, *[F.col(f"v.{s.name}") for s in specs])


def weighed(lv: DataFrame, recs: DataFrame, model: FellegiSunter) -> DataFrame:
    """Pairs with their levels (`compared`) with the model's match weight and probability (each pair's left value
    of every term-frequency comparison joined for its adjustment)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StructField, StructType

    tf_cols = sorted({s.column for s in model.specs if s.tf})
    left = recs.select(F.col("pos").alias("l"), *[F.col(c).alias(f"l_{c}") for c in tf_cols])
    with_tf = lv.join(left, "l")
    schema = StructType([*with_tf.schema.fields, StructField("weight", DoubleType()),
                         StructField("prob", DoubleType())])
    return with_tf.mapInArrow(weight_batches(model.to_json()), schema).drop(*[f"l_{c}" for c in tf_cols])


def pattern_counts(lv: DataFrame, specs: list[ComparisonSpec]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison patterns of `lv` and how many rows have each, ordered as
    `mdm.classify.distinct_patterns` orders them."""
    names = [s.name for s in specs]
    rows = cast(pd.DataFrame, lv.groupBy(*names).count().toPandas())
    if not len(rows):
        return np.zeros((0, len(specs)), np.int16), np.zeros(0)
    rows = rows.iloc[np.argsort(pattern_keys(rows, specs), kind="stable")]
    return rows[names].to_numpy(np.int16), rows["count"].to_numpy(float)


def _texts_at(texts: np.ndarray, idx: np.ndarray) -> list[str]:
    return list(texts[idx].tolist())


def train_model(spark: SparkSession, recs: DataFrame, n: int, candidates: DataFrame, specs: list[ComparisonSpec],
                u_pairs: int, seed: int) -> FellegiSunter:
    """`mdm.classify.train` with the counting done by Spark: u from the same random pairs, m and the prior by EM
    on the candidates' pattern counts, term frequencies from Spark's value counts."""
    from pyspark.sql import functions as F

    a, b = random_pairs(n, u_pairs, seed)
    rand = spark.createDataFrame(pd.DataFrame({"l": a.astype(np.int64), "r": b.astype(np.int64)}))
    patterns, counts = pattern_counts(compared(rand, recs, specs), specs)
    frame = pd.DataFrame(patterns, columns=[s.name for s in specs])
    u = level_frequencies(frame, specs, weights=counts, pseudo=1.0)
    patterns, counts = pattern_counts(candidates, specs)
    m, u, prior, iterations = fit_m_em(patterns, counts, specs, u, fit_u=True)
    tf, tf_default, tf_reference = {}, {}, {}
    for s in specs:
        if not s.tf:
            continue
        col = F.col(s.column)
        vals = cast(pd.DataFrame, recs.where(col.isNotNull() & (col.cast("string") != ""))
                    .groupBy(col.cast("string").alias("v")).agg(F.count("*").alias("n"), F.min("pos").alias("first"))
                    .toPandas()).sort_values("first", kind="stable")
        texts = vals["v"].to_numpy(dtype=object)
        tf[s.name], tf_default[s.name], tf_reference[s.name] = value_frequencies(
            functools.partial(_texts_at, texts), vals["n"].to_numpy(np.int64))
    return FellegiSunter(list(specs), m, u, prior, tf, tf_default, tf_reference,
                         {"em_iterations": iterations, "candidate_pairs": int(counts.sum()), "records": n})


def connected_components(edges: DataFrame, max_rounds: int = 200) -> DataFrame:
    """(pos, comp) of every record with an edge: comp is the smallest position of its component, by label
    propagation (each round a record takes the smallest label of its neighbours), checkpointed every round."""
    from pyspark.sql import functions as F

    both = edges.select(F.col("l").alias("src"), F.col("r").alias("dst")).unionAll(
        edges.select(F.col("r").alias("src"), F.col("l").alias("dst"))).checkpoint(eager=True)
    labels = both.groupBy(F.col("src").alias("pos")).agg(F.least(F.min("dst"), F.first("src")).alias("comp"))
    labels = labels.checkpoint(eager=True)
    for _ in range(max_rounds):
        sent = both.join(labels.withColumnRenamed("pos", "src"), "src").groupBy(F.col("dst").alias("pos")) \
            .agg(F.min("comp").alias("sent"))
        new = labels.join(sent, "pos", "left").select(
            "pos", F.least(F.col("comp"), F.coalesce(F.col("sent"), F.col("comp"))).alias("comp"),
            (F.coalesce(F.col("sent"), F.col("comp")) < F.col("comp")).alias("_moved")).checkpoint(eager=True)
        if not new.where("_moved").limit(1).count():
            return new.drop("_moved")
        labels = new.drop("_moved")
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")


def run_spark_match(cfg: HubConfig, spark: SparkSession, lake: Lakehouse,
                    progress: Callable[[str], None] = lambda _m: None) -> SparkMatchResult:
    """Match `staging.customer` of the lakehouse; write mdm.customer_records, match_pairs, match_model, xref,
    golden_customer, customer_hierarchy and golden_id_history to it (each whole, swapped in)."""
    from pyspark.sql import functions as F

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    settings = settings_of(cfg.mdm.customer)
    specs = list(settings.comparisons)
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 8)
    staged = spark.table("staging.customer")
    # materialized once: the range partitioning samples its input, and a reliable checkpoint computes it again
    std = staged.mapInArrow(standardize_batches, spark_schema({c: _RECORD_KINDS[c] for c in RECORD_COLUMNS})) \
        .localCheckpoint(eager=True)
    recs = with_positions(std, "record_id", partitions)
    n = recs.count()
    t["standardize"] = time.perf_counter() - t0
    progress(f"spark: {n:,} customer records standardized")
    t0 = time.perf_counter()
    cand, skipped = block(recs, settings.blocking)
    cand = cand.localCheckpoint(eager=True)
    t["block"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lv = compared(cand, recs, specs).localCheckpoint(eager=True)
    n_pairs = lv.count()
    t["compare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = train_model(spark, recs, n, lv, specs, settings.u_pairs, settings.seed)
    t["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scored = weighed(lv, recs, model).localCheckpoint(eager=True)
    t["score"] = time.perf_counter() - t0
    progress(f"spark: {n_pairs:,} candidate pairs compared and scored")
    t0 = time.perf_counter()
    edges = scored.where(F.col("prob") >= settings.review).select("l", "r", "prob").localCheckpoint(eager=True)
    comp = connected_components(edges)
    progress(f"spark: connected components of the review-band pairs found ({time.perf_counter() - t0:.1f} s)")
    # Components are clustered independently (no edge joins two), so the components of one bucket are clustered
    # by one call, as the DuckDB engine clusters all of them by one call: a call per component would cost
    # Python's per-group overhead thousands of times.
    keep = ["pos", *dict.fromkeys([*settings.exclusive, *settings.anchors])]
    buckets = max(partitions, 1)
    members = recs.select(*keep).join(comp, "pos").withColumn("bucket", F.col("comp") % buckets)
    edge_comp = edges.join(comp.select(F.col("pos").alias("l"), (F.col("comp") % buckets).alias("edge_bucket")), "l")
    clustered = members.groupBy("bucket").cogroup(edge_comp.groupBy("edge_bucket")).applyInPandas(
        cluster_component(settings.match, settings.review, list(settings.exclusive), list(settings.anchors)),
        "pos LONG, cluster LONG")
    alone = recs.select("pos").join(comp, "pos", "left_anti").select("pos", F.col("pos").alias("cluster"))
    labels = recs.select("pos", "record_id").join(clustered.unionByName(alone), "pos")
    t["cluster"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = _publish(cfg, spark, lake, recs, labels, scored, model, settings)
    t["golden_and_write"] = time.perf_counter() - t0
    out.records, out.candidate_pairs, out.timings = n, n_pairs, t
    out.stats = {"skipped_blocks": skipped, "em_iterations": model.info.get("em_iterations")}
    progress(f"spark: matched {n:,} customer records into {out.golden:,} golden customers")
    return out


def _previous_ids(lake: Lakehouse) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """The previous run's record → golden ID, the next free ID number and the ID history, from the lakehouse."""
    import duckdb

    con = duckdb.connect()
    try:
        prev = (lake.read_duckdb("mdm", "xref", con).select("source_name || ':' || stream || ':' || source_key AS "
                                                            "record_id, golden_id").df()
                if lake.exists("mdm", "xref") else pd.DataFrame(columns=["record_id", "golden_id"]))
        hist = (lake.read_duckdb("mdm", "golden_id_history", con).df() if lake.exists("mdm", "golden_id_history")
                else pd.DataFrame(columns=list(MDM_TABLES["golden_id_history"][0])))
    finally:
        con.close()
    return prev, first_free_number(pd.concat([prev["golden_id"], hist["retired_id"], hist["survivor_id"]])), hist


def _revival(lake: Lakehouse, records: pd.Series, prev: pd.DataFrame, history: pd.DataFrame, now: dt.datetime
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The IDs deleted records among `records` may revive (record_id, golden_id; `revivable_sql` over the
    lakehouse's tables), and `mdm.xref_deleted` after this run: without the records that came back, with those of
    the previous xref (`prev`) that left."""
    import duckdb

    cols = MDM_TABLES["xref_deleted"][0]
    con = duckdb.connect()
    try:
        old = arrow_of(lake.read_duckdb("mdm", "xref_deleted", con)) if lake.exists("mdm", "xref_deleted") \
            else to_arrow(pd.DataFrame(columns=list(cols)), cols)
        con.register("_deleted", old)
        con.register("_xref", to_arrow(prev, {"record_id": "text", "golden_id": "text"}))
        con.register("_history", to_arrow(history, MDM_TABLES["golden_id_history"][0]))
        rows = con.execute(revivable_sql(xref="_xref", history="_history", deleted="_deleted")).df()
    finally:
        con.close()
    ids = pa.array(records.astype(str), pa.string())

    def linked(record_ids: pd.Series) -> np.ndarray:
        return np.asarray(pc.is_in(pa.array(record_ids.astype(str), pa.string()), value_set=ids)
                          .to_numpy(zero_copy_only=False), bool)

    revive = rows.loc[linked(rows["record_id"]) & rows["revivable"].astype(bool).to_numpy(),
                      ["record_id", "golden_id"]]
    before: pd.DataFrame = old.to_pandas()
    left = prev.loc[~linked(prev["record_id"])]
    source, stream, source_key = split_ids(left["record_id"].to_numpy())
    gone = pd.DataFrame({"source_name": source, "stream": stream, "source_key": source_key,
                         "golden_id": left["golden_id"].to_numpy(), "deleted_at": now})
    kept = before.loc[~linked(before["source_name"] + ":" + before["stream"] + ":" + before["source_key"])]
    key = ["source_name", "stream", "source_key"]
    deleted = pd.concat([kept, gone], ignore_index=True).drop_duplicates(key, keep="last")
    return revive, deleted.reindex(columns=list(cols))


def _publish(cfg: HubConfig, spark: SparkSession, lake: Lakehouse, recs: DataFrame, labels: DataFrame,
             scored: DataFrame, model: FellegiSunter, settings: Any) -> SparkMatchResult:
    """Golden IDs (driver), then xref, records, pairs, model, golden records, hierarchy and ID history."""
    from pyspark.sql import functions as F

    now = _now()
    clusters = cast(pd.DataFrame, labels.select("record_id", "cluster").toPandas())
    prev, next_number, old_history = _previous_ids(lake)
    revive, deleted = _revival(lake, clusters["record_id"], prev, old_history, now)
    assignment = assign_ids(clusters, prev, next_number, revive)
    gid = assignment.ids
    old_ids = set(prev["golden_id"])
    revived = set(assignment.history.loc[assignment.history["reason"] == "revived", "survivor_id"])
    retired = sorted(old_ids - set(gid["golden_id"]) - set(assignment.history["retired_id"].dropna()))
    history = pd.concat([assignment.history, pd.DataFrame({"retired_id": retired, "survivor_id": None,
                                                           "reason": "deleted"})], ignore_index=True)
    history = history.assign(run_id=now.strftime("%Y%m%dT%H%M%S"), retired_at=now)
    hist_cols = MDM_TABLES["golden_id_history"][0]
    all_history = pd.concat([old_history, history], ignore_index=True) if len(history) else old_history
    ids = spark.createDataFrame(to_arrow(gid, {"record_id": "text", "golden_id": "text"}).to_pandas())
    with_gid = recs.drop("golden_id").join(ids, "record_id")
    records = with_gid.select(*RECORD_COLUMNS)
    lake.write_spark(records, "mdm", "customer_records")
    lake.register_table(spark, "mdm", "customer_records")
    pos_gid = with_gid.select("pos", "record_id", "golden_id")
    lg = pos_gid.select(F.col("pos").alias("l"), F.col("record_id").alias("left_record"),
                        F.col("golden_id").alias("lg"))
    rg = pos_gid.select(F.col("pos").alias("r"), F.col("record_id").alias("right_record"),
                        F.col("golden_id").alias("rg"))
    pairs = scored.where(F.col("prob") >= settings.review).join(lg, "l").join(rg, "r")  # (as pipelines.match_outputs)
    levels = [s.name for s in model.specs]
    lake.write_spark(pairs.select("left_record", "right_record", "rules", *[F.col(c).cast("bigint") for c in levels],
                                  "weight", "prob"), "mdm", "match_pairs")
    model_row = pd.DataFrame({"model_id": [now.strftime("%Y%m%dT%H%M%S%f")], "spec_fingerprint": [None],
                              "created_at": [now], "active": [True], "model": [model.to_json()]})
    lake.write_spark(spark.createDataFrame(to_arrow(model_row, MDM_TABLES["match_model"][0]).to_pandas(),
                                           spark_schema(MDM_TABLES["match_model"][0])), "mdm", "match_model")
    # xref: a record's score is its best match-band edge inside its golden customer (as pipelines.match_outputs does)
    inside = pairs.where((F.col("lg") == F.col("rg")) & (F.col("prob") >= settings.match))
    best = inside.select(F.col("left_record").alias("record_id"), "prob").unionAll(
        inside.select(F.col("right_record").alias("record_id"), "prob")).groupBy("record_id").agg(
        F.max("prob").alias("score"))
    sizes = pos_gid.groupBy("golden_id").agg(F.count("*").alias("size"))
    xref = (with_gid.select("record_id", "source_name", "stream", "source_key", "golden_id")
            .join(best, "record_id", "left").join(sizes, "golden_id")
            .select("source_name", "stream", "source_key", "golden_id",
                    F.when(F.col("size") == 1, F.lit(1.0)).otherwise(F.col("score")).alias("match_score"),
                    F.when(F.col("size") == 1, "singleton").when(F.col("score").isNull(), "rule")
                    .otherwise("model").alias("matched_by"),
                    F.lit(now).cast("timestamp_ntz").alias("updated_at")))
    lake.write_spark(xref, "mdm", "xref")
    lake.register_table(spark, "mdm", "xref")
    golden = spark.sql(spark_sql(golden_sql(cfg, _golden_relation(None), lambda e: e)))
    cols = MDM_TABLES["golden_customer"][0]
    golden = golden.select(*[F.lit(now).cast("timestamp_ntz").alias(c) if c == "updated_at" else F.col(c)
                             for c in cols])
    lake.write_spark(golden, "mdm", "golden_customer")
    inputs = ", ".join(f"r.{c}" for c in HIERARCHY_INPUTS)
    hierarchy = spark.sql(spark_sql(hierarchy_sql(f"(SELECT {inputs} FROM {RECORDS} r)")))
    hierarchy = hierarchy.select(*[F.lit(now).cast("timestamp_ntz").alias(c) if c == "updated_at" else F.col(c)
                                   for c in MDM_TABLES["customer_hierarchy"][0]])
    lake.write_spark(hierarchy, "mdm", "customer_hierarchy")
    lake.write_spark(spark.createDataFrame(to_arrow(all_history.reindex(columns=list(hist_cols)), hist_cols)
                                           .to_pandas(), spark_schema(hist_cols)), "mdm", "golden_id_history")
    deleted_cols = MDM_TABLES["xref_deleted"][0]
    lake.write_spark(spark.createDataFrame(to_arrow(deleted, deleted_cols).to_pandas(), spark_schema(deleted_cols)),
                     "mdm", "xref_deleted")
    for t in ("golden_customer", "customer_hierarchy", "golden_id_history", "match_pairs", "match_model",
              "xref_deleted"):
        lake.register_table(spark, "mdm", t)
    return SparkMatchResult(records=0, golden=lake.row_count("mdm", "golden_customer"), candidate_pairs=0,
                            new_ids=len(set(gid["golden_id"]) - old_ids - revived),
                            merged_ids=int((history["reason"] == "merged").sum()), revived_ids=len(revived))


__all__ = ["SparkMatchResult", "block", "compared", "connected_components", "run_spark_match", "weighed",
           "with_positions"]

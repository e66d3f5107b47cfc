"""Splink 5 (DuckDB) deduplication of standardized customer records: the benchmark's reference.

Reads the records our pipeline has already standardized, trains a Fellegi-Sunter model the
way the Splink docs recommend (u by random sampling, the prior from deterministic rules, m by
EM over several blocking sessions), predicts over five blocking rules and clusters at a match
probability. Writes timings, peak memory and pair counts as JSON and the cluster labels as
``<output stem>.labels.parquet`` (``rid``, ``cluster_id``).

    python -m bench.splink_run --input RECORDS.parquet --output RESULT.json \
        [--threshold 0.5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator

COLUMNS = (
    "rid", "name_key", "city_any", "uscc_std", "org_code", "phone_digits", "address_norm", "contact_name", "branch",
)  # what the model reads; the other input columns are left out
U_MAX_PAIRS = 2e6
SEED = 42
# Share of true pairs the deterministic rules below are expected to find: the tax code is
# filled on roughly 60% of records, and name + city + phone (or + address) finds most of the
# remaining pairs, minus typos and stale phones/addresses.
DETERMINISTIC_RECALL = 0.7


def comparisons() -> list[ComparisonCreator]:
    """The model's comparisons: name, city, tax code, phone, address, contact, branch."""
    name = cl.CustomComparison(
        output_column_name="name_key",
        comparison_levels=[
            cll.NullLevel("name_key"),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),
            cll.LevenshteinLevel("name_key", 1),  # homophone typo: 华信 / 化信
            cll.JaroWinklerLevel("name_key", 0.8),
            cll.ElseLevel(),
        ],
    )
    tax = cl.CustomComparison(
        output_column_name="tax_code",
        comparison_levels=[
            cll.NullLevel("uscc_std"),
            cll.ExactMatchLevel("uscc_std"),
            cll.ExactMatchLevel("org_code"),  # USCC against a legacy organization code
            cll.LevenshteinLevel("uscc_std", 2),  # a keying error or two swapped characters
            cll.ElseLevel(),
        ],
    )
    branch = cl.CustomComparison(
        output_column_name="branch",
        comparison_levels=[  # null means head office: informative, so no null level
            cll.CustomLevel("coalesce(branch_l, '') = coalesce(branch_r, '')", "same office"),
            cll.ElseLevel(),
        ],
    )
    return [
        name,
        cl.ExactMatch("city_any").configure(term_frequency_adjustments=True),
        tax,
        cl.ExactMatch("phone_digits"),
        cl.JaroWinklerAtThresholds("address_norm", [0.9, 0.75]),
        cl.ExactMatch("contact_name").configure(term_frequency_adjustments=True),
        branch,
    ]


def blocking_rules() -> list[BlockingRuleCreator]:
    """Rules generating the candidate pairs for prediction."""
    return [
        block_on("uscc_std"),
        block_on("org_code"),
        block_on("name_key"),
        block_on("phone_digits"),
        block_on("city_any", "address_norm"),
    ]


def deterministic_rules() -> list[BlockingRuleCreator]:
    """High-precision rules for the prior (probability two random records match)."""
    return [
        block_on("uscc_std"),
        block_on("name_key", "city_any", "phone_digits"),
        block_on("name_key", "city_any", "address_norm"),
    ]


def em_rules() -> list[BlockingRuleCreator]:
    """EM training sessions; each comparison is estimated in at least two of them."""
    return [block_on("uscc_std"), block_on("phone_digits"), block_on("name_key")]


def _rule_keys(rules: list[BlockingRuleCreator]) -> str:
    """Blocking rules as their key columns: ``uscc_std | city_any+address_norm``."""
    sqls = (r.get_blocking_rule("duckdb").blocking_rule_sql for r in rules)
    return " | ".join("+".join(re.findall(r'l\."(\w+)"', sql)) for sql in sqls)


def settings_summary() -> str:
    """A short human description of the set-up, for the result file."""
    return (
        "dedupe_only; comparisons: name_key [exact+tf, levenshtein<=1, jaro-winkler>=0.8], "
        "city_any [exact+tf], tax code [uscc_std exact, org_code exact, levenshtein(uscc_std)<=2], "
        "phone_digits [exact], address_norm [exact, jaro-winkler>=0.9, >=0.75], contact_name [exact+tf], "
        "branch [same office, both head office counting as same]; "
        f"blocking: {_rule_keys(blocking_rules())}; "
        f"training: u by random sampling (max_pairs {U_MAX_PAIRS:.0e}, seed {SEED}), "
        f"prior from deterministic rules ({_rule_keys(deterministic_rules())}; recall {DETERMINISTIC_RECALL}), "
        f"m by EM blocked on {_rule_keys(em_rules())}"
    )


def load(input_path: Path, threads: int) -> tuple[Linker, duckdb.DuckDBPyConnection]:
    """Read the records into DuckDB; return the (untrained) linker and its connection."""
    con = duckdb.connect()
    # DuckDB 2 keeps an execute() result open until it is fully fetched: drain each one.
    con.execute(f"SET threads TO {int(threads)}").fetchall()
    con.execute(
        f"CREATE TABLE customers AS SELECT {', '.join(COLUMNS)} FROM read_parquet(?)",
        [str(input_path)],
    ).fetchall()
    db_api = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rid",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_matching_columns=False,
    )
    return Linker(db_api.register("customers"), settings, log_level=logging.WARNING), con


def train(linker: Linker, lap: Callable[[str], None] = lambda _: None) -> None:
    """Prior from deterministic rules, u by random sampling, m by EM (docs' recommended order)."""
    training = linker.training
    training.estimate_probability_two_random_records_match(deterministic_rules(), recall=DETERMINISTIC_RECALL)
    lap("prior")
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=SEED)
    lap("u")
    for rule in em_rules():
        training.estimate_parameters_using_expectation_maximisation(rule)
    lap("em")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Row count of a table."""
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def run(input_path: Path, threshold: float, threads: int) -> tuple[dict[str, Any], pa.Table]:
    """Train, predict and cluster; return the result record and the labels (rid, cluster_id)."""
    timings: dict[str, float] = {}
    t0 = last = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[phase] = round(now - last, 3)
        last = now

    linker, con = load(input_path, threads)
    lap("read")
    train(linker, lap)

    blocked = linker.inference.compute_blocked_pairs_for_predict()  # cached, reused by predict
    candidate_pairs = _count(con, blocked.physical_name)
    lap("blocking")
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    lap("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    labels = con.sql(
        f"SELECT rid::BIGINT AS rid, cluster_id::BIGINT AS cluster_id FROM {clusters.physical_name} ORDER BY rid"
    ).to_arrow_table()  # materialized: the clock stops with the labels in hand
    lap("cluster")

    result = {
        "wall_s": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "candidate_pairs": candidate_pairs,
        "pairs_above_threshold": _count(con, predictions.physical_name),
        "records": labels.num_rows,
        "timings": timings,
        "settings": settings_summary(),
        "threshold": threshold,
        "threads": threads,
        "splink_version": splink.__version__,
    }
    return result, labels


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, required=True, help="standardized records (parquet)")
    ap.add_argument("--output", type=Path, required=True, help="result JSON")
    ap.add_argument("--threshold", type=float, default=0.5, help="match probability for clustering")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    args = ap.parse_args(argv)

    result, labels = run(args.input, args.threshold, args.threads)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(labels, args.output.with_suffix(".labels.parquet"))
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""The hard cases of Chinese B2B master data: F1, precision and recall per case kind.

    python -m bench.hard_cases [--records 20000] [--seed 11]

Generates `demo.hard_cases.hard_case_customers` (background customers plus placeholders, renamed
companies, English names, 15-digit registration numbers, institutions, groups and subsidiaries), runs the
engine end to end (standardize → block → compare → train → score → cluster) and scores the clusters per
case kind: over the pairs with at least one record of the kind, so a false merge with any other record
counts against the kind. Prints a table and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import time

from bench.__main__ import save_results
from demo.hard_cases import CASE_KINDS, hard_case_customers
from mdm.engine import LinkSettings, link
from mdm.evaluate import pairwise_scores, scores_by_group
from mdm.specs import (
    CUSTOMER_ANCHORS,
    CUSTOMER_BLOCKING,
    CUSTOMER_COMPARISONS,
    CUSTOMER_EXCLUSIVE,
    derive_customer_columns,
)
from mdm.standardize import standardize_customers


def measure(n_records: int = 20_000, seed: int = 11, workers: int = 2) -> dict:
    """Per case kind: records, true pairs, predicted pairs, F1, precision, recall; and all records together."""
    recs, truth = hard_case_customers(n_records, seed)
    start = time.perf_counter()
    std = derive_customer_columns(standardize_customers(recs))
    res = link(std, LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE,
                                 CUSTOMER_ANCHORS, workers=workers))
    wall = time.perf_counter() - start
    per = scores_by_group(res.labels, truth["entity_id"], truth["case"])
    rows = []
    for kind in [*CASE_KINDS, "all"]:
        s = pairwise_scores(res.labels, truth["entity_id"]) if kind == "all" else per.get(kind)
        if s is None:
            continue
        rows.append({"kind": kind, "records": s.records, "true_pairs": s.true_pairs,
                     "predicted_pairs": s.predicted_pairs, "f1": s.f1, "precision": s.precision, "recall": s.recall})
    return {"records": len(recs), "seed": seed, "wall_s": wall, "rows": rows}


def markdown(r: dict) -> str:
    lines = [f"## Hard cases ({r['records']:,} records, seed {r['seed']}; `python -m bench.hard_cases`)", "",
             "| case kind | records | true pairs | predicted pairs | F1 | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        lines.append(f"| {row['kind']} | {row['records']:,} | {row['true_pairs']:,} | {row['predicted_pairs']:,} "
                     f"| {row['f1']:.4f} | {row['precision']:.4f} | {row['recall']:.4f} |")
    lines += ["", f"Standardize and link: {r['wall_s']:.1f} s. A kind's figures count every pair with at least one "
              "record of that kind (a false merge with a background record counts against the kind)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.hard_cases")
    ap.add_argument("--records", type=int, default=20_000, help="background records (the cases come on top)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    r = measure(args.records, args.seed, args.workers)
    text = markdown(r)
    print(text)
    save_results("hard-cases", text, r)


if __name__ == "__main__":
    main()

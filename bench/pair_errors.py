"""Where a run's pair errors come from, against a generated truth: false pairs by what joins their entities, missed
pairs by what their records share.

    python -m bench.pair_errors --data scale-10000000 [--warehouse duckdb:///scale-10000000/hub.duckdb]

Reads the DuckDB warehouse of a `bench.scale` run (read-only) with the folder's `truth.csv` and `entities.csv`.
Entity IDs start with their generator universe (`C00…`, `C01…`: one per chunk of `bench.scale.write_in_chunks`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import duckdb

RECORDS = """CREATE TEMP TABLE j AS SELECT t.entity_id, r.golden_id, r.record_id, r.name_key
    FROM read_csv_auto('{truth}', all_varchar = true) t
    JOIN mdm.customer_records r
      ON r.source_name = t.source_name AND r.stream = t.stream AND r.source_key = t.source_key"""
ENTITIES = "CREATE TEMP TABLE e AS SELECT entity_id, legal_name FROM read_csv_auto('{entities}', all_varchar = true)"
PAIRS = """SELECT
    (SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) n FROM j GROUP BY entity_id, golden_id)) AS right_pairs,
    (SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) n FROM j GROUP BY entity_id)) AS true_pairs,
    (SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) n FROM j GROUP BY golden_id)) AS found_pairs"""
FALSE = """WITH g AS (SELECT golden_id, entity_id, count(*) n FROM j GROUP BY 1, 2)
    SELECT sum(a.n * b.n) AS false_pairs,
           sum(CASE WHEN substr(a.entity_id, 1, 3) <> substr(b.entity_id, 1, 3) THEN a.n * b.n ELSE 0 END) AS universes,
           sum(CASE WHEN e1.legal_name = e2.legal_name THEN a.n * b.n ELSE 0 END) AS same_legal_name,
           count(DISTINCT a.golden_id) AS golden_customers
    FROM g a JOIN g b ON a.golden_id = b.golden_id AND a.entity_id < b.entity_id
    JOIN e e1 ON e1.entity_id = a.entity_id JOIN e e2 ON e2.entity_id = b.entity_id"""
MISSED = """WITH nk AS (SELECT name_key, count(*) n FROM j WHERE name_key IS NOT NULL GROUP BY 1),
    fn AS (SELECT a.name_key ka, b.name_key kb FROM j a JOIN j b
           ON a.entity_id = b.entity_id AND a.record_id < b.record_id AND a.golden_id <> b.golden_id)
    SELECT count(*) AS missed_pairs, count(*) FILTER (WHERE ka = kb) AS same_name_key,
           max(nk.n) FILTER (WHERE ka = kb) AS their_largest_name_block,
           (SELECT count(*) FROM (SELECT entity_id FROM j GROUP BY 1 HAVING count(DISTINCT golden_id) > 1)) AS split,
           (SELECT count(DISTINCT entity_id) FROM j) AS entities
    FROM fn LEFT JOIN nk ON nk.name_key = fn.ka"""


def breakdown(data: Path, warehouse: Path) -> dict[str, Any]:
    """The pair counts of the run in `warehouse` against the truth of `data`."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(RECORDS.format(truth=(data / "truth.csv").as_posix()))
        con.execute(ENTITIES.format(entities=(data / "entities.csv").as_posix()))
        out: dict[str, Any] = {}
        for sql in (PAIRS, FALSE, MISSED):
            cur = con.execute(sql)
            row = cur.fetchone() or ()
            out.update({d[0]: (int(v) if v is not None else 0) for d, v in zip(cur.description, row, strict=True)})
        return out
    finally:
        con.close()


def markdown(r: dict[str, Any]) -> str:
    p, rc = r["right_pairs"] / max(r["found_pairs"], 1), r["right_pairs"] / max(r["true_pairs"], 1)
    share = r["universes"] / max(r["false_pairs"], 1)
    return ("| pairs | count |\n|---|---:|\n"
            f"| found (precision {p:.4f}, recall {rc:.4f}) | {r['found_pairs']:,} |\n"
            f"| false | {r['false_pairs']:,} |\n"
            f"| false, entities of two generator universes | {r['universes']:,} ({share:.0%}) |\n"
            f"| false, two entities of the same legal name | {r['same_legal_name']:,} |\n"
            f"| golden customers holding a false pair | {r['golden_customers']:,} |\n"
            f"| missed | {r['missed_pairs']:,} |\n"
            f"| missed, sharing their name key (largest such block: {r['their_largest_name_block']:,} records) | "
            f"{r['same_name_key']:,} |\n"
            f"| entities split across golden customers | {r['split']:,} of {r['entities']:,} |\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a bench.scale folder (truth.csv, entities.csv)")
    ap.add_argument("--warehouse", default=None, help="duckdb:///PATH (default: the folder's hub.duckdb)")
    args = ap.parse_args()
    wh = Path(args.warehouse.removeprefix("duckdb:///")) if args.warehouse else args.data / "hub.duckdb"
    print(markdown(breakdown(args.data, wh)))


if __name__ == "__main__":
    main()

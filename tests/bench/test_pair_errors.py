"""bench.pair_errors counts a run's false and missed pairs against a generated truth, by their causes."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.pair_errors import breakdown, markdown


def test_false_and_missed_pairs_are_counted_by_what_their_records_share(tmp_path: Path) -> None:
    # entities C00E1 (3 records), C01E1 (another universe, same legal name, 1 record), C00E2 (2 records)
    # golden customers: G1 = {r1, r2, r4} (r4 of C01E1: two false pairs), G2 = {r3} (r3 of C00E1: split off),
    # G3 = {r5, r6}
    rows = [("r1", "C00E1", "G1", "k1"), ("r2", "C00E1", "G1", "k1"), ("r3", "C00E1", "G2", "k1"),
            ("r4", "C01E1", "G1", "k1"), ("r5", "C00E2", "G3", "k2"), ("r6", "C00E2", "G3", None)]
    wh = tmp_path / "hub.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA mdm")
    con.execute("CREATE TABLE mdm.customer_records (source_name TEXT, stream TEXT, source_key TEXT, record_id TEXT, "
                "golden_id TEXT, name_key TEXT)")
    con.executemany("INSERT INTO mdm.customer_records VALUES ('s', 'customers', ?, ?, ?, ?)",
                    [(r, r, g, k) for r, _, g, k in rows])
    con.close()
    (tmp_path / "truth.csv").write_text("source_name,stream,source_key,entity_id\n" + "".join(
        f"s,customers,{r},{e}\n" for r, e, _, _ in rows), encoding="utf-8")
    (tmp_path / "entities.csv").write_text("entity_id,legal_name\nC00E1,华信有限公司\nC01E1,华信有限公司\n"
                                           "C00E2,东方有限公司\n", encoding="utf-8")
    got = breakdown(tmp_path, wh)
    assert got == {"right_pairs": 2, "true_pairs": 4, "found_pairs": 4,  # r1-r2, r5-r6 right; r1-r3, r2-r3 missed
                   "false_pairs": 2, "universes": 2, "same_legal_name": 2, "golden_customers": 1,
                   "missed_pairs": 2, "same_name_key": 2, "their_largest_name_block": 4, "split": 1, "entities": 3}
    assert "| found (precision 0.5000, recall 0.5000) | 4 |" in markdown(got)

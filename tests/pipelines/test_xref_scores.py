"""How each record joined its golden customer, as a full run writes `mdm.xref`: a singleton scores 1, a record joined
by a match-band pair scores its best such pair, and a record joined by the rules alone (a floater attached to the one
cluster its review-band pairs reach) has no score: NULL, as the incremental path and the Spark engine write it, never
NaN (which compares equal to nothing a BI tool filters on, and made the engines' xref differ)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config_file import load_config
from demo.generate import generate, write_demo
from pipelines.run import run_all
from tests.conftest import DEMO_CONFIG
from warehouse.engine import Warehouse


@pytest.fixture
def demo_with_a_rule_join(tmp_path: Path) -> Path:
    """150 generated companies (seed 12): two of their records join their customer by the rules alone."""
    write_demo(tmp_path / "data", generate(n_entities=150, seed=12))
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(DEMO_CONFIG.replace("duckdb:///../warehouse/demo.duckdb", "duckdb:///w.duckdb"), encoding="utf-8")
    return cfg


def test_a_record_joined_by_the_rules_alone_has_no_score_not_nan(demo_with_a_rule_join: Path,
                                                                  warehouse_url: str) -> None:
    cfg = load_config(demo_with_a_rule_join, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    run = run_all(cfg, wh)
    assert run.match is not None and not run.match.incremental
    match_band = cfg.mdm.customer.thresholds.match
    got = {r[0]: tuple(r[1:]) for r in wh.read_frame(
        "SELECT matched_by, count(*) AS n, count(match_score) AS scored, "
        "sum(CASE WHEN match_score = CAST('NaN' AS DOUBLE PRECISION) THEN 1 ELSE 0 END) AS nan, "
        "min(match_score) AS low, max(match_score) AS high FROM mdm.xref GROUP BY matched_by").itertuples(index=False)}
    assert set(got) == {"singleton", "model", "rule"}
    n, scored, nan, _, _ = got["rule"]
    assert n == 2 and scored == 0 and nan == 0
    n, scored, nan, low, high = got["singleton"]
    assert scored == n and nan == 0 and low == high == 1.0
    n, scored, nan, low, high = got["model"]
    assert scored == n and nan == 0 and match_band <= low <= high <= 1.0
    wh.dispose()

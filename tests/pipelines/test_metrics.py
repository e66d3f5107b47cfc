"""`mdm.run_metrics`: the MDM health history `hub run` writes, one row per run and measure, on DuckDB and PostgreSQL.

The demo_project (150 companies, legacy sources) run twice, a steward decision, a third run: the first and third
runs write their measures (equal to direct SQL over the warehouse), the second (nothing changed) writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from core.config_file import load_config
from hub.cli import main
from pipelines.metrics import GLOBAL_MEASURES
from pipelines.steward import actions
from warehouse.engine import Warehouse


def measures(wh: Warehouse, run_id: str) -> dict[tuple[str, str | None, str | None, str | None], float]:
    df = wh.read_frame("SELECT measure, source_name, stream, field, value FROM mdm.run_metrics WHERE run_id = :r",
                       {"r": run_id})
    out = {}
    for m, s, st, f, v in df.itertuples(index=False):
        out[(m, s, st, f)] = v
    return out


def runs(wh: Warehouse) -> list[str]:
    df = wh.read_frame("SELECT run_id, MIN(run_at) AS first_at FROM mdm.run_metrics GROUP BY run_id ORDER BY first_at")
    return df["run_id"].tolist()


def test_each_run_that_changed_something_records_its_measures(demo_project: Path, warehouse_url: str) -> None:
    runner = CliRunner()
    args = ["run", "-c", str(demo_project), "--warehouse", warehouse_url]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    wh = Warehouse(warehouse_url)
    [run1] = runs(wh)
    got = measures(wh, run1)
    golden = int(wh.scalar("SELECT count(*) FROM mdm.golden_customer"))
    records = int(wh.scalar("SELECT count(*) FROM mdm.xref"))
    assert golden < records  # the demo has duplicates, so the measures below differ from each other
    assert got[("golden_customers", None, None, None)] == golden
    assert got[("source_records", None, None, None)] == records
    multi = wh.scalar("SELECT count(*) FROM (SELECT golden_id FROM mdm.xref GROUP BY golden_id "
                      "HAVING COUNT(DISTINCT source_name) >= 2) g")
    assert 0 < multi < golden and got[("multi_system_customers", None, None, None)] == multi
    assert got[("review_open", None, None, None)] == wh.scalar(
        "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'")
    assert got[("decisions_active", None, None, None)] == 0
    per_source = wh.read_frame("SELECT source_name, count(*) AS n FROM mdm.xref GROUP BY source_name")
    assert {s for s in per_source["source_name"]} == {"crm_a", "crm_b", "erp"}
    for s, n in per_source.itertuples(index=False):
        assert got[("source_records", s, None, None)] == n
    assert sum(v for (m, s, _, _), v in got.items() if m == "source_records" and s) == records
    # data quality of the customer streams, per field, as marts.data_quality has it
    dq = wh.read_frame("SELECT source_name, stream, field, completeness_pct, checked, validity_pct "
                       "FROM marts.data_quality WHERE entity = 'customer' AND field IS NOT NULL")
    assert len(dq) > 10
    for s, st, f, comp, checked, valid in dq.itertuples(index=False):
        assert got[("completeness_pct", s, st, f)] == float(comp)
        assert (("validity_pct", s, st, f) in got) == (checked > 0)
        if checked > 0:
            assert got[("validity_pct", s, st, f)] == float(valid)
    uscc = {s: got[("validity_pct", s, "customers", "uscc")] for s in ("crm_a", "crm_b", "erp")}
    assert all(0 < v <= 100 for v in uscc.values())
    assert {m for m, s, _, _ in got if s is None} == set(GLOBAL_MEASURES)

    # Nothing changed: no row written, no version moved.
    version = wh.scalar("SELECT version FROM raw._versions WHERE table_name = 'mdm.run_metrics'")
    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert runs(wh) == [run1]
    assert wh.scalar("SELECT version FROM raw._versions WHERE table_name = 'mdm.run_metrics'") == version

    wh.dispose()


def test_a_steward_decision_shows_in_the_next_runs_measures(steward_project: Path) -> None:
    """The steward_project's warehouse has its first run's measures; a decision, then a run: a second set."""
    cfg = load_config(steward_project)
    wh = Warehouse(cfg.warehouse.url)
    [run1] = runs(wh)
    before = measures(wh, run1)
    assert before[("review_open", None, None, None)] == wh.scalar(
        "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'") > 0
    golden, records = before[("golden_customers", None, None, None)], before[("source_records", None, None, None)]
    # a review-band pair whose customers hold one record each, so that `same` merges two customers (a record
    # moved out of a larger customer would split it instead: same count, no merged ID)
    item = wh.read_frame("SELECT item_id FROM mdm.review_queue q WHERE status = 'open' "
                         "AND reason = 'score in the review band' AND (SELECT count(*) FROM mdm.xref x "
                         "WHERE x.golden_id = q.left_golden_id) = 1 AND (SELECT count(*) FROM mdm.xref x "
                         "WHERE x.golden_id = q.right_golden_id) = 1 ORDER BY item_id LIMIT 1")["item_id"][0]
    actions.decide(cfg, wh, item, "same", "li.wang")
    result = CliRunner().invoke(main, ["run", "-c", str(steward_project)])
    assert result.exit_code == 0, result.output
    first, run2 = runs(wh)
    assert first == run1
    after = measures(wh, run2)
    assert after[("decisions_active", None, None, None)] == 1
    assert after[("review_open", None, None, None)] == wh.scalar(
        "SELECT count(*) FROM mdm.review_queue WHERE status = 'open'")
    assert after[("review_open", None, None, None)] < before[("review_open", None, None, None)]
    assert after[("golden_customers", None, None, None)] == wh.scalar("SELECT count(*) FROM mdm.golden_customer")
    assert after[("merged_ids", None, None, None)] == wh.scalar(
        "SELECT count(*) FROM mdm.golden_id_history WHERE reason IN ('merged', 'manual_merge')")
    assert (after[("golden_customers", None, None, None)], after[("merged_ids", None, None, None)]) != (
        golden, before[("merged_ids", None, None, None)])  # the decision moved records between customers
    assert after[("source_records", None, None, None)] == records
    wh.dispose()

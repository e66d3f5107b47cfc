"""`hub run` end to end on generated demo sources, run twice: complete, then idempotent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from hub.cli import main
from warehouse.engine import Warehouse


def counts(wh: Warehouse) -> dict[str, int]:
    tables = ["raw.crm_a__customers", "raw.crm_b__customers", "raw.erp__customers", "raw.erp__sales_orders",
              "staging.customer", "staging.sales_order", "mdm.xref", "mdm.golden_customer",
              "marts.dim_customer", "marts.fct_sales_orders", "raw._quarantine"]
    with wh.begin() as c:
        return {t: c.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in tables}


def test_hub_run_twice(demo_project: Path, warehouse_url: str) -> None:
    runner = CliRunner()
    args = ["run", "-c", str(demo_project), "--warehouse", warehouse_url]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "golden customers:" in first.output and "warehouse:" in first.output
    wh = Warehouse(warehouse_url)
    truth = pd.read_csv(demo_project.parent / "data" / "truth.csv", dtype=str)
    orders = pd.read_sql("SELECT FID, FAMOUNT FROM T_SAL_ORDER", f"sqlite:///{demo_project.parent / 'data/erp.sqlite'}")
    c1 = counts(wh)
    # Every source customer record is in the xref exactly once.
    assert c1["mdm.xref"] == len(truth) == c1["staging.customer"]
    xref = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    assert not xref.duplicated(["source_name", "stream", "source_key"]).any()
    got = set(map(tuple, xref[["source_name", "stream", "source_key"]].to_numpy()))
    assert got == set(map(tuple, truth[["source_name", "stream", "source_key"]].to_numpy()))
    # Every order lands with its golden customer and the money reconciles to the cent.
    fct = wh.read_frame("SELECT count(*) AS n, count(golden_id) AS g, sum(amount) AS s FROM marts.fct_sales_orders")
    assert int(fct["n"][0]) == int(fct["g"][0]) == len(orders)
    assert round(float(fct["s"][0]), 2) == round(float(orders["FAMOUNT"].sum()), 2)
    assert c1["marts.dim_customer"] == c1["mdm.golden_customer"] == xref["golden_id"].nunique()

    versions = wh.read_frame("SELECT table_name, version FROM raw._versions ORDER BY table_name")
    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    # nothing changed: no table of the warehouse got a new version (so no mart, check or index work was done)
    assert wh.read_frame("SELECT table_name, version FROM raw._versions ORDER BY table_name").equals(versions)
    assert counts(wh) == c1  # nothing duplicated, nothing lost
    xref2 = wh.read_frame("SELECT source_name, stream, source_key, golden_id FROM mdm.xref")
    merged = xref.merge(xref2, on=["source_name", "stream", "source_key"])
    assert (merged["golden_id_x"] == merged["golden_id_y"]).all()  # golden IDs are stable
    assert "(0 new IDs, 0 merged; incremental: 0 new or changed, 0 deleted, 0 re-clustered" in second.output
    # nothing changed: nothing staged again (reference files and settings included), no mart rebuilt
    assert "built marts." in first.output and "built marts." not in second.output
    assert "staged marts." not in second.output and "staged the public holidays" not in second.output


def test_a_failing_source_does_not_stop_the_others(demo_project: Path, tmp_path: Path) -> None:
    (demo_project.parent / "data" / "crm_b_export.csv").unlink()
    url = f"duckdb:///{tmp_path / 'f.duckdb'}"
    r = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", url])
    assert r.exit_code == 1
    assert "crm_b" in r.output and "failed" in r.output and "file not found" in r.output
    # The other sources went all the way: every CRM A customer landed, every ERP order reached the mart.
    data = demo_project.parent / "data"
    crm_a = pd.read_sql("SELECT count(*) AS n FROM t_customer", f"sqlite:///{data / 'crm_a.sqlite'}")["n"][0]
    orders = pd.read_sql("SELECT count(*) AS n FROM T_SAL_ORDER", f"sqlite:///{data / 'erp.sqlite'}")["n"][0]
    wh = Warehouse(url)
    assert wh.scalar("SELECT count(*) FROM raw.crm_a__customers") == crm_a
    assert wh.scalar("SELECT count(*) FROM marts.fct_sales_orders") == orders
    assert wh.scalar("SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'") == 0

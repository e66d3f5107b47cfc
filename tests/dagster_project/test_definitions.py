"""The Dagster code location loads, and materializing every asset builds the same warehouse as `hub run`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import DEFAULT_CONFIG, build_definitions
from hub.config import load_config
from pipelines.run import run_all
from warehouse.engine import Warehouse


def test_the_demo_definitions_load_with_the_expected_graph() -> None:
    defs = build_definitions(DEFAULT_CONFIG)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/crm_a/customers", "raw/crm_b/customers", "raw/erp/sales_orders", "staging/customer/records",
            "mdm/customer/golden", "marts/dim_customer", "marts/fct_sales_orders"} <= keys
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(["mdm", "customer", "golden"]) in graph.get(dg.AssetKey(["marts", "dim_customer"])).parent_keys


def test_materializing_everything_equals_hub_run(demo_project: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'dagster.duckdb'}")
    defs = build_definitions(demo_project)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process()
    assert result.success
    via_dagster = Warehouse(f"duckdb:///{tmp_path / 'dagster.duckdb'}")

    cli = Warehouse(f"duckdb:///{tmp_path / 'cli.duckdb'}")
    run_all(load_config(demo_project, warehouse_url=cli.url), cli)
    for table in ("mdm.xref", "marts.dim_customer", "marts.fct_sales_orders"):
        q = f"SELECT count(*) AS n FROM {table}"
        assert via_dagster.read_frame(q)["n"][0] == cli.read_frame(q)["n"][0] > 0
    q = "SELECT round(sum(amount), 2) AS s FROM marts.fct_sales_orders"
    assert via_dagster.read_frame(q)["s"][0] == cli.read_frame(q)["s"][0]

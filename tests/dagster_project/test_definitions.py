"""The Dagster code location loads, its checks fail on broken data (the blocking ones stopping what is downstream),
and materializing every asset builds the same warehouse as `hub run`."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from core.config import ConfigError
from core.config_file import load_config
from core.entities import ENTITIES
from dagster_project.assets.mdm import every_staged_customer_in_xref, golden_ids_are_unique
from dagster_project.definitions import DEFAULT_CONFIG, build_definitions
from dagster_project.resources import HubResource
from pipelines.publish import MARTS
from pipelines.run import run_all
from pipelines.stage import ensure_staging, staging_columns, to_arrow
from predict.catalog import predicted_mart_docs
from warehouse.contract import MDM_TABLES, ensure_mdm
from warehouse.engine import Warehouse
from warehouse.marts.catalog import mart_docs

BLOCKING = {("golden", "golden_ids_are_unique"), ("golden", "every_staged_customer_in_xref"),
            ("fct_sales_orders", "not_null__golden_id"), ("fct_sales_orders", "unique"),
            ("fct_sales_orders", "reconcile__erp__sales_orders")}


def test_the_demo_definitions_load_with_the_expected_graph() -> None:
    defs = build_definitions(DEFAULT_CONFIG)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/crm_a/customers", "raw/crm_b/customers", "raw/erp/sales_orders", "staging/customer/records",
            "staging/target/records", "staging/channel_cost/records", "mdm/customer/golden"} <= keys
    assert {f"marts/{m}" for m in MARTS} <= keys
    # lineage read from the SQL: sales performance reads the facts, the rep dimension and the targets
    parents = graph.get(dg.AssetKey(["marts", "sales_performance_monthly"])).parent_keys
    assert {dg.AssetKey(["marts", "fct_sales_orders"]), dg.AssetKey(["marts", "dim_sales_rep"]),
            dg.AssetKey(["staging", "target", "records"])} <= parents
    assert dg.AssetKey(["mdm", "customer", "golden"]) in graph.get(dg.AssetKey(["marts", "dim_customer"])).parent_keys
    # the MDM health history after the golden records and the data-quality mart
    assert graph.get(dg.AssetKey(["mdm", "health", "run_metrics"])).parent_keys == {  # (the end of the graph)
        dg.AssetKey(["mdm", "customer", "golden"]),
        *(dg.AssetKey(["marts", m]) for m in (*MARTS, *predicted_mart_docs()))}
    assert graph.get(dg.AssetKey(["raw", "erp", "sales_orders"])).group_name == "source_erp"
    # checks beside their assets, generated from marts.yaml and the sources; severity error: blocking
    checks = {(k.asset_key.path[-1], k.name): k for k in graph.asset_check_keys}
    assert set(checks) >= BLOCKING
    assert {n for n in BLOCKING if graph.get_check_spec(checks[n]).blocking} == BLOCKING
    assert {name for mart, name in checks if mart == "fct_payments"} >= {
        "unique", "references__rep_id", "references__source_name_and_order_key", "reconcile__kingdee__AR_RECEIVEBILL"}
    # every mart (and nothing else) has a freshness policy of marts.freshness_hours (26 by default), which the
    # daemon evaluates: Dagster's current API, not the superseded freshness checks and their sensor
    fresh = {k.path[-1]: graph.get(k).freshness_policy for k in graph.get_all_asset_keys()
             if graph.get(k).freshness_policy is not None}
    assert set(fresh) == set(MARTS)
    assert {p.fail_window.to_timedelta() for p in fresh.values()} == {dt.timedelta(hours=26)}
    assert not any(k.name.startswith("freshness") for k in graph.asset_check_keys)
    # each mart's columns, described once in marts.yaml, as Dagster column metadata
    spec = graph.get(dg.AssetKey(["marts", "customer_360"]))
    schema = spec.metadata["dagster/column_schema"]
    assert [(c.name, c.description) for c in schema.columns] == list(mart_docs()["customer_360"].columns.items())
    # automation: a daily schedule of everything, a sensor on the file sources
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 2 * * *", "hub_all")
    assert {s.name for s in defs.sensors} == {"file_sources_changed"}
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"hub_all", "refresh_crm_b", "refresh_reference_files"}


def test_the_freshness_window_is_the_configs(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("warehouse: {url: 'duckdb:///w.duckdb'}\nmarts: {freshness_hours: 2.5}\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = build_definitions(cfg).resolve_asset_graph()
    # nothing superseded, deprecated or in preview is used to build the definitions
    assert [w for w in caught if issubclass(w.category, (dg.SupersessionWarning, dg.PreviewWarning,
                                                         DeprecationWarning))] == []
    policy = graph.get(dg.AssetKey(["marts", "customer_360"])).freshness_policy
    assert policy.fail_window.to_timedelta() == dt.timedelta(hours=2, minutes=30)
    # Dagster evaluates no window under a minute: a config error naming the option, not Dagster's invariant
    cfg.write_text("warehouse: {url: 'duckdb:///w.duckdb'}\nmarts: {freshness_hours: 0.01}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"marts.freshness_hours: 0.01 is less than a minute"):
        build_definitions(cfg)


def test_secrets_in_the_config_become_env_vars_read_at_run_launch(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_TEST_API_SECRET", raising=False)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("warehouse: {url: 'duckdb:///${HUB_TEST_DIR:-.}/w.duckdb'}\n"
                   "sources:\n  saas:\n    connector: fxiaoke\n"
                   "    config: {app_secret: '${HUB_TEST_API_SECRET}', base_url: 'http://127.0.0.1:9'}\n"
                   "    streams: {AccountObj: {primary_key: _id}}\n", encoding="utf-8")
    defs = build_definitions(cfg)  # loads without the secret: nothing reads it, nothing connects
    hub = defs.resources["hub"]
    assert isinstance(hub, HubResource)
    assert list(hub.env) == ["HUB_TEST_API_SECRET"] and isinstance(hub.env["HUB_TEST_API_SECRET"], dg.EnvVar)


def broken_warehouse(url: str) -> Warehouse:
    """A matched warehouse whose second order names a customer no source has."""
    wh = Warehouse(url)
    with wh.begin() as conn:
        ensure_staging(wh, conn)
        ensure_mdm(wh, conn)
        customers = pd.DataFrame({"source_name": "erp", "stream": "customers", "source_key": ["C1"], "name": ["甲"]})
        wh.insert_frame(conn, "staging", "customer", to_arrow(customers, staging_columns(ENTITIES["customer"])))
        orders = pd.DataFrame({"source_name": "erp", "stream": "orders", "source_key": ["O1", "O2"],
                               "order_number": ["O1", "O2"], "customer_key": ["C1", "C404"],
                               "customer_stream": "customers", "order_date": "2024-01-10", "amount": [1.0, 2.0]})
        wh.insert_frame(conn, "staging", "sales_order", to_arrow(orders, staging_columns(ENTITIES["sales_order"])))
        xref = pd.DataFrame({"source_name": ["erp"], "stream": ["customers"], "source_key": ["C1"], "golden_id": "G1"})
        wh.insert_frame(conn, "mdm", "xref", to_arrow(xref, MDM_TABLES["xref"][0]))
        golden = pd.DataFrame({"golden_id": ["G1"], "name": ["甲"]})
        wh.insert_frame(conn, "mdm", "golden_customer", to_arrow(golden, MDM_TABLES["golden_customer"][0]))
    return wh


def test_a_failing_blocking_check_stops_the_marts_downstream(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("warehouse: {url: 'duckdb:///w.duckdb'}\n", encoding="utf-8")
    broken_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    defs = build_definitions(cfg)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(["marts", m]) for m in MARTS], raise_on_error=False)
    checks = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("fct_sales_orders", "not_null__golden_id")] is False
    assert checks[("fct_sales_orders", "unique")] is True
    built = {m.asset_key.path[-1] for m in result.get_asset_materialization_events()
             for m in [m.event_specific_data.materialization]}
    # upstream of the failed check, or beside it: built; everything reading fct_sales_orders: not
    assert {"dim_date", "dim_customer", "dim_sales_rep", "fct_sales_orders", "fct_opportunities"} <= built
    assert not built & {"fct_payments", "sales_performance_monthly", "customer_360", "lead_to_cash", "data_quality"}


def test_the_golden_checks_fail_on_broken_data(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("warehouse: {url: 'duckdb:///w.duckdb'}\n", encoding="utf-8")
    wh = broken_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    hub = HubResource(config_path=str(cfg))
    assert golden_ids_are_unique(hub=hub).passed
    with wh.begin() as conn:  # a second staged customer that matching never saw, and an xref ID without a record
        conn.exec_driver_sql("INSERT INTO staging.customer (source_name, stream, source_key, name) "
                             "VALUES ('erp', 'customers', 'C2', '乙')")
        conn.exec_driver_sql("INSERT INTO mdm.xref (source_name, stream, source_key, golden_id) "
                             "VALUES ('crm', 'accounts', 'A1', 'G7')")
    unique, in_xref = golden_ids_are_unique(hub=hub), every_staged_customer_in_xref(hub=hub)
    assert not unique.passed and unique.metadata["xref_ids_without_record"].value == 1
    assert not in_xref.passed and in_xref.metadata["examples"].value == "erp:customers:C2"


def test_a_step_waits_for_the_writer_lock_and_closes_the_duckdb_file_after(
        tmp_path: Path, hold_run_lock: Callable[[str], subprocess.Popen[str]]) -> None:
    """DuckDB lets one process at a time open its file: a step (a check too) waits while `hub run` holds the
    warehouse, and closes the file when done, so that `hub run` can open it between steps."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("warehouse: {url: 'duckdb:///w.duckdb'}\n", encoding="utf-8")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    broken_warehouse(url).dispose()
    hub = HubResource(config_path=str(cfg))
    holder = hold_run_lock(url)
    done: list[dg.AssetCheckResult] = []
    check = threading.Thread(target=lambda: done.append(golden_ids_are_unique(hub=hub)))
    check.start()
    check.join(2.0)
    assert not done  # waiting its turn, not failing on the file
    holder.kill()
    holder.wait()
    check.join(30)
    assert done and done[0].passed
    # the file is closed again: another process opens it for writing
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('CREATE TABLE t AS SELECT 1 AS x')"
    subprocess.run([sys.executable, "-c", probe, str(tmp_path / "w.duckdb")], check=True, timeout=60)
    defs = build_definitions(cfg)
    assert defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(["marts", "dim_date"])]).success
    again = probe.replace("CREATE TABLE t", "CREATE TABLE u")
    subprocess.run([sys.executable, "-c", again, str(tmp_path / "w.duckdb")], check=True, timeout=60)


def test_materializing_everything_equals_hub_run(demo_project: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'dagster.duckdb'}")
    defs = build_definitions(demo_project)
    result = defs.resolve_job_def("hub_all").execute_in_process()
    assert result.success
    evaluations = {(e.asset_key.path[-1], e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert all(evaluations[k] for k in BLOCKING) and set(evaluations) >= BLOCKING
    assert all(ok for (mart, name), ok in evaluations.items() if name != "sync_succeeded"), evaluations
    via_dagster = Warehouse(f"duckdb:///{tmp_path / 'dagster.duckdb'}")

    cli = Warehouse(f"duckdb:///{tmp_path / 'cli.duckdb'}")
    summary = run_all(load_config(demo_project, warehouse_url=cli.url), cli)
    assert not summary.problems and not summary.failed_checks
    # the same sources fail both ways (the API sources when their fake servers are not running)
    failed_syncs = {source for (source, check), ok in evaluations.items() if check == "sync_succeeded" and not ok}
    assert failed_syncs == {s.source for s in summary.failed_sources}
    for table in ("mdm.xref", "marts.fct_sales_orders", "marts.sales_performance_monthly", "marts.channel_roi"):
        assert cli.read_frame(f"SELECT count(*) AS n FROM {table}")["n"][0] > 0, table
    # Every table of both warehouses, row by row, except the stamps of when and in which sync a row was made.
    listed = "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables " \
             "WHERE table_schema IN ('raw', 'staging', 'mdm', 'marts') ORDER BY 1"
    tables = cli.read_frame(listed)["t"].tolist()
    assert via_dagster.read_frame(listed)["t"].tolist() == tables
    assert {f"marts.{m}" for m in MARTS} <= set(tables)
    # Change bookkeeping (table versions, consumers' watermarks) numbers changes in the order the steps ran,
    # which differs between Dagster and hub run; what the changes are is in every other table.
    for table in sorted(set(tables) - BOOKKEEPING):
        assert content(via_dagster, table).equals(content(cli, table)), table
    # Materializations record what they read as `hub run` does: a run after them builds no mart again.
    marts_versions = "SELECT table_name, version FROM raw._versions WHERE table_name LIKE 'marts.%' ORDER BY 1"
    before = via_dagster.read_frame(marts_versions)
    assert len(before) == len(MARTS) + len(predicted_mart_docs())
    run_all(load_config(demo_project, warehouse_url=via_dagster.url), via_dagster)
    assert via_dagster.read_frame(marts_versions).equals(before)

    # And as `hub run`, a materialization costs what changed: nothing changed, every mart kept (none built again)...
    def actions(result: dg.ExecuteInProcessResult) -> dict[str, str]:
        events = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
        return {m.asset_key.path[-1]: m.metadata["action"].value for m in events if "action" in m.metadata}

    again = defs.resolve_job_def("hub_all").execute_in_process()
    assert again.success and actions(again) == dict.fromkeys(MARTS, "kept"), actions(again)
    assert via_dagster.read_frame(marts_versions).equals(before)
    # ... one customer renamed: the marts of its golden customer refreshed, equal to `hub run` after the same change
    con = sqlite3.connect(demo_project.parent / "data" / "crm_a.sqlite")
    con.execute("UPDATE t_customer SET cust_name = cust_name || '（改）', updated_at = '2030-01-01 00:00:00' "
                "WHERE cust_id = (SELECT MIN(cust_id) FROM t_customer)")
    con.commit()
    con.close()
    changed = defs.resolve_job_def("hub_all").execute_in_process()
    assert changed.success
    assert actions(changed)["dim_customer"] == "refreshed" and actions(changed)["dim_date"] == "kept", actions(changed)
    run_all(load_config(demo_project, warehouse_url=cli.url), cli)
    for table in sorted(set(tables) - BOOKKEEPING - {"raw._syncs"}):  # (a row per sync: the Dagster side ran more)
        assert content(via_dagster, table).equals(content(cli, table)), table


def test_a_source_removed_from_the_config_is_deleted_in_dagster_only_when_the_run_allows_it(
        demo_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As `hub run`: the removed source's records stay (its check fails, saying how to allow it) until a run's config
    says `allow_mass_delete: true`; then they leave raw's live records, staging and the golden records. (The
    warehouse is the demo's after `hub run`, which Dagster's materializations continue as their own.)"""
    import yaml

    url = f"duckdb:///{demo_run.parent / 'w.duckdb'}"
    monkeypatch.setenv("HUB_WAREHOUSE_URL", url)
    wh = Warehouse(url)
    staged = "SELECT count(*) AS n FROM staging.customer WHERE source_name = 'crm_b'"
    n = int(wh.read_frame(staged)["n"][0])
    assert n > 0
    data = yaml.safe_load(demo_run.read_text(encoding="utf-8"))
    del data["sources"]["crm_b"]
    data["mdm"]["customer"]["source_priority"].remove("crm_b")
    removed = demo_run.parent / "hub_removed.yaml"
    removed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    job = build_definitions(removed).resolve_job_def("hub_all")
    kept = job.execute_in_process(raise_on_error=False)
    check = {e.check_name: e for e in kept.get_asset_check_evaluations()}["removed_sources_deleted"]
    assert not check.passed and "allow_mass_delete: true" in (check.description or "")
    assert int(wh.read_frame(staged)["n"][0]) == n
    allowed = job.execute_in_process(run_config={"ops": {"raw__removed_sources": {"config": {
        "allow_mass_delete": True}}}})
    assert allowed.success
    assert int(wh.read_frame(staged)["n"][0]) == 0
    assert not int(wh.read_frame("SELECT count(*) AS n FROM mdm.xref WHERE source_name = 'crm_b'")["n"][0])
    assert int(wh.read_frame("SELECT count(*) AS n FROM raw.crm_b__customers WHERE NOT _deleted")["n"][0]) == n


RUN_STAMPS = {"_sync_id", "_extracted_at", "sync_id", "started_at", "finished_at", "updated_at", "created_at",
              "model_id", "quarantined_at", "landed_at",
              "trained_at", "seconds", "payload",  # a prediction model: when it was trained, how long it took, itself
              "run_id", "run_at"}  # mdm.run_metrics: which run measured
BOOKKEEPING = {"raw._versions", "raw._watermarks", "raw._golden_log"}  # (the golden log: by those version numbers)


def content(wh: Warehouse, table: str) -> pd.DataFrame:
    """A table's rows without its run stamps, as text, in a canonical order."""
    df = wh.read_frame(f"SELECT * FROM {table}")
    df = df.drop(columns=[c for c in df.columns if c in RUN_STAMPS]).astype(str)
    return df.sort_values(list(df.columns)).reset_index(drop=True) if len(df.columns) else df

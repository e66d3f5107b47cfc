"""A rep's team and a customer's owner change between two runs: raw keeps both versions, the history step turns
them into valid-from / valid-to ranges, and the marts attribute each fact as things were on its date."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal as D
from pathlib import Path

from core.config_file import load_config
from pipelines.run import run_all
from warehouse.engine import Warehouse

CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  erp:
    connector: file
    streams:
      reps: {path: reps.csv, primary_key: id, entity: sales_rep,
             mapping: {rep_key: id, name: name, team: team, updated_at: updated}}
      customers: {path: customers.csv, primary_key: id, entity: customer,
                  mapping: {name: name, owner: owner, updated_at: updated}}
      orders: {path: orders.csv, primary_key: id, entity: sales_order, customer_stream: customers,
               mapping: {order_number: id, customer_key: customer, order_date: date, amount: amount}}
"""


def rep_id(name: str) -> str:
    return "R" + hashlib.md5(name.encode()).hexdigest()[:10].upper()


def write(root: Path, reps: str, customers: str, orders: str) -> None:
    (root / "reps.csv").write_text("id,name,team,updated\n" + reps, encoding="utf-8")
    (root / "customers.csv").write_text("id,name,owner,updated\n" + customers, encoding="utf-8")
    (root / "orders.csv").write_text("id,customer,date,amount\n" + orders, encoding="utf-8")


def test_changes_between_runs_become_history_and_facts_keep_what_was_true_then(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text(CONFIG, encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    wh = Warehouse(cfg.warehouse.url)
    write(tmp_path, "1,赵一,华北,2024-01-01\n2,钱二,华南,2024-01-01\n", "C1,甲公司,1,2024-01-01\n",
          "O1,C1,2024-02-10,100.00\n")
    run_all(cfg, wh)
    # rep 1 moves to 华东 on 2024-03-01, C1 goes to rep 2 on 2024-06-01; a new order in July
    write(tmp_path, "1,赵一,华东,2024-03-01\n2,钱二,华南,2024-01-01\n", "C1,甲公司,2,2024-06-01\n",
          "O1,C1,2024-02-10,100.00\nO2,C1,2024-07-01,50.00\n")
    first = run_all(cfg, wh)
    assert not first.failed_checks, {n: first.checks[n].description for n in first.failed_checks}
    again = run_all(cfg, wh)  # nothing changed: the same history, the same marts
    assert not again.failed_checks

    zhao, qian = rep_id("赵一"), rep_id("钱二")
    with wh.begin() as c:
        versions = c.exec_driver_sql("SELECT rep_id, valid_from, valid_to, team FROM marts.dim_sales_rep "
                                     "ORDER BY rep_id, valid_from").fetchall()
        owners = c.exec_driver_sql("SELECT source_key, owner, valid_from, valid_to "
                                   "FROM staging.customer_owner_history").fetchall()
        orders = c.exec_driver_sql("SELECT order_key, customer_owner_rep_id FROM marts.fct_sales_orders "
                                   "ORDER BY order_key").fetchall()
        teams = c.exec_driver_sql("SELECT month, team, revenue FROM marts.sales_performance_monthly "
                                  "WHERE level = 'team' ORDER BY month").fetchall()
    assert sorted(versions) == sorted([
        (zhao, dt.datetime(1900, 1, 1), dt.datetime(2024, 3, 1), "华北"), (zhao, dt.datetime(2024, 3, 1), None, "华东"),
        (qian, dt.datetime(1900, 1, 1), None, "华南")])
    assert owners == [("C1", "1", None, dt.datetime(2024, 6, 1))]
    assert orders == [("O1", zhao), ("O2", qian)]  # C1's owner on each order's date
    # O1 (February) is 华北's: rep 1 was there then; O2 (July) is rep 2's, 华南
    assert teams == [(dt.date(2024, 2, 1), "华北", D("100.00")), (dt.date(2024, 7, 1), "华南", D("50.00"))]


def test_a_run_rewrites_the_history_of_the_records_that_landed_and_equals_a_rebuild(tmp_path: Path) -> None:
    """Each run writes the history of the records with a version landed since the last (a canary row planted on
    another record stays), and the history then equals one written whole from raw."""
    from pipelines.history import stage_history
    from warehouse.changes import clear_watermarks

    (tmp_path / "hub.yaml").write_text(CONFIG, encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    wh = Warehouse(cfg.warehouse.url)
    query = ("SELECT source_name, stream, source_key, owner, valid_from, valid_to FROM staging.customer_owner_history "
             "ORDER BY source_key, valid_from NULLS FIRST")
    reps = "1,赵一,华北,2024-01-01\n2,钱二,华南,2024-01-01\n"
    steps = [  # customers.csv of each run: C1's owner changes twice, C2 only its name, C3 goes away, C4 late
        "C1,甲,1,2024-01-01\nC2,乙,1,2024-01-01\nC3,丙,2,2024-01-01\nC4,丁,1,2024-01-01\n",
        "C1,甲,2,2024-03-01\nC2,乙二,1,2024-03-01\nC4,丁,1,2024-01-01\n",
        "C1,甲,1,2024-05-01\nC2,乙二,2,2024-05-01\nC4,丁,2,2024-05-01\n",
        "C1,甲,1,2024-05-01\nC2,乙二,2,2024-05-01\nC4,丁,1,2024-07-01\n",  # only C4 lands
    ]
    canary = ("erp", "customers", "C9", "2", dt.datetime(2023, 1, 1), dt.datetime(2023, 2, 1))
    for n, customers in enumerate(steps):
        write(tmp_path, reps, customers, "O1,C1,2024-02-10,100.00\n")
        if n:
            with wh.begin() as c:  # a row of a record that lands nothing: an incremental run leaves it
                c.exec_driver_sql("INSERT INTO staging.customer_owner_history (source_name, stream, source_key, "
                                  "owner, valid_from, valid_to) VALUES ('erp', 'customers', 'C9', '2', "
                                  "TIMESTAMP '2023-01-01 00:00:00', TIMESTAMP '2023-02-01 00:00:00')")
        run_all(cfg, wh)
        with wh.begin() as c:
            incremental = [tuple(r) for r in c.exec_driver_sql(query).fetchall()]
            assert (canary in incremental) == bool(n), incremental
            c.exec_driver_sql("DELETE FROM staging.customer_owner_history WHERE source_key = 'C9'")
            incremental = [r for r in incremental if r != canary]
            clear_watermarks(c, "history:")
        stage_history(cfg, wh)
        with wh.begin() as c:
            assert incremental == [tuple(r) for r in c.exec_driver_sql(query).fetchall()], n
    # C1: owner 1 until 2024-03-01, 2 until 2024-05-01; C2: owner 1 until 2024-05-01 (its rename is no new owner);
    # C4: 1, then 2 from 2024-05-01 to 2024-07-01
    assert [r[2:] for r in incremental] == [
        ("C1", "1", None, dt.datetime(2024, 3, 1)), ("C1", "2", dt.datetime(2024, 3, 1), dt.datetime(2024, 5, 1)),
        ("C2", "1", None, dt.datetime(2024, 5, 1)), ("C4", "1", None, dt.datetime(2024, 5, 1)),
        ("C4", "2", dt.datetime(2024, 5, 1), dt.datetime(2024, 7, 1))]


def test_versions_of_a_stream_without_update_times_begin_when_they_were_read() -> None:
    """A stream that maps no `updated_at` value (an object column of nothing): its versions begin when landed, with
    no pandas downcasting warning (an error in the tests) on the way."""
    import pandas as pd

    from pipelines.history import _earlier

    v = pd.DataFrame({"source_key": ["a", "a"], "_sync_id": ["1", "2"], "_row": [0, 0],
                      "_extracted_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                      "updated_at": pd.Series([None, None], dtype=object), "owner": ["x", "y"]})
    earlier = _earlier(v, ("owner",))
    assert earlier[["owner", "began", "valid_to"]].values.tolist() == [
        ["x", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]]

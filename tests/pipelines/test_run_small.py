"""`hub run` on the smallest inputs an engineer starts with: no customer at all, then a single one."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hub.cli import main
from warehouse.engine import Warehouse

CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  erp:
    connector: file
    config: {path: orders.csv}
    streams:
      orders:
        primary_key: 单号
        entity: sales_order
        mapping: {order_number: 单号, customer_key: 客户, order_date: 日期, amount: 金额}
  crm:
    connector: file
    config: {path: customers.csv}
    streams:
      customers:
        primary_key: 客户编号
        entity: customer
        mapping: {name: 客户名称}
"""


def test_a_run_without_customer_records_and_then_with_one_prints_its_summary(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("单号,客户,日期,金额\nSO1,K1,2024-01-02,10.00\n", encoding="utf-8")
    (tmp_path / "customers.csv").write_text("客户编号,客户名称\n", encoding="utf-8")  # a header, no customer yet
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["run", "-c", str(cfg)])
    assert first.exception is None or isinstance(first.exception, SystemExit), first.output
    assert "golden customers: 0 from 0 customer records" in first.output, first.output
    (tmp_path / "customers.csv").write_text("客户编号,客户名称\nK1,厦门优润包装材料有限公司\n", encoding="utf-8")
    second = runner.invoke(main, ["run", "-c", str(cfg)])
    assert "golden customers: 1 from 1 customer records" in second.output, second.output
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    # no model was learnt from fewer than two records: the first run with pairs will train one
    assert int(wh.scalar("SELECT count(*) FROM mdm.match_model")) == 0
    assert int(wh.scalar("SELECT count(*) FROM marts.dim_customer")) == 1
    assert int(wh.scalar("SELECT count(*) FROM marts.fct_sales_orders")) == 1
    wh.dispose()

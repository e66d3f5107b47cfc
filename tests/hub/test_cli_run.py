"""`hub run` and `hub connectors sync` from the command line, on both warehouses: exit codes 0, 1, 2, 3, 4 and 6, what
each command writes, and amounts at the rounding edge carried from a source file to `marts.fct_sales_orders`."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from click.testing import CliRunner, Result

from hub.cli import main
from warehouse.engine import Warehouse

CONFIG = """\
warehouse: {url: "duckdb:///w.duckdb"}
sources:
  erp:
    connector: file
    config: {}
    streams:
      customers:
        path: data/customers.csv
        primary_key: id
        entity: customer
        mapping: {name: name, uscc: uscc, phone: phone, address: address}
      orders:
        path: data/orders.csv
        primary_key: order_id
        entity: sales_order
        customer_stream: customers
        mapping: {order_number: order_id, customer_key: customer_id, order_date: date, amount: amount}
"""
CUSTOMERS = """\
id,name,uscc,phone,address
C1,上海同腾建设工程有限公司,91310000MA1FL4TQ1H,021-51803117,上海市浦东新区世纪大道100号
C2,北京恒信科技有限公司,,010-82336141,北京市海淀区中关村大街1号
C3,广州鑫达贸易有限公司,,020-38881234,广州市天河区体育西路3号
"""
# Amounts as a source writes them: exact decimals, three of them exactly halfway between two cents, one
# with sixteen digits (a float keeps fifteen or so).
AMOUNTS = {"O1": "0.125", "O2": "1234.565", "O3": "98765432109876.54", "O4": "100.10", "O5": "-0.125"}


def write_project(tmp_path: Path, orders: dict[str, tuple[str, str]] | None = None) -> Path:
    """A small ERP export: three customers and orders {id: (customer, amount)} (default: AMOUNTS, spread
    over the customers)."""
    orders = orders or {o: (f"C{i % 3 + 1}", a) for i, (o, a) in enumerate(AMOUNTS.items())}
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (data / "orders.csv").write_text("order_id,customer_id,date,amount\n" + "".join(
        f"{o},{c},2024-03-{i + 1:02d},{a}\n" for i, (o, (c, a)) in enumerate(orders.items())), encoding="utf-8")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg


def hub(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def tables(url: str, schema: str) -> list[str]:
    wh = Warehouse(url)
    try:
        return sorted(wh.read_frame("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = :s",
                                    {"s": schema})["t"])
    finally:
        wh.dispose()


# --- hub run: exit codes ------------------------------------------------------------------------------------


def test_run_exits_0_when_everything_ran_and_every_check_passed(tmp_path: Path, warehouse_url: str) -> None:
    r = hub("run", "-c", str(write_project(tmp_path)), "--warehouse", warehouse_url)
    assert r.exit_code == 0, r.output
    assert "golden customers: 3 from 3 customer records" in r.output
    assert "marts.fct_sales_orders (5 rows)" in r.output


LEGACY = """\
  legacy:
    connector: file
    config: {path: data/legacy_export.csv}
    streams:
      customers: {primary_key: id, entity: customer, mapping: {name: name}}
"""


def test_run_exits_1_when_a_source_fails_and_the_others_still_run(tmp_path: Path, warehouse_url: str) -> None:
    cfg = write_project(tmp_path)
    cfg.write_text(CONFIG + LEGACY, encoding="utf-8")  # a second source whose export is missing
    r = hub("run", "-c", str(cfg), "--warehouse", warehouse_url)
    assert r.exit_code == 1, r.output
    assert "legacy" in r.output and "file not found" in r.output and "legacy_export.csv" in r.output
    wh = Warehouse(warehouse_url)
    assert wh.read_frame("SELECT source, status FROM raw._syncs ORDER BY source").values.tolist() == [
        ["erp", "succeeded"], ["legacy", "failed"]]
    assert wh.scalar("SELECT count(*) FROM mdm.golden_customer") == 3  # erp still went all the way
    assert wh.scalar("SELECT count(*) FROM marts.fct_sales_orders") == 5


def test_run_exits_2_on_an_invalid_config(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("sources: {crm: {connector: file, confg: {}}}\n", encoding="utf-8")
    r = hub("run", "-c", str(cfg))
    assert r.exit_code == 2
    assert f"{cfg}:1: sources.crm.confg: unknown key" in r.output


def test_run_exits_3_when_another_run_holds_the_warehouse_and_writes_nothing(
        tmp_path: Path, warehouse_url: str, hold_run_lock: Callable[[str], subprocess.Popen[str]]) -> None:
    holder = hold_run_lock(warehouse_url)
    r = hub("run", "-c", str(write_project(tmp_path)), "--warehouse", warehouse_url)
    assert r.exit_code == 3, r.output
    assert f"is in use by hub run (pid {holder.pid} on " in r.output and "wait for it to finish" in r.output
    assert tables(warehouse_url, "staging") == [] and tables(warehouse_url, "marts") == []
    assert set(tables(warehouse_url, "raw")) <= {"_run_lock"}  # the holder's description, nothing synced


def test_run_exits_4_when_everything_ran_but_a_data_check_failed(tmp_path: Path, warehouse_url: str) -> None:
    # O9 names a customer no source has: the order lands in the mart without a golden customer.
    cfg = write_project(tmp_path, {"O1": ("C1", "10.00"), "O9": ("C9", "20.00")})
    r = hub("run", "-c", str(cfg), "--warehouse", warehouse_url)
    assert r.exit_code == 4, r.output
    failed = [line.strip() for line in r.output.splitlines() if "FAILED" in line]
    assert failed == ["check fct_sales_orders.not_null.golden_id FAILED: 1 of 2 rows have no golden_id"]
    wh = Warehouse(warehouse_url)
    assert wh.read_frame("SELECT order_key, golden_id FROM marts.fct_sales_orders ORDER BY 1")[
        "golden_id"].isna().tolist() == [False, True]


# --- hub connectors sync ------------------------------------------------------------------------------------


def test_connectors_sync_lands_raw_only_and_is_idempotent(tmp_path: Path, warehouse_url: str) -> None:
    cfg = str(write_project(tmp_path))
    first = hub("connectors", "sync", "-c", cfg, "--warehouse", warehouse_url)
    assert first.exit_code == 0, first.output
    # 3 customers + 5 orders
    assert "erp: succeeded — 8 read, 8 new or changed, 0 deleted, 0 quarantined (" in first.output
    assert {"erp__customers", "erp__orders"} <= set(tables(warehouse_url, "raw"))
    assert tables(warehouse_url, "staging") == [] and tables(warehouse_url, "marts") == []  # no staging, no marts
    wh = Warehouse(warehouse_url)
    assert wh.read_frame("SELECT _key FROM raw.erp__orders ORDER BY 1")["_key"].tolist() == list(AMOUNTS)
    again = hub("connectors", "sync", "-c", cfg, "--warehouse", warehouse_url)
    assert "erp: succeeded — 0 read, 0 new or changed" in again.output  # files unchanged: not read again
    full = hub("connectors", "sync", "-c", cfg, "--warehouse", warehouse_url, "--full-refresh")
    assert "erp: succeeded — 8 read, 0 new or changed" in full.output  # read again, nothing doubled
    assert wh.scalar("SELECT count(*) FROM raw.erp__orders") == 5
    assert wh.read_frame("SELECT status FROM raw._syncs")["status"].tolist() == ["succeeded"] * 3


def test_connectors_sync_is_refused_while_a_run_holds_the_warehouse(
        tmp_path: Path, warehouse_url: str, hold_run_lock: Callable[[str], subprocess.Popen[str]]) -> None:
    holder = hold_run_lock(warehouse_url)
    r = hub("connectors", "sync", "-c", str(write_project(tmp_path)), "--warehouse", warehouse_url)
    assert r.exit_code == 3 and f"is in use by hub run (pid {holder.pid} on " in r.output
    assert "erp__orders" not in tables(warehouse_url, "raw")


def test_an_unreachable_warehouse_is_one_error_line_and_exit_code_6(tmp_path: Path) -> None:
    """A PostgreSQL warehouse nobody listens for (as a server down or a wrong password): one `error:` line naming
    what happened, the password masked, exit code 6; not a traceback with exit code 1 ("a source failed")."""
    cfg = str(write_project(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # (closed again: nothing listens there)
    url = f"postgresql+psycopg://hub:pw-secret-42@127.0.0.1:{port}/hub"
    for args in (("run",), ("connectors", "sync"), ("steward", "queue")):
        r = hub(*args, "-c", cfg, "--warehouse", url)
        assert r.exit_code == 6, (args, r.output)
        assert "error: the warehouse cannot be reached or failed: " in r.output and str(port) in r.output, r.output
        assert "Traceback" not in r.output and "pw-secret-42" not in r.output


def test_connectors_sync_exit_codes(tmp_path: Path) -> None:
    cfg = str(write_project(tmp_path))
    unknown = hub("connectors", "sync", "-c", cfg, "--source", "nope")
    assert unknown.exit_code == 2 and "nope" in unknown.output
    (tmp_path / "data" / "customers.csv").unlink()
    failed = hub("connectors", "sync", "-c", cfg)
    assert failed.exit_code == 1
    assert "erp: failed" in failed.output and "customers.csv" in failed.output


# --- money from source to mart ------------------------------------------------------------------------------


def rounded(amount: str, scale: int) -> Decimal:
    """The source's exact amount rounded half away from zero (四舍五入) to the mart's scale."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def test_amounts_at_the_rounding_edge_reach_the_mart_exactly(tmp_path: Path, warehouse_url: str) -> None:
    r = hub("run", "-c", str(write_project(tmp_path)), "--warehouse", warehouse_url)
    assert r.exit_code == 0, r.output
    wh = Warehouse(warehouse_url)
    got = wh.read_frame("SELECT order_key, amount, currency, reporting_amount FROM marts.fct_sales_orders "
                        "ORDER BY order_key")
    amounts = dict(zip(got["order_key"], got["amount"], strict=True))
    # In the reporting currency (CNY, rate 1) the same amounts: 98765432109876.54 times a rate of 18 digits
    # overflowed DuckDB's DECIMAL(18) and failed the whole run (found by this test).
    assert set(got["currency"]) == {"CNY"}
    assert [Decimal(str(v)) for v in got["reporting_amount"]] == [Decimal(str(v)) for v in got["amount"]]
    assert set(amounts) == set(AMOUNTS)
    scale = -min(Decimal(str(a)).as_tuple().exponent for a in amounts.values())  # the mart's decimals
    assert scale >= 2
    # 0.125 → 0.13, 1234.565 → 1234.57, 98765432109876.54 stays, -0.125 → -0.13 (at two decimals).
    assert {k: Decimal(str(v)) for k, v in amounts.items()} == {k: rounded(a, scale) for k, a in AMOUNTS.items()}
    total = wh.scalar("SELECT sum(amount) FROM marts.fct_sales_orders")
    assert Decimal(str(total)) == sum(rounded(a, scale) for a in AMOUNTS.values())


def test_connectors_check_and_discover(tmp_path: Path) -> None:
    cfg = str(write_project(tmp_path))
    check = hub("connectors", "check", "-c", cfg)
    assert check.exit_code == 0 and check.output.strip() == "erp: OK"
    found = hub("connectors", "discover", "-c", cfg)
    assert found.exit_code == 0
    assert found.output.splitlines() == [
        "erp.customers  [full_refresh,incremental]  key=[['id']]",
        "    columns: id, name, uscc, phone, address",
        "erp.orders  [full_refresh,incremental]  key=[['order_id']]",
        "    columns: order_id, customer_id, date, amount"]
    (tmp_path / "data" / "orders.csv").unlink()
    broken = hub("connectors", "check", "-c", cfg)
    assert broken.exit_code == 1 and "erp: FAILED" in broken.output and "orders.csv" in broken.output

"""Marts refreshed by golden ID (`pipelines/mart_refresh.py`): after writes of the golden tables that log the
golden IDs they changed, `dim_customer` and `fct_sales_orders` get the rows of those golden customers selected
again, and every mart equals its SQL run now (what a rebuild gives), on DuckDB and PostgreSQL; a write that logged
nothing, or one that changed most of a mart, builds it whole.

The writes here are made by hand in the golden tables (a golden name, a record moved to another golden customer, a
record gone), so that each case a refresh must follow is there for sure; tests/pipelines/test_incremental_match.py
checks the same after real runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from pipelines.mart_refresh import CHANGED, changed_sql, refreshed_by
from pipelines.publish import MARTS, mart_sql, publish
from tests.pipelines.test_mart_digests import differing_rows, mart_versions
from warehouse.changes import GOLDEN_TABLES, KEEP_GOLDEN_WRITES, bump, bump_golden, golden_changes_since, versions
from warehouse.engine import Warehouse

REFRESHED = ("dim_customer", "fct_sales_orders", "golden_phone", "customer_record_quality", "customer_360",
             "cross_sell")
BY_LOG = REFRESHED[:-1]  # (cross_sell follows them: the demo's 12 rows are refreshed for at most 3 golden IDs)


def refreshed(messages: list[str]) -> set[str]:
    return {m.split()[1].removeprefix("marts.").rstrip(":") for m in messages if m.startswith("refreshed ")}


def built(messages: list[str]) -> set[str]:
    return {m.split()[1].removeprefix("marts.").rstrip(":") for m in messages if m.startswith("built ")}


def test_the_refreshed_marts_declare_a_golden_column_and_mark_their_sql() -> None:
    assert {m for m in MARTS if refreshed_by(m)} == set(REFRESHED)
    for name in REFRESHED:
        sql = mart_sql(name)
        assert len(CHANGED.findall(sql)) >= 1 and "_hub_changed" in changed_sql(sql)
        assert "_hub_changed" not in sql and not CHANGED.search(changed_sql(sql))


def test_a_refresh_equals_a_build(demo_project: Path, warehouse_url: str) -> None:
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", warehouse_url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(warehouse_url)
    parent, child = wh.read_frame("SELECT parent_golden_id, child_golden_id FROM mdm.customer_hierarchy "
                                  "ORDER BY child_golden_id").iloc[0]
    movers = wh.read_frame(  # two customer records with orders, of two golden customers (not the above)
        "SELECT DISTINCT x.source_name, x.stream, x.source_key, x.golden_id FROM mdm.xref x JOIN staging.sales_order o "
        "ON o.source_name = x.source_name AND o.customer_stream = x.stream AND o.customer_key = x.source_key "
        f"WHERE x.golden_id NOT IN ('{parent}', '{child}') ORDER BY x.golden_id LIMIT 40")
    moved, gone = movers.iloc[0], movers[movers["golden_id"] != movers.iloc[0]["golden_id"]].iloc[0]
    target = wh.scalar(f"SELECT min(golden_id) FROM mdm.golden_customer WHERE golden_id NOT IN "
                       f"('{parent}', '{child}', '{moved.golden_id}', '{gone.golden_id}')")
    with wh.begin() as conn:
        # the parent's name (its child's row shows it), a record moved to `target`, a record gone from xref
        conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET name = name || '（更名）' WHERE golden_id = '{parent}'")
        conn.exec_driver_sql(f"UPDATE mdm.xref SET golden_id = '{target}' WHERE source_name = '{moved.source_name}' "
                             f"AND stream = '{moved.stream}' AND source_key = '{moved.source_key}'")
        conn.exec_driver_sql(f"DELETE FROM mdm.xref WHERE source_name = '{gone.source_name}' "
                             f"AND stream = '{gone.stream}' AND source_key = '{gone.source_key}'")
        bump_golden(wh, conn, [parent, moved.golden_id, target, gone.golden_id])
    messages: list[str] = []
    publish(wh, progress=messages.append)
    assert refreshed(messages) == set(BY_LOG), messages
    assert not built(messages) & set(BY_LOG)
    assert wh.scalar(f"SELECT parent_name FROM marts.dim_customer WHERE golden_id = '{child}'").endswith("（更名）")
    assert wh.scalar("SELECT count(*) FROM marts.fct_sales_orders WHERE golden_id IS NULL") > 0  # the gone record's
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # two logged writes in a row: both followed
    with wh.begin() as conn:
        conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET city = '上海' WHERE golden_id = '{target}'")
        bump_golden(wh, conn, [target])
        conn.exec_driver_sql(f"UPDATE mdm.xref SET golden_id = '{moved.golden_id}' WHERE source_name = "
                             f"'{moved.source_name}' AND stream = '{moved.stream}' "
                             f"AND source_key = '{moved.source_key}'")
        bump_golden(wh, conn, [target, moved.golden_id])
    messages.clear()
    publish(wh, progress=messages.append)
    assert refreshed(messages) == set(REFRESHED), messages  # (two golden customers: cross_sell's refresh too)
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # a write that logged nothing (as a full run's): built whole
    with wh.begin() as conn:
        conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET city = '北京' WHERE golden_id = '{target}'")
        bump(conn, *GOLDEN_TABLES)
    messages.clear()
    publish(wh, progress=messages.append)
    assert "dim_customer" in built(messages) and not refreshed(messages), messages
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # most golden customers changed: built whole (cheaper than finding them)
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE mdm.golden_customer SET industry = '制造业'")
        every = [r[0] for r in conn.exec_driver_sql("SELECT golden_id FROM mdm.golden_customer").fetchall()]
        bump_golden(wh, conn, every)
    before = mart_versions(wh)
    messages.clear()
    publish(wh, progress=messages.append)
    assert "dim_customer" in built(messages) and not refreshed(messages), messages
    assert mart_versions(wh)["marts.dim_customer"] > before["marts.dim_customer"]
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)
    wh.dispose()


@pytest.mark.parametrize("writes", [1, 3])
def test_the_log_chain(tmp_path: Path, writes: int) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    from warehouse.raw import RawStore

    with wh.begin() as conn:
        RawStore(wh).ensure(conn)
        start = bump(conn, *GOLDEN_TABLES)
        chain = [bump_golden(wh, conn, [f"G{i}", "G0"]) for i in range(writes)]
        now = versions(conn, ["mdm.xref"])["mdm.xref"]
        assert golden_changes_since(conn, start, now) == chain[::-1]
        assert golden_changes_since(conn, chain[0], now) == chain[:0:-1]
        assert golden_changes_since(conn, now, now) == []
        assert golden_changes_since(conn, start - 1, now) is None  # from before a write that logged nothing
        logged = conn.exec_driver_sql("SELECT version, golden_id FROM raw._golden_log WHERE golden_id IS NOT NULL "
                                      "ORDER BY version, golden_id").fetchall()
        assert logged == [(v, g) for i, v in enumerate(chain) for g in sorted({f"G{i}", "G0"})]
        bump(conn, "mdm.xref")  # one golden table written apart: the next write chains from nothing
        bump_golden(wh, conn, ["G9"])
        assert golden_changes_since(conn, start, versions(conn, ["mdm.xref"])["mdm.xref"]) is None
        for _ in range(KEEP_GOLDEN_WRITES + 2):
            bump_golden(wh, conn, ["G1"])
        kept = conn.exec_driver_sql("SELECT count(DISTINCT version) FROM raw._golden_log").fetchall()[0][0]
        assert kept == KEEP_GOLDEN_WRITES
    wh.dispose()


def test_a_refresh_column_must_be_a_column_of_the_mart_and_the_reference_says_so() -> None:
    from warehouse.marts.catalog import parse_docs, reference_markdown

    text = ("m:\n  description: d\n  grain: g\n  refresh: {col}\n  columns:\n    golden_id: its golden customer\n")
    docs = parse_docs(text.format(col="golden_id"), "test.yaml")
    assert docs["m"].refresh == ("golden_id",)
    assert "the rows of those golden customers (`golden_id`)" in reference_markdown(docs)
    two = parse_docs(text.format(col="golden_id, other_id") + "    other_id: another\n", "test.yaml")
    assert two["m"].refresh == ("golden_id", "other_id")
    assert "the rows of those golden customers (`golden_id` or `other_id`)" in reference_markdown(two)
    with pytest.raises(ValueError, match=r"test.yaml: m: .*refresh name unknown column\(s\) \['customer_id'\]"):
        parse_docs(text.format(col="customer_id"), "test.yaml")


def test_a_customer_record_deleted_refreshes_its_orders_once_matching_consumed_the_change(demo_project: Path,
                                                                                         tmp_path: Path) -> None:
    """A deleted ERP customer (its stream read whole, so the delete is seen): `fct_sales_orders` reads
    `staging.customer`, which moved; matching consumed the change and logged the record's golden customer, so the
    mart is refreshed, its orders now without a golden customer. A change staged but not matched yet is not
    covered: the mart is built whole."""
    import sqlite3

    import yaml

    from core.config_file import load_config
    from pipelines.run import run_all
    from warehouse.changes import bump

    raw = yaml.safe_load(demo_project.read_text(encoding="utf-8"))
    raw["sources"]["erp"]["streams"]["customers"].pop("cursor_field")  # read whole: deletes are seen
    demo_project.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    cfg = load_config(demo_project, warehouse_url=url)
    wh = Warehouse(url)
    run_all(cfg, wh)
    erp = sqlite3.connect(demo_project.parent / "data" / "erp.sqlite")
    buyer = erp.execute("SELECT min(FCUSTID) FROM T_SAL_ORDER").fetchone()[0]
    orders = erp.execute("SELECT count(*) FROM T_SAL_ORDER WHERE FCUSTID = ?", (buyer,)).fetchone()[0]
    erp.execute("DELETE FROM T_BD_CUSTOMER WHERE FCUSTID = ?", (buyer,))
    erp.commit()
    erp.close()
    without = wh.scalar("SELECT count(*) FROM marts.fct_sales_orders WHERE golden_id IS NULL")
    messages: list[str] = []
    summary = run_all(cfg, wh, progress=messages.append)
    assert summary.match.deleted == 1 and orders > 0
    assert "fct_sales_orders" in refreshed(messages), messages
    assert wh.scalar("SELECT count(*) FROM marts.fct_sales_orders WHERE golden_id IS NULL") == without + orders
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # a change of staging.customer that matching has not consumed yet: built whole
    key = wh.scalar("SELECT min(source_key) FROM staging.customer WHERE source_name = 'erp' AND source_key IN "
                    "(SELECT customer_key FROM staging.sales_order)")
    rep = wh.scalar("SELECT min(rep_ref) FROM marts.bridge_sales_rep WHERE source_name = 'erp'")  # (a known rep:
    with wh.begin() as conn:  # the rep bridge stays as it is)
        conn.exec_driver_sql(f"UPDATE staging.customer SET owner = '{rep}' WHERE source_name = 'erp' "
                             f"AND stream = 'customers' AND source_key = '{key}'")
        conn.exec_driver_sql("INSERT INTO staging._changes (seq, entity, source_name, stream, source_key, op) "
                             f"VALUES (999999, 'customer', 'erp', 'customers', '{key}', 'upsert')")
        bump(conn, "staging.customer")
    messages.clear()
    publish(wh, progress=messages.append)
    assert "fct_sales_orders" in built(messages) and "fct_sales_orders" not in refreshed(messages), messages
    assert wh.scalar(f"SELECT count(*) FROM marts.fct_sales_orders WHERE source_name = 'erp' AND customer_key = "
                     f"'{key}' AND customer_owner_rep_id IS NOT NULL") > 0
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)
    wh.dispose()


def test_cross_sell_follows_its_marts_and_the_numbers_that_begin_or_stop_relating_customers(
        demo_project: Path, warehouse_url: str) -> None:
    """`cross_sell` reads only marts; when they were refreshed, its rows of the changed golden customers (on either
    side of a pair) are selected again, with those of every customer holding a number that began or stopped being
    telling: six customers share a number (it tells nothing); the record of one moves to another of the six, and the
    four that did not change become related to each other; the record moves back, and they are not any more. A
    renamed customer's name changes in the rows of the customers related to it, which did not change. An input
    built whole (orders changed in staging) builds cross_sell whole."""
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", warehouse_url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(warehouse_url)
    golden = [g for (g,) in wh.read_frame(  # golden customers with a customer record, not in the hierarchy
        "SELECT DISTINCT x.golden_id FROM mdm.xref x WHERE x.golden_id NOT IN (SELECT child_golden_id FROM "
        "mdm.customer_hierarchy) AND x.golden_id NOT IN (SELECT parent_golden_id FROM mdm.customer_hierarchy "
        "WHERE parent_golden_id IS NOT NULL) ORDER BY x.golden_id").itertuples(index=False)]
    buyer = wh.scalar("SELECT min(golden_id) FROM marts.fct_sales_orders WHERE is_revenue AND golden_id IN "
                      f"({', '.join(repr(g) for g in golden)})")
    golden.remove(buyer)
    parent, group, six, two = golden[0], [buyer, *golden[1:40]], golden[41:47], golden[47:49]
    holders = [wh.read_frame(f"SELECT source_name, stream, source_key FROM mdm.xref WHERE golden_id = '{g}' "
                             "ORDER BY source_key LIMIT 1").iloc[0] for g in (*six, *two)]

    def record(of: list) -> str:
        return " OR ".join(f"(source_name = '{r.source_name}' AND stream = '{r.stream}' "
                           f"AND source_key = '{r.source_key}')" for r in of)

    with wh.begin() as conn:  # a group of 40 branches (1,560 pairs: a mart large enough to refresh); one number
        for child in group:
            conn.exec_driver_sql("INSERT INTO mdm.customer_hierarchy (child_golden_id, parent_golden_id, relation) "
                                 f"VALUES ('{child}', '{parent}', 'branch')")
        bump_golden(wh, conn, [parent, *group])
        conn.exec_driver_sql(f"UPDATE staging.customer SET phone = '021-5550-0199' WHERE {record(holders[:6])}")
        conn.exec_driver_sql(f"UPDATE staging.customer SET mobile = '13900001234' WHERE {record(holders[6:])}")
        bump(conn, "staging.customer")
    messages: list[str] = []
    publish(wh, progress=messages.append)
    assert "cross_sell" in built(messages), messages  # (golden_phone built whole: the staged numbers moved)
    shared = ("SELECT count(*) FROM marts.cross_sell WHERE relations = 'shared phone' AND golden_id IN "
              f"({', '.join(repr(g) for g in six[1:5])})")
    assert wh.scalar(shared) == 0  # six share the number: it tells nothing
    rows = wh.scalar("SELECT count(*) FROM marts.cross_sell")
    assert rows >= 40 * 39

    # one of two customers sharing a mobile number renamed: the other's row of the pair shows the new name
    with wh.begin() as conn:
        conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET name = '改名公司' WHERE golden_id = '{two[1]}'")
        bump_golden(wh, conn, [two[1]])
    messages.clear()
    publish(wh, progress=messages.append)
    assert "cross_sell" in refreshed(messages), messages
    assert wh.scalar(f"SELECT related_name FROM marts.cross_sell WHERE golden_id = '{two[0]}'") == "改名公司"
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # the products of the buyer's orders named in staging: fct_sales_orders built whole, so cross_sell too (its
    # rows changed beyond the golden log), and its parent and the other branches of its group are offered them
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE staging.sales_order SET product = '新品' WHERE customer_key IN "
                             f"(SELECT source_key FROM mdm.xref WHERE golden_id = '{buyer}')")
        bump(conn, "staging.sales_order")
    messages.clear()
    publish(wh, progress=messages.append)
    assert {"fct_sales_orders", "cross_sell"} <= built(messages), messages
    assert wh.scalar("SELECT count(*) FROM marts.cross_sell WHERE product_names = '新品'") == 40  # (and the parent)
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    def move(to: str) -> None:
        last = holders[5]
        with wh.begin() as conn:
            old = conn.exec_driver_sql(f"SELECT golden_id FROM mdm.xref WHERE source_name = '{last.source_name}' AND "
                                       f"stream = '{last.stream}' AND source_key = '{last.source_key}'").scalar()
            conn.exec_driver_sql(f"UPDATE mdm.xref SET golden_id = '{to}' WHERE source_name = '{last.source_name}' "
                                 f"AND stream = '{last.stream}' AND source_key = '{last.source_key}'")
            bump_golden(wh, conn, [old, to])
        messages.clear()
        publish(wh, progress=messages.append)
        assert "cross_sell" in refreshed(messages), messages
        assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    move(six[0])  # the sixth customer's record (and number) to the first: five share it
    assert wh.scalar(shared) == 4 * 4  # the four that did not change, related to each other and to the first
    move(six[-1])  # back: six again
    assert wh.scalar(shared) == 0
    wh.dispose()


def test_a_warehouse_from_before_whole_builds_were_recorded_refreshes_cross_sell_from_its_second_run(
        demo_project: Path, tmp_path: Path) -> None:
    """Mart watermarks without `whole` and `golden` and no kept numbers (a warehouse an older version wrote): the
    first publish builds cross_sell whole while its inputs are refreshed, the second refreshes it too."""
    import json

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(url)
    with wh.begin() as conn:
        for consumer, detail in conn.exec_driver_sql("SELECT consumer, detail FROM raw._watermarks "
                                                     "WHERE consumer LIKE 'mart:%'").fetchall():
            old = {k: v for k, v in json.loads(detail).items() if k not in ("whole", "golden")}
            conn.exec_driver_sql("UPDATE raw._watermarks SET detail = ? WHERE consumer = ?",
                                 (json.dumps(old), consumer))
        conn.exec_driver_sql("DROP TABLE raw._cross_sell_telling")
    golden = [g for (g,) in wh.read_frame("SELECT golden_id FROM mdm.golden_customer ORDER BY golden_id "
                                          "LIMIT 2").itertuples(index=False)]
    for nth, expect in ((0, built), (1, refreshed)):
        with wh.begin() as conn:
            conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET name = name || '（{nth}）' "
                                 f"WHERE golden_id = '{golden[nth]}'")
            bump_golden(wh, conn, [golden[nth]])
        messages: list[str] = []
        publish(wh, progress=messages.append)
        assert "dim_customer" in refreshed(messages) and "cross_sell" in expect(messages), messages
        assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)
    wh.dispose()


def test_customer_360_follows_its_marts_and_the_names_contacts_write(demo_project: Path, warehouse_url: str) -> None:
    """`customer_360` reads the golden tables and marts refreshed by golden ID: its rows of the changed golden
    customers are selected again, with those of every customer a contact's company name named before or names now:
    a contact of no known customer record names `one`; a record of `other` is renamed like it, and the name names
    neither (`one`'s contact count drops, though `one` did not change); renamed back, it names `one` again."""
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", warehouse_url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(warehouse_url)
    records = wh.read_frame(  # one customer record of each of two golden customers outside the hierarchy
        "SELECT x.golden_id, c.source_name, c.stream, c.source_key, c.name FROM mdm.xref x JOIN staging.customer c "
        "ON c.source_name = x.source_name AND c.stream = x.stream AND c.source_key = x.source_key "
        "WHERE x.golden_id NOT IN (SELECT child_golden_id FROM mdm.customer_hierarchy) AND x.golden_id NOT IN "
        "(SELECT parent_golden_id FROM mdm.customer_hierarchy WHERE parent_golden_id IS NOT NULL) "
        "ORDER BY x.golden_id, c.source_key")
    one, other = records.iloc[0], records[records["golden_id"] != records.iloc[0]["golden_id"]].iloc[0]
    assert not ((records["name"] == one["name"]) & (records["golden_id"] != one.golden_id)).any()

    def contacts(golden_id: str) -> int:
        return int(wh.scalar(f"SELECT contacts FROM marts.customer_360 WHERE golden_id = '{golden_id}'"))

    def rename(name: str) -> list[str]:
        with wh.begin() as conn:  # as a run does: the staged record, then matching logs its golden customer
            conn.exec_driver_sql(f"UPDATE staging.customer SET name = '{name}' WHERE source_name = "
                                 f"'{other.source_name}' AND stream = '{other.stream}' "
                                 f"AND source_key = '{other.source_key}'")
            bump(conn, "staging.customer")
            bump_golden(wh, conn, [other.golden_id])
        said: list[str] = []
        publish(wh, progress=said.append)
        return said

    with wh.begin() as conn:
        conn.exec_driver_sql("INSERT INTO staging.contact (source_name, stream, source_key, name, customer_key, "
                             f"customer_name) VALUES ('crm_a', 'contacts', 'P1', '王经理', 'nobody', '{one['name']}')")
        bump(conn, "staging.contact")
    messages: list[str] = []
    publish(wh, progress=messages.append)
    assert "customer_360" in built(messages), messages  # (a contact staged: what it reads of staging changed)
    assert contacts(one.golden_id) == 1 and differing_rows(wh, "customer_360") == 0

    messages = rename(one["name"])
    assert "customer_360" in refreshed(messages), messages
    assert contacts(one.golden_id) == 0 and differing_rows(wh, "customer_360") == 0

    messages = rename(other["name"])
    assert "customer_360" in refreshed(messages), messages
    assert contacts(one.golden_id) == 1 and differing_rows(wh, "customer_360") == 0
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # customer_360 published alone after a golden write (as a Dagster materialization may be), then everything:
    # its refresh read dim_customer from before the write; dim_customer refreshed after it is followed
    with wh.begin() as conn:
        conn.exec_driver_sql(f"UPDATE mdm.golden_customer SET name = '新名公司' WHERE golden_id = '{other.golden_id}'")
        bump_golden(wh, conn, [other.golden_id])
    publish(wh, marts=("customer_360",))
    publish(wh)
    assert wh.scalar(f"SELECT name FROM marts.customer_360 WHERE golden_id = '{other.golden_id}'") == "新名公司"
    assert differing_rows(wh, "customer_360") == 0

    # an order's amount changed in staging: fct_sales_orders built whole, so customer_360 too (its rows of customers
    # that did not change moved), even beside a logged golden write
    with wh.begin() as conn:
        conn.exec_driver_sql("UPDATE staging.sales_order SET amount = amount * 2 WHERE source_key = "
                             "(SELECT MIN(order_key) FROM marts.fct_sales_orders WHERE is_revenue AND golden_id "
                             f"<> '{other.golden_id}')")
        bump(conn, "staging.sales_order")
    messages = rename(one["name"])
    assert {"fct_sales_orders", "customer_360"} <= built(messages), messages
    assert differing_rows(wh, "customer_360") == 0
    wh.dispose()

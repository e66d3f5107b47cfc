"""A mart whose input changed only in columns it does not read is kept; one whose read columns changed is rebuilt;
either way every mart equals its SQL run now (what a rebuild gives), on DuckDB and PostgreSQL.

On PostgreSQL a plan may scan whole rows (physical target lists), so a mart there is kept less often, never
wrongly. The warehouse is the demo's after `hub run`; staging rows are then changed the way a stage writes them
(an update and a new version of `staging.customer`), so that only `publish` decides what to build.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from hub.cli import main
from pipelines.publish import MARTS, mart_inputs, mart_sql, publish
from warehouse.changes import bump
from warehouse.engine import Warehouse


def mart_versions(wh: Warehouse) -> dict[str, int]:
    rows = wh.read_frame("SELECT table_name, version FROM raw._versions WHERE table_name LIKE 'marts.%'")
    return dict(zip(rows["table_name"], rows["version"].astype(int), strict=True))


def differing_rows(wh: Warehouse, mart: str) -> int:
    """Rows of `marts.<mart>` and of its SQL run now that the other lacks (as multisets); the SQL runs once."""
    sql = mart_sql(mart).strip().rstrip(";")
    with wh.begin() as conn:
        n = conn.exec_driver_sql(wh.dialect.driver_sql(
            f"WITH q AS MATERIALIZED (SELECT * FROM ({sql}) s) "
            f"SELECT (SELECT count(*) FROM (SELECT * FROM marts.{mart} EXCEPT ALL SELECT * FROM q) d) "
            f"+ (SELECT count(*) FROM (SELECT * FROM q EXCEPT ALL SELECT * FROM marts.{mart}) e)")).scalar()
    return int(n or 0)


def change_staging(wh: Warehouse, set_sql: str, where: str) -> int:
    with wh.begin() as conn:
        n = conn.exec_driver_sql(f"UPDATE staging.customer SET {set_sql} WHERE {where}").rowcount
        bump(conn, "staging.customer")
    return int(n)


def test_marts_follow_the_columns_they_read(demo_project: Path, warehouse_url: str) -> None:
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", warehouse_url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(warehouse_url)
    ordering = ("source_name = 'erp' AND stream = 'customers' AND source_key IN "
                "(SELECT customer_key FROM staging.sales_order WHERE source_name = 'erp')")
    before = mart_versions(wh)

    # 1. phones of the customers who order: fct_sales_orders reads no phone of staging.customer: kept
    assert change_staging(wh, "phone = '010-5555-0101'", ordering) > 10
    messages: list[str] = []
    publish(wh, progress=messages.append)
    after = mart_versions(wh)
    if wh.dialect.name == "duckdb":  # (PostgreSQL's plans may scan whole rows: a mart there rebuilds more often)
        assert after["marts.fct_sales_orders"] == before["marts.fct_sales_orders"], messages
        assert any(m.startswith("marts.fct_sales_orders: kept") for m in messages), messages
    assert any(": kept (" in m for m in messages), messages  # some mart was kept by its digests, on both
    assert after["marts.data_quality"] > before["marts.data_quality"]  # it reads phones: rebuilt
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # 2. the owner of those customers (a rep of the ERP): read by fct_sales_orders, which is rebuilt
    rep = wh.scalar("SELECT min(rep_ref) FROM marts.bridge_sales_rep WHERE source_name = 'erp'")
    assert rep is not None
    owners_before = wh.read_frame(f"SELECT source_key, owner FROM staging.customer WHERE {ordering}")
    assert change_staging(wh, f"owner = '{rep}'", ordering) > 10
    publish(wh)
    again = mart_versions(wh)
    assert again["marts.fct_sales_orders"] > after["marts.fct_sales_orders"]
    owners = wh.scalar("SELECT count(*) FROM marts.fct_sales_orders WHERE customer_owner_rep_id IS NOT NULL "
                       "AND source_name = 'erp'")
    assert owners and owners > 10
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)

    # 3. nothing changed since: nothing built, nothing kept by a digest (the versions were recorded)
    messages.clear()
    publish(wh, progress=messages.append)
    assert messages == [] and mart_versions(wh) == again

    # 4. the owners back as they were: the digest recorded in 2 is of the changed owners (the inputs that had not
    # moved kept theirs), so the marts reading owners are built again, not kept on a digest from before 2
    with wh.begin() as conn:
        for key, owner in zip(owners_before["source_key"], owners_before["owner"], strict=True):
            conn.execute(sa.text("UPDATE staging.customer SET owner = :o WHERE source_name = 'erp' "
                                 "AND stream = 'customers' AND source_key = :k"), {"o": owner, "k": key})
        bump(conn, "staging.customer")
    publish(wh)
    assert mart_versions(wh)["marts.fct_sales_orders"] > again["marts.fct_sales_orders"]
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)
    wh.dispose()


def test_a_publish_asks_the_plan_once_per_changed_sql_or_schema_and_scans_a_table_once(demo_project: Path,
                                                                                      tmp_path: Path) -> None:
    """What each mart reads of its inputs is recorded with its build: the next publish does not ask the warehouse's
    plan again, unless an input's columns changed (then the plan is asked, and a column no mart reads is not
    digested); a table at a version is digested in one scan for all the marts that read it."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    run = CliRunner().invoke(main, ["run", "-c", str(demo_project), "--warehouse", url])
    assert run.exit_code == 0, run.output
    wh = Warehouse(url)
    statements: list[str] = []
    sa.event.listen(wh.engine, "before_cursor_execute", lambda c, cur, sql, *a: statements.append(sql))
    readers = [m for m in MARTS if "staging.customer" in {f"{s}.{t}" for s, t in mart_inputs(m)}]
    assert len(readers) >= 4

    def publish_after_a_change() -> tuple[int, int]:
        statements.clear()
        change_staging(wh, "phone = '010-5555-0102'", "source_name = 'erp'")
        publish(wh)
        plans = [s for s in statements if s.startswith("EXPLAIN")]
        scans = [s for s in statements if s.startswith("SELECT count(*)") and "FROM staging.customer" in s]
        return len(plans), len(scans)

    assert publish_after_a_change() == (0, 1)  # every mart's reads known from its build; staging.customer once
    with wh.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE staging.customer ADD COLUMN note VARCHAR")
    plans, scans = publish_after_a_change()
    assert plans == len(readers) and scans == 1  # its columns changed: each reader's plan asked again
    read = [json.loads(d) for (d,) in wh.read_frame(
        "SELECT detail FROM raw._watermarks WHERE consumer LIKE 'mart:%'").itertuples(index=False)]
    columns = {c for r in read for c in (r.get("read") or {}).get("staging.customer", {}).get("columns", [])}
    assert "phone" in columns and "note" not in columns
    assert {m: differing_rows(wh, m) for m in MARTS} == dict.fromkeys(MARTS, 0)
    wh.dispose()

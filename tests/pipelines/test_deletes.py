"""Deletes propagate: a record gone from a source leaves staging, its golden customer and the marts, while raw
keeps its history; the mass-delete guard refuses to empty a stream; removing a source is deliberate.

Each test runs `hub run` on the small generated demo (CRM A with a cursor, CRM B as a CSV snapshot, the ERP's
orders read whole), on DuckDB and on PostgreSQL. The first run, the same for every test that starts from it, is
done once per backend (`first_run`) and copied for each test (sources, config and warehouse).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from hub.cli import main
from tests.conftest import _fresh_pg_database, make_demo_project
from warehouse.engine import Warehouse


def hub_run(config: Path, url: str, *extra: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["run", "-c", str(config), "--warehouse", url, *extra])
    return r.exit_code, r.output


def one(wh: Warehouse, sql: str, params: dict | None = None) -> object:
    return wh.read_frame(sql, params).iloc[0, 0]


def deleted_in_quality(wh: Warehouse, source: str, stream: str = "customers") -> set[int]:
    """The `deleted` measure of a stream in marts.data_quality (one value, repeated on each of its rows)."""
    return set(wh.read_frame("SELECT deleted FROM marts.data_quality WHERE source_name = :s AND stream = :t",
                             {"s": source, "t": stream})["deleted"].astype(int))


def drop_csv_rows(path: Path, keys: set[str]) -> None:
    text = path.read_bytes().decode("gbk").splitlines(keepends=True)
    path.write_bytes("".join([text[0], *[line for line in text[1:] if line.split(",", 1)[0] not in keys]])
                     .encode("gbk"))


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def first_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The demo project (as `demo_project`) after one `hub run`, once per backend: (its config, warehouse URL)."""
    root = tmp_path_factory.mktemp("first_run")
    config = make_demo_project(root)
    if request.param == "duckdb":
        url = f"duckdb:///{root / 'w.duckdb'}"
        code, out = hub_run(config, url)
        assert code == 0, out
        yield config, url
    else:
        with _fresh_pg_database() as url:
            code, out = hub_run(config, url)
            assert code == 0, out
            yield config, url


@pytest.fixture
def ran(first_run: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A copy of `first_run` for one test to change: (config, warehouse URL)."""
    config, url = first_run
    shutil.copytree(config.parent, tmp_path, dirs_exist_ok=True)
    if url.startswith("duckdb:"):
        yield tmp_path / config.name, f"duckdb:///{tmp_path / 'w.duckdb'}"
    else:
        with _fresh_pg_database(template=url) as copy:
            yield tmp_path / config.name, copy


def test_a_record_deleted_in_a_snapshot_leaves_staging_its_golden_customer_and_the_marts(
        ran: tuple[Path, str]) -> None:
    demo_project, warehouse_url = ran  # after a first `hub run`
    wh = Warehouse(warehouse_url)
    csv = demo_project.parent / "data" / "crm_b_export.csv"
    keys = pd.read_csv(csv, encoding="gbk", dtype=str)["客户编号"]
    # a CRM B record whose golden customer also holds records of other systems, and one that is alone
    x = wh.read_frame("SELECT x.source_key, x.golden_id, g.source_count FROM mdm.xref x JOIN mdm.golden_customer g "
                      "ON g.golden_id = x.golden_id WHERE x.source_name = 'crm_b' ORDER BY x.source_key")
    shared = x[x["source_count"] > 1].iloc[0]
    alone = x[x["source_count"] == 1].iloc[0]
    raw_before = int(one(wh, "SELECT count(*) FROM raw.crm_b__customers"))
    drop_csv_rows(csv, {shared["source_key"], alone["source_key"]})

    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    assert "crm_b.customers: 2 records deleted in the source" in out
    # raw: history kept, a tombstone per deleted record
    assert int(one(wh, "SELECT count(*) FROM raw.crm_b__customers")) == raw_before + 2
    tomb = wh.read_frame("SELECT _key FROM raw.crm_b__customers WHERE _deleted")
    assert set(tomb["_key"]) == {shared["source_key"], alone["source_key"]}
    # staging and xref: gone
    assert int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'")) == len(keys) - 2
    assert not int(one(wh, "SELECT count(*) FROM mdm.xref WHERE source_name = 'crm_b' AND source_key IN (:a, :b)",
                       {"a": shared["source_key"], "b": alone["source_key"]}))
    # the shared golden customer lost one record; the lone one is retired with a history row
    assert int(one(wh, "SELECT source_count FROM mdm.golden_customer WHERE golden_id = :g",
                   {"g": shared["golden_id"]})) == int(shared["source_count"]) - 1
    assert not int(one(wh, "SELECT count(*) FROM mdm.golden_customer WHERE golden_id = :g", {"g": alone["golden_id"]}))
    hist = wh.read_frame("SELECT reason, survivor_id FROM mdm.golden_id_history WHERE retired_id = :g",
                         {"g": alone["golden_id"]})
    assert hist["reason"].tolist() == ["deleted"] and hist["survivor_id"].isna().all()
    # marts follow
    assert not int(one(wh, "SELECT count(*) FROM marts.dim_customer WHERE golden_id = :g", {"g": alone["golden_id"]}))
    assert int(one(wh, "SELECT source_count FROM marts.dim_customer WHERE golden_id = :g",
                   {"g": shared["golden_id"]})) == int(shared["source_count"]) - 1
    # data_quality counts them, on each row of the stream
    assert deleted_in_quality(wh, "crm_b") == {2}
    assert deleted_in_quality(wh, "crm_a") == {0}
    # and a third run changes nothing
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0 and "0 deleted" in out, out
    assert int(one(wh, "SELECT count(*) FROM raw.crm_b__customers")) == raw_before + 2


def test_an_order_deleted_from_a_table_read_whole_leaves_the_facts(ran: tuple[Path, str]) -> None:
    demo_project, warehouse_url = ran  # after a first `hub run`
    wh = Warehouse(warehouse_url)
    db = demo_project.parent / "data" / "erp.sqlite"
    con = sqlite3.connect(db)
    fid, amount = con.execute("SELECT FID, FAMOUNT FROM T_SAL_ORDER ORDER BY FID LIMIT 1").fetchone()
    total = con.execute("SELECT SUM(FAMOUNT), COUNT(*) FROM T_SAL_ORDER").fetchone()
    con.execute("DELETE FROM T_SAL_ORDER WHERE FID = ?", (fid,))
    con.commit()
    con.close()
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    fct = wh.read_frame("SELECT count(*) AS n, sum(amount) AS s FROM marts.fct_sales_orders")
    assert int(fct["n"][0]) == total[1] - 1
    assert round(float(fct["s"][0]), 2) == round(total[0] - amount, 2)
    assert not int(one(wh, "SELECT count(*) FROM staging.sales_order WHERE source_key = :k", {"k": str(fid)}))


def test_a_record_deleted_from_a_table_read_by_cursor_leaves_when_the_table_is_read_whole(ran: tuple[Path, str]
                                                                                           ) -> None:
    """An incremental read (`cursor_field`) cannot see a row deleted from the table; a read without a saved cursor
    (`--full-refresh`, `full_refresh_every`) reads every row, so it tells deletes as a table without cursor does."""
    demo_project, warehouse_url = ran  # after a first `hub run`
    wh = Warehouse(warehouse_url)
    con = sqlite3.connect(demo_project.parent / "data" / "crm_a.sqlite")
    first, second = [str(r[0]) for r in con.execute("SELECT cust_id FROM t_customer ORDER BY cust_id LIMIT 2")]
    con.execute("DELETE FROM t_customer WHERE cust_id IN (?, ?)", (first, second))
    con.commit()
    con.close()

    def staged(key: str) -> int:
        return int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_a' AND source_key = :k",
                       {"k": key}))

    assert hub_run(demo_project, warehouse_url)[0] == 0
    assert staged(first) == staged(second) == 1  # read by cursor: not seen
    sync = CliRunner().invoke(main, ["connectors", "sync", "-c", str(demo_project), "--warehouse", warehouse_url,
                                     "--source", "crm_a", "--full-refresh"])
    assert sync.exit_code == 0 and ", 2 deleted," in sync.output, sync.output
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    assert staged(first) == staged(second) == 0 and deleted_in_quality(wh, "crm_a") == {2}
    # and through `full_refresh_every`, in a run: one more row deleted
    con = sqlite3.connect(demo_project.parent / "data" / "crm_a.sqlite")
    third = str(con.execute("SELECT cust_id FROM t_customer ORDER BY cust_id LIMIT 1").fetchone()[0])
    con.execute("DELETE FROM t_customer WHERE cust_id = ?", (third,))
    con.commit()
    con.close()
    cfg = yaml.safe_load(demo_project.read_text(encoding="utf-8"))
    cfg["sources"]["crm_a"]["streams"]["customers"]["full_refresh_every"] = "1s"
    demo_project.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    time.sleep(1.1)
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    assert staged(third) == 0 and deleted_in_quality(wh, "crm_a") == {3}


def test_a_soft_deleted_record_leaves_staging_and_comes_back_when_undeleted(demo_project: Path,
                                                                            warehouse_url: str) -> None:
    cfg = yaml.safe_load(demo_project.read_text(encoding="utf-8"))
    db = demo_project.parent / "data" / "crm_a.sqlite"
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE t_customer ADD COLUMN is_deleted TEXT DEFAULT '0'")
    con.commit()
    cfg["sources"]["crm_a"]["streams"]["customers"]["soft_delete"] = {"field": "is_deleted", "values": ["1"]}
    demo_project.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    wh = Warehouse(warehouse_url)
    staged = int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_a'"))
    # a customer of one record: deleted, its golden ID is retired; back, it takes the ID again
    cid, golden_id = wh.read_frame(
        "SELECT min(source_key) AS k, min(golden_id) AS g FROM mdm.xref WHERE source_name = 'crm_a' AND golden_id IN "
        "(SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) = 1)").iloc[0]
    # later than the demo's data, not in the future (a future cursor value is not saved: docs/connectors.md)
    con.execute("UPDATE t_customer SET is_deleted = '1', updated_at = '2025-12-01 00:00:00' WHERE cust_id = ?", (cid,))
    con.commit()
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    assert int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_a'")) == staged - 1
    assert not int(one(wh, "SELECT count(*) FROM mdm.xref WHERE source_name = 'crm_a' AND source_key = :k",
                       {"k": str(cid)}))
    assert int(one(wh, "SELECT count(*) FROM raw.crm_a__customers WHERE _key = :k", {"k": str(cid)})) == 2
    assert deleted_in_quality(wh, "crm_a") == {1}
    assert one(wh, "SELECT reason FROM mdm.golden_id_history WHERE retired_id = :g", {"g": golden_id}) == "deleted"

    def customer() -> str:
        r = CliRunner().invoke(main, ["steward", "customer", str(golden_id), "-c", str(demo_project), "--warehouse",
                                      warehouse_url])
        assert r.exit_code == 0, r.output
        return r.output

    assert customer().strip() == f"{golden_id} was retired: its records were deleted"
    con.execute("UPDATE t_customer SET is_deleted = '0', updated_at = '2025-12-02 00:00:00' WHERE cust_id = ?", (cid,))
    con.commit()
    con.close()
    code, out = hub_run(demo_project, warehouse_url)
    assert code == 0, out
    assert one(wh, "SELECT golden_id FROM mdm.xref WHERE source_name = 'crm_a' AND source_key = :k",
               {"k": str(cid)}) == golden_id
    assert one(wh, "SELECT reason FROM mdm.golden_id_history WHERE survivor_id = :g", {"g": golden_id}) == "revived"
    assert "1 revived" in out
    shown = customer()
    assert f"history: {golden_id} active again: a deleted record came back (revived)" in shown
    assert f"history: {golden_id} retired: its records were deleted (deleted)" in shown
    assert deleted_in_quality(wh, "crm_a") == {0}  # back: no longer counted


def test_an_emptied_export_is_refused_unless_allowed(ran: tuple[Path, str]) -> None:
    demo_project, warehouse_url = ran  # after a first `hub run`
    wh = Warehouse(warehouse_url)
    csv = demo_project.parent / "data" / "crm_b_export.csv"
    n = len(pd.read_csv(csv, encoding="gbk", dtype=str))
    csv.write_bytes(csv.read_bytes().decode("gbk").splitlines(keepends=True)[0].encode("gbk"))  # header only

    code, out = hub_run(demo_project, warehouse_url)
    assert code == 1
    assert (f"crm_b.customers: {n:,} of {n:,} records (100%) would be deleted because they are missing from a "
            "complete read of the source; a run deletes at most 50% of a stream") in out
    assert "--allow-mass-delete" in out
    assert int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'")) == n  # nothing lost
    assert not int(one(wh, "SELECT count(*) FROM raw.crm_b__customers WHERE _deleted"))

    code, out = hub_run(demo_project, warehouse_url, "--allow-mass-delete")
    assert code == 0, out
    assert int(one(wh, "SELECT count(*) FROM raw.crm_b__customers WHERE _deleted")) == n
    assert not int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'"))
    assert not int(one(wh, "SELECT count(*) FROM mdm.xref WHERE source_name = 'crm_b'"))
    # the emptied stream stays in data_quality: one row, nothing staged, every record deleted
    dq = wh.read_frame("SELECT entity, staged, deleted, field FROM marts.data_quality WHERE source_name = 'crm_b'")
    assert dq.values.tolist() == [["customer", 0, n, None]]


def test_a_source_removed_from_the_config_is_deleted_only_when_allowed(ran: tuple[Path, str]) -> None:
    demo_project, warehouse_url = ran  # after a first `hub run`
    wh = Warehouse(warehouse_url)
    n = int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'"))
    cfg = yaml.safe_load(demo_project.read_text(encoding="utf-8"))
    del cfg["sources"]["crm_b"]
    cfg["mdm"]["customer"]["source_priority"].remove("crm_b")  # (a source the config lacks is an error there)
    demo_project.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    code, out = hub_run(demo_project, warehouse_url)
    assert code == 1
    assert "the source is no longer in the configuration" in out and "--allow-mass-delete" in out
    assert int(one(wh, "SELECT count(*) FROM mdm.xref WHERE source_name = 'crm_b'")) == n  # kept until allowed
    staging = out[out.index("\nstaging "):]  # the summary's staging table lists it, with its records, and why
    assert f"crm_b.customers           customer     {n:>9,}         0" in staging, out
    assert "no longer configured: kept until a run allows deleting its records" in staging

    code, out = hub_run(demo_project, warehouse_url, "--allow-mass-delete")
    assert code == 0, out
    assert "crm_b: " + f"{n:,} records deleted (the source is no longer in the configuration)" in out
    assert not int(one(wh, "SELECT count(*) FROM staging.customer WHERE source_name = 'crm_b'"))
    assert not int(one(wh, "SELECT count(*) FROM mdm.xref WHERE source_name = 'crm_b'"))
    assert not int(one(wh, "SELECT count(*) FROM marts.dim_customer WHERE systems LIKE '%crm_b%'"))
    assert int(one(wh, "SELECT count(*) FROM raw.crm_b__customers WHERE NOT _deleted")) == n  # history stays
    assert deleted_in_quality(wh, "crm_b") == {n}  # counted as deleted, as an emptied export is
    # and an unchanged rerun keeps it so
    assert hub_run(demo_project, warehouse_url)[0] == 0 and deleted_in_quality(wh, "crm_b") == {n}

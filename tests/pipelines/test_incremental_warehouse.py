"""An incremental run equals a full rebuild with the same model, table by table in the warehouse.

After a first run, the sources change the way a night does: new records (a CRM typing in companies the ERP
knows), edits to existing ones (a phone, a name), records deleted from a snapshot export, and a steward's
decision. The incremental run re-clusters only the records the changes reach; then a rebuild with the same
model recomputes everything. Every output table must be the same, row for row (timestamps aside).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from core.config_file import load_config
from mdm.hierarchy import branch_parents
from pipelines.match import CONSUMER, run_match
from pipelines.match_outputs import HIERARCHY_INPUTS, HIERARCHY_KEYS, _golden_and_hierarchy
from pipelines.run import run_all
from pipelines.steward.actions import decide_pair
from warehouse.changes import set_watermark, watermark
from warehouse.engine import Warehouse

TABLES = {
    "mdm.xref": (["source_name", "stream", "source_key"], ["golden_id", "matched_by", "match_score"]),
    "mdm.golden_customer": (["golden_id"], None),
    "mdm.customer_hierarchy": (["child_golden_id"], ["parent_golden_id", "relation", "evidence"]),
    "mdm.review_queue": (["item_id"], ["left_record", "right_record", "left_golden_id", "right_golden_id",
                                       "probability", "weight", "reason", "explanation", "status", "left_values",
                                       "right_values"]),
    "mdm.match_pairs": (["left_record", "right_record"], None),
    "mdm.customer_records": (["record_id"], None),
}
IGNORED = {"updated_at", "created_at"}


def snapshot(wh: Warehouse) -> dict[str, pd.DataFrame]:
    out = {}
    for table, (key, cols) in TABLES.items():
        df = wh.read_frame(f"SELECT * FROM {table}")
        keep = [c for c in (cols or df.columns) if c not in IGNORED]
        df = df[list(dict.fromkeys([*key, *keep]))]
        for c in df.columns:  # floats compared to 9 digits: sums in another order may differ in the last bit
            if pd.api.types.is_float_dtype(df[c]):
                df[c] = df[c].round(9)
        out[table] = df.sort_values(key, ignore_index=True).astype(str)
    return out


def hierarchy_links(wh: Warehouse) -> pd.DataFrame:
    return wh.read_frame("SELECT child_golden_id, parent_golden_id, relation, evidence FROM mdm.customer_hierarchy"
                         ).astype(str).sort_values(["child_golden_id", "parent_golden_id"], ignore_index=True)


def change_the_sources(data: Path) -> None:
    erp = sqlite3.connect(data / "erp.sqlite")
    known = erp.execute("SELECT FNAME, FTAXREGISTERCODE, FTEL, FADDRESS FROM T_BD_CUSTOMER ORDER BY FCUSTID "
                        "LIMIT 15").fetchall()
    erp.close()
    crm = sqlite3.connect(data / "crm_a.sqlite")
    next_id = crm.execute("SELECT max(cust_id) FROM t_customer").fetchone()[0] + 1
    crm.executemany("INSERT INTO t_customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (next_id + i, name.replace("有限公司", "有限责任公司"), tax if i % 2 else None, tel, addr, "新联系人",
         "rep001", "2030-01-01 00:00:00", "2030-01-01 00:00:00") for i, (name, tax, tel, addr) in enumerate(known)])
    crm.execute("UPDATE t_customer SET tel = '13800000000', updated_at = '2030-01-02 00:00:00' "
                "WHERE cust_id IN (SELECT cust_id FROM t_customer ORDER BY cust_id LIMIT 4)")
    crm.execute("UPDATE t_customer SET cust_name = cust_name || '分公司', updated_at = '2030-01-02 00:00:00' "
                "WHERE cust_id IN (SELECT cust_id FROM t_customer ORDER BY cust_id DESC LIMIT 2 OFFSET 20)")
    crm.commit()
    crm.close()
    csv = data / "crm_b_export.csv"
    lines = csv.read_bytes().decode("gbk").splitlines(keepends=True)
    csv.write_bytes("".join([lines[0], *lines[1:][::-1][3:]]).encode("gbk"))  # three rows deleted, order changed


@pytest.mark.parametrize("warehouse_url", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_an_incremental_run_equals_a_rebuild_with_the_same_model(demo_project: Path, warehouse_url: str) -> None:
    cfg = load_config(demo_project, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    first = run_all(cfg, wh)
    assert first.match is not None and not first.match.incremental
    # The first run's hierarchy is that of its records (PostgreSQL links them by an in-process DuckDB, as its
    # plans of the SQL go quadratic; DuckDB in the warehouse)
    links = hierarchy_links(wh)
    expected = branch_parents(wh.read_frame(f"SELECT {', '.join(HIERARCHY_INPUTS)} FROM mdm.customer_records"))
    assert len(links) > 0 and links.equals(expected.astype(str).sort_values(
        ["child_golden_id", "parent_golden_id"], ignore_index=True)), links
    # A steward splits the first customer of several records: the decision binds the incremental run and
    # the rebuild alike. (This demo has no pair in review to decide.)
    pair = wh.read_frame("SELECT record_id FROM mdm.customer_records WHERE golden_id = (SELECT golden_id "
                         "FROM mdm.customer_records GROUP BY golden_id HAVING count(*) > 1 ORDER BY golden_id LIMIT 1) "
                         "ORDER BY record_id LIMIT 2")["record_id"].tolist()
    assert len(pair) == 2
    split = decide_pair(cfg, wh, pair[0], pair[1], "different", by="test")
    assert wh.scalar("SELECT count(DISTINCT golden_id) FROM mdm.customer_records WHERE record_id IN (:a, :b)",
                     {"a": pair[0], "b": pair[1]}) == 2, split
    change_the_sources(demo_project.parent / "data")

    second = run_all(cfg, wh)
    assert second.match is not None and second.match.incremental
    assert second.match.changed == 15 + 4 + 2 and second.match.deleted == 3
    assert 0 < second.match.affected < second.match.records  # only part of the records was clustered again
    incremental = snapshot(wh)

    rebuilt = run_match(cfg, wh, rebuild=True, retrain=False)
    assert not rebuilt.incremental
    full = snapshot(wh)
    for table in TABLES:
        a, b = incremental[table], full[table]
        assert list(a.columns) == list(b.columns), table
        diff = a.merge(b, how="outer", indicator=True)
        assert (diff["_merge"] == "both").all(), f"{table} differs:\n{diff[diff['_merge'] != 'both'].head(10)}"


def test_the_links_of_many_changed_customers_from_every_record_equal_those_from_their_slice(
        demo_project: Path, warehouse_url: str) -> None:
    """When the golden customers whose hierarchy links may change are most of them, an incremental run links every
    record instead of gathering the records those links read: the same links for the same golden customers."""
    cfg = load_config(demo_project, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    run_all(cfg, wh)
    stored = hierarchy_links(wh)
    changed = sorted(set(stored["child_golden_id"][:8]) | set(stored["parent_golden_id"][:8]))
    old_keys = wh.read_frame(f"SELECT {', '.join(HIERARCHY_KEYS)} FROM mdm.customer_records ORDER BY record_id LIMIT 5")
    got = {}
    for share in (1.0, 0.0):  # the slice, then every record
        with wh.begin() as conn:
            ids = _golden_and_hierarchy(cfg, wh, conn, changed, old_keys, whole_share=share)
            links = wh.read_frame("SELECT child_golden_id, parent_golden_id, relation, evidence FROM _hub_hierarchy",
                                  conn=conn).astype(str).sort_values(["child_golden_id", "parent_golden_id"],
                                                                     ignore_index=True)
            got[share] = (sorted(ids), links)
    (ids, links), (ids_all, links_all) = got[1.0], got[0.0]
    assert set(changed) <= set(ids) and len(ids) < wh.scalar("SELECT count(*) FROM mdm.golden_customer")
    assert ids == ids_all and links.equals(links_all)
    # the links of those customers, as the first run stored them (nothing changed since)
    assert links.equals(stored[stored["child_golden_id"].isin(ids)].reset_index(drop=True)) and len(links) > 0
    wh.dispose()


def lookup_index(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The match API index's content, by record ID (its row numbers aside)."""
    con = sqlite3.connect(path)
    cols = [r[1] for r in con.execute("PRAGMA table_info(records)") if r[1] != "rid"]
    out = {"records": sorted(con.execute(f"SELECT {', '.join(map(repr, cols))} FROM records")),
           "keys": sorted(con.execute("SELECT k, record_id FROM keys JOIN records USING (rid)")),
           "golden": sorted(con.execute("SELECT * FROM golden")), "tf": sorted(con.execute("SELECT * FROM tf"))}
    con.close()
    return out


@pytest.mark.parametrize("warehouse_url", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_match_api_index_kept_current_by_runs_and_stewards_equals_one_built_afresh(
        demo_project: Path, warehouse_url: str) -> None:
    """Once the index exists, an incremental run rewrites the records it changed, deleted and re-clustered, and a
    steward's action moves the golden IDs it changed: the index then holds what one built from the warehouse does."""
    from pipelines import match_lookup

    cfg = load_config(demo_project, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    run_all(cfg, wh)
    store = match_lookup.LookupStore(match_lookup.store_path(cfg, wh))
    assert match_lookup.refresh(cfg, wh, force=True) == f"match API index built: {store.path}"
    pair = wh.read_frame("SELECT record_id FROM mdm.customer_records WHERE golden_id = (SELECT golden_id "
                         "FROM mdm.customer_records GROUP BY golden_id HAVING count(*) > 1 ORDER BY golden_id LIMIT 1) "
                         "ORDER BY record_id LIMIT 2")["record_id"].tolist()
    decide_pair(cfg, wh, pair[0], pair[1], "different", by="test")  # the index follows the split
    moved = dict(sqlite3.connect(store.path).execute(
        "SELECT record_id, golden_id FROM records WHERE record_id IN (?, ?)", pair).fetchall())
    assert len(set(moved.values())) == 2
    change_the_sources(demo_project.parent / "data")
    said: list[str] = []
    second = run_all(cfg, wh, progress=said.append)
    assert second.match is not None and second.match.incremental and second.match.deleted == 3
    assert [m for m in said if m.startswith("match API index")] == [  # rewritten in place, not built again
        f"match API index: {second.match.changed + 3:,} records rewritten, {second.match.affected:,} re-pointed"]
    kept = lookup_index(store.path)
    assert match_lookup.refresh(cfg, wh) is None  # already current: nothing to do
    store.path.unlink()
    assert match_lookup.refresh(cfg, wh, force=True) == f"match API index built: {store.path}"
    afresh = lookup_index(store.path)
    for part in ("records", "keys", "golden", "tf"):
        assert kept[part] == afresh[part], part
    assert len(kept["records"]) == int(wh.scalar("SELECT count(*) FROM mdm.customer_records"))


@pytest.mark.parametrize("warehouse_url", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_full_run_beyond_train_sample_equals_one_link_in_memory(demo_project: Path, warehouse_url: str) -> None:
    """More staged records than `train_sample`: the model is trained on a sample, then every record is linked
    with it a few hundred candidate pairs at a time; the result is the in-memory link of all of them with that
    model, table by table (the pairs too)."""
    cfg = load_config(demo_project, warehouse_url=warehouse_url)
    wh = Warehouse(warehouse_url)
    run_all(cfg, wh)
    total = int(wh.scalar("SELECT count(*) FROM staging.customer"))
    chunked = cfg.model_copy(deep=True)
    chunked.mdm.customer.train_sample, chunked.mdm.customer.pairs_per_step = total * 2 // 5, 100
    out = run_match(chunked, wh, rebuild=True)  # a new model, trained on the sample
    assert not out.incremental and out.changed == total == out.records
    assert int(out.stats["steps"]) > 5  # type: ignore[call-overload]
    assert int(wh.scalar("SELECT count(*) FROM mdm.xref")) == total  # every staged record has its customer
    by_steps = snapshot(wh)
    pairs = wh.read_frame("SELECT * FROM mdm.match_pairs")

    in_memory = run_match(cfg, wh, rebuild=True, retrain=False)  # the same model, every record at once
    assert "steps" not in in_memory.stats
    full = snapshot(wh)
    assert out.stats["candidate_pairs"] == in_memory.stats["candidate_pairs"] > len(pairs) > 0
    assert pairs["prob"].min() >= cfg.mdm.customer.thresholds.review  # (only those are stored)
    for table in TABLES:
        a, b = by_steps[table], full[table]
        diff = a.merge(b, how="outer", indicator=True)
        assert (diff["_merge"] == "both").all(), f"{table} differs:\n{diff[diff['_merge'] != 'both'].head(10)}"
    assert int(wh.scalar("SELECT count(DISTINCT golden_id) FROM mdm.xref")) < total  # records were linked


def test_a_watermark_an_older_version_left_mid_steps_means_a_full_run(demo_run: Path, tmp_path: Path) -> None:
    """Versions before `link_in_steps` linked large sets in committed steps and marked the watermark `backfill`
    until the last: such a warehouse is linked anew (never taken for finished)."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"  # after a first run_all
    cfg = load_config(demo_run, warehouse_url=url)
    wh = Warehouse(url)
    assert run_match(cfg, wh).incremental  # (nothing changed: an incremental run)
    with wh.begin() as conn:
        mark = watermark(conn, CONSUMER)
        assert mark is not None
        set_watermark(conn, CONSUMER, mark[0], {**mark[1], "backfill": True})
    out = run_match(cfg, wh)
    assert not out.incremental and out.changed == out.records == int(wh.scalar("SELECT count(*) FROM mdm.xref"))


def _match_killed_at(url: str, cfg: object, kill_at: int, counted: Path) -> None:
    """(In a child process) `run_match`, dying just before commit `kill_at` (never when 0)."""
    from bench.crash_point import die_before_commit

    commits = die_before_commit(kill_at)
    run_match(cfg, Warehouse(url))  # type: ignore[arg-type]
    counted.write_text(str(commits()), encoding="utf-8")
    os._exit(0)


def test_a_full_run_beyond_train_sample_killed_at_any_commit_resumes_to_the_same_result(
        demo_run: Path, tmp_path: Path) -> None:
    """Killed just before any commit of a first match that links in steps, the next run finishes it: every table
    as an uninterrupted run leaves it (nothing lost, nothing doubled)."""
    base = tmp_path / "w.duckdb"  # after a first run_all
    cfg = load_config(demo_run, warehouse_url=f"duckdb:///{base}")
    wh = Warehouse(f"duckdb:///{base}")
    total = int(wh.scalar("SELECT count(*) FROM staging.customer"))
    with wh.begin() as conn:  # staged, never matched: the next match is a first one
        conn.exec_driver_sql("DELETE FROM mdm.match_model")
        conn.exec_driver_sql("DELETE FROM raw._watermarks WHERE consumer = 'match:customer'")
    wh.dispose()
    chunked = cfg.model_copy(deep=True)
    chunked.mdm.customer.train_sample, chunked.mdm.customer.pairs_per_step = total // 2, 300
    spawn = multiprocessing.get_context("spawn")  # (a fork after DuckDB ran can hang on its threads)

    def child(kill_at: int) -> tuple[str, int | None]:
        path = tmp_path / f"k{kill_at}.duckdb"
        shutil.copy(base, path)
        p = spawn.Process(target=_match_killed_at, args=(f"duckdb:///{path}", chunked, kill_at, tmp_path / "n"))
        p.start()
        p.join()
        return f"duckdb:///{path}", p.exitcode

    url, status = child(0)
    assert status == 0
    commits = int((tmp_path / "n").read_text())
    assert commits >= 2  # the standardized records, then the link and its outputs
    reference = snapshot(Warehouse(url))
    for k in range(1, commits + 1):
        url, status = child(k)
        assert status == 137, f"the run killed before commit {k} ended with {status}"
        resumed = run_match(chunked, Warehouse(url))  # what the next `hub run` does
        assert resumed.records == total
        got = snapshot(Warehouse(url))
        for table in TABLES:
            diff = reference[table].merge(got[table], how="outer", indicator=True)
            assert (diff["_merge"] == "both").all(), (
                f"killed before commit {k} of {commits}: {table} differs:\n{diff[diff['_merge'] != 'both'].head()}")

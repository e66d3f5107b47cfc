"""`pipelines.match` on warehouses of a few records (DuckDB, a file source synced and staged for real): what a full
run, an incremental run and a run with nothing to do write and report, exactly; when a run is full and when it is
incremental; and the small parts (the content hash, the settings, the fingerprint, the columns the engine reads,
steward decisions, former names). Each test takes a few seconds: the unit-level tests of the mutation round of
`pipelines/match.py` (docs/testing.md, "Mutation testing")."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.config import CustomerMdmConfig, HubConfig
from core.config_file import load_config
from mdm.blocking import BlockingRule
from mdm.classify import FellegiSunter
from mdm.compare import ComparisonSpec
from mdm.engine import LinkSettings, score_pairs
from mdm.specs import CUSTOMER_ANCHORS, CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, CUSTOMER_EXCLUSIVE
from pipelines.match import (
    CONSUMER,
    _decisions,
    _must_cannot,
    _nothing_to_link,
    _now,
    _scope,
    _standardize,
    content_hash_sql,
    fingerprint,
    link_columns,
    load_customers,
    record_ids,
    run_match,
    settings_of,
)
from pipelines.match_outputs import revivable_sql
from pipelines.match_store import ENTITY_FIELDS
from pipelines.model_store import active_model
from pipelines.progress import Progress
from pipelines.stage import stage_all
from pipelines.sync import sync_source
from warehouse.changes import watermark
from warehouse.contract import ensure_mdm
from warehouse.engine import Warehouse

# Two pairs of duplicates (same name and phone) and a company alone: three golden customers.
ROWS = [("A0", "上海瑞丰信息技术有限公司", "021-51803117"), ("A1", "北京华通科技有限公司", "010-82336141"),
        ("A2", "深圳超瑞服饰有限公司", "13628510947"), ("A3", "上海瑞丰信息技术有限公司", "021-51803117"),
        ("A4", "北京华通科技有限公司", "010-82336141")]
STREAM = ("    streams:\n      customers:\n        primary_key: 编号\n        entity: customer\n"
          "        mapping: {name: 名称, phone: 电话, updated_at: 修改时间}\n")


def rid(key: str) -> str:
    return f"crm_a:customers:{key}"


def write_rows(tmp_path: Path, rows: list[tuple[str, str, str]], note: str = "") -> None:
    pd.DataFrame({"编号": [r[0] for r in rows], "名称": [r[1] for r in rows], "电话": [r[2] for r in rows],
                  "修改时间": "2024-06-01 10:00:00", "备注": note}).to_csv(tmp_path / "a.csv", index=False)


def project(tmp_path: Path, rows: list[tuple[str, str, str]] = ROWS, mdm: str = "") -> tuple[HubConfig, Warehouse]:
    """A file source of customers (`rows`: key, name, phone; an unmapped note column) synced and staged."""
    write_rows(tmp_path, rows)
    (tmp_path / "hub.yaml").write_text(
        'warehouse: {url: "duckdb:///w.duckdb"}\nsources:\n'
        f"  crm_a:\n    connector: file\n    config: {{path: a.csv}}\n{STREAM}{mdm}", encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    wh = Warehouse(cfg.warehouse.url)
    stage(cfg, wh)
    return cfg, wh


def stage(cfg: HubConfig, wh: Warehouse) -> None:
    assert sync_source(cfg, wh, "crm_a").status == "succeeded"
    stage_all(cfg, wh)


def counted(messages: list[str]) -> Progress:
    """A progress whose counters write their closing lines only (however slow the machine)."""
    return Progress(messages.append, interval=float("inf"))


def lines(messages: list[str]) -> list[str]:
    """Progress lines without the time a slow counter appends."""
    return [re.sub(r" in \d+\.\d s \([^)]*\)$", "", m) for m in messages]


def golden_of(wh: Warehouse) -> dict[str, str]:
    x = wh.read_frame("SELECT source_key, golden_id FROM mdm.xref")
    return dict(zip(x["source_key"], x["golden_id"], strict=True))


def groups(wh: Warehouse) -> set[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for key, g in golden_of(wh).items():
        by.setdefault(g, set()).add(key)
    return {frozenset(v) for v in by.values()}


def models(wh: Warehouse) -> list[tuple[str, bool]]:
    m = wh.read_frame("SELECT model_id, active FROM mdm.match_model ORDER BY model_id")
    return list(zip(m["model_id"], m["active"].astype(bool), strict=True))


# --- the small parts ------------------------------------------------------------------------------------------


def test_the_content_hash_is_the_md5_of_the_canonical_fields_joined_by_bars_with_nulls_marked(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    values = {c: None for c in ENTITY_FIELDS} | {"name": "上海瑞丰", "phone": "021-1", "owner": ""}
    with wh.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (" + ", ".join(f'"{c}" VARCHAR' for c in ENTITY_FIELDS) + ")")
        wh.insert_frame(conn, "main", "t", pa.Table.from_pylist([values],
                                                                 pa.schema([(c, pa.string()) for c in ENTITY_FIELDS])))
    expected = hashlib.md5("|".join("\x01" if values[c] is None else values[c] for c in ENTITY_FIELDS).encode()
                           ).hexdigest()
    assert wh.scalar(f"SELECT {content_hash_sql('s')} FROM t s") == expected
    # (the alias qualifies every column: the hash reads its table's row beside another with the same columns)
    assert wh.scalar(f"SELECT {content_hash_sql('s')} FROM t s, t u") == expected
    assert wh.scalar(f"SELECT {content_hash_sql()} FROM t") == expected
    assert content_hash_sql().startswith("md5(COALESCE(CAST(\"name\" AS VARCHAR)")
    wh.dispose()


def test_record_ids_and_the_customers_loaded_in_record_order(tmp_path: Path) -> None:
    df = pd.DataFrame({"source_name": ["erp", "crm"], "stream": ["c", "k"], "source_key": [12, 3]})
    assert record_ids(df).tolist() == ["erp:c:12", "crm:k:3"]
    wh = Warehouse(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    empty = load_customers(wh)  # (staging and mdm created on the way)
    assert len(empty) == 0 and "record_id" in empty.columns
    wh.dispose()
    _, wh = project(tmp_path, [("B2", "深圳超瑞服饰有限公司", "1"), ("A1", "北京华通科技有限公司", "2"),
                               ("B10", "上海瑞丰信息技术有限公司", "3")])
    got = load_customers(wh)
    assert got["record_id"].tolist() == [rid("A1"), rid("B10"), rid("B2")]
    assert got["name"].tolist() == ["北京华通科技有限公司", "上海瑞丰信息技术有限公司", "深圳超瑞服饰有限公司"]
    assert got.index.tolist() == [0, 1, 2]
    wh.dispose()


def test_the_settings_come_from_the_config_with_the_default_spec_where_none_is_given() -> None:
    default = settings_of(CustomerMdmConfig())
    assert default == LinkSettings(CUSTOMER_BLOCKING, CUSTOMER_COMPARISONS, 0.8, 0.3, CUSTOMER_EXCLUSIVE,
                                   CUSTOMER_ANCHORS, u_pairs=300_000, workers=min(os.cpu_count() or 1, 4),
                                   feedback_strength=5.0)  # (threads for the pairs: the machine's cores, at most 4)
    assert settings_of(CustomerMdmConfig(workers=1)).workers == 1
    mcfg = CustomerMdmConfig.model_validate({
        "thresholds": {"match": 0.9, "review": 0.4}, "u_pairs": 5000, "workers": 2, "feedback": {"strength": 2.5},
        "blocking": [{"name": "by_name", "columns": ["name_key"], "max_block": 50}],
        "comparisons": [{"name": "name", "kind": "string", "column": "name_norm", "thresholds": [0.9]}]})
    got = settings_of(mcfg)
    assert got == LinkSettings((BlockingRule("by_name", ("name_key",), 50),),
                               (ComparisonSpec("name", "string", "name_norm", (0.9,)),), 0.9, 0.4, CUSTOMER_EXCLUSIVE,
                               CUSTOMER_ANCHORS, u_pairs=5000, workers=2, feedback_strength=2.5)
    only_blocking = settings_of(CustomerMdmConfig.model_validate({"blocking": [{"name": "b", "columns": ["x"]}]}))
    assert only_blocking.comparisons == CUSTOMER_COMPARISONS and only_blocking.blocking == (BlockingRule("b", ("x",)),)


def test_the_fingerprint_follows_what_makes_stored_pairs_valid_and_nothing_else() -> None:
    base = settings_of(CustomerMdmConfig())
    fp = fingerprint(base)
    assert re.fullmatch(r"[0-9a-f]{16}", fp) and fingerprint(settings_of(CustomerMdmConfig())) == fp
    rule = BlockingRule("b", ("name_key",))
    spec = ComparisonSpec("n", "exact", "name_key")
    for changed in (LinkSettings(base.blocking[:-1], base.comparisons, base.match, base.review, base.exclusive,
                                 base.anchors),
                    LinkSettings((*base.blocking, rule), base.comparisons, base.match, base.review, base.exclusive,
                                 base.anchors),
                    LinkSettings(base.blocking, (*base.comparisons, spec), base.match, base.review, base.exclusive,
                                 base.anchors),
                    LinkSettings(base.blocking, base.comparisons, base.match, 0.31, base.exclusive, base.anchors),
                    LinkSettings(base.blocking, base.comparisons, base.match, base.review, base.exclusive[1:],
                                 base.anchors),
                    LinkSettings(base.blocking, base.comparisons, base.match, base.review, base.exclusive,
                                 base.anchors[1:])):
        assert fingerprint(changed) != fp
    # the match threshold, the sample of u pairs, the threads: the stored pairs stay valid
    assert fingerprint(LinkSettings(base.blocking, base.comparisons, 0.95, base.review, base.exclusive, base.anchors,
                                    u_pairs=1000, workers=3, feedback_strength=1.0)) == fp


def test_the_columns_the_engine_reads_are_the_specs_blocking_exclusive_anchors_and_scope_once_each() -> None:
    settings = LinkSettings((BlockingRule("n", ("name_key",)), BlockingRule("p", ("phone_digits", "area_code"))),
                            (ComparisonSpec("name", "string", "name_norm", (0.9,), extra=("name_key",)),
                             ComparisonSpec("phone", "exact", "phone_digits")),
                            exclusive=("uscc_valid_code", "city_any"), anchors=("uscc_valid_code", "reg_no"))
    assert link_columns(settings) == ["name_norm", "name_key", "phone_digits", "area_code", "uscc_valid_code",
                                      "city_any", "reg_no"]

    model = FellegiSunter([ComparisonSpec("addr", "exact", "address_norm")], {"addr": [0.9, 0.1]},
                          {"addr": [0.1, 0.9]}, 0.1, info={"calibration_scope": ("org_kind", "name_city")})
    assert link_columns(settings, model) == ["address_norm", "name_key", "phone_digits", "area_code",
                                             "uscc_valid_code", "city_any", "reg_no", "org_kind", "name_city"]
    assert _scope(model) == ["org_kind", "name_city"]
    model.info = {"calibration_scope": ["org_kind"]}
    assert _scope(model) == ["org_kind"]
    for info in ({}, {"calibration_scope": "org_kind"}, {"calibration_scope": None}):
        model.info = info
        assert _scope(model) == []
    assert link_columns(settings, model)[-1] == "reg_no"


def test_steward_decisions_between_known_records_with_their_positions(tmp_path: Path) -> None:
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    rows = [("d1", "r1", "r2", "same", True, None), ("d2", "r3", "r1", "different", True, "review"),
            ("d3", "r2", "r3", "same", False, "review"), ("d4", "r1", "gone", "same", True, None),
            ("d5", "r2", "r3", "different", True, "merge"), ("d6", "r3", "r2", "same", True, "review")]
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        pos = pd.Series([0, 1, 2], index=["r1", "r2", "r3"])
        none = _decisions(wh, conn, pos)
        assert len(none) == 0 and none["lp"].dtype == np.int64 and none["rp"].dtype == np.int64
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [dict(zip(("decision_id", "left_record", "right_record", "verdict", "active", "origin"), r, strict=True))
             for r in rows]))
        d = _decisions(wh, conn, pos).sort_values(["lp", "rp"])
        assert list(zip(d["lp"], d["rp"], d["verdict"], strict=True)) == [
            (0, 1, "same"), (1, 2, "different"), (2, 0, "different"), (2, 1, "same")]
        assert d["lp"].dtype == np.int64 and d["rp"].dtype == np.int64
        review = _decisions(wh, conn, pos, origin_review=True).sort_values(["lp", "rp"])
        assert list(zip(review["lp"], review["rp"], strict=True)) == [(0, 1), (2, 0), (2, 1)]
        (ml, mr), (cl, cr) = _must_cannot(d)
        assert (ml.tolist(), mr.tolist(), cl.tolist(), cr.tolist()) == ([0, 2], [1, 1], [1, 2], [2, 0])
    wh.dispose()


def test_standardizing_fills_a_former_name_stewards_gave_where_a_record_has_none() -> None:
    df = pd.DataFrame({c: [None] * 3 for c in ["source_name", "stream", "source_key", *ENTITY_FIELDS]})
    df["record_id"] = ["r1", "r2", "r3"]
    df["name"] = ["北京华通科技有限公司", "上海瑞丰信息技术有限公司", "深圳超瑞服饰有限公司"]
    df["former_name"] = [None, " ", "深圳超瑞商贸有限公司"]
    std = _standardize(df, {"r1": "北京华通电子有限公司", "r2": "上海瑞丰软件有限公司", "r3": "深圳某某有限公司"})
    assert std["former_name"].tolist() == ["北京华通电子有限公司", "上海瑞丰软件有限公司", "深圳超瑞商贸有限公司"]
    assert std["former_name_key"].notna().all()
    plain = _standardize(df)
    assert plain["former_name"].tolist()[2] == "深圳超瑞商贸有限公司" and pd.isna(plain["former_name_key"].iloc[0])
    assert _standardize(df, {"r9": "某某有限公司"})["former_name"].tolist()[2] == "深圳超瑞商贸有限公司"
    empty = _standardize(df.iloc[:0], {"r1": "x"})
    assert len(empty) == 0 and {"name_key", "phone_digits", "record_id"} <= set(empty.columns)


# --- runs -----------------------------------------------------------------------------------------------------


def test_a_full_run_writes_every_record_pair_model_and_watermark_and_reports_them(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    with wh.begin() as conn:  # another entity's changes are not matching's to consume
        conn.exec_driver_sql("INSERT INTO staging._changes (seq, entity, source_name, stream, source_key, op) "
                             "VALUES (1000, 'sales_order', 'erp', 'orders', 'SO1', 'upsert')")
        top = int(conn.exec_driver_sql("SELECT max(seq) FROM staging._changes WHERE entity = 'customer'").scalar())
    messages: list[str] = []
    started = time.perf_counter()
    out = run_match(cfg, wh, progress=counted(messages))
    elapsed = time.perf_counter() - started
    assert lines(messages) == ["standardizing customers: 5 customer records standardized", "linking 5 customer records",
                               "matched 5 customer records into 3 golden customers (0 pairs for review)"]
    assert (out.records, out.golden, out.new_ids, out.merged_ids, out.incremental, out.changed, out.deleted) == (
        5, 3, 3, 0, False, 5, 0)
    assert out.stats["records"] == 5 and out.stats["candidate_pairs"] == 2 and out.stats["feedback"] is None
    assert set(out.timings) == {"standardize", "encode", "block", "compare", "train", "score", "cluster",
                                "golden_and_write"}
    assert all(0 <= t <= elapsed for t in out.timings.values())  # (the time of each step, not a clock's reading)
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"})}
    pairs = wh.read_frame("SELECT left_record, right_record, rules, prob FROM mdm.match_pairs ORDER BY left_record")
    assert pairs[["left_record", "right_record"]].values.tolist() == [[rid("A0"), rid("A3")], [rid("A1"), rid("A4")]]
    assert (pairs["prob"] > 0.99).all() and (pairs["rules"] > 0).all()
    recs = wh.read_frame("SELECT record_id, record_hash, golden_id, name_key, phone_digits FROM mdm.customer_records "
                         "ORDER BY record_id")
    assert recs["record_id"].tolist() == [rid(r[0]) for r in ROWS]
    assert recs["record_hash"].tolist() == wh.read_frame(
        f"SELECT {content_hash_sql('s')} AS h FROM staging.customer s ORDER BY source_key")["h"].tolist()
    assert recs["golden_id"].tolist() == [golden_of(wh)[r[0]] for r in ROWS]
    assert recs["phone_digits"].tolist() == ["51803117", "82336141", "28510947", "51803117", "82336141"]
    fp = fingerprint(settings_of(cfg.mdm.customer))
    with wh.begin() as conn:
        assert watermark(conn, CONSUMER) == (top, {"fingerprint": fp})
        assert active_model(wh, fp, conn) is not None
    assert [m[1] for m in models(wh)] == [True]
    left = wh.read_frame("SELECT entity, seq FROM staging._changes")
    assert left.values.tolist() == [["sales_order", 1000]]
    wh.dispose()


def test_nothing_changed_reads_nothing_and_a_change_outside_the_fields_changes_nothing(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    before = wh.read_frame("SELECT * FROM mdm.xref ORDER BY source_key")
    messages: list[str] = []
    out = run_match(cfg, wh, progress=counted(messages))
    assert out.incremental and (out.records, out.golden, out.changed, out.deleted, out.review_items) == (5, 3, 0, 0, 0)
    assert messages == ["matching: no customer record changed (5 records, 3 golden customers)"]
    assert set(out.timings) == {"commit"}
    # a column no customer field maps changes: the records are staged again, their content is the same
    write_rows(tmp_path, ROWS, note="备注")
    stage(cfg, wh)
    assert int(wh.scalar("SELECT count(*) FROM staging._changes WHERE entity = 'customer'")) == 5
    top = int(wh.scalar("SELECT max(seq) FROM staging._changes"))
    messages.clear()
    out = run_match(cfg, wh, progress=counted(messages))
    assert out.incremental and out.changed == 0
    assert messages == ["matching: no customer record changed (5 records, 3 golden customers)"]
    assert int(wh.scalar("SELECT count(*) FROM staging._changes WHERE entity = 'customer'")) == 0
    with wh.begin() as conn:
        assert watermark(conn, CONSUMER) == (top, {"fingerprint": fingerprint(settings_of(cfg.mdm.customer))})
    pd.testing.assert_frame_equal(wh.read_frame("SELECT * FROM mdm.xref ORDER BY source_key"), before)
    wh.dispose()


def test_an_incremental_run_links_the_new_relinks_the_changed_drops_the_deleted_as_a_rebuild_does(
        tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    first = golden_of(wh)
    # A5: a duplicate of A2; A1 moves to A0's name and phone; A4 is deleted
    rows = [ROWS[0], ("A1", "上海瑞丰信息技术有限公司", "021-51803117"), ROWS[2], ROWS[3],
            ("A5", "深圳超瑞服饰有限公司", "13628510947")]
    write_rows(tmp_path, rows)
    stage(cfg, wh)
    messages: list[str] = []
    started = time.perf_counter()
    out = run_match(cfg, wh, progress=counted(messages))
    elapsed = time.perf_counter() - started
    assert out.incremental
    assert (out.changed, out.deleted, out.affected, out.records, out.golden) == (2, 1, 5, 5, 2)
    assert out.changed_ids == [rid("A1"), rid("A5")] and out.deleted_ids == [rid("A4")]
    assert out.affected_ids == [rid(k) for k in ("A0", "A1", "A2", "A3", "A5")]
    assert out.stats["new_pairs"] == 3 and out.stats["affected"] == 5 and out.stats["skipped_blocks"] == {}
    assert out.stats["neighbours"] == 3
    assert set(out.timings) == {"changes", "standardize", "block_and_compare", "pairs", "closure", "cluster",
                                "golden_and_write", "commit"}
    assert all(0 <= t <= elapsed for t in out.timings.values())
    assert lines(messages) == [
        "linking 2 new or changed and 1 deleted customer records",
        "matched 2 changed and 1 deleted records (5 affected): 2 golden customers (0 pairs for review)"]
    now = golden_of(wh)
    assert groups(wh) == {frozenset({"A0", "A1", "A3"}), frozenset({"A2", "A5"})}
    assert now["A0"] == first["A0"] and now["A2"] == first["A2"]
    pairs = wh.read_frame("SELECT left_record, right_record FROM mdm.match_pairs ORDER BY 1, 2").values.tolist()
    assert pairs == [[rid("A0"), rid("A1")], [rid("A0"), rid("A3")], [rid("A1"), rid("A3")], [rid("A2"), rid("A5")]]
    recs = wh.read_frame("SELECT record_id, golden_id, phone_digits FROM mdm.customer_records ORDER BY record_id")
    assert recs["record_id"].tolist() == [rid(k) for k in ("A0", "A1", "A2", "A3", "A5")]
    assert recs["golden_id"].tolist() == [now[k] for k in ("A0", "A1", "A2", "A3", "A5")]
    assert recs["phone_digits"].tolist()[1] == "51803117"
    assert int(wh.scalar("SELECT count(*) FROM staging._changes WHERE entity = 'customer'")) == 0
    incremental = golden_of(wh)
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert golden_of(wh) == incremental
    wh.dispose()


def test_only_deleted_records_are_unlinked_and_their_golden_customer_mates_clustered_again(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    first = golden_of(wh)
    write_rows(tmp_path, [r for r in ROWS if r[0] != "A3"])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and (out.changed, out.deleted, out.affected, out.golden) == (0, 1, 1, 3)
    assert out.deleted_ids == [rid("A3")] and out.affected_ids == [rid("A0")] and out.changed_ids == []
    assert out.stats["new_pairs"] == 0 and out.stats["skipped_blocks"] == {}  # (no block was built)
    assert golden_of(wh) == {k: v for k, v in first.items() if k != "A3"}
    assert wh.read_frame("SELECT left_record FROM mdm.match_pairs")["left_record"].tolist() == [rid("A1")]
    assert int(wh.scalar("SELECT count(*) FROM mdm.customer_records")) == 4
    wh.dispose()


def revived_history(wh: Warehouse) -> list[tuple[object, str, str]]:
    h = wh.read_frame("SELECT retired_id, survivor_id, reason FROM mdm.golden_id_history WHERE reason IN "
                      "('deleted', 'revived') ORDER BY retired_at, reason, retired_id, survivor_id")
    return [(r, s, why) for r, s, why in h.itertuples(index=False)]


def deleted_keys(wh: Warehouse) -> dict[str, str]:
    d = wh.read_frame("SELECT source_key, golden_id FROM mdm.xref_deleted")
    return dict(zip(d["source_key"], d["golden_id"], strict=True))


def test_only_an_id_retired_as_deleted_and_held_by_no_record_is_revivable(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    now = dt.datetime(2026, 1, 1)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        wh.insert_frame(conn, "mdm", "xref_deleted", pd.DataFrame({
            "source_name": "s", "stream": "c", "source_key": ["k1", "k2", "k3", "k4", "k5"],
            "golden_id": ["G1", "G2", "G3", "G4", "G5"], "deleted_at": now}))
        wh.insert_frame(conn, "mdm", "xref", pd.DataFrame({"source_name": ["s"], "stream": ["c"], "source_key": ["k9"],
                                                           "golden_id": ["G3"], "updated_at": [now]}))
        wh.insert_frame(conn, "mdm", "golden_id_history", pd.DataFrame({
            "retired_id": ["G1", "G2", "G2", "G3", "G5"], "survivor_id": [None, None, "G7", None, "G8"],
            "reason": ["deleted", "deleted", "merged", "deleted", "manual_merge"], "retired_at": now}))
        got = wh.read_frame(f"SELECT record_id, revivable FROM ({revivable_sql()}) d ORDER BY 1", conn=conn)
    # G1: retired as deleted; G2: merged since; G3: a record holds it; G4: never retired; G5: merged by a steward
    assert dict(zip(got["record_id"], got["revivable"].astype(bool), strict=True)) == {
        "s:c:k1": True, "s:c:k2": False, "s:c:k3": False, "s:c:k4": False, "s:c:k5": False}
    wh.dispose()


@pytest.mark.parametrize("rebuild", [False, True], ids=["incremental", "rebuild"])
def test_a_deleted_record_that_comes_back_takes_its_golden_id_again_unless_it_joins_a_live_customer(
        tmp_path: Path, rebuild: bool) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    first = golden_of(wh)
    g0, g1, g2 = first["A0"], first["A1"], first["A2"]

    def again(keys: set[str], rows: list[tuple[str, str, str]] = ROWS) -> object:
        write_rows(tmp_path, [r for r in rows if r[0] in keys])
        assert sync_source(cfg, wh, "crm_a", allow_mass_delete=True).status == "succeeded"  # (3 of 5 deleted)
        stage_all(cfg, wh)
        out = run_match(cfg, wh, rebuild=rebuild, retrain=False)
        assert out.incremental is not rebuild
        return out

    again({"A0", "A3"})  # A2 (alone) and both records of A1's customer are deleted: their IDs are retired
    assert golden_of(wh) == {"A0": g0, "A3": g0}
    assert deleted_keys(wh) == {"A1": g1, "A4": g1, "A2": g2}
    assert revived_history(wh) == [(g, None, "deleted") for g in sorted([g1, g2])]

    out = again({"A0", "A3", "A1", "A2"})  # A2 and one of A1's records come back: both take their IDs again
    assert golden_of(wh) == {"A0": g0, "A3": g0, "A1": g1, "A2": g2}
    assert (out.new_ids, out.revived_ids, out.merged_ids) == (0, 2, 0)  # type: ignore[attr-defined]
    assert revived_history(wh)[2:] == [(None, g, "revived") for g in sorted([g1, g2])]
    assert deleted_keys(wh) == {"A4": g1}  # the two that came back left it

    out = again({"A0", "A3", "A1", "A2", "A4"})  # A4 joins its live customer
    assert golden_of(wh) == first and deleted_keys(wh) == {}
    assert (out.new_ids, out.revived_ids) == (0, 0)  # type: ignore[attr-defined]

    # A2 deleted, then back under A0's name and phone: it joins A0's customer, and its own ID retires into A0's
    # (whoever stored it is sent there), never to be revived
    again({"A0", "A3", "A1", "A4"})
    moved = [*ROWS[:2], ("A2", ROWS[0][1], ROWS[0][2]), *ROWS[3:]]
    out = again({"A0", "A1", "A2", "A3", "A4"}, moved)
    assert golden_of(wh) == {**first, "A2": g0}
    assert (out.new_ids, out.revived_ids, out.merged_ids) == (0, 0, 1)  # type: ignore[attr-defined]
    assert revived_history(wh)[-1] == (g2, None, "deleted") and deleted_keys(wh) == {}
    assert wh.read_frame("SELECT survivor_id FROM mdm.golden_id_history WHERE retired_id = :g AND reason = "
                         "'merged'", {"g": g2})["survivor_id"].tolist() == [g0]
    assert not int(wh.scalar("SELECT count(*) FROM mdm.golden_customer WHERE golden_id = :g", {"g": g2}))
    # the same warehouse rebuilt gives every record the ID it holds
    run_match(cfg, wh, rebuild=True, retrain=False)
    assert golden_of(wh) == {**first, "A2": g0}
    wh.dispose()


@pytest.mark.parametrize("how", ["rebuild", "review", "backfill", "layout", "no_pairs", "no_model"])
def test_when_a_run_links_everything_again(tmp_path: Path, how: str) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    (model_id, _), = models(wh)
    kwargs: dict[str, bool] = {}
    if how == "rebuild":
        kwargs = {"rebuild": True, "retrain": False}
    elif how == "review":  # a review threshold changes which pairs are stored: a new fingerprint
        cfg = cfg.model_copy(deep=True)
        cfg.mdm.customer.thresholds.review = 0.35
    with wh.begin() as conn:
        if how == "backfill":  # an older version's unfinished steps
            conn.exec_driver_sql("UPDATE raw._watermarks SET detail = json_object('fingerprint', json_extract_string("
                                 f"detail, '$.fingerprint'), 'backfill', 1) WHERE consumer = '{CONSUMER}'")
        elif how == "layout":  # the records of an older version, without a column of today's
            conn.exec_driver_sql("ALTER TABLE mdm.customer_records DROP COLUMN name_latin")
        elif how == "no_pairs":
            conn.exec_driver_sql("DROP TABLE mdm.match_pairs")
        elif how == "no_model":
            conn.exec_driver_sql("UPDATE mdm.match_model SET active = FALSE")
    out = run_match(cfg, wh, **kwargs)
    assert not out.incremental and out.changed == 5 and out.golden == 3
    got = models(wh)
    if how == "rebuild":
        assert got == [(model_id, True)]  # retrain=False: the model in force links
    else:
        assert len(got) == 2 and got[0] == (model_id, False) and got[1][1]
    fp = fingerprint(settings_of(cfg.mdm.customer))
    with wh.begin() as conn:
        assert watermark(conn, CONSUMER)[1] == {"fingerprint": fp}
    assert run_match(cfg, wh).incremental  # and the next run is incremental again
    wh.dispose()


def test_a_new_match_threshold_keeps_the_pairs_and_runs_incrementally(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    cfg = cfg.model_copy(deep=True)
    cfg.mdm.customer.thresholds.match = 0.9
    out = run_match(cfg, wh)
    assert out.incremental and out.changed == 0
    wh.dispose()


def test_a_rebuild_trains_a_new_model_unless_told_not_to(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    (first, _), = models(wh)
    assert not run_match(cfg, wh, rebuild=True).incremental
    got = models(wh)
    assert len(got) == 2 and got[0] == (first, False) and got[1][1]
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert models(wh) == got
    wh.dispose()


def test_the_link_of_fewer_than_two_records_has_the_shape_of_a_link_without_pairs() -> None:
    settings = settings_of(CustomerMdmConfig())
    got = _nothing_to_link(settings, 3)
    levels = [s.name for s in CUSTOMER_COMPARISONS]
    assert list(got.pairs.columns) == ["left", "right", "rules", *levels, "weight", "prob", "band", "rejected",
                                       "ambiguous"]
    assert len(got.pairs) == 0 and got.pairs["left"].dtype == np.int64 and got.pairs["prob"].dtype == float
    assert got.pairs["band"].dtype == object and got.pairs["rejected"].dtype == bool
    assert got.pairs["weight"].dtype == float and got.pairs["ambiguous"].dtype == bool
    assert got.labels.tolist() == [0, 1, 2] and got.labels.dtype == np.int64 and got.model is None
    assert got.stats == {"records": 3, "candidate_pairs": 0} and got.timings == {}


def test_a_single_first_record_is_its_own_customer_and_leaves_no_model(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path, ROWS[:1])
    messages: list[str] = []
    out = run_match(cfg, wh, progress=counted(messages))
    assert (out.records, out.golden, out.changed, out.incremental) == (1, 1, 1, False)
    assert out.stats == {"records": 1, "candidate_pairs": 0, "feedback": None}
    assert lines(messages) == ["standardizing customers: 1 customer records standardized", "linking 1 customer records",
                               "matched 1 customer records into 1 golden customers (0 pairs for review)"]
    assert models(wh) == [] and int(wh.scalar("SELECT count(*) FROM mdm.match_pairs")) == 0
    with wh.begin() as conn:
        assert watermark(conn, CONSUMER) is not None
    out = run_match(cfg, wh)  # no model yet: full again
    assert not out.incremental and out.golden == 1
    wh.dispose()


def test_beyond_train_sample_the_model_learns_on_a_sample_and_links_in_steps_as_in_memory(tmp_path: Path) -> None:
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    train_sample: 4\n    pairs_per_step: 1\n")
    messages: list[str] = []
    started = time.perf_counter()
    out = run_match(cfg, wh, progress=counted(messages))
    elapsed = time.perf_counter() - started
    assert lines(messages)[:1] + lines(messages)[2:] == [
        "standardizing customers: 5 customer records standardized",
        "linking 5 customer records in steps of about 1 candidate pairs",
        "linking customer records: 5 records linked (2 candidate pairs scored in 5 steps)",
        "matched 5 customer records into 3 golden customers (0 pairs for review)"]
    assert messages[1] == "training the model on 4 of 5 customer records"
    assert (out.records, out.golden, out.changed) == (5, 3, 5) and out.stats["steps"] == 5
    assert set(out.timings) == {"standardize", "train_on_sample", "encode", "block_waited", "compare", "write",
                                "cluster", "golden_and_write"}
    assert all(0 <= t <= elapsed for t in out.timings.values())
    stepped = golden_of(wh)
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"})}
    model = json.loads(wh.scalar("SELECT model FROM mdm.match_model WHERE active"))
    assert model["info"]["records"] == 4  # trained on the sample
    pairs = wh.read_frame("SELECT left_record, right_record FROM mdm.match_pairs ORDER BY 1").values.tolist()
    assert pairs == [[rid("A0"), rid("A3")], [rid("A1"), rid("A4")]]
    # the same model in memory, every record at once
    in_memory = cfg.model_copy(deep=True)
    in_memory.mdm.customer.train_sample = 100
    assert not run_match(in_memory, wh, rebuild=True, retrain=False).incremental
    assert golden_of(wh) == stepped
    assert len(models(wh)) == 1
    # and with the model in force, beyond the sample: no training
    messages.clear()
    run_match(cfg, wh, rebuild=True, retrain=False, progress=counted(messages))
    assert not any(m.startswith("training") for m in messages) and len(models(wh)) == 1
    assert golden_of(wh) == stepped
    wh.dispose()


def test_steward_decisions_and_former_names_hold_in_full_and_incremental_runs_and_train_the_model(
        tmp_path: Path) -> None:
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    feedback: {min_labels: 2}\n")
    run_match(cfg, wh)
    first = golden_of(wh)
    decisions = [("d1", "A0", "A3", "different", True, "review"), ("d2", "A2", "A1", "same", True, None),
                 ("d3", "A0", "A1", "same", False, None), ("d4", "A2", "A4", "different", True, "merge")]
    with wh.begin() as conn:
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [dict(zip(("decision_id", "left_record", "right_record", "verdict", "active", "origin"),
                      (d, rid(a), rid(b), v, act, o), strict=True)) for d, a, b, v, act, o in decisions]))
        wh.insert_frame(conn, "mdm", "former_names", pa.Table.from_pylist(
            [{"action_id": "a1", "golden_id": first["A2"], "former_name": "深圳超瑞商贸有限公司",
              "added_at": dt.datetime(2026, 1, 1), "active": True}]))
    out = run_match(cfg, wh, rebuild=True)  # (retrained: with the two labels of review or no origin)
    assert out.stats["feedback"] == {"labels": 2, "same": 1, "different": 1, "patterns": 0, "strength": 5.0,
                                     "min_pattern": 3}
    assert groups(wh) == {frozenset({"A0"}), frozenset({"A3"}), frozenset({"A1", "A2"}), frozenset({"A4"})}
    former = wh.read_frame("SELECT source_key, former_name, former_name_key FROM mdm.customer_records "
                           "ORDER BY source_key")
    assert former["former_name"].tolist() == [None, None, "深圳超瑞商贸有限公司", None, None]
    assert former["former_name_key"].tolist() == [None, None, "超瑞商贸", None, None]
    # A3 and A2 written again (the same content but the phone's spacing): the decisions hold for them
    rows = [ROWS[0], ROWS[1], ("A2", "深圳超瑞服饰有限公司", "136 2851 0947"), ("A3", ROWS[3][1], "021 51803117"),
            ROWS[4]]
    write_rows(tmp_path, rows)
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and sorted(out.changed_ids) == [rid("A2"), rid("A3")]
    assert out.affected_ids == [rid(k) for k in ("A0", "A1", "A2", "A3", "A4")]
    assert out.stats["conflicting_components"] == 1
    assert groups(wh) == {frozenset({"A0"}), frozenset({"A3"}), frozenset({"A1", "A2"}), frozenset({"A4"})}
    former = wh.read_frame("SELECT former_name FROM mdm.customer_records ORDER BY source_key")["former_name"]
    assert former.tolist() == [None, None, "深圳超瑞商贸有限公司", None, None]
    # too few labels, or feedback turned off: the model is fitted without them
    for mdm in ({"feedback": {"min_labels": 3}}, {"feedback": {"enabled": False, "min_labels": 1}}):
        other = cfg.model_copy(deep=True)
        other.mdm.customer = CustomerMdmConfig.model_validate(mdm)
        assert run_match(other, wh, rebuild=True).stats["feedback"] is None
    wh.dispose()


def test_a_configured_blocking_without_the_owner_column_still_links_and_incrementally_as_a_rebuild(
        tmp_path: Path) -> None:
    """The default comparisons count a phone, address, contact or e-mail held by records of ten brands (`name_core`)
    or more as missing; `name_core` was read only when a blocking rule read it (the default's `core_city`), so a
    configured blocking without it failed the first run (KeyError 'name_core'). (An incremental run encoded no owner
    either, so it would have compared such a shared value, a hotline, as agreeing; it encodes them now, as the engine
    does: shown here only as an incremental run equal to a rebuild.)"""
    mdm = ("mdm:\n  customer:\n    blocking:\n      - {name: name_key, columns: [name_key]}\n"
           "      - {name: phone, columns: [phone_digits]}\n")
    brands = ["瑞丰", "华通", "超瑞", "鸿骞", "同腾", "优润", "金桥", "恒达", "新宇", "博远", "嘉禾", "天晟"]
    hotline = [(f"H{i}", f"上海{b}贸易有限公司", "021-51809999") for i, b in enumerate(brands)]
    cfg, wh = project(tmp_path, ROWS + hotline[:11], mdm=mdm)
    assert "name_core" in link_columns(settings_of(cfg.mdm.customer))
    out = run_match(cfg, wh)
    assert (out.records, out.stats["candidate_pairs"]) == (16, 57)
    write_rows(tmp_path, ROWS + hotline)
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.changed_ids == [rid("H11")] and out.stats["neighbours"] == 11
    assert out.stats["new_pairs"] == 11
    incremental = wh.read_frame("SELECT left_record, right_record, rules, phone, prob FROM mdm.match_pairs "
                                "ORDER BY 1, 2")
    groups_incremental = groups(wh)
    run_match(cfg, wh, rebuild=True, retrain=False)
    pd.testing.assert_frame_equal(wh.read_frame("SELECT left_record, right_record, rules, phone, prob "
                                                "FROM mdm.match_pairs ORDER BY 1, 2"), incremental)
    assert groups(wh) == groups_incremental
    wh.dispose()


def test_a_block_outgrowing_its_limit_in_an_incremental_run_strips_its_rule_from_the_stored_pairs(
        tmp_path: Path) -> None:
    """The default rules with blocks of at most two: A6 joins A2's name (a pair by the name rules alone), then A5 and
    A7 make both names' blocks three: the name rules go from A0 - A3's pair (kept by phone) and from A2 - A6's
    (deleted), as a rebuild has it."""
    mdm = "mdm:\n  customer:\n    blocking:\n" + "".join(
        f"      - {{name: {r.name}, columns: [{', '.join(r.columns)}], max_block: 2}}\n" for r in CUSTOMER_BLOCKING)
    cfg, wh = project(tmp_path, mdm=mdm)
    run_match(cfg, wh)
    rows = [*ROWS, ("A6", "深圳超瑞服饰有限公司", "0755-26001234")]
    write_rows(tmp_path, rows)
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.affected_ids == [rid("A2"), rid("A6")] and out.stats["skipped_blocks"] == {}

    def pairs() -> list[list[object]]:
        return wh.read_frame("SELECT left_record, right_record, rules FROM mdm.match_pairs ORDER BY 1, 2"
                             ).values.tolist()

    # (rules 812: name_key, phone, core_city, former_name, pinyin_city; 804: the same without phone)
    assert pairs() == [[rid("A0"), rid("A3"), 812], [rid("A1"), rid("A4"), 812], [rid("A2"), rid("A6"), 804]]
    write_rows(tmp_path, [*rows, ("A5", "上海瑞丰信息技术有限公司", "021-51803119"),
                          ("A7", "深圳超瑞服饰有限公司", "0755-26005678")])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.stats["new_pairs"] == 0
    assert out.stats["skipped_blocks"] == {"name_key": 2, "core_city": 2, "former_name": 2, "pinyin_city": 2}
    assert out.affected_ids == [rid(k) for k in ("A0", "A2", "A3", "A5", "A6", "A7")]
    assert pairs() == [[rid("A0"), rid("A3"), 8], [rid("A1"), rid("A4"), 812]]  # (A0 - A3: phone alone)
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"}), frozenset({"A5"}),
                          frozenset({"A6"}), frozenset({"A7"})}
    incremental = golden_of(wh)
    run_match(cfg, wh, rebuild=True, retrain=False)
    assert pairs() == [[rid("A0"), rid("A3"), 8], [rid("A1"), rid("A4"), 812]] and golden_of(wh) == incremental
    wh.dispose()


def test_a_full_run_counts_its_records_as_it_standardizes_and_links_them_in_steps(tmp_path: Path) -> None:
    """With a progress that writes every update (`interval=0`): the counts of standardizing and of the linking steps
    (each step's records done), then the closing lines."""
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    train_sample: 4\n    pairs_per_step: 1\n")
    messages: list[str] = []
    run_match(cfg, wh, progress=Progress(messages.append, interval=0))
    assert [re.sub(r" \([^)]*/s\)$| \(-\)$", "", m) for m in lines(messages)] == [
        "standardizing customers: 5 of 5 records",
        "standardizing customers: 5 customer records standardized",
        "training the model on 4 of 5 customer records",
        "linking 5 customer records in steps of about 1 candidate pairs",
        *[f"linking customer records: {n} of 5 records" for n in (1, 2, 2, 2, 2)],  # (records up to the last pair)
        "linking customer records: 5 records linked (2 candidate pairs scored in 5 steps)",
        "matched 5 customer records into 3 golden customers (0 pairs for review)"]
    wh.dispose()


def test_a_run_logs_its_peak_memory_and_the_time_of_each_step_at_debug_level(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    cfg, wh = project(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="hub.match"):
        started = time.perf_counter()
        run_match(cfg, wh)
        elapsed = time.perf_counter() - started
    logged = [r.getMessage() for r in caplog.records if r.name == "hub.match" and r.module == "match"]
    assert [re.sub(r"\d+\.\d+", "T", re.sub(r"peak memory \d{1,3}(,\d{3})* MB", "peak memory M MB", m))
            for m in logged] == [
        "matching: peak memory M MB after standardizing", "matching: peak memory M MB after linking",
        "publishing: the records' lookup indexes built in T s", "matching: peak memory M MB after writing",
        "matching steps (s): standardize T, encode T, block T, compare T, train T, score T, cluster T, "
        "golden_and_write T"]
    # the index build's time and each step's: durations within the run's, not a clock's reading
    times = [float(t) for m in (logged[2], logged[-1]) for t in re.findall(r"\d+\.\d+", m)]
    assert len(times) == 9 and all(0 <= t <= elapsed + 0.05 for t in times)
    peak = int(re.search(r"\d[\d,]*", logged[-2]).group().replace(",", ""))
    assert 0 < peak <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    wh.dispose()


def test_the_match_api_with_a_configured_blocking_without_the_owner_column_scores_as_the_run_does(
        tmp_path: Path) -> None:
    """The match API's index holds the compared, blocked, exclusive and scope columns, not the owners of common
    values: the values held by ten brands or more are the model's (`FellegiSunter.common`), so a configured blocking
    without `name_core` still scores a query's shared hotline as missing, as the run scored its pairs."""
    from pipelines.steward.match_service import MatchService

    mdm = ("mdm:\n  customer:\n    blocking:\n      - {name: name_key, columns: [name_key]}\n"
           "      - {name: phone, columns: [phone_digits]}\n")
    brands = ["瑞丰", "华通", "超瑞", "鸿骞", "同腾", "优润", "金桥", "恒达", "新宇", "博远", "嘉禾", "天晟"]
    hotline = [(f"H{i}", f"上海{b}贸易有限公司", "021-51809999") for i, b in enumerate(brands)]
    cfg, wh = project(tmp_path, ROWS + hotline, mdm=mdm)
    run_match(cfg, wh)
    model = active_model(wh, fingerprint(settings_of(cfg.mdm.customer)))
    assert model is not None and model.common.get("phone") == ["+86-21-51809999"]  # the run's: held by 12 brands
    found = MatchService(cfg, wh).match({"name": "上海瑞丰贸易有限公司", "phone": "021-51809999"}, limit=20,
                                        include_low=True)
    by_record = {c["matched_record"]: c for c in found["candidates"]}
    assert set(by_record) == {rid(f"H{i}") for i in range(12)}  # one golden customer each, all by the phone's key
    assert by_record[rid("H0")]["explanation"]["phone"] == "missing"  # the same name: found, the phone no evidence
    assert {c["explanation"]["phone"] for c in found["candidates"]} == {"missing"}
    assert by_record[rid("H0")]["explanation"]["name"].startswith("exact")
    assert max(by_record.values(), key=lambda c: c["weight"])["matched_record"] == rid("H0")


def test_a_deleted_record_held_by_a_steward_decision_alone_leaves_its_golden_customer_to_its_mates(
        tmp_path: Path) -> None:
    # A2 is in A0's golden customer by a steward's decision alone (no pair joins them): when A2 is deleted, no pair
    # leads to A0 and A3, its old golden customer's other records, yet they are clustered again and keep it
    cfg, wh = project(tmp_path)
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [{"decision_id": "d1", "left_record": rid("A0"), "right_record": rid("A2"), "verdict": "same",
              "active": True, "origin": None}]))
    run_match(cfg, wh)
    assert groups(wh) == {frozenset({"A0", "A2", "A3"}), frozenset({"A1", "A4"})}
    first = golden_of(wh)
    write_rows(tmp_path, [r for r in ROWS if r[0] != "A2"])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.deleted_ids == [rid("A2")] and out.changed_ids == []
    assert golden_of(wh) == {k: v for k, v in first.items() if k != "A2"}
    golden = wh.read_frame("SELECT golden_id, name FROM mdm.golden_customer ORDER BY golden_id").values.tolist()
    assert golden == sorted([[first["A0"], ROWS[0][1]], [first["A1"], ROWS[1][1]]])
    assert wh.read_frame("SELECT retired_id FROM mdm.golden_id_history")["retired_id"].tolist() == []
    wh.dispose()


def test_an_incremental_run_keeps_records_its_cities_place_apart_as_a_rebuild_does(tmp_path: Path) -> None:
    # A5, the same brand in Beijing with A0's phone, scores at match level with A0 and A3 (Shanghai): every record
    # is placed by the city in its name, and the cities keep A5 apart, its two pairs rejected and sent to review
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    write_rows(tmp_path, [*ROWS, ("A5", "北京瑞丰信息技术有限公司", ROWS[0][2])])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.changed_ids == [rid("A5")] and out.review_items == 2
    assert {k: out.stats[k] for k in ("conflicting_components", "rejected_edges", "floaters")} == {
        "conflicting_components": 1, "rejected_edges": 2, "floaters": 0}
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"}), frozenset({"A5"})}
    incremental = golden_of(wh)

    def queue() -> list[tuple[tuple[str, str], str]]:
        q = wh.read_frame("SELECT left_record, right_record, reason FROM mdm.review_queue")
        return sorted((tuple(sorted((a, b))), why) for a, b, why in q.values.tolist())

    # (the pairs go to review as kept apart by a hard rule, as a rebuild sends them)
    assert queue() == [((rid("A0"), rid("A5")), "kept apart by a hard rule"),
                       ((rid("A3"), rid("A5")), "kept apart by a hard rule")]
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert golden_of(wh) == incremental
    assert queue() == [((rid("A0"), rid("A5")), "kept apart by a hard rule"),
                       ((rid("A3"), rid("A5")), "kept apart by a hard rule")]
    wh.dispose()


def test_a_deleted_head_office_takes_its_branchs_hierarchy_link_along_in_an_incremental_run(tmp_path: Path) -> None:
    # no pair joins the branch A5 to its head office (A0 and A3): the head's records, deleted, carried the name key
    # by which the branch's link reached it, and the links reached by the keys deleted records carried are redone
    rows = [*ROWS, ("A5", "上海瑞丰信息技术有限公司北京分公司", "010-62345678")]
    cfg, wh = project(tmp_path, rows)
    run_match(cfg, wh)
    first = golden_of(wh)
    links = "SELECT child_golden_id, parent_golden_id, relation FROM mdm.customer_hierarchy"
    assert wh.read_frame(links).values.tolist() == [[first["A5"], first["A0"], "branch"]]
    write_rows(tmp_path, [r for r in rows if r[0] not in ("A0", "A3")])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.deleted_ids == [rid("A0"), rid("A3")] and out.affected_ids == []
    assert wh.read_frame(links).values.tolist() == []
    assert wh.read_frame("SELECT golden_id FROM mdm.golden_customer ORDER BY 1")["golden_id"].tolist() == [
        first["A1"], first["A2"], first["A5"]]
    wh.dispose()


@pytest.mark.parametrize(("left", "right", "verdict", "golden", "want"), [
    # a `different` decision between duplicates: A0 and A3 kept apart
    ("A0", "A3", "different", 4, {frozenset({"A0"}), frozenset({"A3"}), frozenset({"A1", "A4"}), frozenset({"A2"})}),
    # a `same` decision between A2 and A1 (no candidate pair): A2 joins A1's customer
    ("A2", "A1", "same", 2, {frozenset({"A0", "A3"}), frozenset({"A1", "A2", "A4"})}),
])
def test_beyond_train_sample_a_stewards_decision_holds_as_in_memory(tmp_path: Path, left: str, right: str, verdict: str,
                                                                     golden: int, want: set[frozenset[str]]) -> None:
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    train_sample: 4\n    pairs_per_step: 1\n")
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [{"decision_id": "d1", "left_record": rid(left), "right_record": rid(right), "verdict": verdict,
              "active": True, "origin": None}]))
    out = run_match(cfg, wh)
    assert out.stats["steps"] == 5 and out.golden == golden  # linked in steps
    assert groups(wh) == want
    wh.dispose()


def test_beyond_train_sample_the_model_learns_from_the_stewards_labels_of_its_sample(tmp_path: Path) -> None:
    # the model is trained on the 4 records of the sample (the first by the MD5 of their ids), with the labels
    # between them: three review decisions, of which those with both records in the sample count
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    train_sample: 4\n    feedback: {min_labels: 1}\n")
    labels = [("A0", "A3", "different"), ("A1", "A4", "same"), ("A2", "A0", "different")]
    with wh.begin() as conn:
        ensure_mdm(wh, conn)
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [{"decision_id": f"d{i}", "left_record": rid(a), "right_record": rid(b), "verdict": v, "active": True,
              "origin": "review"} for i, (a, b, v) in enumerate(labels)]))
    sample = sorted((r[0] for r in ROWS), key=lambda k: hashlib.md5(rid(k).encode()).hexdigest())[:4]
    counted_labels = [v for a, b, v in labels if a in sample and b in sample]
    assert 0 < len(counted_labels) < 3
    out = run_match(cfg, wh)
    assert out.stats["steps"] >= 1
    assert out.stats["feedback"] == {"labels": len(counted_labels), "same": counted_labels.count("same"),
                                     "different": counted_labels.count("different"), "patterns": 0,
                                     "strength": 5.0, "min_pattern": 3}
    wh.dispose()


def test_the_runs_clock_is_utc_whatever_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        got, utc = _now(), dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert got.tzinfo is None and abs((got - utc).total_seconds()) < 60
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_run_of_as_many_records_as_train_sample_links_them_in_memory(tmp_path: Path) -> None:
    # `train_sample` records or fewer are linked at once in memory (the model trained on all of them); beyond, in steps
    cfg, wh = project(tmp_path, mdm="mdm:\n  customer:\n    train_sample: 5\n    pairs_per_step: 1\n")
    messages: list[str] = []
    out = run_match(cfg, wh, progress=counted(messages))
    assert "steps" not in out.stats and lines(messages)[1] == "linking 5 customer records"
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"})}
    wh.dispose()


def test_an_incremental_run_scores_its_pairs_with_the_models_term_frequencies_as_a_rebuild_does(
        tmp_path: Path) -> None:
    # the model in force is read without its term frequencies, then with those of the values the changed records
    # are compared on: a new pair's weight is the one a rebuild with the same model gives it
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    # a third A0: its name and phone are in the model's term-frequency tables (held by two records when it was
    # trained), so they weigh less than a value held by one record would
    write_rows(tmp_path, [*ROWS, ("A5", ROWS[0][1], ROWS[0][2])])
    stage(cfg, wh)
    assert run_match(cfg, wh).incremental
    query = "SELECT left_record, right_record, weight, prob FROM mdm.match_pairs ORDER BY 1, 2"
    incremental = wh.read_frame(query).values.tolist()
    assert [p[:2] for p in incremental] == [[rid("A0"), rid("A3")], [rid("A0"), rid("A5")], [rid("A1"), rid("A4")],
                                            [rid("A3"), rid("A5")]]
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert wh.read_frame(query).values.tolist() == incremental
    wh.dispose()


def test_a_new_pair_exactly_at_the_review_threshold_is_stored_by_an_incremental_run_as_by_a_rebuild(
        tmp_path: Path) -> None:
    # both thresholds set to the probability of A0 and A3's pair (the model trained again on the same records is the
    # same model): A7, a third A0, comes; its pairs score exactly that (the same values, the same term frequencies),
    # are stored (at or above review) and merge it into A0's customer, as a rebuild with the same model does
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    query = "SELECT left_record, right_record, prob FROM mdm.match_pairs ORDER BY 1, 2"
    (p,) = [pr for a, b, pr in wh.read_frame(query).values.tolist() if (a, b) == (rid("A0"), rid("A3"))]
    at = cfg.model_copy(deep=True)
    at.mdm.customer = CustomerMdmConfig.model_validate({"thresholds": {"match": p, "review": p}})
    assert not run_match(at, wh).incremental  # (a new review threshold: a new fingerprint)
    assert [pr for a, b, pr in wh.read_frame(query).values.tolist() if (a, b) == (rid("A0"), rid("A3"))] == [p]
    write_rows(tmp_path, [*ROWS, ("A7", ROWS[0][1], ROWS[0][2])])
    stage(at, wh)
    assert run_match(at, wh).incremental
    incremental = wh.read_frame(query).values.tolist()
    assert [pr for a, b, pr in incremental if rid("A7") in (a, b)] == [p, p]
    assert frozenset({"A0", "A3", "A7"}) in groups(wh)
    assert not run_match(at, wh, rebuild=True, retrain=False).incremental
    assert wh.read_frame(query).values.tolist() == incremental
    wh.dispose()


def test_a_full_run_of_no_staged_customer_writes_nothing_and_says_so(tmp_path: Path) -> None:
    # a warehouse nothing was staged into yet: the first run counts 0 records standardized, links none, writes none
    cfg, staged = project(tmp_path, ROWS[:1])
    staged.dispose()
    wh = Warehouse(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    messages: list[str] = []
    out = run_match(cfg, wh, progress=counted(messages))
    assert lines(messages) == ["standardizing customers: 0 customer records standardized", "linking 0 customer records",
                               "matched 0 customer records into 0 golden customers (0 pairs for review)"]
    assert (out.records, out.golden, out.changed, out.incremental) == (0, 0, 0, False)
    assert out.stats == {"records": 0, "candidate_pairs": 0, "feedback": None}
    assert int(wh.scalar("SELECT count(*) FROM mdm.customer_records")) == 0
    assert models(wh) == []
    with wh.begin() as conn:  # its position: the top of an empty change log, 0 (no change consumed, not change 1)
        assert watermark(conn, CONSUMER) == (0, {"fingerprint": fingerprint(settings_of(cfg.mdm.customer))})
    wh.dispose()


@pytest.mark.parametrize("floater", ["B3", "B0"])
def test_a_deleted_record_lets_the_short_record_it_made_ambiguous_join_its_other_customer(tmp_path: Path,
                                                                                           floater: str) -> None:
    # B3, a name without a city and no phone (a floater), reaches B1 (Shanghai) and B2 (Beijing): ambiguous, on its
    # own. B1 deleted: its pair with B3 goes, and B3, the other end of that pair (in no golden customer of B1's),
    # is clustered again: B2's customer reaches it alone now, and takes it, as a rebuild does. As B0, the floater's
    # id comes before B1's: it is the left end of the removed pair (as B3, the right end)
    rows = [*ROWS, ("B1", "上海鸿骞信息技术有限公司", "021-62345678"),
            ("B2", "北京鸿骞信息技术有限公司", "010-62345679"), (floater, "鸿骞信息技术有限公司", "")]
    cfg, wh = project(tmp_path, rows)
    run_match(cfg, wh)
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"}), frozenset({"B1"}),
                          frozenset({"B2"}), frozenset({floater})}
    removed = wh.read_frame("SELECT left_record, right_record FROM mdm.match_pairs WHERE left_record = :b OR "
                            "right_record = :b", {"b": rid("B1")})
    assert tuple(sorted([rid("B1"), rid(floater)])) in set(zip(removed["left_record"], removed["right_record"],
                                                                strict=True))
    first = golden_of(wh)
    write_rows(tmp_path, [r for r in rows if r[0] != "B1"])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.deleted_ids == [rid("B1")]
    assert out.affected_ids == sorted([rid("B2"), rid(floater)])
    assert groups(wh) == {frozenset({"A0", "A3"}), frozenset({"A1", "A4"}), frozenset({"A2"}),
                          frozenset({"B2", floater})}
    # (merged, the customer keeps the older ID: B2's, or B0's, numbered first as its record comes first)
    assert golden_of(wh)[floater] == first["B2" if floater == "B3" else "B0"]
    incremental = golden_of(wh)
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert golden_of(wh) == incremental
    wh.dispose()


def test_an_incremental_run_flags_a_floater_matching_two_customers_and_takes_a_tax_code_alone_as_placing(
        tmp_path: Path) -> None:
    # B3, a name without a city and no phone, comes after B1 (Shanghai) and B2 (Beijing): a floater reaching both,
    # alone, its two pairs in review as "short record matching several customers". Then B3 gets a valid tax code
    # (no city still): the code places it, it is a floater no more, and its pairs (a code against none: no evidence
    # either way) are in the review band, no longer "several customers". Both as a rebuild has them. (Seven records
    # teach the model nothing of a name without its city: its pairs score 0.21, so the review threshold is 0.1.)
    def write(rows: list[tuple[str, str, str, str]]) -> None:
        pd.DataFrame({"编号": [r[0] for r in rows], "名称": [r[1] for r in rows], "电话": [r[2] for r in rows],
                      "代码": [r[3] for r in rows], "修改时间": "2024-06-01 10:00:00"}).to_csv(tmp_path / "a.csv",
                                                                                          index=False)

    rows = [(*r, "") for r in ROWS] + [("B1", "上海鸿骞信息技术有限公司", "021-62345678", ""),
                                      ("B2", "北京鸿骞信息技术有限公司", "010-62345679", "")]
    cfg, wh = project(tmp_path, ROWS, mdm="mdm:\n  customer:\n    thresholds: {review: 0.1}\n")
    (tmp_path / "hub.yaml").write_text((tmp_path / "hub.yaml").read_text(encoding="utf-8").replace(
        "phone: 电话,", "phone: 电话, uscc: 代码,"), encoding="utf-8")
    cfg = load_config(tmp_path / "hub.yaml")
    write(rows)
    stage(cfg, wh)
    run_match(cfg, wh, rebuild=True)
    reasons = "SELECT left_record, right_record, reason FROM mdm.review_queue ORDER BY 1, 2"
    for b3 in ("", "91310000MA1K3Y4X1X"):  # (a valid code: check characters right)
        write([*rows, ("B3", "鸿骞信息技术有限公司", "", b3)])
        stage(cfg, wh)
        out = run_match(cfg, wh)
        assert out.incremental and out.changed_ids == [rid("B3")]
        incremental, queue = groups(wh), wh.read_frame(reasons).values.tolist()
        assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
        assert groups(wh) == incremental and wh.read_frame(reasons).values.tolist() == queue
        if not b3:
            assert frozenset({"B3"}) in incremental and out.stats["floaters"] == 1
            assert queue == [[rid("B1"), rid("B3"), "short record matching several customers"],
                             [rid("B2"), rid("B3"), "short record matching several customers"]]
        else:
            assert frozenset({"B3"}) in incremental and out.stats["floaters"] == 0
            assert queue == [[rid("B1"), rid("B3"), "score in the review band"],
                             [rid("B2"), rid("B3"), "score in the review band"]]
    wh.dispose()


def test_a_model_learnt_from_no_pair_is_replaced_by_a_full_run_once_pairs_exist(tmp_path: Path) -> None:
    # A1 and A2 share no blocking key: the first run's model has seen no candidate pair. When A4, A1's duplicate,
    # comes, the next run links everything again and trains a model on the pair there is now (not incrementally
    # with the empty one)
    cfg, wh = project(tmp_path, [ROWS[1], ROWS[2]])
    out = run_match(cfg, wh)
    assert (out.stats["candidate_pairs"], out.golden) == (0, 2)
    (first, _), = models(wh)
    write_rows(tmp_path, [ROWS[1], ROWS[2], ROWS[4]])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert not out.incremental and (out.changed, out.stats["candidate_pairs"], out.golden) == (3, 1, 2)
    assert groups(wh) == {frozenset({"A1", "A4"}), frozenset({"A2"})}
    got = models(wh)
    assert len(got) == 2 and got[0] == (first, False) and got[1][1]
    wh.dispose()


def test_the_first_run_of_two_records_compares_them_and_keeps_the_model_it_trains(tmp_path: Path) -> None:
    # two records are something to learn from (one candidate pair), unlike fewer: they are blocked, compared and a
    # model is trained on them and kept
    cfg, wh = project(tmp_path, [ROWS[0], ROWS[3]])
    out = run_match(cfg, wh)
    assert (out.records, out.stats["records"], out.stats["candidate_pairs"]) == (2, 2, 1)
    assert [m[1] for m in models(wh)] == [True]
    info = json.loads(wh.scalar("SELECT model FROM mdm.match_model WHERE active"))["info"]
    assert (info["candidate_pairs"], info["records"]) == (1, 2)
    wh.dispose()


SAME = [("B0", ROWS[0][1], ROWS[0][2]), ("B1", ROWS[0][1], ROWS[0][2]), ("B2", ROWS[0][1], ROWS[0][2])]


@pytest.mark.parametrize(("rows", "want"), [
    ([ROWS[0], ROWS[3]], [{"A0", "A3"}]),                                    # their pair is every random pair too
    (SAME, [{"B0", "B1", "B2"}]),                                            # three identical records
    ([*ROWS, ("A5", *ROWS[2][1:])], [{"A0", "A3"}, {"A1", "A4"}, {"A2", "A5"}]),  # six records, three pairs
])
def test_a_handful_of_duplicates_are_linked_by_the_model_their_first_run_learns(
        tmp_path: Path, rows: list[tuple[str, str, str]], want: list[set[str]]) -> None:
    # so few records that random pairs of them agree as often as the candidates: EM with a u fitted to the
    # candidates alone explained every candidate as a non-match (the prior at its floor, 1e-06) and the model, kept,
    # linked nothing, then or in any later incremental run. u fitted there is anchored by the random pairs' now
    # (`mdm.classify.U_ANCHOR_PAIRS`): the duplicates are one customer, and a later duplicate joins incrementally
    cfg, wh = project(tmp_path, rows)
    out = run_match(cfg, wh)
    assert groups(wh) == {frozenset(g) for g in want} and out.golden == len(want)
    assert json.loads(wh.scalar("SELECT model FROM mdm.match_model WHERE active"))["prior"] > 0.5
    later = ("杭州远景建材有限公司", "0571-88776655")
    write_rows(tmp_path, [*rows, ("C8", *later), ("C9", *later)])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and sorted(out.changed_ids) == [rid("C8"), rid("C9")] and len(models(wh)) == 1
    assert groups(wh) - {frozenset({k}) for k, _, _ in rows} == {frozenset(g) for g in [*want, {"C8", "C9"}]}
    wh.dispose()


def test_a_changed_record_alone_in_its_customer_keeps_its_golden_id(tmp_path: Path) -> None:
    # A2, alone in its golden customer, gets a new phone: its stored record carries its old golden ID into the
    # assignment (a vote for it), so it keeps it: no new ID, none retired
    cfg, wh = project(tmp_path)
    run_match(cfg, wh)
    first = golden_of(wh)
    write_rows(tmp_path, [*ROWS[:2], ("A2", ROWS[2][1], "13628510948"), *ROWS[3:]])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.changed_ids == [rid("A2")] and (out.new_ids, out.golden) == (0, 3)
    assert golden_of(wh) == first
    assert wh.read_frame("SELECT retired_id FROM mdm.golden_id_history")["retired_id"].tolist() == []
    wh.dispose()


def test_a_full_run_standardizing_in_chunks_writes_what_one_chunk_writes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two records a chunk (each chunk written while the next is standardized, `pipelines.write_behind`): the same
    standardized records, golden customers and pairs as one chunk, and the count of records written goes up chunk
    by chunk."""
    import pipelines.match as match

    def tables(wh: Warehouse) -> dict[str, pd.DataFrame]:
        return {t: wh.read_frame(f"SELECT * EXCLUDE (updated_at) FROM mdm.{t}" if t == "xref" else
                                 f"SELECT * FROM mdm.{t}").sort_values(k).reset_index(drop=True)
                for t, k in (("customer_records", "record_id"), ("xref", ["source_name", "source_key"]),
                             ("match_pairs", ["left_record", "right_record"]))}

    (tmp_path / "one").mkdir()
    (tmp_path / "chunks").mkdir()
    cfg, wh = project(tmp_path / "one")
    run_match(cfg, wh)
    whole = tables(wh)
    wh.dispose()
    monkeypatch.setattr(match, "CHUNK", 2)
    cfg, wh = project(tmp_path / "chunks")
    messages: list[str] = []
    run_match(cfg, wh, progress=Progress(messages.append, interval=0))
    assert [re.sub(r" \([^)]*/s\)$| \(-\)$", "", m) for m in lines(messages)][:4] == [
        "standardizing customers: 2 of 5 records", "standardizing customers: 4 of 5 records",
        "standardizing customers: 5 of 5 records", "standardizing customers: 5 customer records standardized"]
    chunked = tables(wh)
    assert len(chunked["customer_records"]) == 5 and len(chunked["match_pairs"]) == 2
    for name, frame in whole.items():
        pd.testing.assert_frame_equal(chunked[name], frame, obj=name)


def test_an_incremental_run_scores_its_pairs_with_the_models_steward_corrections_as_a_rebuild_does(
        tmp_path: Path) -> None:
    # three duplicate pairs, each labelled `same` from review: one comparison pattern, every record placed by the
    # city in its name, so the model retrained with them corrects that pattern's weight. A7, a third A0, comes: its
    # pairs are corrected too (the records, read for the scope, show both ends placed) and weigh what A0 and A3's
    # pair weighs, as a rebuild with the same model has it. (A6, A0's brand in Beijing, gives EM a second pattern)
    rows = [*ROWS, ("A5", ROWS[2][1], ROWS[2][2]), ("A6", "北京瑞丰信息技术有限公司", "010-62345678")]
    cfg, wh = project(tmp_path, rows, mdm="mdm:\n  customer:\n    feedback: {min_labels: 3}\n")
    run_match(cfg, wh)
    with wh.begin() as conn:
        wh.insert_frame(conn, "mdm", "decisions", pa.Table.from_pylist(
            [{"decision_id": f"d{i}", "left_record": rid(a), "right_record": rid(b), "verdict": "same",
              "active": True, "origin": "review"} for i, (a, b) in enumerate([("A0", "A3"), ("A1", "A4"),
                                                                               ("A2", "A5")])]))
    out = run_match(cfg, wh, rebuild=True)
    assert out.stats["feedback"] == {"labels": 3, "same": 3, "different": 0, "patterns": 1, "strength": 5.0,
                                     "min_pattern": 3}
    info = json.loads(wh.scalar("SELECT model FROM mdm.match_model WHERE active"))["info"]
    (delta,) = info["calibration"].values()
    assert delta > 0.5 and info["calibration_scope"] == list(CUSTOMER_ANCHORS)
    query = "SELECT left_record, right_record, weight FROM mdm.match_pairs ORDER BY 1, 2"
    (a0_a3,) = [w for a, b, w in wh.read_frame(query).values.tolist() if (a, b) == (rid("A0"), rid("A3"))]
    write_rows(tmp_path, [*rows, ("A7", ROWS[0][1], ROWS[0][2])])
    stage(cfg, wh)
    out = run_match(cfg, wh)
    assert out.incremental and out.changed_ids == [rid("A7")] and out.stats["new_pairs"] == 3  # (A6: below review)
    incremental = wh.read_frame(query).values.tolist()
    new = {(a, b): w for a, b, w in incremental if rid("A7") in (a, b)}
    assert list(new) == [(rid("A0"), rid("A7")), (rid("A3"), rid("A7"))]
    assert new[(rid("A0"), rid("A7"))] == pytest.approx(a0_a3, abs=1e-9)
    assert new[(rid("A3"), rid("A7"))] == pytest.approx(a0_a3, abs=1e-9)
    assert groups(wh) == {frozenset({"A0", "A3", "A7"}), frozenset({"A1", "A4"}), frozenset({"A2", "A5"}),
                          frozenset({"A6"})}
    # that weight is the model's with the correction: without it, the pair weighs `delta` less
    model = active_model(wh, fingerprint(settings_of(cfg.mdm.customer)))
    assert model is not None
    recs = wh.read_frame("SELECT * FROM mdm.customer_records WHERE source_key IN ('A0', 'A7') ORDER BY source_key")
    one = (np.array([0]), np.array([1]))
    assert score_pairs(recs, *one, model)["weight"].tolist() == pytest.approx([a0_a3], abs=1e-9)
    model.info = {k: v for k, v in model.info.items() if k != "calibration"}
    assert score_pairs(recs, *one, model)["weight"].tolist() == pytest.approx([a0_a3 - delta], abs=1e-9)
    assert not run_match(cfg, wh, rebuild=True, retrain=False).incremental
    assert wh.read_frame(query).values.tolist() == incremental
    wh.dispose()

"""A run does not ask again what a steward settled (issue 16, item 7): after a decision, merge or unmerge, the
next run (incremental, with or without changes nearby, or a rebuild) queues no pair whose records' relation
to a customer the steward already decided, unless a decided record itself changed since."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pandas as pd

from core.config import HubConfig
from core.config_file import load_config
from mdm.stewardship import settled
from pipelines.match import run_match
from pipelines.run import run_all
from pipelines.steward import actions, review_queue, sql
from warehouse.engine import Warehouse


def own_sources(steward_project: Path, tmp_path: Path) -> tuple[HubConfig, Warehouse, Path]:
    """The steward project with its own copy of the sources (the fixture's are shared), so a test may edit them."""
    text = steward_project.read_text(encoding="utf-8")
    shared = next(line.split('"sqlite:///', 1)[1].rsplit("/crm_a.sqlite", 1)[0] for line in text.splitlines()
                  if "crm_a.sqlite" in line)
    data = tmp_path / "own_data"
    shutil.copytree(shared, data)
    steward_project.write_text(text.replace(f"{shared}/", f"{data}/"), encoding="utf-8")
    cfg = load_config(steward_project)
    return cfg, Warehouse(cfg.warehouse.url), data


def touch(data: Path, record_id: str) -> None:
    """Give a source record a later modification time (its content, hence its hash, changes)."""
    source, _, key = record_id.split(":", 2)
    if source == "crm_b":
        path = data / "crm_b_export.csv"
        df = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
        assert (df["客户编号"] == key).sum() == 1
        df.loc[df["客户编号"] == key, "最后修改时间"] = "2026/01/02 03:04:05"
        df.to_csv(path, encoding="gbk", index=False)
        return
    db, table, pk, cursor = {"crm_a": ("crm_a.sqlite", "t_customer", "cust_id", "updated_at"),
                             "erp": ("erp.sqlite", "T_BD_CUSTOMER", "FCUSTID", "FMODIFYDATE")}[source]
    with sqlite3.connect(data / db) as con:
        top = con.execute(f"SELECT max({cursor}) FROM {table}").fetchone()[0]
        later = (dt.datetime.fromisoformat(top) + dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
        assert con.execute(f"UPDATE {table} SET {cursor} = ? WHERE {pk} = ?", (later, key)).rowcount == 1


def open_items(wh: Warehouse) -> set[tuple[str, str]]:
    q = wh.read_frame("SELECT left_record, right_record FROM mdm.review_queue WHERE status = 'open'")
    return set(zip(q["left_record"], q["right_record"], strict=True))


def gid(wh: Warehouse, record: str) -> str:
    return wh.read_frame(f"SELECT golden_id FROM mdm.xref WHERE {sql.RECORD_ID_SQL} = :r", {"r": record})[
        "golden_id"].iloc[0]


def test_a_run_does_not_ask_again_about_a_record_the_steward_moved(steward_project: Path, tmp_path: Path) -> None:
    cfg, wh, data = own_sources(steward_project, tmp_path)
    top = review_queue.list_queue(cfg, wh, limit=1)["items"][0]
    a, b = top["left"]["record_id"], top["right"]["record_id"]
    ga, gb = gid(wh, a), gid(wh, b)
    actions.decide(cfg, wh, top["item_id"], "same", "alice")
    # The steward put the two records together; one of them left its customer, whose other records it pairs
    # with in the match band (different valid tax codes keep the rest of the two customers apart).
    moved, former = (a, ga) if gid(wh, a) != ga else (b, gb)
    assert gid(wh, moved) != former
    pairs = wh.read_frame("SELECT left_record, right_record, prob FROM mdm.match_pairs WHERE (left_record = :m "
                          "OR right_record = :m) AND prob >= 0.8", {"m": moved})
    mates = {r for p in zip(pairs["left_record"], pairs["right_record"], strict=True) for r in p} - {moved}
    left_behind = {r for r in mates if gid(wh, r) == former}
    assert left_behind, "the decision must leave match-band pairs of the moved record behind"
    asked = {tuple(sorted((moved, r))) for r in left_behind}
    queue = open_items(wh)
    assert not asked & queue

    run_all(cfg, wh)                                           # nothing changed
    assert open_items(wh) == queue
    unrelated = wh.read_frame("SELECT record_id FROM mdm.customer_records WHERE source_name = 'crm_a' AND "
                              "golden_id NOT IN (:a, :b) ORDER BY record_id LIMIT 1",
                              {"a": former, "b": gid(wh, moved)})["record_id"].iloc[0]
    touch(data, unrelated)                                     # a change elsewhere
    assert run_all(cfg, wh).match.changed == 1
    assert open_items(wh) == queue
    nearby = sorted(left_behind)[0]
    touch(data, nearby)                                        # a change in the customer the record left
    res = run_all(cfg, wh).match
    assert res.changed == 1 and moved in res.affected_ids     # (the run clustered the moved record again)
    assert open_items(wh) == queue and gid(wh, moved) != former
    run_match(cfg, wh, rebuild=True, retrain=False)            # a rebuild with the same model
    assert open_items(wh) == queue
    # Unless the record itself changed since the decision: then its pairs with that customer are asked again.
    touch(data, moved)
    run_all(cfg, wh)
    assert open_items(wh) == queue | asked


def test_a_different_decision_settles_the_records_relation_to_that_customer(steward_project: Path) -> None:
    cfg = load_config(steward_project)
    wh = Warehouse(cfg.warehouse.url)
    items = review_queue.list_queue(cfg, wh, limit=500)["items"]
    # A record paired with two records of one customer: saying it is not the first settles the second too.
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for it in items:
        for mine, other in (("left", "right"), ("right", "left")):
            by_pair.setdefault((it[mine]["record_id"], it[other]["golden_id"]), []).append(it)
    (record, customer), both = next((k, v) for k, v in sorted(by_pair.items()) if len(v) >= 2)
    first, second = both[0], both[1]
    def statuses() -> dict[str, str]:
        q = wh.read_frame("SELECT item_id, status FROM mdm.review_queue WHERE item_id IN (:a, :b)",
                          {"a": first["item_id"], "b": second["item_id"]})
        return dict(zip(q["item_id"], q["status"], strict=True))

    r = actions.decide(cfg, wh, first["item_id"], "different", "bob")
    assert statuses() == {first["item_id"]: "decided", second["item_id"]: "resolved"}
    actions.undo(cfg, wh, r.action_id, "bob")                      # no longer settled: asked again at once
    assert statuses() == {first["item_id"]: "open", second["item_id"]: "open"}
    actions.decide(cfg, wh, first["item_id"], "different", "bob")
    queue = open_items(wh)
    run_match(cfg, wh, rebuild=True, retrain=False)
    assert open_items(wh) == queue and statuses() == {first["item_id"]: "decided"}
    assert customer == (second["right"] if second["left"]["record_id"] == record else second["left"])["golden_id"]

def test_settled_pairs_exact() -> None:
    """The rule on a small frame: a decision a≠b (b in G2, a in G1 when decided) settles a against every record of
    G2 and of G1 and b against G1, not c against G2; changed content (hash) lifts it; a decided pair always holds."""
    dec = pd.DataFrame({"left_record": ["a", "p"], "right_record": ["b", "q"],
                        "left_golden_id": ["G1", None], "right_golden_id": ["G2", None],
                        "left_record_hash": ["h1", None], "right_record_hash": ["h2", None],
                        "left_golden_now": ["G1", "G7"], "right_golden_now": ["G2", "G8"],
                        "left_hash_now": ["h1", "x"], "right_hash_now": ["h2", "y"]})
    left = ["a", "b2", "b", "c", "a", "p", "q"]
    right = ["b2", "a", "c1", "b2", "t", "q9", "p9"]
    lg = ["G1", "G2", "G2", "G3", "G1", "G7", "G8"]
    rg = ["G2", "G1", "G1", "G2", "G4", "G8", "G7"]
    assert settled(left, right, lg, rg, dec).tolist() == [True, True, True, False, False, True, True]
    changed = dec.assign(left_hash_now=["h1*", "x"])
    assert settled(left, right, lg, rg, changed).tolist() == [False, False, False, False, False, True, True]
    gone = dec.assign(right_hash_now=[None, "y"])
    assert settled(["a"], ["b"], ["G1"], ["G2"], gone).tolist() == [True]      # the decided pair itself
    assert settled(["a"], ["b2"], ["G1"], ["G2"], gone).tolist() == [False]
    assert settled([], [], [], [], dec).tolist() == []

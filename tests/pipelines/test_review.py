"""The stewards' shared work on the queue (`pipelines/steward/teamwork.py` and the bulk actions of
`pipelines/steward/actions.py`): questions instead of pairs, a short record's candidates side by side and settled at
once, bulk decisions, claims, comments, filters and sorts, and what keeps two customers apart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from core.config import HubConfig
from core.config_file import load_config
from mdm.stewardship import REASONS
from pipelines.match import run_match
from pipelines.steward import actions, audit, customers, errors, review_queue, sql
from pipelines.steward import teamwork as rv
from pipelines.steward.review_queue import QueueFilter
from warehouse.engine import Warehouse


def open_(cfg_path: Path) -> tuple[HubConfig, Warehouse]:
    cfg = load_config(cfg_path)
    return cfg, Warehouse(cfg.warehouse.url)


def xref(wh: Warehouse) -> dict[str, str]:
    x = wh.read_frame(f"SELECT {sql.RECORD_ID_SQL} AS r, golden_id FROM mdm.xref")
    return dict(zip(x["r"], x["golden_id"], strict=True))


def test_a_short_record_matching_several_customers_is_one_entry_of_the_queue(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    page = rv.queue_page(cfg, wh, QueueFilter(), limit=500)
    flat = review_queue.list_queue(cfg, wh, limit=500)["items"]
    groups = [e for e in page["entries"] if e["kind"] == "group"]
    assert groups and page["items_total"] == len(flat)
    seen = [it["item_id"] for e in page["entries"] for it in (e["items"] if e["kind"] == "group" else [e])]
    assert sorted(seen) == sorted(it["item_id"] for it in flat)  # every item once
    assert page["total"] == len(flat) - sum(len(g["items"]) - 1 for g in groups)
    for g in groups:
        assert len(g["items"]) >= 2 and g["record"]["record_id"] == g["record_id"]
        assert all(g["record_id"] in (it["left"]["record_id"], it["right"]["record_id"]) for it in g["items"])
        assert all(it["reason"] == REASONS["several_customers"] for it in g["items"])
    # paging counts entries: two pages of 4 hold the first 8 entries in order
    first, second = (rv.queue_page(cfg, wh, QueueFilter(), limit=4, offset=o)["entries"] for o in (0, 4))
    key = [e.get("record_id") or e["item_id"] for e in page["entries"]]
    assert [e.get("record_id") or e["item_id"] for e in first + second] == key[:8]


def test_the_candidates_of_a_short_record_side_by_side_and_settled_at_once(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    g = next(e for e in rv.queue_page(cfg, wh, QueueFilter(), limit=500)["entries"] if e["kind"] == "group")
    c = rv.candidates(cfg, wh, g["record_id"])
    assert len(c["candidates"]) >= 2 and c["record"]["record_id"] == g["record_id"]
    assert len({x["golden_id"] for x in c["candidates"]}) == len(c["candidates"])  # one column per customer
    assert sorted(i for x in c["candidates"] for i in x["items"]) == sorted(it["item_id"] for it in g["items"])
    probs = [x["probability"] for x in c["candidates"]]
    assert probs == sorted(probs, reverse=True)
    chosen, rest = c["candidates"][0], c["candidates"][1:]
    before = xref(wh)
    r = actions.resolve_record(cfg, wh, g["record_id"], chosen["golden_id"], "alice", "same mobile")
    after = xref(wh)
    assert after[g["record_id"]] == after[chosen["record"]["record_id"]]
    assert all(after[x["record"]["record_id"]] != after[g["record_id"]] for x in rest)
    dec = wh.read_frame("SELECT verdict, count(*) AS n FROM mdm.decisions WHERE action_id = :a GROUP BY verdict",
                        {"a": r.action_id})
    assert dict(zip(dec["verdict"], dec["n"], strict=True)) == {"same": len(chosen["items"]),
                                                                "different": sum(len(x["items"]) for x in rest)}
    assert len(wh.read_frame("SELECT * FROM mdm.merge_log")) == 1  # one action
    assert not {it["item_id"] for it in g["items"]} & set(review_queue.queue_ids(cfg, wh))
    run_match(cfg, wh)  # the next run agrees
    assert xref(wh) == after
    actions.undo(cfg, wh, r.action_id, "alice")  # one undo reverts it all
    run_match(cfg, wh)  # (a run drops decided items from the queue: an undo after it needs the next run)
    assert xref(wh) == before and {it["item_id"] for it in g["items"]} <= set(review_queue.queue_ids(cfg, wh))
    # none of them: different from every candidate
    r = actions.resolve_record(cfg, wh, g["record_id"], None, "alice")
    assert set(wh.read_frame("SELECT verdict FROM mdm.decisions WHERE action_id = :a AND active",
                             {"a": r.action_id})["verdict"]) == {"different"}
    with pytest.raises(errors.StewardError, match="no open review item"):
        actions.resolve_record(cfg, wh, g["record_id"], None, "alice")
    with pytest.raises(errors.StewardError, match=r"not .*a candidate"):
        other = next(e for e in rv.queue_page(cfg, wh, QueueFilter(), limit=500)["entries"] if e["kind"] == "group")
        actions.resolve_record(cfg, wh, other["record_id"], "G0000000001", "alice")


def test_bulk_decisions_are_one_action_and_one_undo(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    ids = review_queue.queue_ids(cfg, wh, criteria=QueueFilter(reason="review_band"))[:3]
    assert len(ids) == 3
    before = xref(wh)
    r = actions.decide_items(cfg, wh, ids, "different", "alice", "different tax offices")
    assert "3 pairs decided (3 different)" in r.message and len(r.decisions_created) == 3
    d = wh.read_frame("SELECT item_id, action_id, reason FROM mdm.decisions WHERE active")
    assert sorted(d["item_id"]) == sorted(ids) and set(d["action_id"]) == {r.action_id}
    assert set(d["reason"]) == {"different tax offices"}
    assert not set(ids) & set(review_queue.queue_ids(cfg, wh))
    decided = review_queue.list_queue(cfg, wh, status="decided", limit=50)["items"]
    assert {it["item_id"] for it in decided} == set(ids) and {it["decided_by"] for it in decided} == {"alice"}
    actions.undo(cfg, wh, r.action_id, "bob")
    assert xref(wh) == before and set(ids) <= set(review_queue.queue_ids(cfg, wh))
    assert not len(wh.read_frame("SELECT * FROM mdm.decisions WHERE active"))
    with pytest.raises(errors.StewardError, match="no review item"):
        actions.decide_items(cfg, wh, [ids[0], "0000000000000000"], "same", "alice")
    with pytest.raises(errors.StewardError, match="no review items selected"):
        actions.decide_items(cfg, wh, [], "same", "alice")


def test_claims_assignments_and_comments_outlive_a_run(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    ids = review_queue.queue_ids(cfg, wh)
    assert rv.assign(wh, ids[:2], "alice", "alice") == 2          # alice claims two
    rv.assign(wh, ids[2:3], "bob", "alice")                        # and gives one to bob
    mine = review_queue.list_queue(cfg, wh, criteria=QueueFilter(assignee="alice"))["items"]
    assert [it["item_id"] for it in mine] == ids[:2] and {it["assignee"] for it in mine} == {"alice"}
    nobody = review_queue.queue_ids(cfg, wh, criteria=QueueFilter(assignee=review_queue.NOBODY))
    assert nobody == ids[3:]
    rv.assign(wh, ids[1:2], None, "alice")                         # released
    assert review_queue.queue_ids(cfg, wh, criteria=QueueFilter(assignee="alice")) == ids[:1]
    c = rv.add_comment(wh, ids[0], "alice", "asked sales: same company, moved in 2023")
    rv.add_comment(wh, review_queue.list_queue(cfg, wh, limit=1)["items"][0]["left"]["record_id"], "bob",
                   "typo in the name")
    assert [x["body"] for x in rv.comments(wh, [ids[0]])] == ["asked sales: same company, moved in 2023"]
    assert c["author"] == "alice" and c["comment_id"].startswith("C")
    for bad, msg in ((("", "alice", "x"), "no review item or record"), ((ids[0], "alice", "  "), "empty"),
                     ((ids[0], "alice", "x" * 2001), "at most 2,000"), ((ids[0], "", "x"), "who writes")):
        with pytest.raises(errors.StewardError, match=msg):
            rv.add_comment(wh, *bad)
    with pytest.raises(errors.StewardError, match="not a user name"):
        rv.assign(wh, ids[:1], "<script>", "alice")
    run_match(cfg, wh)  # the queue is rebuilt; item ids are the pairs', so claims and comments stay attached
    assert review_queue.queue_ids(cfg, wh, criteria=QueueFilter(assignee="alice")) == ids[:1]
    assert review_queue.queue_ids(cfg, wh, criteria=QueueFilter(assignee="bob")) == ids[2:3]
    assert len(rv.comments(wh, [ids[0]])) == 1
    page = rv.queue_page(cfg, wh, QueueFilter(), limit=500)
    by_id = {it["item_id"]: it for e in page["entries"] for it in (e["items"] if e["kind"] == "group" else [e])}
    assert by_id[ids[0]]["comments"] == 1 and by_id[ids[0]]["assignee"] == "alice"


def zone_days(wh: Warehouse, sql: str, zone: str) -> tuple[dt.date, dt.date]:
    """The first and last day, in `zone`, of the UTC stamps `sql` selects."""
    days = [pd.Timestamp(s).tz_localize("UTC").tz_convert(ZoneInfo(zone)).date() for s in wh.read_frame(sql).iloc[:, 0]]
    return min(days), max(days)


def test_queue_filters_by_reason_decider_and_date_and_sorts(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    items = review_queue.list_queue(cfg, wh, limit=500)["items"]
    for key, text in REASONS.items():
        got = review_queue.list_queue(cfg, wh, criteria=QueueFilter(reason=key), limit=500)["items"]
        assert len(got) == sum(it["reason"] == text for it in items) and all(it["reason_key"] == key for it in got)
    a, b = items[0]["item_id"], items[1]["item_id"]
    actions.decide(cfg, wh, a, "different", "alice")
    actions.decide(cfg, wh, b, "different", "bob")
    assert review_queue.queue_ids(cfg, wh, criteria=QueueFilter(status="decided", decided_by="bob")) == [b]
    # Dates are days in the configured zone (Asia/Shanghai): the day of the decisions finds them, the next
    # day does not. The days are read from the stamps the warehouse holds, not from the test's clock (which
    # may have passed midnight in Shanghai since).
    first, last = zone_days(wh, "SELECT decided_at FROM mdm.decisions WHERE active", cfg.timezone)
    def decided(**dates: dt.date) -> list[str]:
        return review_queue.queue_ids(cfg, wh, criteria=QueueFilter(status="decided", **dates))

    assert set(decided(since=first, until=last)) == {a, b}
    assert decided(since=last + dt.timedelta(days=1)) == []
    assert decided(until=first - dt.timedelta(days=1)) == []
    created, _ = zone_days(wh, "SELECT created_at FROM mdm.review_queue", cfg.timezone)
    # (a `different` decision also settles its record's open pairs with other records of that customer)
    settled = wh.read_frame("SELECT count(*) AS n FROM mdm.review_queue WHERE status = 'resolved'")["n"].iloc[0]
    assert len(review_queue.queue_ids(cfg, wh, criteria=QueueFilter(since=created))) == len(items) - 2 - settled
    by_score = review_queue.list_queue(cfg, wh, criteria=QueueFilter(sort="score_asc"), limit=500)["items"]
    probs = [it["probability"] for it in by_score]
    assert probs == sorted(probs) and probs[0] < probs[-1]
    by_revenue = [it["revenue"] or 0 for it in review_queue.list_queue(cfg, wh, criteria=QueueFilter(sort="revenue"),
                                                                limit=500)["items"]]
    assert by_revenue == sorted(by_revenue, reverse=True)
    for bad in (QueueFilter(sort="name"), QueueFilter(reason="because"), QueueFilter(status="gone")):
        with pytest.raises(errors.StewardError, match="expected one of"):
            review_queue.list_queue(cfg, wh, criteria=bad)
    with pytest.raises(errors.StewardError, match="YYYY-MM-DD"):
        rv.parse_day("3.12.2026")


def test_kept_apart_names_the_rule_and_the_records_that_trigger_it(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    hard = review_queue.list_queue(cfg, wh, criteria=QueueFilter(reason="hard_rule"), limit=500)["items"]
    assert hard
    recs = wh.read_frame("SELECT record_id, golden_id, uscc_valid_code, city_any, branch_key FROM mdm.customer_records")
    by_id = recs.set_index("record_id")
    for it in hard:
        apart = review_queue.queue_item(cfg, wh, it["item_id"])["kept_apart"]
        assert apart["rules"], it["item_id"]
        for rule in apart["rules"]:
            assert rule["rule"] in ("uscc_valid_code", "city_any", "branch_key") and rule["text"]
            for side in ("left", "right"):
                assert rule[side]
                for v in rule[side]:
                    for r in v["records"]:  # the records named hold the value and belong to that side's customer
                        assert by_id.loc[r, rule["rule"]] == v["value"]
                        assert by_id.loc[r, "golden_id"] == it[side]["golden_id"]
            lv = {v["value"] for v in rule["left"]}
            assert not lv & {v["value"] for v in rule["right"]}
    # a steward's cannot-link is named too
    item = review_queue.list_queue(cfg, wh, criteria=QueueFilter(reason="review_band"), limit=1)["items"][0]
    actions.decide(cfg, wh, item["item_id"], "different", "alice", "two companies")
    d = review_queue.pair_detail(cfg, wh, item["left"]["record_id"], item["right"]["record_id"])
    assert [(x["decided_by"], x["reason"]) for x in d["kept_apart"]["decisions"]] == [("alice", "two companies")]


def test_customer_and_queue_search_by_pinyin_initials_contact_address_and_similar_names(
        steward_project: Path) -> None:
    from mdm.search import pinyin_of

    cfg, wh = open_(steward_project)
    g = wh.read_frame("SELECT golden_id, name, contact_name, address FROM mdm.golden_customer WHERE contact_name "
                      "IS NOT NULL AND address IS NOT NULL AND source_count > 1 ORDER BY golden_id LIMIT 1").iloc[0]
    full, initials = pinyin_of(pd.Series([g["name"]]))[g["name"]]
    search = customers.CustomerSearch(wh)
    search.warm().join(timeout=60)  # built ahead, as `hub ui` does
    for text, how in ((full, "pinyin"), (initials, "initials"), (g["contact_name"], "contact"),
                      (g["address"], "address"), (g["name"], "name")):
        found = customers.search_customers(wh, text, 50, search)
        assert g["golden_id"] in [r["golden_id"] for r in found], (text, how)
        assert {r["matched_on"] for r in found if r["golden_id"] == g["golden_id"]} <= {"name", how}, text
    typo = g["name"][:-3] + "有限公"  # a character lost at the end
    assert g["golden_id"] in [r["golden_id"] for r in customers.search_customers(wh, typo, 20, search)]
    # the queue's search finds items through the customers the text finds
    item = review_queue.list_queue(cfg, wh, limit=1)["items"][0]
    name = item["left"]["values"]["name"]
    py = pinyin_of(pd.Series([name]))[name][0]
    assert review_queue.list_queue(cfg, wh, search=py)["total"] == 0  # not in the stored values
    found = review_queue.list_queue(cfg, wh, criteria=QueueFilter(search=py, found=tuple(search.golden_ids(py))))
    assert item["item_id"] in [it["item_id"] for it in found["items"]]


def test_golden_values_carry_the_survivorship_rule_in_force(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    g = wh.read_frame("SELECT golden_id FROM mdm.golden_customer WHERE source_count > 2 ORDER BY 1 LIMIT 1").iloc[0, 0]
    attrs = {a["attribute"]: a for a in customers.golden_detail(cfg, wh, g)["attributes"]}
    assert attrs["uscc"]["rules"] == ["valid_only", "source_priority", "most_recent"]
    assert attrs["uscc"]["rule_text"] == ("valid values only; the most trusted source (erp > crm_a > crm_b), then the "
                                          "most recently changed record")
    assert attrs["name"]["rule_text"].startswith("the value most sources confirm (their value is in it, spacing "
                                                 "aside), then the cleanest spelling")
    cfg.mdm.customer.survivorship = {"phone": ["most_frequent", "source_priority"]}  # configured rules win
    attrs = {a["attribute"]: a for a in customers.golden_detail(cfg, wh, g)["attributes"]}
    assert attrs["phone"]["rule_text"] == "the value most records agree on, then the most trusted source " \
                                          "(erp > crm_a > crm_b)"


def test_the_audit_log_says_what_moved_and_what_changed(steward_project: Path) -> None:
    cfg, wh = open_(steward_project)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    survivor, other = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    moved = sorted(xref_id for xref_id, gid in xref(wh).items() if gid == other)
    actions.merge(cfg, wh, survivor, other, "alice")
    changes = audit.history(wh)["actions"][0]["changes"]
    assert [(m["record"], m["from"], m["to"]) for m in changes["moved"]] == [(r, other, survivor) for r in moved]
    states = {c["golden_id"]: c for c in changes["customers"]}
    assert states[other]["state"] == "retired" and states[survivor]["state"] == "changed"
    count = next(f for f in states[survivor]["fields"] if f["field"] == "source_count")
    assert count["after"] == count["before"] + len(moved)


def test_a_review_item_shows_every_filled_source_and_standardized_field_of_both_records(
        steward_project: Path) -> None:
    """`left_values` / `right_values`: the record's filled fields as the source gave them and as standardized (what
    `mdm.stewardship.SHOWN_FIELDS` names), read back from the engine's records, nothing else and nothing left out."""
    import json

    from mdm.stewardship import RAW_FIELDS, SHOWN_FIELDS, STD_FIELDS

    _, wh = open_(steward_project)
    queue = wh.read_frame("SELECT left_record, right_record, left_values, right_values FROM mdm.review_queue "
                          "WHERE status = 'open'")
    assert len(queue) >= 5
    cols = ", ".join(f'"{f}"' for f in SHOWN_FIELDS)
    records = wh.read_frame(f"SELECT record_id, {cols} FROM mdm.customer_records").set_index("record_id")
    shown_std = 0
    for side in ("left", "right"):
        for record_id, text in zip(queue[f"{side}_record"], queue[f"{side}_values"], strict=True):
            row = records.loc[record_id]
            filled = {f for f in SHOWN_FIELDS if pd.notna(row[f]) and str(row[f]) != ""}
            values = json.loads(text)
            assert set(values) == filled, record_id
            assert values["name"] == row["name"]
            shown_std += len(set(values) & set(STD_FIELDS))
            assert set(values) & set(RAW_FIELDS)
    assert shown_std >= 5 * len(queue)  # (name_norm, name_key, province, ... of each side)

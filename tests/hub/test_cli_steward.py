"""`hub steward …` and `hub users …`: the CLI faces of the stewardship workflow and the console users."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from core.config import ConfigError
from core.config_file import load_config
from hub.cli import main
from hub.users import verify_password

QUEUE_ITEM_KEYS = {"item_id", "priority", "probability", "weight", "band", "reason", "reason_key", "revenue",
                   "status", "created_at", "assignee", "decided_by", "decided_at", "explanation", "left", "right"}
SIDE_KEYS = {"record_id", "source", "golden_id", "values"}
ACTION_KEYS = {"version", "action_id", "action", "actor", "golden_ids", "records", "decisions_created",
               "decisions_deactivated", "message", "moved"}


def hub(*args: str, input: str | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args), input=input)
    return r.exit_code, r.output


def js(*args: str) -> dict:
    code, out = hub(*args, "--json")
    assert code == 0, out
    return json.loads(out)


def test_queue_show_decide_and_history(steward_project: Path) -> None:
    c = str(steward_project)
    q = js("steward", "queue", "-c", c, "--limit", "3")
    assert q["version"] == 1 and q["total"] == 20 and len(q["items"]) == 3  # the fixture's 20 open items
    item = q["items"][0]
    assert set(item) == QUEUE_ITEM_KEYS and set(item["left"]) == SIDE_KEYS == set(item["right"])
    code, out = hub("steward", "queue", "-c", c, "--limit", "2", "--band", "review")
    assert code == 0 and "open review item(s)" in out
    # --search finds record ids with capitals (crm_b's keys are KH…), case-insensitively
    everything = js("steward", "queue", "-c", c, "--limit", "500")["items"]
    kh = next(s["record_id"] for it in everything for s in (it["left"], it["right"]) if ":KH" in s["record_id"])
    for text in (kh.split(":")[-1], kh.split(":")[-1].lower()):
        found = js("steward", "queue", "-c", c, "--search", text, "--limit", "500")["items"]
        assert found and all(kh in (i["left"]["record_id"], i["right"]["record_id"]) for i in found), text
    assert js("steward", "queue", "-c", c, "--search", "%")["total"] == 0
    shown = js("steward", "show", "-c", c, item["item_id"])
    assert shown["item"]["item_id"] == item["item_id"] and shown["explanation"]
    code, out = hub("steward", "show", "-c", c, item["item_id"])
    assert code == 0 and "probability" in out and item["left"]["record_id"] in out

    r = js("steward", "decide", "-c", c, item["item_id"], "same", "--by", "alice", "--reason", "same phone")
    assert set(r) == ACTION_KEYS and r["action"] == "decide" and r["actor"] == "alice"
    assert len(r["decisions_created"]) == 1
    assert item["item_id"] not in {i["item_id"] for i in js("steward", "queue", "-c", c, "--limit", "500")["items"]}
    h = js("steward", "history", "-c", c)
    assert h["total"] == 1 and h["actions"][0]["action_id"] == r["action_id"]
    code, out = hub("steward", "history", "-c", c, item["left"]["record_id"])
    assert code == 0 and r["action_id"] in out
    code, out = hub("steward", "undo", "-c", c, r["action_id"], "--by", "alice")
    assert code == 0 and "undid decide" in out
    assert item["item_id"] in {i["item_id"] for i in js("steward", "queue", "-c", c, "--limit", "500")["items"]}


def test_merge_unmerge_customer_and_search(steward_project: Path) -> None:
    c = str(steward_project)
    from warehouse.engine import Warehouse

    wh = Warehouse(load_config(steward_project).warehouse.url)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    wh.dispose()
    g1, g2 = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    m = js("steward", "merge", "-c", c, g1, g2, "--by", "bob")
    assert m["golden_ids"] == [g1, g2] and set(m["moved"].values()) == {g1}
    cust = js("steward", "customer", "-c", c, g1)
    rec = cust["records"][0]["record_id"]
    assert js("steward", "customer", "-c", c, g2)["retired"] is True
    src, _, key = rec.split(":", 2)
    code, out = hub("steward", "unmerge", "-c", c, f"{src}:{key}", "--by", "bob")  # SOURCE:KEY is enough
    assert code == 0 and f"{rec} moved out of {g1}" in out
    code, out = hub("steward", "customer", "-c", c, g1)
    assert code == 0 and "records (" in out
    found = js("steward", "search", "-c", c, cust["golden"]["name"])
    assert g1 in {r["golden_id"] for r in found["results"]}
    code, out = hub("steward", "merge", "-c", c, g1, g1, "--by", "bob")
    assert code == 1 and "error:" in out
    named = js("steward", "former-name", "-c", c, g1, "上海旧时光贸易有限公司", "--by", "bob", "--reason", "renamed")
    assert named["action"] == "former_name" and named["golden_ids"] == [g1]
    code, out = hub("steward", "customer", "-c", c, g1)
    assert code == 0 and "former name: 上海旧时光贸易有限公司 (added by bob" in out
    code, out = hub("steward", "former-name", "-c", c, g1, "上海旧时光贸易有限公司", "--by", "bob")
    assert code == 1 and "already has the former name" in out
    code, out = hub("steward", "undo", "-c", c, named["action_id"], "--by", "bob")
    assert code == 0 and "undid former_name" in out
    assert js("steward", "customer", "-c", c, g1)["former_names"]["stewards"] == []
    code, out = hub("steward", "decide", "-c", c, "ffffffffffffffff", "same", "--by", "bob")
    assert code == 1 and "no review item" in out
    code, out = hub("steward", "decide", "-c", c, "x", "same")
    assert code == 2 and "--by" in out  # who decides is required


def test_steward_actions_are_refused_while_a_run_holds_the_warehouse(
        steward_project: Path, hold_run_lock: Callable[[str], subprocess.Popen[str]]) -> None:
    c = str(steward_project)
    item = js("steward", "queue", "-c", c, "--limit", "1")["items"][0]  # reading during a run is fine
    from warehouse.engine import Warehouse

    wh = Warehouse(load_config(steward_project).warehouse.url)
    g1, g2 = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")[
        "golden_id"].iloc[:2]
    wh.dispose()
    holder = hold_run_lock(load_config(steward_project).warehouse.url)
    for args in (["decide", item["item_id"], "same"], ["merge", g1, g2], ["unmerge", item["left"]["record_id"]]):
        code, out = hub("steward", *args, "-c", c, "--by", "alice")
        assert code == 3 and f"in use by hub run (pid {holder.pid} on " in out, (args, out)
    wh = Warehouse(load_config(steward_project).warehouse.url)
    assert wh.scalar("SELECT count(*) FROM mdm.decisions") == 0 and wh.scalar("SELECT count(*) FROM mdm.merge_log") == 0
    wh.dispose()
    holder.kill()
    holder.wait()
    assert js("steward", "decide", "-c", c, item["item_id"], "same", "--by", "alice")["action"] == "decide"


def test_users_add_list_remove(steward_project: Path) -> None:
    c = str(steward_project)
    before = steward_project.read_text(encoding="utf-8")
    code, out = hub("users", "add", "-c", c, "alice", "--role", "steward", "--password-stdin",
                    input="correct horse battery\n")
    assert code == 0 and "added user alice (steward)" in out
    code, out = hub("users", "add", "-c", c, "bob", "--role", "admin", input="bob-password-1\nbob-password-1\n")
    assert code == 0, out
    text = steward_project.read_text(encoding="utf-8")
    assert text.startswith(before.rstrip("\n")) and "correct horse" not in text and "bob-password-1" not in text
    cfg = load_config(steward_project)
    alice = cfg.console.user("alice")
    assert alice and alice.role == "steward" and verify_password(alice.password_hash, "correct horse battery")
    code, out = hub("users", "list", "-c", c)
    assert code == 0 and "alice" in out and "admin" in out
    code, out = hub("users", "add", "-c", c, "alice", "--role", "viewer", "--password-stdin", input="new-password-2\n")
    assert code == 0 and "updated user alice (viewer)" in out
    code, out = hub("users", "add", "-c", c, "carol", "--role", "viewer", "--password-stdin", input="short\n")
    assert code == 1 and "at least 8" in out
    code, out = hub("users", "remove", "-c", c, "bob")
    assert code == 0 and [u.name for u in load_config(steward_project).console.users] == ["alice"]
    code, out = hub("users", "remove", "-c", c, "nobody")
    assert code == 1


def test_users_add_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("# the hub\nwarehouse: {url: 'duckdb:///w.duckdb'}   # embedded\nconsole:\n"
                   "  session_ttl_minutes: 60  # one hour\n  secret_key: ${KEY}\nsources: {}\n", encoding="utf-8")
    from hub.users import hash_password, set_user

    assert set_user(cfg, "ann", "admin", hash_password("ann-password-1"), env={"KEY": "k" * 20})
    text = cfg.read_text(encoding="utf-8")
    for kept in ("# the hub", "# embedded", "# one hour", "${KEY}", "sources: {}"):
        assert kept in text
    data = yaml.safe_load(text)
    assert data["console"]["session_ttl_minutes"] == 60 and data["console"]["users"][0]["name"] == "ann"


@pytest.mark.parametrize("console, message", [
    ("{users: [{name: a, role: boss, password_hash: $argon2id$x}]}", "console.users.0.role"),
    ("{users: [{name: a, role: viewer, password_hash: plain-text}]}", "must be an argon2 hash"),
    ("{users: [{name: a, password_hash: $argon2id$x}, {name: a, password_hash: $argon2id$y}]}", "listed twice"),
    ("{api_tokens: [short]}", "at least 16 characters"),
    ("{secret_key: short}", "console.secret_key"),
    ("{session_ttl_minutes: 0}", "console.session_ttl_minutes"),
    ("{colour: blue}", "console.colour: unknown key"),
])
def test_console_config_is_strict(tmp_path: Path, console: str, message: str) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"console: {console}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
        load_config(cfg)


def test_an_unset_api_token_with_an_empty_default_is_no_token(tmp_path: Path) -> None:
    """The demo's `api_tokens: ["${HUB_API_TOKEN:-}"]`: the API stays closed until the variable is set."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text('console: {api_tokens: ["${HUB_API_TOKEN:-}"]}\n', encoding="utf-8")
    assert load_config(cfg, env={}).console.api_tokens == []
    assert load_config(cfg, env={"HUB_API_TOKEN": "t" * 20}).console.api_tokens == ["t" * 20]
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_config(cfg, env={"HUB_API_TOKEN": "short"})


def test_console_secrets_are_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("console: {secret_key: '${K}', api_tokens: ['${T}']}\n", encoding="utf-8")
    shown = load_config(cfg, env={"K": "k" * 24, "T": "t" * 24}).redacted()
    assert shown["console"]["secret_key"] == "****" and shown["console"]["api_tokens"] == ["****"]


def test_explain_names_bands_as_the_queue_console_and_api_do(steward_project: Path) -> None:
    """`hub mdm explain` says `low` below the review threshold, like the queue, the console and the API."""
    from pipelines.steward.review_queue import BANDS, pair_detail
    from warehouse.engine import Warehouse

    cfg = load_config(steward_project)
    wh = Warehouse(cfg.warehouse.url)
    pairs = wh.read_frame("SELECT left_record, right_record, prob FROM mdm.match_pairs ORDER BY prob, left_record, "
                          "right_record")  # (stored from the review threshold up)
    high = pairs.iloc[-1]
    assert pairs["prob"].min() >= 0.3 and high["prob"] >= 0.8
    apart = wh.read_frame("SELECT min(record_id) AS left_record, max(record_id) AS right_record "
                          "FROM mdm.customer_records WHERE source_name = 'crm_a'")  # two companies of one CRM
    low = apart.iloc[0]
    for p, band in ((low, "low"), (high, "match")):
        code, out = hub("mdm", "explain", "-c", str(steward_project), p["left_record"], p["right_record"])
        assert code == 0 and out.splitlines()[-1].split("→")[2].split(";")[0].strip() == band, out
        assert pair_detail(cfg, Warehouse(cfg.warehouse.url), p["left_record"], p["right_record"])["score"][
            "band"] == band
    assert BANDS == ("match", "review", "low")


def test_explain_weighs_a_pair_as_the_run_scored_it(steward_project: Path) -> None:
    """An explanation reads the term frequencies of its two records' values only; the weights are the run's."""
    from pipelines.explain import explain_records
    from warehouse.engine import Warehouse

    cfg = load_config(steward_project)
    wh = Warehouse(cfg.warehouse.url)
    pairs = wh.read_frame("SELECT left_record, right_record, weight, name FROM mdm.match_pairs ORDER BY prob DESC, "
                          "left_record, right_record LIMIT 20")
    assert pairs["name"].isin([4, 5, 6]).sum() >= 10  # exact names: where the name's frequency adjusts the weight
    explained = [explain_records(cfg, wh, p.left_record, p.right_record).attrs["weight"] for p in pairs.itertuples()]
    assert explained == pytest.approx(pairs["weight"].tolist(), abs=1e-6)


def test_queue_filters_bulk_decisions_candidates_claims_and_comments(steward_project: Path) -> None:
    c = str(steward_project)
    band = js("steward", "queue", "-c", c, "--reason", "review_band", "--sort", "score_asc", "--limit", "500")
    assert band["items"] and {i["reason_key"] for i in band["items"]} == {"review_band"}
    assert [i["probability"] for i in band["items"]] == sorted(i["probability"] for i in band["items"])
    ids = [i["item_id"] for i in band["items"][:2]]
    code, out = hub("steward", "assign", "-c", c, *ids, "--by", "alice")
    assert code == 0 and "2 item(s) assigned to alice" in out
    assert [i["item_id"] for i in js("steward", "queue", "-c", c, "--assignee", "alice")["items"]] == ids
    code, out = hub("steward", "comment", "-c", c, ids[0], "called the customer", "--by", "alice")
    assert code == 0 and "alice: called the customer" in out
    r = js("steward", "decide-many", "-c", c, *ids, "--verdict", "different", "--by", "alice")
    assert r["action"] == "decide" and len(r["decisions_created"]) == 2
    decided = js("steward", "queue", "-c", c, "--status", "decided", "--decided-by", "alice")
    assert sorted(i["item_id"] for i in decided["items"]) == sorted(ids)
    from pipelines.steward.review_queue import QueueFilter
    from pipelines.steward.teamwork import queue_page
    from warehouse.engine import Warehouse

    cfg = load_config(steward_project)
    record = next(e["record_id"] for e in queue_page(cfg, Warehouse(cfg.warehouse.url), QueueFilter(),
                                                     limit=500)["entries"] if e["kind"] == "group")
    cands = js("steward", "candidates", "-c", c, record)
    assert len(cands["candidates"]) >= 2
    code, out = hub("steward", "candidates", "-c", c, record)
    assert code == 0 and "1. " in out
    chosen = cands["candidates"][0]["golden_id"]
    r = js("steward", "resolve", "-c", c, record, chosen, "--by", "alice", "--reason", "same mobile")
    assert f"joins {chosen}" in r["message"]
    code, out = hub("steward", "resolve", "-c", c, record, "--by", "alice")
    assert code == 2 and "--none" in out
    code, out = hub("steward", "queue", "-c", c, "--since", "3.12.2026")
    assert code == 1 and "YYYY-MM-DD" in out

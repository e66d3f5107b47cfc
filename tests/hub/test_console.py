"""The steward console and the match API through HTTP: sessions, roles on every route, CSRF, expiry,
the review flow, merge/unmerge/undo, users, the API's token and answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hub.config import load_config
from hub.console import create_app
from pipelines import steward as st
from warehouse.engine import Warehouse


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def make_client(cfg_path: Path) -> TestClient:
    return TestClient(create_app(load_config(cfg_path)), follow_redirects=False)


PASSWORDS = {"vic": "viewer-pass-1", "alice": "steward-pass-1", "root": "admin-pass-01"}  # tests/hub/conftest.py
API_TOKEN = "test-api-token-0123456789"


def login(client: TestClient, name: str, password: str | None = None) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    r = client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                    "csrf": csrf_of(page.text), "next": "/queue"})
    assert r.status_code == 303 and r.headers["location"] == "/queue", r.text
    return csrf_of(client.get("/queue").text)


@pytest.fixture
def client(console_project: Path) -> TestClient:
    return make_client(console_project)


def wh_of(cfg_path: Path) -> tuple[object, Warehouse]:
    cfg = load_config(cfg_path)
    return cfg, Warehouse(cfg.warehouse.url)


# --- every route: who may do what -------------------------------------------------------------------------------

PAGES = ["/", "/queue", "/queue/{item}", "/pair?left={left}&right={right}", "/customers", "/customers?q=有限",
         "/customers/{golden}", "/audit", "/api/docs", "/api/openapi.json"]
CHANGES = ["/queue/{item}/decide", "/pair/decide", "/customers/{golden}/merge", "/customers/{golden}/unmerge",
           "/audit/{action}/undo"]
ADMIN_PAGES = ["/users"]
ADMIN_CHANGES = ["/users", "/users/{user}/delete"]
PUBLIC = {"/login", "/static"}


def _params(cfg_path: Path) -> dict[str, str]:
    cfg, wh = wh_of(cfg_path)
    item = st.list_queue(cfg, wh, limit=1)["items"][0]
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    a = st.merge(cfg, wh, g["golden_id"].iloc[0], g["golden_id"].iloc[1], "setup")
    wh.dispose()
    return {"item": item["item_id"], "left": item["left"]["record_id"], "right": item["right"]["record_id"],
            "golden": g["golden_id"].iloc[0], "action": a.action_id, "user": "vic"}


def _form(path: str, p: dict[str, str], csrf: str) -> dict[str, str]:
    return {"csrf": csrf, "verdict": "different", "left": p["left"], "right": p["right"], "other": "G0000000001",
            "record_id": p["left"], "name": "newbie", "role": "viewer", "password": "long-enough-1"}


def test_the_role_tables_cover_every_route(client: TestClient) -> None:
    app = client.app
    declared = {r.path for r in app.routes if isinstance(r, APIRoute)} | set(app.openapi()["paths"])  # type: ignore
    listed = {re.sub(r"\{\w+\}", "x", p.split("?")[0]) for p in PAGES + CHANGES + ADMIN_PAGES + ADMIN_CHANGES}
    listed |= {"/login", "/logout", "/api/match"}
    assert {re.sub(r"\{\w+\}", "x", p) for p in declared} == listed


def test_without_a_session_everything_redirects_to_login(console_project: Path) -> None:
    p = _params(console_project)
    c = make_client(console_project)
    for path in PAGES + ADMIN_PAGES:
        r = c.get(path.format(**p))
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in CHANGES + ADMIN_CHANGES + ["/logout"]:
        r = c.post(path.format(**p), data=_form(path, p, "x"))
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    assert c.get("/login").status_code == 200 and c.get("/static/app.css").status_code == 200
    # A tampered or foreign cookie is no session either.
    c.cookies.set("hub_session", "eyJ1IjoiYWxpY2UifQ.bad.sig")
    assert c.get("/queue").status_code == 303


def test_a_viewer_reads_everything_and_changes_nothing(console_project: Path) -> None:
    p = _params(console_project)
    c = make_client(console_project)
    csrf = login(c, "vic")
    for path in PAGES:
        assert c.get(path.format(**p)).status_code in (200, 303), path
    for path in CHANGES + ADMIN_CHANGES:
        r = c.post(path.format(**p), data=_form(path, p, csrf))
        assert r.status_code == 403, path
    assert c.get("/users").status_code == 403
    assert "Same company" not in c.get(f"/queue/{p['item']}").text  # no decision buttons for a viewer
    _, wh = wh_of(console_project)
    assert len(wh.read_frame("SELECT * FROM mdm.merge_log")) == 1  # only the setup's merge


def test_a_steward_changes_data_but_not_users(console_project: Path) -> None:
    p = _params(console_project)
    c = make_client(console_project)
    csrf = login(c, "alice")
    assert c.get("/users").status_code == 403
    for path in ADMIN_CHANGES:
        assert c.post(path.format(**p), data=_form(path, p, csrf)).status_code == 403, path
    r = c.post(f"/audit/{p['action']}/undo", data={"csrf": csrf})
    assert r.status_code == 303
    _, wh = wh_of(console_project)
    assert wh.read_frame("SELECT undone_by FROM mdm.merge_log WHERE action_id = :a",
                         {"a": p["action"]})["undone_by"].tolist() == ["alice"]


def test_every_change_needs_the_sessions_csrf_token(console_project: Path) -> None:
    p = _params(console_project)
    c = make_client(console_project)
    login(c, "root")
    for path in CHANGES + ADMIN_CHANGES + ["/logout"]:
        for bad in ("", "forged-token"):
            r = c.post(path.format(**p), data=_form(path, p, bad))
            assert r.status_code == 403, (path, bad)
    # and the login form has its own token
    r = c.post("/login", data={"username": "root", "password": PASSWORDS["root"], "csrf": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_login_logout_cookies_and_headers(client: TestClient) -> None:
    page = client.get("/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    bad = client.post("/login", data={"username": "alice", "password": "wrong-password", "csrf": csrf_of(page.text)})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    page = client.get("/login")
    r = client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(page.text),
                                    "next": "//evil.example/x"})
    assert r.headers["location"] == "/queue"                # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=1800" in cookie
    assert PASSWORDS["alice"] not in cookie
    q = client.get("/queue")
    assert q.status_code == 200 and "alice" in q.text
    assert client.post("/logout", data={"csrf": csrf_of(q.text)}).status_code == 303
    assert client.get("/queue").status_code == 303


def test_sessions_expire(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    login(client, "alice")
    assert client.get("/queue").status_code == 200
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31 * 60)  # past session_ttl_minutes: 30
    r = client.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_removed_user_loses_the_session(console_project: Path, client: TestClient) -> None:
    login(client, "alice")
    text = console_project.read_text(encoding="utf-8")
    before = console_project.stat().st_mtime_ns
    console_project.write_text(re.sub(r"    - \{name: alice.*\n", "", text), encoding="utf-8")
    # The console notices a changed file by its modification time; a write within the same clock tick
    # may keep it, so the test sets a later one rather than sleeping and hoping.
    os.utime(console_project, ns=(before + 2_000_000_000, before + 2_000_000_000))
    r = client.get("/queue")
    assert r.status_code == 303


def test_failed_logins_are_throttled(client: TestClient) -> None:
    for _ in range(5):
        page = client.get("/login")
        client.post("/login", data={"username": "vic", "password": "nope-nope", "csrf": csrf_of(page.text)})
    page = client.get("/login")
    r = client.post("/login", data={"username": "vic", "password": PASSWORDS["vic"], "csrf": csrf_of(page.text)})
    assert r.status_code == 429


# --- the steward's work ---------------------------------------------------------------------------------------


def test_reviewing_the_queue_moves_to_the_next_item_and_records_the_decision(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "alice")
    cfg, wh = wh_of(console_project)
    ids = st.queue_ids(cfg, wh, source="crm_b")
    queue = c.get("/queue?source=crm_b&band=")
    assert queue.status_code == 200 and ids[0] in queue.text
    item = c.get(f"/queue/{ids[0]}?source=crm_b")
    assert item.status_code == 200 and "<mark>" in item.text and "Why: the explanation" in item.text
    assert 'data-key="s"' in item.text and 'data-key="d"' in item.text
    r = c.post(f"/queue/{ids[0]}/decide", data={"csrf": csrf_of(item.text), "verdict": "different",
                                                "reason": "different cities", "source": "crm_b", "pos": "0"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/queue/{ids[1]}?source=crm_b")
    nxt = c.get(r.headers["location"])
    assert "different: recorded" in nxt.text
    dec = wh.read_frame("SELECT verdict, decided_by, reason, item_id FROM mdm.decisions")
    assert dec.values.tolist() == [["different", "alice", "different cities", ids[0]]]
    assert ids[0] not in st.queue_ids(cfg, wh)
    # filters: band and search
    assert c.get("/queue?band=match").status_code == 200
    assert c.get("/queue?q=" + ids[1]).status_code == 200


def test_merge_unmerge_and_undo_from_the_customer_page(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "alice")
    _, wh = wh_of(console_project)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    g1, g2 = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    page = c.get(f"/customers/{g1}")
    assert page.status_code == 200 and "supplied by" in page.text and "Source records" in page.text
    r = c.post(f"/customers/{g1}/merge", data={"csrf": csrf_of(page.text), "other": g2, "reason": "same"})
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert f"{g2} merged into {g1}" in page.text
    assert c.get(f"/customers/{g2}").headers["location"] == f"/customers/{g1}"  # retired → survivor
    rec = sorted(re.findall(r'data-unmerge="([^"]+)"', page.text))[0]
    r = c.post(f"/customers/{g1}/unmerge", data={"csrf": csrf_of(page.text), "record_id": rec})
    assert "moved out of" in c.get(r.headers["location"]).text
    assert wh.read_frame(f"SELECT golden_id FROM mdm.xref WHERE {st.RECORD_ID_SQL} = :r",
                         {"r": rec})["golden_id"].iloc[0] not in (g1, g2)
    audit = c.get("/audit")
    assert audit.status_code == 200 and "unmerge" in audit.text and "merge" in audit.text
    last = re.findall(r'data-undo="([^"]+)"', audit.text)[0]
    r = c.post(f"/audit/{last}/undo", data={"csrf": csrf_of(audit.text)})
    assert "undid unmerge" in c.get(r.headers["location"]).text
    assert c.get("/audit?action=undo").text.count("undo of") == 1
    # errors come back as a message, not a crash
    r = c.post(f"/customers/{g1}/merge", data={"csrf": csrf_of(audit.text), "other": g1})
    assert "two different" in c.get(r.headers["location"]).text


def test_search_pair_and_api_doc_pages(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "vic")
    _, wh = wh_of(console_project)
    g = wh.read_frame("SELECT golden_id, name, uscc FROM mdm.golden_customer WHERE uscc_valid ORDER BY 1 LIMIT 1")
    r = c.get("/customers", params={"q": g["uscc"].iloc[0]})
    assert g["golden_id"].iloc[0] in r.text
    r = c.get("/customers", params={"q": "没有这家公司的名字"})
    assert "No golden customer found" in r.text
    assert c.get("/customers/G9999999999").status_code == 404
    assert c.get("/queue/ffffffffffffffff").status_code == 404
    doc = c.get("/api/docs")
    assert doc.status_code == 200 and "POST /api/match" in doc.text and "Bearer" in doc.text


def test_admin_manages_users_in_the_config_file(console_project: Path) -> None:
    c = make_client(console_project)
    csrf = login(c, "root")
    page = c.get("/users")
    assert page.status_code == 200 and "alice" in page.text
    r = c.post("/users", data={"csrf": csrf, "name": "newbie", "role": "steward", "password": "newbie-pass-1"})
    assert "user newbie added" in c.get(r.headers["location"]).text
    users = yaml.safe_load(console_project.read_text(encoding="utf-8"))["console"]["users"]
    newbie = next(u for u in users if u["name"] == "newbie")
    assert newbie["role"] == "steward" and newbie["password_hash"].startswith("$argon2id$")
    assert "newbie-pass-1" not in console_project.read_text(encoding="utf-8")
    other = make_client(console_project)
    login(other, "newbie", "newbie-pass-1")
    r = c.post("/users", data={"csrf": csrf, "name": "short", "role": "viewer", "password": "short"})
    assert "at least 8" in c.get(r.headers["location"]).text
    r = c.post("/users/root/delete", data={"csrf": csrf})
    assert "cannot remove yourself" in c.get(r.headers["location"]).text
    r = c.post("/users/newbie/delete", data={"csrf": csrf})
    assert "user newbie removed" in c.get(r.headers["location"]).text
    assert other.get("/queue").status_code == 303  # the removed user's session ends


def test_the_console_releases_the_duckdb_file_between_requests(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "alice")
    assert c.get("/queue").status_code == 200
    db = load_config(console_project).warehouse.url.split("///", 1)[1]
    # Another process (`hub run`) can open the warehouse while the console is running.
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('SELECT count(*) FROM mdm.xref').fetchall()"
    assert subprocess.run([sys.executable, "-c", code, db], capture_output=True, timeout=60).returncode == 0


# --- the match API --------------------------------------------------------------------------------------------


def test_match_api_needs_a_token(client: TestClient) -> None:
    body = {"name": "上海华信机械设备有限公司"}
    assert client.post("/api/match", json=body).status_code == 401
    r = client.post("/api/match", json=body, headers={"Authorization": "Bearer wrong-token-wrong-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/match", json=body, headers={"Authorization": API_TOKEN}).status_code == 401
    assert client.get("/api/openapi.json").status_code == 303       # neither session nor token
    spec = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    assert list(spec["paths"]) == ["/api/match"]                    # console pages are not part of the API
    assert {"MatchRequest", "MatchResponse", "Candidate"} <= set(spec["components"]["schemas"])


def test_match_api_answers_with_candidates(console_project: Path, client: TestClient) -> None:
    _, wh = wh_of(console_project)
    g = wh.read_frame("SELECT * FROM mdm.golden_customer WHERE uscc_valid AND source_count > 1 "
                      "ORDER BY golden_id LIMIT 1").iloc[0]
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    r = client.post("/api/match", json={"name": g["name"], "phone": g["phone"], "limit": 3}, headers=auth)
    assert r.status_code == 200
    out = r.json()
    assert out["candidates"][0]["golden_id"] == g["golden_id"] and out["candidates"][0]["band"] == "match"
    assert len(out["candidates"]) <= 3 and out["thresholds"] == {"match": 0.8, "review": 0.3}
    assert set(out["candidates"][0]["explanation"]) == {"uscc", "name", "phone", "address", "contact", "form"}
    r = client.post("/api/match", json={"name": "没有这家公司的名字", "include_low": True}, headers=auth)
    assert r.status_code == 200 and r.json()["candidates"] == []
    assert client.post("/api/match", json={"address": "上海"}, headers=auth).status_code == 422
    assert client.post("/api/match", json={"name": "x", "limit": 0}, headers=auth).status_code == 422
    assert client.post("/api/match", json={"name": "x", "unknown": 1}, headers=auth).status_code == 422


def test_the_fixture_users_are_the_ones_above(passwords: dict[str, str], api_token: str) -> None:
    assert passwords == PASSWORDS and api_token == API_TOKEN

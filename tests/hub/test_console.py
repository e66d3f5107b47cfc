"""The steward console and the match API through HTTP: sessions, roles on every route, CSRF, expiry,
the review flow, merge/unmerge/undo, users, the API's token and answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from core.config_file import load_config
from hub.console import create_app
from pipelines.steward import actions, audit, review_queue, sql
from pipelines.steward import teamwork as rv
from pipelines.steward.review_queue import QueueFilter
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

PAGES = ["/", "/queue", "/queue/{item}", "/pair?left={left}&right={right}", "/candidates?record={short}",
         "/customers", "/customers?q=有限", "/customers/{golden}", "/audit", "/api/docs", "/api/openapi.json",
         "/cockpit", "/cockpit/{tab}", "/health", "/dashboards/{page}/{chart}"]
CHANGES = ["/queue/{item}/decide", "/queue/bulk", "/pair/decide", "/candidates/resolve", "/assign", "/comments",
           "/customers/{golden}/merge", "/customers/{golden}/unmerge", "/customers/{golden}/former-name",
           "/audit/{action}/undo"]
ADMIN_PAGES = ["/users"]
ADMIN_CHANGES = ["/users", "/users/{user}/delete"]
PUBLIC = {"/login", "/static"}


def _params(cfg_path: Path) -> dict[str, str]:
    cfg, wh = wh_of(cfg_path)
    item = review_queue.list_queue(cfg, wh, limit=1)["items"][0]
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    short = next(e["record_id"] for e in rv.queue_page(cfg, wh, QueueFilter(), limit=500)["entries"]
                 if e["kind"] == "group")
    a = actions.merge(cfg, wh, g["golden_id"].iloc[0], g["golden_id"].iloc[1], "setup")
    wh.dispose()
    return {"item": item["item_id"], "left": item["left"]["record_id"], "right": item["right"]["record_id"],
            "golden": g["golden_id"].iloc[0], "action": a.action_id, "user": "vic", "short": short,
            "tab": "funnel", "page": "health", "chart": "golden_trend.csv"}


def _form(path: str, p: dict[str, str], csrf: str) -> dict[str, str]:
    return {"csrf": csrf, "verdict": "different", "left": p["left"], "right": p["right"], "other": "G0000000001",
            "record_id": p["left"], "name": "newbie", "role": "viewer", "password": "long-enough-1",
            "item": p["item"], "do": "claim", "subject": p["item"], "body": "a note", "record": p["short"]}


def api_routes(routes: list) -> list[APIRoute]:
    """Every APIRoute of an application, also those of the routers it includes."""
    out = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):  # an included router (FastAPI ≥ 0.160)
            out += api_routes(r.original_router.routes)
    return out


def test_the_role_tables_cover_every_route(client: TestClient) -> None:
    app = client.app
    declared = {r.path for r in api_routes(app.routes)} | set(app.openapi()["paths"])  # type: ignore
    listed = {re.sub(r"\{\w+\}", "x", p.split("?")[0]) for p in PAGES + CHANGES + ADMIN_PAGES + ADMIN_CHANGES}
    listed |= {"/login", "/logout", "/api/match", "/lang/x"}  # the language switch: also on the login page
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
    assert c.get("/cockpit/nothing").status_code == 404
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
    assert r.headers["location"] == "/cockpit"              # no open redirect: the home page, the cockpit
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=1800" in cookie
    assert PASSWORDS["alice"] not in cookie
    q = client.get("/queue")
    assert q.status_code == 200 and "alice" in q.text
    assert client.post("/logout", data={"csrf": csrf_of(q.text)}).status_code == 303
    assert client.get("/queue").status_code == 303


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(console_project: Path) -> None:
    c = make_client(console_project)
    csrf = login(c, "alice")
    stolen = c.cookies.get("hub_session")
    other = make_client(console_project)  # another browser holding a copy of the cookie
    other.cookies.set("hub_session", stolen)
    assert other.get("/queue").status_code == 200
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    for client in (other, make_client(console_project)):  # this console, and a restarted one
        client.cookies.set("hub_session", stolen)
        r = client.get("/queue")
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.text[:200]
        assert client.post("/queue/x/decide", data={"csrf": csrf, "verdict": "same"}).status_code == 303
    # The warehouse holds a hash of the session id only, until the session would have expired.
    _, wh = wh_of(console_project)
    row = wh.read_frame("SELECT * FROM mdm.console_logout")
    assert row["user_name"].tolist() == ["alice"] and stolen not in row.to_string()
    assert (row["expires_at"] - row["logged_out_at"]).iloc[0] <= pd.Timedelta(minutes=30)
    # A new login works as before.
    login(c, "alice")
    assert c.get("/queue").status_code == 200


def test_logged_out_sessions_are_shared_through_the_warehouse(warehouse_url: str) -> None:
    from hub.console.auth import LoggedOut, Sessions

    one = Sessions("a-secret-key-for-this-test", 30, LoggedOut(Warehouse(warehouse_url)))
    two = Sessions("a-secret-key-for-this-test", 30, LoggedOut(Warehouse(warehouse_url)))  # another process
    cookie, _ = one.issue("alice")
    keep, _ = one.issue("alice")
    assert two.read(cookie) is not None
    one.end(one.read(cookie))
    assert one.read(cookie) is None and two.read(cookie) is None
    assert two.read(keep) is not None and two.read(keep).user == "alice"


def test_a_logout_while_a_run_holds_the_duckdb_file_is_refused_at_once_and_written_later(tmp_path: Path) -> None:
    from hub.console.auth import LoggedOut, Sessions

    db = tmp_path / "w.duckdb"
    url = f"duckdb:///{db}"
    wh = Warehouse(url)
    one = Sessions("a-secret-key-for-this-test", 30, LoggedOut(wh))
    cookie, _ = one.issue("alice")
    assert one.read(cookie) is not None
    wh.dispose()  # as the console does between requests
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.readline()")  # another process (a run) holds the file until told to stop
    run = subprocess.Popen([sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "open"
        one.end(one.read(cookie))
        assert one.read(cookie) is None  # refused from memory while the warehouse is busy
    finally:
        assert run.stdin is not None
        run.stdin.write("\n")
        run.stdin.flush()
        run.wait(timeout=30)
    assert one.read(cookie) is None  # this check reaches the warehouse and writes the pending logout
    two = Sessions("a-secret-key-for-this-test", 30, LoggedOut(Warehouse(url)))  # a restarted console
    assert two.read(cookie) is None


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


def test_users_are_reloaded_when_the_file_changes_even_with_its_old_modification_time(console_project: Path,
                                                                                     client: TestClient) -> None:
    import os

    login(client, "alice")
    st_before = console_project.stat()
    text = console_project.read_text(encoding="utf-8")
    console_project.write_text(re.sub(r"    - \{name: alice.*\n", "", text), encoding="utf-8")
    os.utime(console_project, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))  # as `cp -p` or `touch -r` do
    assert console_project.stat().st_mtime_ns == st_before.st_mtime_ns
    r = client.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_failed_logins_are_throttled(client: TestClient) -> None:
    for _ in range(5):
        page = client.get("/login")
        client.post("/login", data={"username": "vic", "password": "nope-nope", "csrf": csrf_of(page.text)})
    page = client.get("/login")
    r = client.post("/login", data={"username": "vic", "password": PASSWORDS["vic"], "csrf": csrf_of(page.text)})
    assert r.status_code == 429


def test_one_password_tried_over_many_user_names_is_throttled(client: TestClient) -> None:
    codes = []
    for i in range(20):  # 20 names, one wrong try each: never 5 per name
        page = client.get("/login")
        codes.append(client.post("/login", data={"username": f"user{i}", "password": "Summer2026!",
                                                 "csrf": csrf_of(page.text)}).status_code)
    assert codes == [401] * 20
    page = client.get("/login")
    r = client.post("/login", data={"username": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(page.text)})
    assert r.status_code == 429 and "Too many failed logins" in r.text


# --- the steward's work ---------------------------------------------------------------------------------------


def test_reviewing_the_queue_moves_to_the_next_item_and_records_the_decision(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "alice")
    cfg, wh = wh_of(console_project)
    ids = review_queue.queue_ids(cfg, wh, source="crm_b")
    queue = c.get("/queue?source=crm_b&band=")
    assert queue.status_code == 200 and ids[0] in queue.text
    item = c.get(f"/queue/{ids[0]}?source=crm_b")
    assert item.status_code == 200 and "<mark>" in item.text and "Why: the explanation" in item.text
    assert 'data-key="s"' in item.text and 'data-key="d"' in item.text
    r = c.post(f"/queue/{ids[0]}/decide", data={"csrf": csrf_of(item.text), "verdict": "different",
                                                "reason": "different cities", "filters": "source=crm_b", "pos": "0"})
    # on to the next open item: the next one, unless the decision settled it too (the same record against
    # another record of the same customer is resolved with it)
    left = review_queue.queue_ids(cfg, wh, source="crm_b")
    assert left[0] == next(i for i in ids[1:] if i in left)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/queue/{left[0]}?source=crm_b")
    nxt = c.get(r.headers["location"])
    assert "different: recorded" in nxt.text
    dec = wh.read_frame("SELECT verdict, decided_by, reason, item_id FROM mdm.decisions")
    assert dec.values.tolist() == [["different", "alice", "different cities", ids[0]]]
    assert ids[0] not in review_queue.queue_ids(cfg, wh)
    # filters: band and search
    assert c.get("/queue?band=match").status_code == 200
    assert c.get("/queue?q=" + left[0]).status_code == 200


def test_a_customer_whose_records_were_deleted_is_named_retired_and_a_revived_one_shows_its_history(
        console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "vic")
    _, wh = wh_of(console_project)
    live = wh.read_frame("SELECT min(golden_id) AS g FROM mdm.xref")["g"].iloc[0]
    with wh.begin() as conn:  # (the rows a run writes when every record of an ID leaves, and when one comes back)
        wh.insert_frame(conn, "mdm", "golden_id_history", pd.DataFrame({
            "retired_id": ["G9999999999", live, None], "survivor_id": [None, None, live],
            "reason": ["deleted", "deleted", "revived"], "run_id": "r",
            "retired_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"])}))
    r = c.get("/customers/G9999999999")
    assert r.status_code == 303 and r.headers["location"] == "/customers"  # no survivor to go to
    assert "G9999999999 was retired: its records were deleted" in c.get("/customers").text
    page = c.get(f"/customers/{live}")
    assert page.status_code == 200
    assert f"{live} active again: a deleted record came back (revived)" in page.text
    assert f"{live} retired: its records were deleted (deleted)" in page.text
    wh.dispose()


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
    r = c.post(f"/customers/{g1}/former-name", data={"csrf": csrf_of(page.text), "name": "旧名称贸易有限公司",
                                                     "reason": "renamed"})
    page = c.get(r.headers["location"])
    assert "has the former name" in page.text
    assert re.search(r'id="former-names">.*旧名称贸易有限公司 <small class="muted">\(added by alice', page.text, re.S)
    rec = sorted(re.findall(r'data-unmerge="([^"]+)"', page.text))[0]
    r = c.post(f"/customers/{g1}/unmerge", data={"csrf": csrf_of(page.text), "record_id": rec})
    assert "moved out of" in c.get(r.headers["location"]).text
    assert wh.read_frame(f"SELECT golden_id FROM mdm.xref WHERE {sql.RECORD_ID_SQL} = :r",
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


def test_page_numbers_past_the_end_or_not_numbers_show_a_page(console_project: Path) -> None:
    c = make_client(console_project)
    login(c, "vic")
    for path in ("/queue", "/audit", "/queue?status=all&band=review"):
        sep = "&" if "?" in path else "?"
        for n in ("99999999999999999999", "2", "-3", "0", "abc", "１２", ""):
            r = c.get(f"{path}{sep}page_no={n}")
            assert r.status_code == 200, (path, n)
            assert "<h1>" in r.text and "Something went wrong" not in r.text, (path, n)
    cfg, wh = wh_of(console_project)
    total = review_queue.list_queue(cfg, wh, limit=1)["total"]
    far = review_queue.list_queue(cfg, wh, limit=10**20, offset=10**20)
    assert far["total"] == total and far["items"] == []
    assert audit.history(wh, limit=10**20, offset=10**20)["actions"] == []


def test_unmerge_only_moves_a_record_of_the_customer_in_the_url(console_project: Path) -> None:
    c = make_client(console_project)
    csrf = login(c, "alice")
    _, wh = wh_of(console_project)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    g1, g2 = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    foreign = sorted(wh.read_frame(f"SELECT {sql.RECORD_ID_SQL} AS r FROM mdm.xref WHERE golden_id = :g",
                                   {"g": g2})["r"])[0]
    before = wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3")
    r = c.post(f"/customers/{g1}/unmerge", data={"csrf": csrf, "record_id": foreign})
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{g1}"
    assert f"is not a record of {g1}" in c.get(r.headers["location"]).text
    assert wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3").equals(before)
    assert not len(wh.read_frame("SELECT * FROM mdm.merge_log"))


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
    assert set(out["candidates"][0]["explanation"]) == {"uscc", "reg_no", "name", "pinyin", "phone", "address",
                                                        "contact", "email", "form"}
    r = client.post("/api/match", json={"name": "没有这家公司的名字", "include_low": True}, headers=auth)
    assert r.status_code == 200 and r.json()["candidates"] == []
    assert client.post("/api/match", json={"address": "上海"}, headers=auth).status_code == 422
    assert client.post("/api/match", json={"name": "x", "limit": 0}, headers=auth).status_code == 422
    assert client.post("/api/match", json={"name": "x", "unknown": 1}, headers=auth).status_code == 422


def test_match_api_answers_json_for_any_bad_body_and_never_echoes_it(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    # A lone surrogate (valid JSON, not encodable text): a JSON 422 naming the field, not an HTML 500.
    for body, field in ((b'{"name": "\\ud800abc"}', "name"), (b'{"address": "x", "phone": "\\udfff"}', "phone"),
                        (b'{"\\ud800": 1, "name": "a"}', None)):
        r = client.post("/api/match", content=body, headers=auth)
        assert r.status_code == 422 and r.headers["content-type"] == "application/json", (body, r.text[:200])
        detail = r.json()["detail"]
        assert all(set(e) == {"loc", "msg", "type"} for e in detail)
        if field:
            assert ["body", field] in [e["loc"] for e in detail]
    # Too long a value: the error names the field and the limit, and does not send the value back.
    long_name = "甲" * 5000
    r = client.post("/api/match", json={"name": long_name}, headers=auth)
    assert r.status_code == 422 and len(r.content) < 1000 and "甲甲" not in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "name"] and "200" in r.json()["detail"][0]["msg"]
    # A 1 MB body is refused before it is parsed: JSON naming the limit, with the security headers; sent in chunks
    # (no Content-Length) too.
    big = b'{"name": "' + b"x" * 1_000_000 + b'"}'
    for content in (big, iter([big[i:i + 16_384] for i in range(0, len(big), 16_384)])):
        r = client.post("/api/match", content=content, headers=auth)
        assert r.status_code == 413 and r.headers["content-type"] == "application/json", r.text[:200]
        assert r.json() == {"detail": "the request body is over the limit of 64 KiB"}
        assert r.headers["x-frame-options"] == "DENY"
    # Under the route's 64 KiB a body is read (a 422 for the long value, not a 413).
    assert client.post("/api/match", json={"name": "x" * 60_000}, headers=auth).status_code == 422
    r = client.post("/api/match", content=b"not json", headers=auth)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_a_console_form_over_the_body_limit_is_a_page(client: TestClient) -> None:
    csrf = login(client, "alice")
    r = client.post("/queue/0000000000000000/decide", data={"csrf": csrf, "note": "x" * 300_000})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "over the limit of 256 KiB" in r.text and r.headers["x-frame-options"] == "DENY"


def test_a_bad_console_form_is_a_page_not_json(client: TestClient) -> None:
    csrf = login(client, "alice")
    r = client.post("/queue/0000000000000000/decide", data={"csrf": csrf})  # no verdict
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html") and "verdict" in r.text


def test_the_fixture_users_are_the_ones_above(passwords: dict[str, str], api_token: str) -> None:
    assert passwords == PASSWORDS and api_token == API_TOKEN

"""Defects found by using the console as a steward, each reproduced in a real headless Chromium: searching a
record id with capitals, `%` and `_` in a search, a page number past the end, an unmerge form that names a
record of another customer, and a session cookie copied before logging out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config_file import load_config
from warehouse.engine import Warehouse

pytestmark = pytest.mark.browser
RECORD_ID = "source_name || ':' || stream || ':' || source_key"


def logged_in(browser: Any, server: str, name: str, password: str, width: int = 1360) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda d: d.accept())
    page.goto(server + "/login?next=%2Fqueue")  # the console opens on the cockpit; these start at the queue
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url(server + "/queue")
    return context, page


def test_queue_search_finds_record_ids_with_capitals_and_takes_wildcards_literally(
        server: str, console_project: Path, passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    wh = Warehouse(load_config(console_project).warehouse.url)
    key = wh.read_frame("SELECT right_record AS r FROM mdm.review_queue WHERE right_record LIKE 'crm_b:%' "
                        "ORDER BY 1 LIMIT 1")["r"].iloc[0].split(":")[-1]
    wh.dispose()
    assert key.startswith("KH")
    _, page = logged_in(browser, server, "vic", passwords["vic"])
    for text in (key, key.lower()):
        page.fill("#queue-search", text)
        page.press("#queue-search", "Enter")
        expect(page.locator("table.queue")).to_contain_text(key)
    for text in ("%", "_ustomers", "crm%customers"):  # as wildcards they would match every record id
        page.fill("#queue-search", text)
        page.press("#queue-search", "Enter")
        expect(page.locator("p.empty")).to_contain_text("Nothing to review")


def test_a_page_number_past_the_end_shows_the_last_page(server: str, passwords: dict[str, str],
                                                         browser: Any) -> None:
    from playwright.sync_api import expect

    _, page = logged_in(browser, server, "vic", passwords["vic"])
    for path, title in (("/queue", "Review queue"), ("/audit", "Audit log")):
        r = page.goto(f"{server}{path}?page_no=99999999999999999999")
        assert r is not None and r.status == 200
        expect(page.locator("h1")).to_contain_text(title)


def test_an_unmerge_form_naming_another_customers_record_changes_nothing(
        server: str, console_project: Path, passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    wh = Warehouse(load_config(console_project).warehouse.url)
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    g1, g2 = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    foreign = wh.read_frame(f"SELECT {RECORD_ID} AS r FROM mdm.xref WHERE golden_id = :g ORDER BY 1",
                            {"g": g2})["r"].iloc[0]
    before = wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3")
    wh.dispose()
    _, page = logged_in(browser, server, "alice", passwords["alice"])
    page.goto(f"{server}/customers/{g1}")
    # A stale page or a crafted form: the unmerge button of g1's page now names a record of g2.
    form = page.locator("[data-unmerge]").first.locator("xpath=ancestor::form")
    form.locator("input[name=record_id]").evaluate("(el, v) => { el.value = v; }", foreign)
    page.locator("[data-unmerge]").first.click()
    expect(page.locator("#flash")).to_contain_text(f"is not a record of {g1}")
    wh = Warehouse(load_config(console_project).warehouse.url)
    assert wh.read_frame("SELECT * FROM mdm.xref ORDER BY 1, 2, 3").equals(before)


def test_a_cookie_copied_before_logout_no_longer_opens_a_session(server: str, passwords: dict[str, str],
                                                                 browser: Any) -> None:
    from playwright.sync_api import expect

    context, page = logged_in(browser, server, "alice", passwords["alice"])
    stolen = [c for c in context.cookies() if c["name"] == "hub_session"]
    assert stolen
    page.click("#logout")
    expect(page).to_have_url(server + "/login")
    other = browser.new_context()
    other.add_cookies(stolen)
    thief = other.new_page()
    thief.goto(server + "/queue")
    expect(thief).to_have_url(f"{server}/login?next=%2Fqueue")

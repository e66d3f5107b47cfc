"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright): log in, work two
queue items with the keyboard, merge and unmerge a customer, check the warehouse, log out.

Skipped when no Chromium is installed, unless HUB_REQUIRE_BROWSER=1 (`make test` sets it and installs
Debian's package when it can). HUB_CHROMIUM names the executable (default: `chromium` on the PATH).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from core.config_file import load_config
from warehouse.engine import Warehouse

pytestmark = pytest.mark.browser


def test_a_steward_works_the_queue_merges_and_unmerges(server: str, console_project: Path,
                                                       passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    shots = os.environ.get("HUB_SCREENSHOTS")
    cfg = load_config(console_project)
    wh = Warehouse(cfg.warehouse.url)
    goldens = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    g1, g2 = goldens["golden_id"].iloc[0], goldens["golden_id"].iloc[1]
    wh.dispose()

    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.on("dialog", lambda d: d.accept())  # merge/unmerge ask for confirmation
    page.set_default_timeout(30_000)

    # Log in: any page without a session leads to the login form and back.
    page.goto(server + "/queue")
    expect(page).to_have_url(f"{server}/login?next=%2Fqueue")
    page.fill("#username", "alice")
    page.fill("#password", passwords["alice"])
    page.click("#login")
    expect(page).to_have_url(server + "/queue")
    expect(page.locator("h1")).to_contain_text("Review queue")
    if shots:
        page.screenshot(path=f"{shots}/queue.png")

    # Work two items with the keyboard: j selects the first row, Enter opens it, d / s decide.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Review item")
    first = page.locator("h1 code").inner_text()
    if shots:
        page.screenshot(path=f"{shots}/pair.png", full_page=True)
    page.keyboard.press("d")
    expect(page.locator("#flash")).to_contain_text("different")
    second = page.locator("h1 code").inner_text()
    assert second != first
    page.keyboard.press("r")
    page.keyboard.type("same tax office")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#flash")).to_contain_text("same company")

    # Merge g2 into g1 on g1's page, then unmerge one record.
    page.goto(f"{server}/customers/{g1}")
    page.fill("#merge-other", g2)
    page.click("#merge")
    expect(page.locator("#flash")).to_contain_text(f"{g2} merged into {g1}")
    if shots:
        page.screenshot(path=f"{shots}/customer.png", full_page=True)
    moved = page.locator("[data-unmerge]").first.get_attribute("data-unmerge")
    page.locator("[data-unmerge]").first.click()
    expect(page.locator("#flash")).to_contain_text("moved out of")
    page.goto(server + "/audit")
    expect(page.locator("table.audit")).to_contain_text("unmerge")
    if shots:
        page.screenshot(path=f"{shots}/audit.png")

    # Log out: the session is gone.
    page.click("#logout")
    expect(page).to_have_url(server + "/login")
    page.goto(server + "/customers")
    expect(page).to_have_url(f"{server}/login?next=%2Fcustomers")

    wh = Warehouse(cfg.warehouse.url)
    dec = wh.read_frame("SELECT item_id, verdict, decided_by, reason, origin FROM mdm.decisions ORDER BY decided_at")
    review = dec[dec["origin"] == "review"]
    assert review[["item_id", "verdict", "decided_by"]].values.tolist() == [[first, "different", "alice"],
                                                                           [second, "same", "alice"]]
    assert review["reason"].tolist() == [None, "same tax office"]
    assert not len(wh.read_frame("SELECT * FROM mdm.xref WHERE golden_id = :g", {"g": g2}))
    x = wh.read_frame("SELECT golden_id FROM mdm.xref WHERE source_name || ':' || stream || ':' || source_key = :r",
                      {"r": moved})
    assert x["golden_id"].iloc[0] not in (g1, g2)
    log = wh.read_frame("SELECT action, actor FROM mdm.merge_log ORDER BY acted_at")
    assert log.values.tolist() == [["decide", "alice"], ["decide", "alice"], ["merge", "alice"],
                                   ["unmerge", "alice"]]

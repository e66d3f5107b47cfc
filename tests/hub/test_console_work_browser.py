"""The stewards' features in a real headless Chromium: a short record's candidates side by side, bulk decisions,
claims and comments, filters and sorts, what keeps two customers apart, the survivorship rule beside each
golden value, the audit log as a diff in the configured zone, search by pinyin, and the layout at phone width
(390 px) and at 1400 px. With HUB_SCREENSHOTS=DIR the pages are saved there (`docs/screenshots`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.config_file import load_config
from mdm.search import pinyin_of
from pipelines.steward import actions, review_queue, sql
from pipelines.steward import teamwork as rv
from pipelines.steward.review_queue import QueueFilter
from warehouse.engine import Warehouse

pytestmark = pytest.mark.browser


def logged_in(browser: Any, server: str, name: str, password: str, width: int = 1400) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda d: d.accept())
    page.goto(server + "/login?next=%2Fqueue")  # the console opens on the cockpit; these start at the queue
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url(server + "/queue")
    return page


def shot(page: Any, name: str, full: bool = True) -> None:
    if os.environ.get("HUB_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['HUB_SCREENSHOTS']}/{name}.png", full_page=full)


def open_wh(console_project: Path) -> tuple[Any, Warehouse]:
    cfg = load_config(console_project)
    return cfg, Warehouse(cfg.warehouse.url)


def test_a_short_record_is_settled_on_one_screen_with_all_its_candidates(
        server: str, console_project: Path, passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    cfg, wh = open_wh(console_project)
    group = next(e for e in rv.queue_page(cfg, wh, QueueFilter(), limit=500)["entries"] if e["kind"] == "group")
    wh.dispose()
    page = logged_in(browser, server, "alice", passwords["alice"])
    shot(page, "queue")
    row = page.locator(f'tr.group[data-href*="{group["record_id"].split(":")[-1]}"]')
    expect(row).to_contain_text(f"{len(group['candidates'])} possible customers")
    row.locator("a.item-link").click()
    expect(page.locator("h1")).to_contain_text("Which customer is this?")
    columns = page.locator("table.candidates thead th.cand")
    expect(columns).to_have_count(len(group["candidates"]))
    shot(page, "candidates")
    chosen = page.locator("[data-pick]").first.get_attribute("data-pick")
    page.fill("#reason", "same mobile as the ERP record")
    page.keyboard.press("Escape")
    page.keyboard.press("1")  # the first candidate
    expect(page.locator("#flash")).to_contain_text(f"{group['record_id']} joins {chosen}")
    assert group["record_id"] not in page.locator("table.queue").inner_text()
    _, wh = open_wh(console_project)
    x = wh.read_frame(f"SELECT golden_id FROM mdm.xref WHERE {sql.RECORD_ID_SQL} = :r", {"r": group["record_id"]})
    assert x["golden_id"].iloc[0] == chosen
    log = wh.read_frame("SELECT action, reason FROM mdm.merge_log")
    assert log.values.tolist() == [["decide", "same mobile as the ERP record"]]


def test_bulk_decisions_claims_comments_filters_and_sorts(server: str, console_project: Path,
                                                          passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    cfg, wh = open_wh(console_project)
    review_band = review_queue.queue_ids(cfg, wh, criteria=QueueFilter(reason="review_band"))
    wh.dispose()
    page = logged_in(browser, server, "alice", passwords["alice"])
    # Filter by reason and sort by score, lowest first.
    page.select_option("#filter-reason", "review_band")
    page.select_option("#filter-sort", "score_asc")
    page.click("#queue-filters button")
    scores = [float(t) for t in page.locator("table.queue tbody tr td[data-label=score]").all_inner_texts()
              for t in [t.split()[0]]]
    assert len(scores) == len(review_band) and scores == sorted(scores)
    # Claim the first item from its page and leave a comment.
    page.locator("a.item-link").first.click()
    expect(page.locator("h1")).to_contain_text("Review item")
    item = page.locator("h1 code").inner_text()
    page.click("#claim")
    expect(page.locator("#assignee")).to_have_text("alice")
    page.fill("#comment-body", "客户说两家是同一个集团，不同的公司")
    page.click("#comment")
    expect(page.locator("#comments")).to_contain_text("客户说两家是同一个集团")
    shot(page, "pair")
    page.goto(server + "/queue?assignee=me")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    expect(page.locator("table.queue")).to_contain_text("1 comment")
    # Bulk: every review-band pair but the claimed one, decided different at once.
    page.goto(server + "/queue?reason=review_band")
    page.check("#select-page")
    page.locator(f'input[name=item][value="{item}"]').uncheck()
    expect(page.locator("#selected-count")).to_have_text(f"{len(review_band) - 1} pairs selected")
    page.fill("#bulk-reason", "different tax offices")
    page.click("#bulk-different")
    expect(page.locator("#flash")).to_contain_text(f"{len(review_band) - 1} pairs decided")
    _, wh = open_wh(console_project)
    # The claimed item stays open, unless the decisions settled it too: one of its records was said to be
    # another company than a record of the other's customer (pipelines/settled.py).
    [(status, left, right, lg, rg)] = wh.read_frame(
        "SELECT status, left_record, right_record, left_golden_id, right_golden_id FROM mdm.review_queue "
        "WHERE item_id = :i", {"i": item}).itertuples(index=False, name=None)
    said = wh.read_frame("SELECT d.left_record, d.right_record, x.golden_id AS lg, y.golden_id AS rg "
                         "FROM mdm.decisions d JOIN mdm.customer_records x ON x.record_id = d.left_record "
                         "JOIN mdm.customer_records y ON y.record_id = d.right_record WHERE d.active")
    settled = any((a == left and g == rg) or (a == right and g == lg) or (b == left and h == rg)
                  or (b == right and h == lg) for a, b, h, g in said.itertuples(index=False, name=None))
    assert status == ("resolved" if settled else "open")
    expect(page.locator("table.queue tbody tr")).to_have_count(0 if settled else 1)
    d = wh.read_frame("SELECT item_id, action_id, verdict, reason FROM mdm.decisions WHERE active")
    assert sorted(d["item_id"]) == sorted(set(review_band) - {item}) and d["action_id"].nunique() == 1
    assert set(d["verdict"]) == {"different"} and set(d["reason"]) == {"different tax offices"}
    # Decided items: filtered by who decided them.
    page.goto(server + "/queue?status=decided&decided_by=alice")
    expect(page.locator("table.queue tbody tr")).to_have_count(len(review_band) - 1)


def test_hard_rules_survivorship_audit_and_pinyin_search(server: str, console_project: Path,
                                                         passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    cfg, wh = open_wh(console_project)
    hard = review_queue.list_queue(cfg, wh, criteria=QueueFilter(reason="hard_rule"))["items"][0]
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    g1, g2 = g["golden_id"].iloc[0], g["golden_id"].iloc[1]
    name = wh.read_frame("SELECT name FROM mdm.golden_customer WHERE golden_id = :g", {"g": g1})["name"].iloc[0]
    wh.dispose()
    page = logged_in(browser, server, "alice", passwords["alice"])
    page.goto(f"{server}/queue/{hard['item_id']}")
    box = page.locator("#kept-apart")
    expect(box).to_contain_text("Hard rule: one valid tax code per customer")
    expect(box).to_contain_text(hard["left"]["golden_id"])
    expect(box).to_contain_text(hard["right"]["golden_id"])
    expect(page.locator("table.sidebyside")).to_contain_text("Company name")  # labels, not column names
    shot(page, "pair_hard_rule")
    # The golden record: each value with the rule that chose it.
    page.goto(f"{server}/customers/{g1}")
    tax = page.locator("#golden-attributes tr", has_text="Tax code (USCC)")
    expect(tax).to_contain_text("valid values only; the most trusted source (erp > crm_a > crm_b)")
    page.fill("#merge-other", g2)
    page.click("#merge")
    expect(page.locator("#flash")).to_contain_text(f"{g2} merged into {g1}")
    shot(page, "customer")
    # The audit log: what moved, what changed, times in the configured zone.
    page.goto(server + "/audit")
    row = page.locator("table.audit tbody tr").first
    expect(row).to_contain_text("moved")
    expect(row.locator(".state-retired")).to_have_text("retired")
    expect(row).to_contain_text(f"→ {g1}")
    assert row.locator("time").inner_text().endswith("CST")  # Asia/Shanghai, the config's default zone
    shot(page, "audit")
    # Search by pinyin from the header.
    full = pinyin_of(pd.Series([name]))[name][0]
    page.fill("header .search input", full[:12])
    page.press("header .search input", "Enter")
    found = page.locator("main table tr", has_text=g1)
    expect(found).to_contain_text("pinyin")
    shot(page, "search")


@pytest.mark.parametrize("width", [390, 1400])
def test_every_page_fits_a_phone_and_uses_a_wide_screen(server: str, console_project: Path,
                                                        passwords: dict[str, str], browser: Any, width: int) -> None:
    cfg, wh = open_wh(console_project)
    item = review_queue.list_queue(cfg, wh, criteria=QueueFilter(reason="hard_rule"))["items"][0]
    group = next(e for e in rv.queue_page(cfg, wh, QueueFilter(), limit=500)["entries"] if e["kind"] == "group")
    g = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) > 2 ORDER BY 1")
    actions.merge(cfg, wh, g["golden_id"].iloc[0], g["golden_id"].iloc[1], "alice")
    wh.dispose()
    page = logged_in(browser, server, "alice", passwords["alice"], width=width)
    pages = {"queue": "/queue", "pair": f"/queue/{item['item_id']}",
             "candidates": f"/candidates?record={group['record_id']}",
             "customer": f"/customers/{g['golden_id'].iloc[0]}",
             "audit": "/audit", "search": "/customers?q=有限公司"}
    for name, path in pages.items():
        page.goto(server + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} is wider than {width} px"
        if width == 1400:  # the content uses the screen, not a narrow column
            assert page.evaluate("document.querySelector('main').getBoundingClientRect().width") >= 1300, name
        if width == 390:
            shot(page, f"{name}_phone", full=False)
            # the buttons a steward needs are on screen, not cut off
            for sel in ("#same", "#different", "[data-pick]", "[data-pick-phone]", "#bulk-same"):
                for el in page.locator(sel).all():
                    box = el.bounding_box()
                    assert box is None or box["x"] + box["width"] <= width, (name, sel)


def test_the_screenshots_show_chinese_not_boxes() -> None:
    """fontconfig must offer a CJK font to Chromium (`make test` installs fonts-wqy-microhei when missing)."""
    if not shutil.which("fc-list"):
        pytest.skip("no fontconfig on this machine")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    if not fonts.strip() and os.environ.get("HUB_REQUIRE_BROWSER") != "1":
        pytest.skip("no CJK font (apt-get install fonts-wqy-microhei)")
    assert fonts.strip(), "no font with Chinese glyphs: screenshots would show boxes"

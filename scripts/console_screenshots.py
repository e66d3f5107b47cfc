"""Screenshots of the steward console's pages, for the docs (docs/screenshots/*.png).

    .venv/bin/python scripts/console_screenshots.py -c CONFIG [--warehouse URL] [--out docs/screenshots]

Works on the warehouse it is given (use a copy: it claims and comments on review items, settles a short
record's candidates, decides items, merges two golden customers and unmerges a record so that the pages
have something to show). Starts the console in a thread with two temporary accounts, drives Debian's
chromium (HUB_CHROMIUM or `chromium`) with Playwright at 1400 px, and at 390 px for the `*_phone.png`
pages. Refuses to run without a font with Chinese glyphs (Debian's fonts-wqy-microhei), which would
turn every name into boxes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import uvicorn
from playwright.sync_api import Page, sync_playwright

from core.config import ConsoleUser
from core.config_file import load_config
from hub.console import create_app
from hub.users import hash_password
from mdm.search import pinyin_of
from pipelines.steward import review_queue
from pipelines.steward import teamwork as review
from warehouse.engine import Warehouse

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDE, PHONE = {"width": 1400, "height": 900}, {"width": 390, "height": 844}
PASSWORD = "screenshot-pass-1"


def cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout.strip())


def log_in(page: Page, base: str, user: str) -> None:
    page.goto(base + "/login?next=%2Fqueue")  # the console opens on the cockpit; these start at the queue
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(base + "/queue")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("--warehouse", default=None)
    ap.add_argument("--out", default="docs/screenshots")
    args = ap.parse_args()
    if not cjk_font():
        sys.exit("no font with Chinese glyphs: apt-get install fonts-wqy-microhei (or fonts-noto-cjk)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(args.config, warehouse_url=args.warehouse)
    cfg.console.users = [ConsoleUser(name=n, role=r, password_hash=hash_password(PASSWORD))
                         for n, r in (("wang.li", "admin"), ("zhao.min", "steward"))]
    cfg.console.api_tokens = cfg.console.api_tokens or ["screenshot-token-0123456789"]
    wh = Warehouse.from_config(cfg.warehouse)
    big = wh.read_frame("SELECT golden_id FROM mdm.golden_customer WHERE source_count >= 3 AND system_count >= 2 "
                        "ORDER BY source_count DESC, golden_id LIMIT 2")["golden_id"].tolist()
    branchy = wh.read_frame("SELECT parent_golden_id AS g FROM mdm.customer_hierarchy GROUP BY 1 "
                            "ORDER BY count(*) DESC, 1 LIMIT 1")["g"].tolist()
    name = wh.read_frame("SELECT name FROM mdm.golden_customer WHERE source_count >= 3 AND golden_id NOT IN (:a, :b) "
                         "ORDER BY source_count DESC, golden_id LIMIT 1", {"a": big[0], "b": big[1]})["name"].iloc[0]
    entries = review.queue_page(cfg, wh, review_queue.QueueFilter(), limit=500)["entries"]
    groups = [e for e in entries if e["kind"] == "group"]
    hard = review_queue.list_queue(cfg, wh, criteria=review_queue.QueueFilter(reason="hard_rule"), limit=1)["items"]
    items = [e["item_id"] for e in entries if e["kind"] == "item"]
    # Some shared work to show: items claimed by two stewards, a comment.
    review.assign(wh, items[:2], "zhao.min", "wang.li")
    review.assign(wh, items[2:3], "wang.li", "wang.li")
    if hard:
        review.add_comment(wh, hard[0]["item_id"], "zhao.min", "问过销售：两个税号是两家公司，不要合并")
    wh.dispose()
    app = create_app(cfg, wh)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}"
    exe = os.environ.get("HUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS)
        page = browser.new_page(viewport=WIDE, device_scale_factor=1)
        page.on("dialog", lambda d: d.accept())
        page.goto(base + "/login")
        page.screenshot(path=str(out / "login.png"))
        log_in(page, base, "wang.li")
        page.screenshot(path=str(out / "queue.png"))
        phone = browser.new_page(viewport=PHONE, device_scale_factor=1)
        log_in(phone, base, "zhao.min")
        phone.screenshot(path=str(out / "queue_phone.png"))
        if hard:
            page.goto(f"{base}/queue/{hard[0]['item_id']}")
            page.screenshot(path=str(out / "pair_hard_rule.png"), full_page=True)
        if groups:
            page.goto(f"{base}/candidates?record={groups[0]['record_id']}")
            page.screenshot(path=str(out / "candidates.png"), full_page=True)
            phone.goto(f"{base}/candidates?record={groups[0]['record_id']}")
            phone.screenshot(path=str(out / "candidates_phone.png"))
        page.goto(f"{base}/queue/{items[0]}")
        page.wait_for_selector("form.decide")
        page.screenshot(path=str(out / "pair.png"), full_page=True)
        phone.goto(f"{base}/queue/{items[0]}")
        phone.screenshot(path=str(out / "pair_phone.png"))
        page.keyboard.press("d")
        page.wait_for_selector("#flash")
        page.keyboard.press("s")
        page.wait_for_selector("#flash")
        if len(groups) > 1:  # a short record settled on its candidates screen
            page.goto(f"{base}/candidates?record={groups[1]['record_id']}")
            page.keyboard.press("1")
            page.wait_for_selector("#flash")
        page.goto(f"{base}/customers/{big[0]}")
        page.fill("#merge-other", big[1])
        page.click("#merge")
        page.wait_for_selector("#flash")
        page.locator("[data-unmerge]").last.click()
        page.wait_for_selector("#flash")
        page.goto(f"{base}/customers/{big[0]}")
        page.screenshot(path=str(out / "customer.png"))  # the top: golden record, rules, the first records
        phone.goto(f"{base}/customers/{big[0]}")
        phone.screenshot(path=str(out / "customer_phone.png"))
        if branchy:
            page.goto(f"{base}/customers/{branchy[0]}")
            page.screenshot(path=str(out / "customer_branches.png"))
        full = pinyin_of(pd.Series([name]))[name][0]  # e.g. shanghaihuaxin…: the first 14 letters
        page.goto(f"{base}/customers?q={full[:14]}")
        page.screenshot(path=str(out / "search.png"))
        page.goto(base + "/audit")
        page.screenshot(path=str(out / "audit.png"))
        page.goto(base + "/api/docs")
        page.screenshot(path=str(out / "api.png"), full_page=True)
        browser.close()
    srv.should_exit = True
    thread.join(timeout=10)
    for p in sorted(out.glob("*.png")):
        print(p)


if __name__ == "__main__":
    main()

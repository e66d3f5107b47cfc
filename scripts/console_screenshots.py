"""Screenshots of the steward console's main pages, for the README (docs/screenshots/*.png).

    .venv/bin/python scripts/console_screenshots.py -c CONFIG [--warehouse URL] [--out docs/screenshots]

Works on the warehouse it is given (use a copy: it decides two review items, merges two golden
customers and unmerges a record so that the audit page has something to show). Starts the console in
a thread with a temporary steward account, drives Debian's chromium (HUB_CHROMIUM or `chromium`) with
Playwright, and writes login, queue, pair, customer, search, audit and API-doc pages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from hub.config import ConsoleUser, load_config
from hub.console import create_app
from hub.users import hash_password
from warehouse.engine import Warehouse

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("--warehouse", default=None)
    ap.add_argument("--out", default="docs/screenshots")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(args.config, warehouse_url=args.warehouse)
    password = "screenshot-pass-1"
    cfg.console.users = [ConsoleUser(name="wang.li", role="admin", password_hash=hash_password(password))]
    cfg.console.api_tokens = cfg.console.api_tokens or ["screenshot-token-0123456789"]
    wh = Warehouse.from_config(cfg.warehouse)
    big = wh.read_frame("SELECT golden_id FROM mdm.golden_customer WHERE source_count >= 3 AND system_count >= 2 "
                        "ORDER BY source_count DESC, golden_id LIMIT 2")["golden_id"].tolist()
    branchy = wh.read_frame("SELECT parent_golden_id AS g FROM mdm.customer_hierarchy GROUP BY 1 "
                            "ORDER BY count(*) DESC, 1 LIMIT 1")["g"].tolist()
    name = wh.read_frame(f"SELECT name FROM mdm.golden_customer WHERE golden_id = '{big[0]}'")["name"].iloc[0]
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
        page = browser.new_page(viewport={"width": 1360, "height": 860}, device_scale_factor=1)
        page.on("dialog", lambda d: d.accept())
        page.goto(base + "/login")
        page.screenshot(path=str(out / "login.png"))
        page.fill("#username", "wang.li")
        page.fill("#password", password)
        page.click("#login")
        page.wait_for_url(base + "/queue")
        page.screenshot(path=str(out / "queue.png"))
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_selector("form.decide")
        page.screenshot(path=str(out / "pair.png"), full_page=True)
        page.keyboard.press("d")
        page.wait_for_selector("#flash")
        page.keyboard.press("s")
        page.wait_for_selector("#flash")
        page.goto(f"{base}/customers/{big[0]}")
        page.fill("#merge-other", big[1])
        page.click("#merge")
        page.wait_for_selector("#flash")
        page.locator("[data-unmerge]").last.click()
        page.wait_for_selector("#flash")
        page.goto(f"{base}/customers/{big[0]}")
        page.screenshot(path=str(out / "customer.png"), full_page=True)
        if branchy:
            page.goto(f"{base}/customers/{branchy[0]}")
            page.screenshot(path=str(out / "customer_branches.png"))
        page.goto(f"{base}/customers?q={name[2:6]}")
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

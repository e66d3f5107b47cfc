"""The console's own pages (login, review queue, review item, golden customer, audit log) in Chinese and English, with
the language switch of the dashboards (`/lang/zh`, `/lang/en`: a cookie), in a real headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from core.config_file import load_config
from pipelines.steward import review_queue
from warehouse.engine import Warehouse

pytestmark = pytest.mark.browser


def test_the_switch_turns_the_console_pages_chinese_and_back(server: str, console_project: Any,
                                                             passwords: dict[str, str], browser: Any) -> None:
    from playwright.sync_api import expect

    cfg = load_config(console_project)
    wh = Warehouse(cfg.warehouse.url)
    item = review_queue.queue_ids(cfg, wh)[0]
    golden = wh.read_frame("SELECT golden_id FROM mdm.xref GROUP BY golden_id HAVING count(*) >= 2 "
                           "ORDER BY golden_id LIMIT 1")["golden_id"].iloc[0]
    wh.dispose()
    page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US").new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: d.accept())
    # The login page, switched before logging in.
    page.goto(server + "/login?next=%2Fqueue")
    expect(page.locator("h1")).to_have_text("Log in")
    page.click("#lang-zh")
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("form[action='/login']")).to_contain_text("用户名")
    expect(page.locator("#login")).to_have_text("登录")
    page.fill("#username", "alice")
    page.fill("#password", passwords["alice"])
    page.click("#login")
    page.wait_for_url(server + "/queue")
    # The queue: heading, filters, table header, in Chinese.
    expect(page.locator("h1")).to_contain_text("审核队列")
    expect(page.locator("#queue-filters")).to_contain_text("审核原因")
    expect(page.locator("#queue-filters")).to_contain_text("分配给")
    expect(page.locator("table.queue thead")).to_contain_text("优先级")
    expect(page.locator("nav")).to_contain_text("销售驾驶舱")
    # A review item: the score line, the buttons, the field names, the explanation.
    page.goto(f"{server}/queue/{item}")
    expect(page.locator("h1")).to_contain_text("审核条目")
    expect(page.locator("section.score")).to_contain_text("匹配概率")
    expect(page.locator("#same")).to_contain_text("同一公司")
    expect(page.locator("table.sidebyside")).to_contain_text("公司名称")
    expect(page.locator("main")).to_contain_text("原因：逐项解释")
    page.click("#different")  # a decision, for the audit log
    # A golden customer.
    page.goto(f"{server}/customers/{golden}")
    expect(page.locator("#golden-attributes thead")).to_contain_text("来源记录")
    expect(page.locator("#golden-attributes")).to_contain_text("统一社会信用代码")
    expect(page.locator("main")).to_contain_text("源记录")
    # The audit log.
    page.goto(server + "/audit")
    expect(page.locator("h1")).to_contain_text("审计日志")
    expect(page.locator("table.audit thead")).to_contain_text("变更内容")
    expect(page.locator("table.audit tbody")).to_contain_text("decide")
    # And back to English, on the page it was switched on.
    page.click("#lang-en")
    page.wait_for_url(server + "/audit")
    expect(page.locator("h1")).to_contain_text("Audit log")
    expect(page.locator("table.audit thead")).to_contain_text("what changed")
    page.goto(server + "/queue")
    expect(page.locator("h1")).to_contain_text("Review queue")
    assert not problems, problems

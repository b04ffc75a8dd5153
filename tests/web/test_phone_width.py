"""No page a unit, a supervisor or the inspection office works on scrolls sideways on a phone (390 px): the page itself
(document.scrollingElement) and each table inside it (Element Plus scrolls a table in its own wrapper) fit the
width. Set up through the REST API behind the gateway so every page has something to show: a task signed off after a
superficial rejection (two applications on its page, a clue), a task waiting on the supervisor, a re-inspection
draw. Then each role opens its pages (the leader's cockpit too) at desktop and phone size; screenshots under
var/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from tests.gateway.stack import Stack
from tests.web.test_breakdown_pages import Api, sign_off_with_a_superficial_rejection, task, upload
from tests.web.test_journeys import sign_in

Shot = Callable[[Page, str], Awaitable[Path]]
WAIT = 30_000
OFFICE = "呼和浩特市生态环境保护督察整改办公室"

# what scrolls sideways: the page, and every table's header and body wrappers (their scroll width beyond their box)
WIDE = """() => {
  const page = document.scrollingElement
  const out = []
  if (page.scrollWidth > window.innerWidth) out.push(`page ${page.scrollWidth} > ${window.innerWidth}`)
  for (const w of document.querySelectorAll('.el-table__header-wrapper, .el-table__body-wrapper .el-scrollbar__wrap')) {
    if (w.scrollWidth > w.clientWidth + 1) {
      const table = w.closest('.el-table')
      const label = table?.closest('section, .el-card, .page')?.querySelector('h1, h2, .el-card__header')?.textContent
      out.push(`table (${(label || '').trim().slice(0, 30)}) ${w.scrollWidth} > ${w.clientWidth}`)
    }
  }
  return out
}"""


async def assert_no_sideways_scroll(page: Page) -> None:
    """Neither the page nor a table on it is wider than the window (a phone would scroll it sideways)."""
    wide: list[str] = await page.evaluate(WIDE)
    assert not wide, f"{page.url} scrolls sideways at {page.viewport_size}: {wide}"


async def set_up(api: Api, screen: str) -> dict[str, Any]:
    """A task signed off after a superficial rejection, one waiting on the supervisor, a re-inspection draw."""
    tag = screen.upper()
    done = await api.call("POST", "/v1/issues", "inspection-office", "admin", 201, json=task(
        f"PHN-{tag}-01", "赛罕区燃煤锅炉淘汰(手机宽度)", responsible="saihan", supervising="city-eeb", region="saihan"))
    await sign_off_with_a_superficial_rejection(api, done["id"], seed=21 if screen == "desktop" else 23)
    waiting = await api.call("POST", "/v1/issues", "inspection-office", "admin", 201, json=task(
        f"PHN-{tag}-02", "赛罕区散乱污企业整治(手机宽度)", responsible="saihan", supervising="city-eeb", region="saihan"))
    await api.call("POST", f"/v1/issues/{waiting['id']}/start", "saihan", "responsible")
    evidence = await upload(api, waiting["id"], "saihan", "整治后.jpg", seed=25 if screen == "desktop" else 27)
    await api.call("POST", "/v1/closures", "saihan", "responsible", 201, json={
        "issue_id": waiting["id"], "summary": "已关停取缔散乱污企业 12 家,现场设备已拆除,并由街道办逐户复核存档",
        "evidence_ids": [evidence["id"]]})
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    await api.call("POST", "/v1/samples", "inspection-office", "admin", 201,
                   json={"period": period, "scope": "all", "count": 5})
    return {"done": done, "waiting": waiting}


async def visit(page: Page, path: str, ready: str, screenshot: Shot, name: str) -> None:
    """Open a page, wait for the text that says it has its data, check its width, keep a screenshot."""
    await page.goto(path)
    await expect(page.locator("main").get_by_text(ready).first).to_be_visible(timeout=WAIT)
    await expect(page.get_by_text("正在加载")).to_have_count(0, timeout=WAIT)
    await assert_no_sideways_scroll(page)
    await screenshot(page, name)


async def test_the_pages_of_units_supervisors_and_the_office_fit_a_phone_without_scrolling_sideways(
        browser: Browser, screen: str, web_stack: Stack, screenshot: Shot) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        made = await set_up(Api(web_stack, client), screen)
    done, waiting = made["done"], made["waiting"]

    unit = await sign_in(browser, web_stack, screen, "赛罕区", "责任单位")
    await visit(unit, "/tasks", waiting["code"], screenshot, "unit-tasks")
    await visit(unit, f"/issues/{done['id']}", "已完成全部改造(第 2 次申请)", screenshot, "unit-issue")
    await visit(unit, "/inbox", "消息", screenshot, "unit-inbox")
    await visit(unit, "/rankings", "考核排名与通报", screenshot, "unit-rankings")

    supervisor = await sign_in(browser, web_stack, screen, "呼和浩特市生态环境局", "督办单位")
    await visit(supervisor, "/review", waiting["code"], screenshot, "supervisor-review")
    await visit(supervisor, f"/issues/{waiting['id']}", "已关停取缔散乱污企业", screenshot, "supervisor-issue")
    await visit(supervisor, "/inbox", "消息", screenshot, "supervisor-inbox")

    admin = await sign_in(browser, web_stack, screen, OFFICE, "督察整改办(管理员)")
    await visit(admin, "/samples", "抽查批次", screenshot, "admin-samples")
    batches = admin.get_by_role("region", name="抽查批次")
    await batches.get_by_role("button", name=re.compile("^查看")).first.click()
    await expect(admin.get_by_role("region", name="抽查批次详情")).to_contain_text("随机种子", timeout=WAIT)
    await assert_no_sideways_scroll(admin)
    await screenshot(admin, "admin-sample-detail")
    await visit(admin, "/filing", "台账迁入的已销号任务", screenshot, "admin-filing")
    await visit(admin, "/issues", "整改台账", screenshot, "admin-ledger")

    leader = await sign_in(browser, web_stack, screen, OFFICE, "市领导")
    await leader.wait_for_function("() => performance.getEntriesByName('cockpit-ready').length > 0", timeout=WAIT)
    await expect(leader.get_by_role("link", name=re.compile("^升级督办任务"))).to_be_visible(timeout=WAIT)
    await assert_no_sideways_scroll(leader)
    await screenshot(leader, "leader-cockpit")
    await visit(leader, "/clues", "问责线索", screenshot, "leader-clues")
    await leader.get_by_role("button", name=re.compile("^查看触发事件")).first.click()
    await expect(leader.get_by_role("region", name=re.compile("^触发事件"))).to_be_visible(timeout=WAIT)
    await assert_no_sideways_scroll(leader)
    await screenshot(leader, "leader-clue-events")
    for p in (unit, supervisor, admin, leader):
        await p.context.close()

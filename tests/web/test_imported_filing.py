"""Filing (备案) a sign-off moved in by a historical ledger import, through the UI only: the admin imports a ledger row
that was signed off elsewhere (status signed_off with its sign-off date), finds it on 销号备案 among the imported
sign-offs (it has no application here to file), files it, sees it leave the list and its page say 已备案. Run at
desktop and phone size (a task of its own for each), screenshots under var/screenshots/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, expect

from tests.gateway.stack import Stack
from tests.web.test_journeys import HEADER, menu, sign_in
from tests.web.test_phone_width import assert_no_sideways_scroll

Shot = Callable[[Page, str], Awaitable[Path]]
WAIT = 30_000
OFFICE = "呼和浩特市生态环境保护督察整改办公室"


def moved_in_csv(code: str, title: str) -> bytes:
    """A one-task ledger kept elsewhere: assigned 2020-05-17, signed off there on 2020-06-20 by the city's EEB."""
    row = (f"{code},nm-2019-inspection,air,{title},saihan,saihan,,city-eeb,分管副市长(生态环境),2020-06-30,"
           ",,,,清理裸露地面并覆盖防尘网,2020-05-17,signed_off,2020-06-20,city-eeb")
    return f"{HEADER},status,signed_off_on,signed_off_by\n{row}\n".encode()


def record(page: Page, text: str) -> Locator:
    """A row of a list: a table row on a desktop, a card on a phone."""
    return page.locator(".el-table__row, .records > li").filter(has_text=text)


async def test_an_imported_sign_off_is_filed_from_the_filing_page_and_its_page_says_filed(
        browser: Browser, screen: str, web_stack: Stack, screenshot: Shot) -> None:
    code = f"MOV-{screen.upper()}-01"
    title = f"赛罕区历史台账已销号任务({'电脑' if screen == 'desktop' else '手机'}端)"
    admin = await sign_in(browser, web_stack, screen, OFFICE, "督察整改办(管理员)")

    await menu(admin, screen, "整改台账")
    await admin.get_by_role("button", name="导入台账").click()
    dialog = admin.get_by_role("dialog", name="导入台账(CSV 或 XLSX)")
    await dialog.get_by_label("选择文件").set_input_files(
        files=[{"name": "ledger.csv", "mimeType": "text/csv", "buffer": moved_in_csv(code, title)}])
    await expect(admin.get_by_text("已导入 1 条任务").first).to_be_visible(timeout=WAIT)
    await screenshot(admin, "a-imported")
    if screen == "phone":  # the dialog covers the page on a phone: close it before opening the menu
        await admin.keyboard.press("Escape")
        await expect(dialog).to_be_hidden(timeout=WAIT)

    # 销号备案: the imported sign-off is listed apart from the accepted applications, with its own 备案 button
    await menu(admin, screen, "销号备案")
    if screen == "phone":  # the menu's drawer closes on the way to the page: wait until it has gone
        await expect(admin.get_by_role("dialog", name="闭环")).to_be_hidden(timeout=WAIT)
    imported = admin.get_by_role("region", name="台账迁入的已销号任务")
    row = record(admin, code)
    await expect(imported.locator(".el-table__row, .records > li").filter(has_text=code)).to_be_visible(timeout=WAIT)
    await expect(row).to_contain_text("赛罕区")
    await assert_no_sideways_scroll(admin)
    await screenshot(admin, "b-to-file")
    await row.get_by_role("button", name="备案").click()
    await expect(admin.locator(".el-message").filter(has_text=f"已备案:{code}").first).to_be_visible(timeout=WAIT)
    await expect(row).to_have_count(0, timeout=WAIT)
    await screenshot(admin, "c-filed")

    # it stays gone once the issues service has heard of the filing, and its page says 已备案
    link = f"/issues?q={code}"
    await admin.goto(link)
    issue = admin.get_by_role("link", name=code).first
    await expect(issue).to_be_visible(timeout=WAIT)
    await issue.click()
    await expect(admin.get_by_role("heading", name=code)).to_be_visible(timeout=WAIT)
    tag = admin.locator(".el-tag").filter(has_text="已备案")
    for _ in range(30):
        if await tag.count():
            break
        await admin.wait_for_timeout(1000)
        await admin.reload()
    await expect(tag.first).to_be_visible(timeout=WAIT)
    await expect(admin.get_by_text("台账迁入:销号日期 2020-06-20").first).to_be_visible()
    await screenshot(admin, "d-issue-filed")
    await menu(admin, screen, "销号备案")
    await expect(admin.get_by_role("heading", name="台账迁入的已销号任务")).to_be_visible(timeout=WAIT)
    await expect(admin.get_by_role("region", name="台账迁入的已销号任务")).not_to_contain_text("正在加载", timeout=WAIT)
    await expect(record(admin, code)).to_have_count(0)
    await admin.context.close()

"""One rectification through the UI only, every role in its own browser: the admin imports the task (a bad cell
first), the unit starts it, uploads a photo with its position and applies, the supervisor rejects with a reason, the
unit sees why and applies again, the supervisor accepts, the admin files it; the leader's cockpit and the public
page then show it. Run at desktop and phone size (a task of its own for each), screenshots under var/screenshots/.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Browser, Locator, Page, expect

from tests.gateway.stack import Stack
from tests.web.conftest import new_page

Shot = Callable[[Page, str], Awaitable[Path]]
WAIT = 30_000
HEADER = ("code,round,category,title,region,responsible_org,cooperating_orgs,supervising_org,leader,deadline,"
          "target_indicator,target_op,target_value,target_unit,measures,assigned_on")
# 新城区 (WGS-84): the phone's position when the photo is taken
OPEN_MENU = "打开菜单"
SITE = {"latitude": 40.8414, "longitude": 111.6629}


def ledger_csv(code: str, title: str, deadline: str) -> bytes:
    """A one-task ledger in the columns of data/ledger.csv."""
    row = (f"{code},nm-2019-inspection,air,{title},xincheng,xincheng,,city-eeb,分管副市长(生态环境),{deadline},"
           ",,,,清理裸露地面并覆盖防尘网,2020-05-17")
    return f"{HEADER}\n{row}\n".encode()


def png(seed: int) -> bytes:
    """A small real PNG (content sniffing checks the bytes), different for each screen so it is no reused photo."""
    width = height = 24
    raw = b"".join(
        b"\x00" + b"".join(bytes(((x * 9 + seed) % 256, (y * 11) % 256, (seed * 31) % 256)) for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def sign_in(browser: Browser, stack: Stack, screen: str, org: str, role: str, *, geo: bool = False) -> Page:
    """A fresh browser (no storage) signed in through the sign-in page: pick the org by name, then the role."""
    page = await new_page(browser, screen=screen, base_url=stack.url)
    if geo:
        await page.context.grant_permissions(["geolocation"])
        await page.context.set_geolocation({**SITE, "accuracy": 8})
    await page.goto("/signin")
    await page.get_by_role("combobox", name="单位").click(force=True)
    await page.get_by_role("option", name=org, exact=True).click()
    # the role's visible label (the radio input itself is hidden by Element Plus; picking the org may preset a role)
    await page.locator("label.el-radio").filter(has_text=role).click()
    await expect(page.get_by_role("radio", name=role, exact=True)).to_be_checked()
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("button", name="登录", exact=True)).to_have_count(0, timeout=WAIT)
    return page


async def menu(page: Page, screen: str, label: str) -> None:
    """Open a page from the main menu (a drawer on phones)."""
    if screen == "phone":
        await page.get_by_role("button", name=OPEN_MENU).click()
    await page.get_by_role("navigation", name="主菜单").get_by_role("link", name=re.compile(f"^{label}")).click()


async def unread(page: Page, screen: str) -> int:
    """The unread count shown beside 消息 (a badge on desktop, (未读 N) in the phone's drawer); 0 when none shows."""
    if screen == "phone":
        await page.get_by_role("button", name=OPEN_MENU).click()
    link = page.get_by_role("navigation", name="主菜单").get_by_role("link", name=re.compile(r"^消息"))
    await expect(link).to_be_visible(timeout=WAIT)
    found = re.search(r"(\d+)", await link.inner_text())
    if screen == "phone":
        await page.keyboard.press("Escape")
        await expect(link).to_be_hidden(timeout=WAIT)
    return int(found.group(1)) if found else 0


async def listed_unread(page: Page) -> int:
    """How many unread notices the signed-in org's inbox lists (GET /v1/inbox with the page's own token)."""
    return int(await page.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem('closeloop.session')).token
        const r = await fetch('/v1/inbox?unread=true&limit=500', { headers: { Authorization: `Bearer ${token}` } })
        return (await r.json()).items.length
    }"""))


def card(page: Page, code: str) -> Locator:
    """The task's card (我的任务, 待核查): the card that names the task's code."""
    return page.locator(".el-card").filter(has_text=code)


async def until_status(page: Page, task: Locator, label: str) -> None:
    """Reopen the page until the task's status tag reads `label` (the issues service moves it on the closure's event)."""
    tag = task.locator(".tags .el-tag").first
    for _ in range(30):
        await expect(tag).to_be_visible(timeout=WAIT)
        if (await tag.inner_text()).strip() == label:
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(tag).to_have_text(label)


async def kpi(page: Page, label: str) -> int:
    """A number of the cockpit's top row, as shown."""
    text = await page.locator(".kpi").filter(has_text=label).locator(".n").inner_text()
    return int(text)


async def decide(page: Page, code: str, *, accept: bool, reason: str = "", opinion: str) -> None:
    """The supervisor's decision on the task's open application."""
    c = card(page, code)
    await expect(c).to_be_visible(timeout=WAIT)
    await c.get_by_role("radio", name="通过,予以销号" if accept else "不通过,退回整改").check(force=True)
    if reason:
        await c.get_by_role("combobox", name="退回原因").click(force=True)
        await page.get_by_role("option", name=reason, exact=True).click()
    await c.get_by_role("textbox", name="核查意见").fill(opinion)
    await c.get_by_role("button", name="提交").click()


async def apply(page: Page, code: str, summary: str) -> None:
    """Apply for sign-off from the task's card with every piece of its evidence."""
    c = card(page, code)
    await c.get_by_role("button", name="申请销号").click()
    dialog = page.get_by_role("dialog", name="申请销号")
    await dialog.get_by_role("textbox", name="整改情况说明").fill(summary)
    photo = dialog.get_by_role("checkbox", name=re.compile(r"现场照片 · site\.png"))
    await expect(photo).to_have_count(1, timeout=WAIT)
    if not await photo.is_checked():
        await dialog.locator("label.el-checkbox").filter(has_text="site.png").click()
    await expect(photo).to_be_checked()
    await dialog.get_by_role("button", name="提交").click()
    await expect(page.get_by_text("销号申请已提交,等待督办单位核查").first).to_be_visible(timeout=WAIT)


async def test_a_task_from_import_to_filing_through_the_ui_then_the_cockpit_and_the_public_page_show_it(
        browser: Browser, screen: str, web_stack: Stack, screenshot: Shot) -> None:
    code = f"WEB-{screen.upper()}-01"
    title = f"新城区建筑工地扬尘整治({'电脑' if screen == 'desktop' else '手机'}端)"

    # the leader's cockpit before: the counts a person reads
    leader = await sign_in(browser, web_stack, screen, "呼和浩特市生态环境保护督察整改办公室", "市领导")
    await expect(leader.get_by_role("heading", name="领导驾驶舱")).to_be_visible(timeout=WAIT)
    await expect(leader.locator(".kpi").first).to_be_visible(timeout=WAIT)
    total_before, closed_before = await kpi(leader, "任务总数"), await kpi(leader, "已销号/备案")
    await leader.close()

    # (a) the admin imports a ledger with a bad deadline, sees it on its row, fixes it, imports
    admin = await sign_in(browser, web_stack, screen, "呼和浩特市生态环境保护督察整改办公室", "督察整改办(管理员)")
    await menu(admin, screen, "整改台账")
    await admin.get_by_role("button", name="导入台账").click()
    dialog = admin.get_by_role("dialog", name="导入台账(CSV 或 XLSX)")
    await dialog.get_by_label("选择文件").set_input_files(
        files=[{"name": "ledger.csv", "mimeType": "text/csv", "buffer": ledger_csv(code, title, "2020-13-45")}])
    await expect(dialog.get_by_role("alert").filter(has_text="发现 1 处错误")).to_contain_text(
        "发现 1 处错误,未导入任何任务。", timeout=WAIT)
    bad = dialog.locator("td.bad")
    await expect(bad).to_have_count(1)
    await expect(bad).to_contain_text("2020-13-45")
    await expect(dialog.locator("tbody tr").filter(has=admin.locator("td.bad")).locator("th")).to_have_text("2")
    await screenshot(admin, "a-import-bad-cell")
    await dialog.get_by_label("选择文件").set_input_files(
        files=[{"name": "ledger.csv", "mimeType": "text/csv", "buffer": ledger_csv(code, title, "2020-06-30")}])
    await expect(admin.get_by_text("已导入 1 条任务").first).to_be_visible(timeout=WAIT)
    await screenshot(admin, "a-imported")

    # (b) the unit opens 我的任务, starts, uploads a photo with its position, applies
    unit = await sign_in(browser, web_stack, screen, "新城区", "责任单位", geo=True)
    await expect(unit.get_by_role("heading", name="我的任务")).to_be_visible(timeout=WAIT)
    task = card(unit, code)
    await expect(task).to_be_visible(timeout=WAIT)
    await expect(task.locator(".tags .el-tag").first).to_have_text("已交办")
    unread_before = await unread(unit, screen)
    await task.get_by_role("button", name="开始整改").click()
    await expect(task.locator(".tags .el-tag").first).to_have_text("整改中", timeout=WAIT)
    await task.get_by_role("button", name="上传佐证").click()
    upload = unit.get_by_role("dialog", name="上传佐证")
    await upload.get_by_label("拍照或选择照片").set_input_files(
        files=[{"name": "site.png", "mimeType": "image/png", "buffer": png(7 if screen == "desktop" else 91)}])
    await expect(upload.get_by_text("site.png")).to_be_visible()
    await upload.get_by_role("button", name="获取当前位置").click()
    await expect(upload.get_by_text("已定位,精度约 8 米")).to_be_visible(timeout=WAIT)
    await screenshot(unit, "b-evidence")
    await upload.get_by_role("button", name="提交").click()
    await expect(unit.get_by_text("佐证已上传").first).to_be_visible(timeout=WAIT)
    await apply(unit, code, "已清理裸露地面 3000 平方米并全部覆盖防尘网。")
    await until_status(unit, task, "申请销号")
    await expect(task.get_by_role("button", name="申请销号")).to_have_count(0)
    await screenshot(unit, "b-applied")

    # (c) the supervisor rejects with a reason and an opinion
    supervisor = await sign_in(browser, web_stack, screen, "呼和浩特市生态环境局", "督办单位")
    await expect(supervisor.get_by_role("heading", name="待核查的销号申请")).to_be_visible(timeout=WAIT)
    await expect(card(supervisor, code)).to_contain_text("第 1 次申请", timeout=WAIT)
    await expect(card(supervisor, code).get_by_role("img", name="佐证照片 site.png").first).to_be_visible(timeout=WAIT)
    await decide(supervisor, code, accept=False, reason="佐证材料不足", opinion="缺少覆盖后的全景照片")
    await expect(supervisor.get_by_text("已退回整改").first).to_be_visible(timeout=WAIT)
    await screenshot(supervisor, "c-rejected")

    # the unit sees why (and a notice in its inbox), and applies again
    await until_status(unit, task, "整改中")
    await expect(task).to_contain_text("上次申请被退回", timeout=WAIT)
    await expect(task).to_contain_text("退回原因:佐证材料不足。意见:缺少覆盖后的全景照片")
    await screenshot(unit, "c-unit-sees-reason")
    # the rejection's notice raises the unread count beside 消息, the exact count (no "9+" cap), read when a page
    # opens: the notice may arrive a moment after the rejection, so the unit opens the page again until it shows
    for _ in range(20):
        if await unread(unit, screen) > unread_before:
            break
        await unit.wait_for_timeout(1000)
        await unit.reload()
    # exactly the unread notices the inbox lists (asked again while another notice may still be arriving)
    for _ in range(10):
        shown, listed = await unread(unit, screen), await listed_unread(unit)
        if shown == listed:
            break
        await unit.wait_for_timeout(1000)
        await unit.reload()
    assert unread_before < shown == listed, f"the badge shows {shown}, the inbox lists {listed} unread"
    # and the inbox has it, unread, with the reason
    await menu(unit, screen, "消息")
    notice = unit.locator(".inbox li").filter(has_text=f"销号申请被退回:{code}")
    for _ in range(20):
        if await notice.count():
            break
        await unit.wait_for_timeout(1000)
        await unit.reload()
    await expect(notice.first).to_contain_text("未读", timeout=WAIT)
    await expect(notice.first).to_contain_text("退回原因")
    # reading it lowers the count beside 消息 at once (the inbox asks again; no reload)
    await notice.first.get_by_role("button", name="标为已读").click()
    await expect(notice.first).not_to_contain_text("未读", timeout=WAIT)
    for _ in range(10):
        after, listed_now = await unread(unit, screen), await listed_unread(unit)
        if after == listed_now and (after == shown - 1 or listed_now >= shown):
            break
        await unit.wait_for_timeout(500)
    # a notice that arrives meanwhile (a reminder on a slow machine) keeps the count up; the badge must still be
    # the inbox's own count, and lower by one unless something new is listed
    assert after == listed_now and (after == shown - 1 or listed_now >= shown), \
        f"{after} unread after reading one of {shown}, the inbox lists {listed_now}"
    await menu(unit, screen, "我的任务")
    await apply(unit, code, "已补充覆盖后的全景照片。")

    # the supervisor accepts the second application
    await supervisor.reload()
    await expect(card(supervisor, code)).to_contain_text("第 2 次申请", timeout=WAIT)
    await decide(supervisor, code, accept=True, opinion="现场核查属实,同意销号")
    await expect(supervisor.get_by_text("已核查通过,任务已销号").first).to_be_visible(timeout=WAIT)
    await screenshot(supervisor, "c-accepted")

    # the admin files it (备案)
    await menu(admin, screen, "销号备案")
    # a table row on a desktop, a card on a phone
    row = admin.locator(".el-table__row, .records > li").filter(has_text="已补充覆盖后的全景照片。")
    await expect(row.first).to_be_visible(timeout=WAIT)
    await row.first.get_by_role("button", name="备案").click()
    await expect(admin.locator(".el-message").filter(has_text="已备案").first).to_be_visible(timeout=WAIT)
    await expect(row).to_have_count(0, timeout=WAIT)
    await screenshot(admin, "c-filed")

    # (d) the leader's cockpit: one more task, one more closed
    leader = await sign_in(browser, web_stack, screen, "呼和浩特市生态环境保护督察整改办公室", "市领导")
    await expect(leader.locator(".kpi").first).to_be_visible(timeout=WAIT)
    await expect(leader.locator(".kpi").filter(has_text="任务总数").locator(".n")).to_have_text(str(total_before + 1))
    await expect(leader.locator(".kpi").filter(has_text="已销号/备案").locator(".n")).to_have_text(str(closed_before + 1))
    await expect(leader.get_by_text("环境目标走势")).to_be_visible()
    # the reference tasks were due 2020-12-31: long past, so escalated, each with its unit and leader in charge
    escalated = leader.locator(".el-card").filter(has=leader.get_by_role("link", name=re.compile("^升级督办任务")))
    rows = escalated.locator(".el-table__row, .records > li")  # a table on a desktop, cards on a phone
    # the reference tasks, not another journey's task left open when that journey stopped
    await expect(rows.filter(has_text="HH-2020-").first).to_be_visible(timeout=WAIT)
    assert await kpi(leader, "升级督办") >= await rows.count() > 0
    # the app's own mark once counts and charts are drawn (the page's CSP refuses string evaluation: ask by function)
    await leader.wait_for_function("() => performance.getEntriesByName('cockpit-ready').length > 0", timeout=WAIT)
    await screenshot(leader, "d-cockpit")

    # (e) the public page, no sign-in: the finding under its district, with its new status
    public = await new_page(browser, screen=screen, base_url=web_stack.url)
    await public.goto("/public")
    await expect(public.get_by_role("heading", name="生态环境保护督察整改公开信息")).to_be_visible(timeout=WAIT)
    await public.get_by_role("combobox", name="旗县区").click(force=True)
    await public.get_by_role("option", name=re.compile(r"^新城区")).click()
    finding = public.locator(".findings li").filter(has_text=code)
    await expect(finding).to_be_visible(timeout=WAIT)
    await expect(finding).to_contain_text(title)
    await expect(finding).to_contain_text("已备案")
    await expect(finding).to_contain_text("新城区")
    await expect(public.locator(".findings li").filter(has_not_text="新城区")).to_have_count(0)
    await screenshot(public, "e-public")
    for p in (admin, unit, supervisor, leader, public):
        await p.context.close()

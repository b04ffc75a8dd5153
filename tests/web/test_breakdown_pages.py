"""Task breakdown, milestones, re-inspection draws and accountability clues in the browser, against the real services.

Set up through the REST API behind the gateway: a city task split into two district sub-tasks, a milestone on one,
the other one rejected as superficial and then signed off. Then, each role in its own browser: the admin reads the
parent's sub-task tree and the sub-task's milestone; the responsible unit reports the milestone and the supervising
unit confirms it through the page; the admin draws a re-inspection sample on /samples; the leader reads the clue on
/clues. Run at desktop and phone size (tasks of their own for each), screenshots under var/screenshots/.
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

from tests.e2e.cluster import eventually
from tests.e2e.flow import photo
from tests.gateway.stack import Stack
from tests.web.test_journeys import menu, sign_in

Shot = Callable[[Page, str], Awaitable[Path]]
WAIT = 30_000
OFFICE = "呼和浩特市生态环境保护督察整改办公室"
EEB = "呼和浩特市生态环境局"
DEADLINE = "2027-06-30"
MILESTONE_DAY = "2027-03-31"
MILESTONE = "完成 214 个村清洁取暖改造的 60%"


class Api:
    """REST calls through the gateway's one address, each with a development token of a role and org."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack, self.client = stack, client

    def auth(self, org: str, role: str) -> dict[str, str]:
        return self.stack.cluster.auth(sub=f"{role}@{org}", org=org, roles=role)

    async def call(self, method: str, path: str, org: str, role: str, expect_status: int = 200,
                   **kw: Any) -> Any:
        r = await self.client.request(method, f"{self.stack.url}{path}", headers=self.auth(org, role), **kw)
        assert r.status_code == expect_status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()


def task(code: str, title: str, *, responsible: str, supervising: str, region: str | None,
         parent_id: str | None = None, milestones: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"code": code, "round_id": "nm-2019-inspection", "category": "air", "title": title,
            "region_id": region, "responsible_org_id": responsible, "supervising_org_id": supervising,
            "leader": "分管副市长(生态环境)", "deadline": DEADLINE, "measures": "逐村核实改造户数,按月报送进度",
            "parent_id": parent_id, "milestones": milestones or []}


async def upload(api: Api, issue_id: str, org: str, name: str, seed: int) -> Any:
    """A photo of the task, uploaded by its unit once verification has heard of the task."""
    async def uploaded() -> Any:
        r = await api.client.post(f"{api.stack.url}/v1/evidence", headers=api.auth(org, "responsible"),
                                  data={"issue_id": issue_id, "kind": "photo"},
                                  files={"file": (name, photo(seed), "image/jpeg")})
        assert r.status_code in (201, 404), r.text  # 404 until verification has heard of the task
        return r.json() if r.status_code == 201 else None

    return await eventually(uploaded)


async def sign_off_with_a_superficial_rejection(api: Api, issue_id: str, seed: int) -> None:
    """The unit starts, uploads a photo and applies; the supervisor rejects it as superficial; the unit applies
    again and the supervisor accepts."""
    await api.call("POST", f"/v1/issues/{issue_id}/start", "saihan", "responsible")
    evidence = await upload(api, issue_id, "saihan", "现场.jpg", seed)
    for attempt, decision in enumerate(({"decision": "reject", "reason_code": "superficial",
                                         "opinion": "只覆盖了路边可见的地块,村内未改造"},
                                        {"decision": "accept", "opinion": "复查属实,同意销号"})):
        if attempt:  # the issues service moves the task back to in_progress on the rejection's event
            async def back_in_progress() -> bool:
                got = await api.call("GET", f"/v1/issues/{issue_id}", "saihan", "responsible")
                return bool(got["status"] == "in_progress")
            await eventually(back_in_progress)
        closure = await api.call("POST", "/v1/closures", "saihan", "responsible", 201, json={
            "issue_id": issue_id, "summary": f"已完成全部改造(第 {attempt + 1} 次申请)",
            "evidence_ids": [evidence["id"]]})
        await api.call("POST", f"/v1/closures/{closure['id']}/decision", "city-eeb", "supervisor", json=decision)


async def set_up(api: Api, screen: str) -> dict[str, Any]:
    """A parent with two district sub-tasks, a milestone on the first, the second signed off after a rejection."""
    tag = screen.upper()
    parent = await api.call("POST", "/v1/issues", "inspection-office", "admin", 201, json=task(
        f"BRK-{tag}", f"清洁取暖改造({'电脑' if screen == 'desktop' else '手机'}端)", responsible="city-eeb",
        supervising="inspection-office", region=None))
    first = await api.call("POST", "/v1/issues", "inspection-office", "admin", 201, json=task(
        f"BRK-{tag}-XC", "新城区清洁取暖改造", responsible="xincheng", supervising="city-eeb", region="xincheng",
        parent_id=parent["id"], milestones=[{"due_on": MILESTONE_DAY, "description": MILESTONE,
                                             "target": "129 个村"}]))
    second = await api.call("POST", "/v1/issues", "inspection-office", "admin", 201, json=task(
        f"BRK-{tag}-SH", "赛罕区清洁取暖改造", responsible="saihan", supervising="city-eeb", region="saihan",
        parent_id=parent["id"]))
    await api.call("POST", f"/v1/issues/{first['id']}/start", "xincheng", "responsible")
    await api.call("POST", f"/v1/issues/{first['id']}/progress", "xincheng", "responsible", 201,
                   json={"note": "已完成 86 个村", "percent": 40})
    await upload(api, first["id"], "xincheng", "改造村.jpg", seed=11 if screen == "desktop" else 13)
    await sign_off_with_a_superficial_rejection(api, second["id"], seed=3 if screen == "desktop" else 5)

    async def derived() -> Any:  # the parent's progress: (100 for the signed-off one + 40) / 2
        got = await api.call("GET", f"/v1/issues/{parent['id']}", "inspection-office", "admin")
        return got if got["derived_percent"] == 70 else None

    await eventually(derived, timeout=60, interval=0.5)
    return {"parent": parent, "first": first, "second": second}


async def test_breakdown_milestones_draws_and_clues_through_the_pages(
        browser: Browser, screen: str, web_stack: Stack, screenshot: Shot) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        api = Api(web_stack, client)
        made = await set_up(api, screen)
        parent, first, second = made["parent"], made["first"], made["second"]

        # (a) the admin reads the parent's sub-task tree: both sub-tasks with code and status, the derived progress
        admin = await sign_in(browser, web_stack, screen, OFFICE, "督察整改办(管理员)")
        await admin.goto(f"/issues/{parent['id']}")
        await expect(admin.get_by_role("heading", name=re.compile(parent["code"]))).to_be_visible(timeout=WAIT)
        tree = admin.get_by_role("region", name="任务分解")
        await expect(tree).to_contain_text("子任务 2 项,未销号 1 项")
        progress = tree.get_by_role("progressbar", name="分解进度")
        await expect(progress).to_have_attribute("aria-valuenow", "70")
        await expect(progress).to_contain_text("70%")
        xc = tree.get_by_role("listitem").filter(has_text=first["code"])
        sh = tree.get_by_role("listitem").filter(has_text=second["code"])
        await expect(xc).to_contain_text("新城区")
        await expect(xc).to_contain_text("整改中")
        await expect(xc).to_contain_text("40%")
        await expect(sh).to_contain_text("赛罕区")
        await expect(sh).to_contain_text("已销号")
        await expect(admin.get_by_role("region", name="重要节点")).to_contain_text("本任务未设重要节点。")
        await tree.scroll_into_view_if_needed()
        await screenshot(admin, "a-parent-tree")

        # the sub-task's own page (from the tree): its parent, its milestone with the due date
        await xc.get_by_role("link", name=first["code"]).click()
        await expect(admin.get_by_role("heading", name=re.compile(first["code"]))).to_be_visible(timeout=WAIT)
        await expect(admin.get_by_role("region", name="任务分解").get_by_role("link", name="查看上级任务")).to_be_visible()
        ms = admin.get_by_role("region", name="重要节点")
        await expect(ms).to_contain_text(MILESTONE_DAY)
        await expect(ms).to_contain_text(MILESTONE)
        await expect(ms).to_contain_text("状态:待报告")
        await expect(ms.get_by_role("button", name="报告")).to_have_count(0)  # the admin neither reports nor reviews
        await ms.scroll_into_view_if_needed()
        await screenshot(admin, "a-sub-task-milestone")

        # (b) the responsible unit reports the milestone met through the page
        unit = await sign_in(browser, web_stack, screen, "新城区", "责任单位")
        await unit.goto(f"/issues/{first['id']}")
        ms = unit.get_by_role("region", name="重要节点")
        await expect(ms).to_contain_text(MILESTONE, timeout=WAIT)
        report = ms.get_by_role("button", name="报告", exact=True)
        await expect(report).to_be_disabled()  # a note first
        await ms.get_by_role("radio", name="按期完成").check(force=True)
        await ms.get_by_role("textbox", name="完成情况说明").fill("已完成 129 个村改造,超过节点目标")
        pick = ms.get_by_role("group", name="佐证材料")
        photo_box = pick.get_by_role("checkbox", name="现场照片 · 改造村.jpg")
        await pick.get_by_text("现场照片 · 改造村.jpg").click()  # its visible label (Element Plus hides the input)
        await expect(photo_box).to_be_checked()
        await ms.scroll_into_view_if_needed()
        await screenshot(unit, "b-milestone-report-form")
        await report.click()
        await expect(unit.get_by_text("节点情况已报告").first).to_be_visible(timeout=WAIT)
        await expect(ms).to_contain_text("状态:已报告待确认(按期完成)", timeout=WAIT)
        await expect(ms).to_contain_text("完成情况说明:已完成 129 个村改造,超过节点目标")
        await expect(ms.get_by_role("button", name="报告", exact=True)).to_have_count(0)
        reported = (await api.call("GET", f"/v1/issues/{first['id']}", "xincheng", "responsible"))["milestones"][0]
        assert len(reported["evidence_ids"]) == 1  # the photo ticked on the page went with the report
        await ms.scroll_into_view_if_needed()
        await screenshot(unit, "b-milestone-reported")

        # (c) the supervising unit confirms it through the page
        supervisor = await sign_in(browser, web_stack, screen, EEB, "督办单位")
        await supervisor.goto(f"/issues/{first['id']}")
        ms = supervisor.get_by_role("region", name="重要节点")
        await expect(ms).to_contain_text("状态:已报告待确认(按期完成)", timeout=WAIT)
        await expect(ms.get_by_role("button", name="退回")).to_be_disabled()  # disputing needs an opinion
        await ms.get_by_role("textbox", name=re.compile("^审核意见")).fill("经现场抽看 12 个村,属实")
        await ms.scroll_into_view_if_needed()
        await screenshot(supervisor, "c-milestone-review-form")
        await ms.get_by_role("button", name="确认").click()
        await expect(supervisor.get_by_text("节点报告已审核").first).to_be_visible(timeout=WAIT)
        await expect(ms).to_contain_text("状态:已确认(按期完成)", timeout=WAIT)
        await expect(ms).to_contain_text("审核意见:经现场抽看 12 个村,属实")
        await expect(ms.get_by_role("button", name="确认")).to_have_count(0)
        await ms.scroll_into_view_if_needed()
        await screenshot(supervisor, "c-milestone-confirmed")

        # (d) the admin draws a re-inspection sample of every signed-off or filed task on /samples
        await menu(admin, screen, "抽查复核")
        await expect(admin.get_by_role("heading", name="随机抽查复核")).to_be_visible(timeout=WAIT)
        period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
        await admin.get_by_role("textbox", name="抽查期间").fill(period)
        for group, choice in (("候选范围", "全部已销号、已备案任务"), ("抽取方式", "按数量")):
            # the choice's visible label (Element Plus hides the radio input itself)
            await admin.get_by_role("radiogroup", name=group).get_by_text(choice, exact=True).click()
            await expect(admin.get_by_role("radio", name=choice)).to_be_checked()
        await admin.get_by_role("spinbutton", name="抽取数量").fill("50")
        await screenshot(admin, "d-draw-form")
        await admin.get_by_role("button", name="抽取", exact=True).click()
        await expect(admin.get_by_text(re.compile(r"已抽取 \d+ 项任务")).first).to_be_visible(timeout=WAIT)
        newest = (await api.call("GET", "/v1/samples", "inspection-office", "admin", params={"limit": 1}))["items"][0]
        assert newest["period"] == period and newest["drawn"] == newest["candidates"] >= 1
        detail = admin.get_by_role("region", name="抽查批次详情")
        await expect(detail).to_contain_text(f"随机种子:{newest['seed']}", timeout=WAIT)
        await expect(detail).to_contain_text(f"候选任务 {newest['candidates']} 项,抽取 {newest['drawn']} 项")
        size = newest["checkpoint"]["size"]
        await expect(detail).to_contain_text(f"签名检查点(前 {size} 条事件)" if size else "尚无签名检查点")
        # a table row on a desktop, a card (list item) on a phone
        drawn = detail.get_by_role("row").or_(detail.get_by_role("listitem")).filter(
            has=admin.get_by_role("link", name=second["code"]))
        await expect(drawn).to_contain_text("赛罕区")
        await expect(drawn).to_contain_text("待复核")
        batches = admin.get_by_role("region", name="抽查批次")
        await expect(batches.get_by_role("row").or_(batches.get_by_role("listitem")).filter(has_text=period).first
                     ).to_be_visible()
        await detail.scroll_into_view_if_needed()
        await screenshot(admin, "d-drawn")

        # (e) the leader reads the clue the superficial rejection made, with the events behind it
        async def clue() -> Any:
            page = await api.call("GET", "/v1/accountability/clues", "inspection-office", "leader",
                                  params={"rule": "superficial", "limit": 200})
            return next((c for c in page["items"] if c["issue_id"] == second["id"]), None)

        line = await eventually(clue, timeout=60, interval=0.5)
        leader = await sign_in(browser, web_stack, screen, OFFICE, "市领导")
        await menu(leader, screen, "问责线索")
        await expect(leader.get_by_role("heading", name="问责线索")).to_be_visible(timeout=WAIT)
        # a table row on a desktop, a card (list item) on a phone
        lines = leader.get_by_role("row").or_(leader.get_by_role("listitem"))
        await expect(lines.filter(has_text="逾期未完成整改").first).to_be_visible(timeout=WAIT)
        if screen == "phone":  # the menu's drawer closes on the way to the page: wait until it has gone
            await expect(leader.get_by_role("dialog", name="闭环")).to_be_hidden(timeout=WAIT)
        await leader.get_by_role("combobox", name="按规则筛选").click(force=True)
        await leader.get_by_role("option", name="表面整改被退回", exact=True).click()
        row = lines.filter(has=leader.get_by_role("link", name=second["code"]))
        await expect(row).to_contain_text("表面整改被退回", timeout=WAIT)
        await expect(row).to_contain_text("赛罕区")
        await expect(row).to_contain_text("至少 1 次")
        await expect(row).to_contain_text("销号申请以“表面整改”被退回 1 次")
        await expect(lines.filter(has_text="逾期未完成整改")).to_have_count(0)
        await row.get_by_role("button", name="查看触发事件").click()
        events = leader.get_by_role("region", name=re.compile(f"^触发事件 · {second['code']}"))
        await expect(events).to_contain_text("销号申请被退回")
        if screen == "phone":  # one card per event
            await expect(events.get_by_role("listitem")).to_have_count(len(line["events"]))
        else:  # and the header row
            await expect(events.get_by_role("row")).to_have_count(len(line["events"]) + 1)
        await screenshot(leader, "e-clues")
        for p in (admin, unit, supervisor, leader):
            await p.context.close()

"""The monthly bulletin (月通报) on ranking.published: listed, downloadable, XLSX checked cell by cell."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from openpyxl import load_workbook

from runtime.clock import SettableClock
from tests.notify.helpers import ISSUES, LEADER, SCORING, inbox, org, registered, sh
from tests.support import running


def ranking(ranking_id: str) -> dict[str, object]:
    return {"ranking_id": ranking_id, "period": "2020-06", "kind": "departments", "scheme_id": "default",
            "scheme_version": 2, "published_at": "2020-07-05T02:00:00Z",
            "rows": [
                {"org_id": "city-water", "org_name": "呼和浩特市水务局", "score": 92.5, "rank": 1,
                 "components": {"on_time_closure": 100.0, "completion": 90.0, "quality": 85.0}, "overdue": 0},
                {"org_id": "city-eeb", "score": 61.25, "rank": 2,
                 "components": {"on_time_closure": 50.0, "completion": 60.0, "quality": 80.0}, "overdue": 1,
                 "named": True, "penalty": {"description": "扣减年度考核分2分"}}],
            "bottom_named": ["city-eeb"], "penalized": ["city-eeb"]}


async def test_ranking_published_becomes_a_bulletin_in_html_and_xlsx_sent_to_every_org_and_leader(
        tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-07-05T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        late = str(uuid.uuid4())
        await s.deliver(registered(late, deadline="2020-06-30", code="HH-2020-007"))
        await s.deliver(registered(str(uuid.uuid4()), deadline="2020-12-31", responsible="city-water"))
        await s.deliver(ISSUES.make("issue.progress_reported", late, {
            "issue_id": late, "responsible_org_id": "city-eeb", "note": "拆除散煤炉具", "percent": 40}))
        env = SCORING.make("ranking.published", "rk-1", ranking("rk-1"))
        assert await s.deliver(env) == "handled"
        assert await s.deliver(env) == "duplicate"
        who = s.auth(org="city-water", roles="responsible")
        r = await s.client.get("/v1/bulletins", headers=who)
        assert r.status_code == 200, r.text
        [b] = r.json()["items"]
        assert (b["id"], b["period"], b["bottom_named"], b["penalized"], b["overdue_count"]) == (
            "rk-1", "2020-06", ["city-eeb"], ["city-eeb"], 1)
        assert b["title"] == "2020年6月生态环境保护督察整改部门考核月通报"

        r = await s.client.get(b["xlsx_url"], headers=who)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == ["排名", "逾期清单"]
        rank = wb["排名"]
        assert rank["A1"].value == b["title"]
        assert [c.value for c in rank[2]] == ["排名", "单位", "单位编码", "综合得分", "按期销号", "完成率", "整改质量",
                                              "逾期任务数", "通报", "经济处罚"]
        assert [c.value for c in rank[3]] == [1, "呼和浩特市水务局", "city-water", 92.5, 100, 90, 85, 0, None, None]
        assert [c.value for c in rank[4]] == [2, "呼和浩特市生态环境局", "city-eeb", 61.25, 50, 60, 80, 1, "是",
                                              "扣减年度考核分2分"]
        assert rank.max_row == 4
        late_sheet = wb["逾期清单"]
        assert [c.value for c in late_sheet[2]] == ["编号", "整改任务", "责任单位", "监管单位", "包联领导", "整改时限",
                                                    "逾期天数", "状态", "最新进展"]
        assert [c.value for c in late_sheet[3]] == ["HH-2020-007", "全市细颗粒物(PM2.5)年均浓度实现达标",
                                                    "呼和浩特市生态环境局", "inspection-office", LEADER, "2020-06-30",
                                                    5, "已交办", "40% 拆除散煤炉具"]
        assert late_sheet.max_row == 3

        r = await s.client.get(b["html_url"], headers=who)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "<th>逾期天数</th>" in r.text and "呼和浩特市生态环境局" in r.text

        for org_id in ("city-eeb", "city-water"):
            items = await inbox(s, org_id, type="digest.monthly")
            assert [i["subject"] for i in items] == ["2020-06"], org_id
        leader = await inbox(s, None, leader=LEADER, type="digest.monthly")
        assert len(leader) == 1 and "通报单位(排名靠后):呼和浩特市生态环境局" in leader[0]["body"]
        r = await s.client.get("/v1/bulletins/nope/xlsx", headers=who)
        assert r.status_code == 404

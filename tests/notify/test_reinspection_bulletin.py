"""Re-inspection results (抽查复核) reach notify: the responsible unit is told, the month's bulletin lists them."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from runtime.clock import SettableClock
from tests.notify.helpers import SCORING, VERIFICATION, inbox, org, registered, sh
from tests.notify.test_bulletins import ranking
from tests.support import running


def drawn(sample_id: str, period: str, items: list[tuple[str, str]]) -> Any:
    return VERIFICATION.make("sample.drawn", sample_id, {
        "sample_id": sample_id, "algorithm": "closeloop-sample/v1", "period": period, "scope": "period",
        "basis": "count", "count": len(items), "stratify_by": "none",
        "checkpoint": {"service": "verification", "size": 0, "root": "0" * 64},
        "candidates": [{"issue_id": i} for i, _ in items], "seed": "a" * 64,
        "strata": [{"stratum": "", "candidates": len(items), "drawn": len(items)}],
        "items": [{"issue_id": i, "code": code, "responsible_org_id": "city-eeb",
                   "supervising_org_id": "inspection-office", "accepted_by_org_id": "inspection-office"}
                  for i, code in items]})


def reinspected(sample_id: str, issue_id: str, outcome: str) -> Any:
    return VERIFICATION.make("sample.reinspected", sample_id, {
        "sample_id": sample_id, "period": "2020-06", "issue_id": issue_id, "outcome": outcome,
        "opinion": "围挡拆除,裸土裸露" if outcome == "rebound" else "整改到位", "responsible_org_id": "city-eeb",
        "supervising_org_id": "inspection-office", "reinspector_org_id": "city-water"})


async def test_the_bulletin_of_the_draws_period_lists_the_drawn_tasks_and_what_re_inspection_found(
        tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=SettableClock(sh("2020-07-05T10:00"))) as s:
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        await s.deliver(org("city-water", "呼和浩特市水务局"))
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        for issue_id, code in ((a, "HH-A"), (b, "HH-B"), (c, "HH-C")):
            await s.deliver(registered(issue_id, deadline="2020-12-31", code=code))
        sample = str(uuid.uuid4())
        assert await s.deliver(drawn(sample, "2020-06", [(a, "HH-A"), (b, "HH-B"), (c, "HH-C")])) == "handled"
        assert await s.deliver(reinspected(sample, a, "confirmed")) == "handled"
        assert await s.deliver(reinspected(sample, b, "rebound")) == "handled"
        await s.deliver(drawn(str(uuid.uuid4()), "2020-05", [(c, "HH-C")]))  # another month's draw: not listed
        told = await inbox(s, "city-eeb")
        assert sorted(n["title"] for n in told if n["type"] == "sample.reinspected") == [
            "抽查复核结果:发现反弹", "抽查复核结果:复核属实"]

        assert await s.deliver(SCORING.make("ranking.published", "rk-7", ranking("rk-7"))) == "handled"
        who = s.auth(org="city-water", roles="responsible")
        r = await s.client.get("/v1/bulletins/rk-7/xlsx", headers=who)
        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == ["排名", "逾期清单", "抽查复核"]
        rows = [[c.value for c in row] for row in wb["抽查复核"].iter_rows(min_row=2)]
        assert rows == [["编号", "整改任务", "责任单位", "分层", "复核结果", "复核单位"],
                        ["HH-A", "全市细颗粒物(PM2.5)年均浓度实现达标", "呼和浩特市生态环境局", None, "复核属实",
                         "呼和浩特市水务局"],
                        ["HH-B", "全市细颗粒物(PM2.5)年均浓度实现达标", "呼和浩特市生态环境局", None, "发现反弹",
                         "呼和浩特市水务局"],
                        ["HH-C", "全市细颗粒物(PM2.5)年均浓度实现达标", "呼和浩特市生态环境局", None, "待复核", None]]
        html = (await s.client.get("/v1/bulletins/rk-7/html", headers=who)).text
        assert "<h2>抽查复核</h2>" in html and "本期抽查复核已销号任务 3 项:复核属实 1 项,发现反弹 1 项,待复核 1 项。" in html


async def test_a_bulletin_of_a_month_without_a_draw_has_no_re_inspection_sheet(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=SettableClock(sh("2020-07-05T10:00"))) as s:
        await s.deliver(org("city-eeb", "呼和浩特市生态环境局"))
        await s.deliver(SCORING.make("ranking.published", "rk-8", ranking("rk-8")))
        r = await s.client.get("/v1/bulletins/rk-8/xlsx", headers=s.auth(org="city-eeb", roles="responsible"))
        assert load_workbook(io.BytesIO(r.content)).sheetnames == ["排名", "逾期清单"]

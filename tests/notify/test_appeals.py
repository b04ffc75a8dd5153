"""An appeal's whole path through scoring and notify: filed, upheld, the superseding ranking's correction bulletin
(更正通报) rendered and read back from its PDF, the unit and the leaders told at each step, and the appeal with its
outcome in the next monthly bulletin."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from contracts.envelope import parse_time
from runtime.clock import SettableClock
from services.notify.documents import render_pending
from tests.notify.helpers import LEADER, SCORING, inbox, registered
from tests.notify.test_documents import docx_text, pdf_pngs, pdf_text
from tests.scoring.facts import bj
from tests.scoring.test_appeals import QUALITY, published, september, unit
from tests.support import running


async def scoring_story(tmp: Path) -> list[dict[str, Any]]:
    """September ranked on 09-29; saihan appeals its quality on 10-09; upheld on 10-16; October ranked on 11-03."""
    clock = SettableClock(bj("2020-09-01 09:00"))
    async with running("scoring", tmp, clock=clock) as s:
        ranking = await published(s, clock)
        clock.set(bj("2020-10-09 10:00"))
        r = await s.client.post(f"/v1/rankings/{ranking['id']}/appeals", headers=unit(s, "saihan"), json=QUALITY)
        assert r.status_code == 201, r.text
        clock.set(bj("2020-10-16 15:00"))
        r = await s.client.post(f"/v1/appeals/{r.json()['id']}/decision", headers=s.auth(roles="admin"), json={
            "outcome": "upheld", "reasons": "经核实,9月15日的退回系误判,已由监管单位撤销", "correction": {"quality": 90}})
        assert r.status_code == 200, r.text
        clock.set(bj("2020-11-03 10:00"))
        r = await s.client.post("/v1/rankings", headers=s.auth(roles="admin"), json={"period": "2020-10",
                                                                                    "kind": "region"})
        assert r.status_code == 201, r.text
        return await s.events()


def flat(text: str) -> str:
    return "".join(text.split())  # lines wrap where the page ends them


async def test_an_upheld_appeal_ends_in_a_correction_bulletin_and_in_the_next_monthly_bulletin(tmp_path: Path) -> None:
    events = await scoring_story(tmp_path / "scoring")
    types = [e["type"] for e in events]
    assert types.count("appeal.filed") == types.count("appeal.decided") == 1 and types.count("ranking.published") == 3
    clock = SettableClock(bj("2020-09-29 10:00"))
    async with running("notify", tmp_path / "notify", clock=clock) as n:
        for e in september()[:4]:  # the orgs (names for the documents)
            assert await n.deliver(e) == "handled"
        await n.deliver(registered(str(uuid.uuid4()), deadline="2020-12-31"))  # a ledger naming the leader in charge
        r = await n.client.put(f"/v1/address-book/{LEADER}", headers=n.auth(roles="admin"),
                               json={"name": "分管副市长", "emails": []})
        assert r.status_code == 200, r.text
        for e in events:
            clock.set(parse_time(e["time"]))
            assert await n.deliver(e) in ("handled", "ignored"), e["type"]
        assert await render_pending(n.rt) == 3
        who = n.auth(roles="leader")
        bulletins = {b["id"]: b for b in (await n.client.get("/v1/bulletins", headers=who)).json()["items"]}
        sept, correction, october = (e["data"]["ranking_id"] for e in events if e["type"] == "ranking.published")
        fix = bulletins[correction]
        assert (fix["supersedes"], fix["penalized"], fix["document"]["number"]) == (sept, ["xincheng"],
                                                                                    "呼环督改更〔2020〕1号")
        assert fix["appeal_id"] == events[types.index("appeal.filed")]["data"]["appeal_id"]
        assert fix["title"] == "关于更正2020年9月生态环境保护督察整改地区考核排名的通报"
        assert bulletins[sept]["document"]["number"] == "呼环督改通〔2020〕1号" and bulletins[sept]["appeal_id"] is None
        assert bulletins[october]["document"]["number"] == "呼环督改通〔2020〕2号"
        files = {}
        for key in (correction, october):
            doc = bulletins[key]["document"]
            files[key] = ((await n.client.get(doc["pdf_url"], headers=who)).content,
                          (await n.client.get(doc["docx_url"], headers=who)).content)
        unit_inbox = await inbox(n, "saihan")
        leader_inbox = await inbox(n, None, leader=LEADER)

    pdf, docx = files[correction]
    assert pdf_pngs(pdf, "correction", tmp_path)
    text = flat(pdf_text(pdf, tmp_path))
    for expected in ("呼环督改更〔2020〕1号", "关于更正2020年9月生态环境保护督察整改地区考核排名的通报",
                     "赛罕区对呼环督改通〔2020〕1号通报公布的2020年9月地区整改工作考核排名中「整改质量」一项提出申诉",
                     "申诉成立,予以更正", "「整改质量」由80分更正为90分", "更正后综合得分78.5分,排名第2位",
                     "经济处罚单位由赛罕区调整为新城区", "经核实,9月15日的退回系误判,已由监管单位撤销",
                     "附表1更正后的考核排名", "78.50", "同时废止", "2020年10月16日"):
        assert expected in text, expected
    assert "通报单位由" not in text  # the same three are named, in another order
    assert text.index("武川县") < text.index("赛罕区", text.index("附表1")) < text.index("新城区", text.index("附表1"))
    assert "更正后的考核排名" in docx_text(docx) and "呼环督改更〔2020〕1号" in docx_text(docx)

    pdf, docx = files[october]
    assert pdf_pngs(pdf, "monthly-with-appeals", tmp_path)
    text = flat(pdf_text(pdf, tmp_path))
    for expected in ("呼环督改通〔2020〕2号", "四、申诉复核情况", "涉及考核排名申诉1件,已作出复核决定1件(成立1件、部分成立0件、"
                     "不成立0件),正在复核0件", "附表4考核排名申诉复核情况", "2020-10-09", "2020-10-16"):
        assert expected in text, expected
    # a table's cells wrap into each other in the PDF's text: the row is read from the .docx
    words = docx_text(docx).splitlines()
    row = words[words.index("复核意见") + 1:][:7]
    assert row == ["赛罕区", "2020年9月", "整改质量(原 80 分)", "2020-10-09", "申诉成立,予以更正", "2020-10-16",
                   "经核实,9月15日的退回系误判,已由监管单位撤销"]

    kinds = [i["type"] for i in unit_inbox]
    assert {"appeal.filed", "appeal.decided", "digest.correction", "digest.monthly"} <= set(kinds)
    filed = next(i for i in unit_inbox if i["type"] == "appeal.filed")
    # 10 working days after 10-09: 10-10 Sat worked (1), 12 (2), 13, 14, 15, 16 (6), 19, 20, 21 (9), 22 (10)
    assert "2020-10-22" in filed["body"] and "已发布的排名继续有效" in filed["body"]
    decided = next(i for i in unit_inbox if i["type"] == "appeal.decided")
    assert "申诉成立,予以更正" in decided["title"] and "整改质量 90 分" in decided["body"]
    assert {"appeal.filed", "appeal.decided", "digest.correction"} <= {i["type"] for i in leader_inbox}


def decided(appeal_id: str, **over: Any) -> dict[str, Any]:
    return {"appeal_id": appeal_id, "ranking_id": "rk-1", "period": "2020-06", "kind": "department",
            "org_id": "city-eeb", "component": "quality", "outcome": "refused", "reasons": "核查记录完整,申诉不成立",
            "decided_at": "2020-07-20T02:00:00Z", "decided_on": "2020-07-20", "decision_due": "2020-07-17",
            "late": True, **over}


async def test_a_decision_arriving_before_its_filing_waits_and_a_redelivery_tells_no_one_twice(tmp_path: Path) -> None:
    clock = SettableClock(bj("2020-07-20 10:00"))
    async with running("notify", tmp_path, clock=clock) as n:
        filed = SCORING.make("appeal.filed", "appeal/ap-1", {
            "appeal_id": "ap-1", "ranking_id": "rk-1", "period": "2020-06", "kind": "department", "scheme_id": "default",
            "org_id": "city-eeb", "org_name": "市生态环境局", "component": "quality", "disputed_value": 80,
            "reason": "退回理由不成立", "filed_at": "2020-07-06T02:00:00Z", "filed_on": "2020-07-06",
            "appeal_due": "2020-07-10", "decision_due": "2020-07-17"})
        decision = SCORING.make("appeal.decided", "appeal/ap-1", decided("ap-1"))
        assert await n.deliver(decision) == "parked"
        assert await n.deliver(filed) == "handled"
        assert await n.deliver(filed) == "duplicate"
        assert await n.deliver(decision) == "duplicate"
        items = await inbox(n, "city-eeb")
        assert sorted(i["type"] for i in items) == ["appeal.decided", "appeal.filed"]
        refusal = next(i for i in items if i["type"] == "appeal.decided")
        assert "申诉不成立,维持原排名" in refusal["title"] and "逾期作出" in refusal["body"]
        assert "核查记录完整" in refusal["body"]

"""The thin path across the four services in one process, events carried from log to log by hand."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.support import Running, running


def jpeg_bytes(color: tuple[int, int, int] = (10, 120, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG")
    return buf.getvalue()


async def carry(source: Running, *targets: Running, after: int = 0) -> int:
    """Deliver every event of source's log after `after` to each target; returns the new position."""
    events = await source.events(after)
    for target in targets:
        for ev in events:
            await target.deliver(ev)
    return after + len(events)


async def test_thin_path_signs_off_and_reaches_every_service(tmp_path: Path) -> None:
    async with (
        running("issues", tmp_path) as issues,
        running("verification", tmp_path) as ver,
        running("scoring", tmp_path) as scoring,
        running("notify", tmp_path) as notify,
    ):
        admin = issues.auth(org="inspection-office", roles="admin")
        for org in [
            {"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
            {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department", "zone_type": "department"},
        ]:
            r = await issues.client.post("/v1/orgs", json=org, headers=admin)
            assert r.status_code == 201, r.text
        r = await issues.client.post("/v1/rounds", headers=admin, json={
            "id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组", "level": "regional",
            "feedback_on": "2020-05-17"})
        assert r.status_code == 201, r.text
        r = await issues.client.post("/v1/issues", headers=admin, json={
            "code": "HH-2020-004", "round_id": "nm-2019-inspection", "category": "air",
            "title": "全市细颗粒物(PM2.5)年均浓度实现达标", "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)", "deadline": "2020-12-31",
            "target": {"indicator": "pm25_annual_mean", "op": "<=", "value": 35, "unit": "ug/m3"}})
        assert r.status_code == 201, r.text
        issue_id = r.json()["id"]
        pos_issues = await carry(issues, ver, scoring, notify)

        eeb = ver.auth(org="city-eeb", roles="responsible")
        r = await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": issue_id, "kind": "photo"},
                                  files={"file": ("site.jpg", jpeg_bytes(), "image/jpeg")})
        assert r.status_code == 201, r.text
        evidence = r.json()
        assert evidence["media_type"] == "image/jpeg"
        r = await ver.client.post("/v1/closures", headers=eeb, json={
            "issue_id": issue_id, "summary": "已完成整改", "evidence_ids": [evidence["id"]]})
        assert r.status_code == 201, r.text
        closure_id = r.json()["id"]
        office = ver.auth(org="inspection-office", roles="supervisor")
        r = await ver.client.post(f"/v1/closures/{closure_id}/decision", headers=office,
                                  json={"decision": "accept", "opinion": "现场核查属实"})
        assert r.status_code == 200, r.text
        await carry(ver, issues, scoring, notify)
        await carry(issues, ver, scoring, notify, after=pos_issues)

        r = await issues.client.get(f"/v1/issues/{issue_id}", headers=admin)
        assert r.json()["status"] == "signed_off"
        assert [h["to"] for h in r.json()["history"]] == ["registered", "closure_requested", "signed_off"]
        r = await scoring.client.get(f"/v1/facts/issues/{issue_id}", headers=admin)
        assert r.json()["status"] == "signed_off" and r.json()["signed_off_at"]
        r = await notify.client.get("/v1/inbox", headers=notify.auth(org="city-eeb", roles="responsible"))
        types = [i["type"] for i in r.json()["items"]]
        assert "closure.accepted" in types and "issue.assigned" in types

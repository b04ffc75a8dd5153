"""销号制 across services: issues registers and shows each status; verification decides; events carried by hand."""

from __future__ import annotations

from pathlib import Path

from tests.support import Running, running
from tests.verification.helpers import SITE, photo

ON_SITE = (SITE["latitude"] + 0.0005, SITE["longitude"])


async def carry(source: Running, target: Running, after: int = 0) -> int:
    """Deliver every event of source's log after `after` to the target; returns the new position."""
    events = await source.events(after)
    for ev in events:
        assert await target.deliver(ev) in ("handled", "ignored", "duplicate"), ev["type"]
    return after + len(events)


async def test_apply_reject_resubmit_accept_file_and_reopen_show_in_the_issues_service(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as issues, running("verification", tmp_path) as ver:
        admin = issues.auth(org="inspection-office", roles="admin")
        for org in [
            {"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
            {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department", "zone_type": "department"},
            {"id": "saihan", "name": "赛罕区人民政府", "kind": "region", "zone_type": "urban_core"},
        ]:
            assert (await issues.client.post("/v1/orgs", json=org, headers=admin)).status_code == 201
        r = await issues.client.post("/v1/rounds", headers=admin, json={
            "id": "nm-2019", "name": "自治区第一生态环境保护督察组", "level": "regional", "feedback_on": "2020-05-17"})
        assert r.status_code == 201, r.text
        r = await issues.client.post("/v1/issues", headers=admin, json={
            "code": "HH-2020-011", "round_id": "nm-2019", "category": "air", "title": "城区裸土扬尘治理不到位",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31",
            "location": SITE})
        assert r.status_code == 201, r.text
        issue = r.json()["id"]
        i_pos = await carry(issues, ver)
        v_pos = 0

        async def status() -> str:
            nonlocal v_pos, i_pos
            v_pos = await carry(ver, issues, v_pos)
            i_pos = await carry(issues, ver, i_pos)
            return str((await issues.client.get(f"/v1/issues/{issue}", headers=admin)).json()["status"])

        eeb = ver.auth(sub="李工", org="city-eeb", roles="responsible")
        office = ver.auth(sub="王处长", org="inspection-office", roles="supervisor")
        assert (await issues.client.post(f"/v1/issues/{issue}/start", headers=issues.auth(
            org="city-eeb", roles="responsible"))).status_code == 200
        assert await status() == "in_progress"

        r = await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": issue, "kind": "photo"},
                                  files={"file": ("现场.jpg", photo(seed=21, taken="2020:06:10 10:00:00",
                                                                  gps=ON_SITE), "image/jpeg")})
        assert r.status_code == 201 and r.json()["flags"] == [], r.text
        first_photo = r.json()["id"]
        r = await ver.client.post("/v1/closures", headers=eeb, json={
            "issue_id": issue, "summary": "裸土已覆盖", "evidence_ids": [first_photo]})
        assert r.status_code == 201, r.text
        assert await status() == "closure_requested"
        r = await ver.client.post(f"/v1/closures/{r.json()['id']}/decision", headers=office, json={
            "decision": "reject", "opinion": "覆盖不完整", "reason_code": "superficial", "inspected_on": "2020-06-15"})
        assert r.status_code == 200, r.text
        assert await status() == "in_progress"

        r = await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": issue, "kind": "photo"},
                                  files={"file": ("补充.jpg", photo(seed=22, taken="2020:06:25 10:00:00",
                                                                  gps=ON_SITE), "image/jpeg")})
        r = await ver.client.post("/v1/closures", headers=eeb, json={
            "issue_id": issue, "summary": "已全部覆盖并绿化", "evidence_ids": [first_photo, r.json()["id"]]})
        assert r.status_code == 201 and r.json()["resubmissions"] == 1
        closure = r.json()["id"]
        assert await status() == "closure_requested"
        r = await ver.client.post(f"/v1/closures/{closure}/decision", headers=office, json={
            "decision": "accept", "opinion": "现场核查属实", "inspected_on": "2020-07-01"})
        assert r.status_code == 200, r.text
        assert await status() == "signed_off"
        r = await ver.client.post(f"/v1/closures/{closure}/file", headers=ver.auth(org="inspection-office",
                                                                                  roles="admin"))
        assert r.status_code == 200, r.text
        assert await status() == "filed"
        r = await ver.client.post("/v1/reopenings", headers=office, json={"issue_id": issue, "reason": "扬尘反弹"})
        assert r.status_code == 201 and r.json()["reopenings"] == 1
        assert await status() == "in_progress"

        history = (await issues.client.get(f"/v1/issues/{issue}", headers=admin)).json()["history"]
        assert [h["to"] for h in history] == ["registered", "in_progress", "closure_requested", "in_progress",
                                              "closure_requested", "signed_off", "filed", "in_progress"]

        # a reassignment in the issues service moves who may apply here
        r = await issues.client.patch(f"/v1/issues/{issue}", headers=admin, json={"responsible_org_id": "saihan"})
        assert r.status_code == 200, r.text
        await status()
        r = await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": issue, "kind": "photo"},
                                  files={"file": ("x.jpg", photo(seed=23), "image/jpeg")})
        assert r.status_code == 404
        saihan = ver.auth(org="saihan", roles="responsible")
        r = await ver.client.post("/v1/evidence", headers=saihan, data={"issue_id": issue, "kind": "photo"},
                                  files={"file": ("x.jpg", photo(seed=23), "image/jpeg")})
        assert r.status_code == 201, r.text
        r = await ver.client.post("/v1/closures", headers=saihan, json={
            "issue_id": issue, "summary": "重新整改完成", "evidence_ids": [r.json()["id"]]})
        assert r.status_code == 201, r.text
        assert await status() == "closure_requested"

"""The issue's life in this service: start, progress, extensions, PATCH, verification events; 409 changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.issues.helpers import issue_by_code, load_reference
from tests.support import EventFactory, Running, fixed_clock, running

EEB = {"org": "city-eeb", "roles": "responsible"}


async def snapshot(s: Running, issue_id: str) -> tuple[dict[str, Any], int]:
    r = await s.client.get(f"/v1/issues/{issue_id}", headers=s.auth(roles="auditor"))
    assert r.status_code == 200, r.text
    return r.json(), len(await s.events())


async def deliver(s: Running, factory: EventFactory, type_: str, issue_id: str, **data: Any) -> str:
    body = {"issue_id": issue_id, "responsible_org_id": "city-eeb", **data}
    if type_.startswith("closure.") and type_ != "closure.filed":
        body.setdefault("supervising_org_id", "inspection-office")
    return await s.deliver(factory.make(type_, body.pop("subject", issue_id), body))


async def test_start_progress_and_history_say_who_when_what_why(tmp_path: Path) -> None:
    async with running("issues", tmp_path, clock=fixed_clock("2020-06-01T02:00:00+00:00")) as s:
        await load_reference(s)
        issue = await issue_by_code(s, "HH-2020-004")
        eeb = s.auth(sub="zhang", **EEB)
        r = await s.client.post(f"/v1/issues/{issue['id']}/start", headers=eeb, json={"note": "已部署"})
        assert r.status_code == 200 and r.json()["status"] == "in_progress"
        uploaded = EventFactory("verification").make("evidence.submitted", issue["id"], {
            "evidence_id": "ev-1", "issue_id": issue["id"], "kind": "photo", "sha256": "a" * 64, "size": 2048,
            "media_type": "image/jpeg", "org_id": "city-eeb"})
        assert await s.deliver(uploaded) == "handled"  # the photo verification accepted for this issue
        r = await s.client.post(f"/v1/issues/{issue['id']}/progress", headers=eeb,
                                json={"note": "完成燃煤锅炉改造 12 台", "percent": 40, "evidence_ids": ["ev-1"]})
        assert r.status_code == 201, r.text
        assert r.json()["last_progress"]["percent"] == 40
        full, _ = await snapshot(s, issue["id"])
        steps = [(h["action"], h["from"], h["to"], h["by"]["user"], h["by"]["org"], h["reason"]) for h in full["history"]]
        assert steps == [
            ("register", None, "registered", "seed", "inspection-office", None),
            ("start", "registered", "in_progress", "zhang", "city-eeb", "已部署"),
            ("progress", "in_progress", "in_progress", "zhang", "city-eeb", "完成燃煤锅炉改造 12 台"),
        ]
        assert full["history"][2]["details"] == {"percent": 40, "evidence_ids": ["ev-1"]}
        assert full["history"][1]["at"].startswith("2020-06-01T02:00:00")
        types = [e["type"] for e in (await s.events())[-3:]]
        assert types == ["issue.started", "issue.status_changed", "issue.progress_reported"]
        bad = await s.client.post(f"/v1/issues/{issue['id']}/progress", headers=eeb, json={"note": "x", "percent": 101})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "percent"


async def test_extension_approved_moves_the_deadline_and_keeps_the_original_in_history(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        issue = await issue_by_code(s, "HH-2020-004")
        eeb, admin = s.auth(**EEB), s.auth(org="inspection-office", roles="admin")
        r = await s.client.post(f"/v1/issues/{issue['id']}/extensions", headers=eeb,
                                json={"requested_deadline": "2021-06-30", "reason": "受疫情影响"})
        assert r.status_code == 201, r.text
        ext = r.json()
        assert ext["state"] == "pending" and ext["current_deadline"] == "2020-12-31"
        r = await s.client.post(f"/v1/issues/{issue['id']}/extensions/{ext['id']}/decision", headers=admin,
                                json={"approved": True, "opinion": "同意延期"})
        assert r.status_code == 200 and r.json()["state"] == "approved"
        full, _ = await snapshot(s, issue["id"])
        assert full["deadline"] == "2021-06-30" and full["original_deadline"] == "2020-12-31"
        approved = full["history"][-1]
        assert approved["action"] == "extension_approved"
        assert approved["details"]["previous_deadline"] == "2020-12-31" and approved["reason"] == "同意延期"
        last = (await s.events())[-1]
        assert last["type"] == "issue.extension_decided" and last["data"]["previous_deadline"] == "2020-12-31"
        # A refused second request leaves the deadline alone.
        r = await s.client.post(f"/v1/issues/{issue['id']}/extensions", headers=eeb,
                                json={"requested_deadline": "2022-01-01", "reason": "再延"})
        r = await s.client.post(f"/v1/issues/{issue['id']}/extensions/{r.json()['id']}/decision", headers=admin,
                                json={"approved": False, "opinion": "不同意"})
        assert r.json()["state"] == "refused"
        assert (await snapshot(s, issue["id"]))[0]["deadline"] == "2021-06-30"


async def test_patch_reassigns_and_rescopes_but_never_touches_the_status(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        issue = await issue_by_code(s, "HH-2020-004")
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.patch(f"/v1/issues/{issue['id']}", headers=admin, json={"status": "filed"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "status"
        r = await s.client.patch(f"/v1/issues/{issue['id']}", headers=admin, json={
            "responsible_org_id": "city-housing", "cooperating_org_ids": ["city-eeb"], "leader": "分管副市长(城建)",
            "reason": "职责调整"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "registered" and r.json()["responsible_org_id"] == "city-housing"
        ev = (await s.events())[-1]
        assert ev["type"] == "issue.updated"
        assert ev["data"]["changed"] == ["cooperating_org_ids", "leader", "responsible_org_id"]
        assert ev["data"]["responsible_org_id"] == "city-housing"
        # scope follows the assignment: the old cooperating orgs no longer see it, the new responsible does
        ndrc = s.auth(org="city-ndrc", roles="responsible")
        assert (await s.client.get(f"/v1/issues/{issue['id']}", headers=ndrc)).status_code == 404
        housing = s.auth(org="city-housing", roles="responsible")
        assert (await s.client.post(f"/v1/issues/{issue['id']}/start", headers=housing)).status_code == 200
        r = await s.client.patch(f"/v1/issues/{issue['id']}", headers=admin, json={"responsible_org_id": "ghost"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "responsible_org_id"
        n = len(await s.events())
        r = await s.client.patch(f"/v1/issues/{issue['id']}", headers=admin, json={"leader": "分管副市长(城建)"})
        assert r.status_code == 200 and len(await s.events()) == n  # no change, no event


async def test_verification_events_move_the_status_through_sign_off_filing_and_reopening(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        issue = await issue_by_code(s, "HH-2020-010")
        ver = EventFactory("verification")
        iid = issue["id"]
        assert await deliver(s, ver, "closure.requested", iid, subject="c1", closure_id="c1",
                             summary="已完成",
                             evidence_ids=["e1"]) == "handled"
        assert await deliver(s, ver, "closure.accepted", iid, subject="c1", closure_id="c1", opinion="核查属实") == "handled"
        assert await deliver(s, ver, "closure.filed", iid, subject="c1", closure_id="c1") == "handled"
        assert await deliver(s, ver, "issue.reopened", iid, subject="r1", reopening_id="r1", reason="反弹",
                             evidence_ids=[]) == "handled"
        full, _ = await snapshot(s, iid)
        assert [h["to"] for h in full["history"]] == ["registered", "closure_requested", "signed_off", "filed",
                                                     "in_progress"]
        assert full["status"] == "in_progress" and full["history"][-1]["reason"] == "反弹"


async def test_every_illegal_transition_is_409_and_changes_nothing(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        eeb, admin = s.auth(**EEB), s.auth(org="inspection-office", roles="admin")
        issue = await issue_by_code(s, "HH-2020-004")
        iid = issue["id"]

        async def refused(method: str, path: str, body: dict[str, Any] | None, who: dict[str, str]) -> None:
            before, n = await snapshot(s, iid)
            r = await s.client.request(method, path, headers=who, json=body)
            assert r.status_code == 409, (path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "illegal_transition"
            after, m = await snapshot(s, iid)
            assert after == before and m == n

        # registered: progress is refused (start first)
        await refused("POST", f"/v1/issues/{iid}/progress", {"note": "x", "percent": 1}, eeb)
        assert (await s.client.post(f"/v1/issues/{iid}/start", headers=eeb)).status_code == 200
        # in_progress: start again is refused
        await refused("POST", f"/v1/issues/{iid}/start", None, eeb)
        # a second pending extension request, and deciding a decided one
        r = await s.client.post(f"/v1/issues/{iid}/extensions", headers=eeb,
                                json={"requested_deadline": "2021-03-31", "reason": "r"})
        ext = r.json()["id"]
        await refused("POST", f"/v1/issues/{iid}/extensions", {"requested_deadline": "2021-04-30", "reason": "r"}, eeb)
        assert (await s.client.post(f"/v1/issues/{iid}/extensions/{ext}/decision", headers=admin,
                                    json={"approved": False})).status_code == 200
        await refused("POST", f"/v1/issues/{iid}/extensions/{ext}/decision", {"approved": True}, admin)
        # signed off: start, progress, extension are refused
        ver = EventFactory("verification")
        await deliver(s, ver, "closure.requested", iid, subject="c1", closure_id="c1",
                      summary="s", evidence_ids=["e"])
        await deliver(s, ver, "closure.accepted", iid, subject="c1", closure_id="c1", opinion="ok")
        for path, body in ((f"/v1/issues/{iid}/start", None), (f"/v1/issues/{iid}/progress", {"note": "x", "percent": 5}),
                           (f"/v1/issues/{iid}/extensions", {"requested_deadline": "2021-05-01", "reason": "r"})):
            await refused("POST", path, body, eeb)
        # an event the state machine forbids (accept again) is dead-lettered and changes nothing
        before, n = await snapshot(s, iid)
        outcome = await deliver(s, ver, "closure.accepted", iid, subject="c1", closure_id="c1", opinion="again")
        assert outcome != "handled"
        assert await snapshot(s, iid) == (before, n)


async def test_register_refuses_a_taken_code_and_unknown_references_naming_each_field(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        admin = s.auth(org="inspection-office", roles="admin")
        body = {"code": "HH-2020-004", "round_id": "nm-2019-inspection", "category": "air", "title": "重复",
                "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2021-01-01"}
        n = len(await s.events())
        r = await s.client.post("/v1/issues", headers=admin, json=body)
        assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "code"
        r = await s.client.post("/v1/issues", headers=admin, json={
            **body, "code": "NEW-1", "round_id": "ghost-round", "supervising_org_id": "ghost",
            "cooperating_org_ids": ["city-eeb", "nobody"]})
        assert r.status_code == 422
        assert {d["field"] for d in r.json()["error"]["details"]} == {
            "round_id", "supervising_org_id", "cooperating_org_ids.1", "cooperating_org_ids"}
        r = await s.client.post("/v1/issues", headers=admin, json={**body, "code": "NEW-2",
                                                                   "target": {"indicator": "x", "op": "<", "value": 1}})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "target.op"
        assert len(await s.events()) == n

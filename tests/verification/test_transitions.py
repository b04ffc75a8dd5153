"""The sign-off state machine: the legal path, and every illegal transition refused with 409 changing nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.verification.helpers import OTHER, RESP, SUPER, World


async def snapshot(world: World, issue: str) -> dict[str, Any]:
    """Everything a refused command could have touched: the issue's applications and the service's log."""
    r = await world.client.get("/v1/closures", params={"issue_id": issue}, headers=world.admin)
    closures = []
    for c in r.json()["items"]:
        closures.append((await world.client.get(f"/v1/closures/{c['id']}", headers=world.admin)).json())
    reopenings = (await world.client.get("/v1/reopenings", params={"issue_id": issue}, headers=world.admin)).json()
    return {"closures": closures, "reopenings": reopenings, "log": len(await world.ver.events())}


async def _apply_again(w: World, issue: str, closure: str | None) -> Any:
    listed = (await w.client.get("/v1/evidence", params={"issue_id": issue}, headers=w.resp)).json()["items"]
    return await w.apply(issue, [listed[-1]["id"]])


async def _decide_accept(w: World, issue: str, closure: str | None) -> Any:
    return await w.decide(str(closure), "accept")


async def _decide_reject(w: World, issue: str, closure: str | None) -> Any:
    return await w.decide(str(closure), "reject")


async def _file(w: World, issue: str, closure: str | None) -> Any:
    return await w.client.post(f"/v1/closures/{closure}/file", headers=w.admin)


async def _reopen(w: World, issue: str, closure: str | None) -> Any:
    return await w.client.post("/v1/reopenings", headers=w.sup, json={"issue_id": issue, "reason": "扬尘反弹"})


async def _setup(w: World, state: str) -> tuple[str, str | None]:
    """An issue brought to `state` (and the id of its latest application, if any)."""
    issue = await w.issue(status="in_progress" if state == "in_progress" else "registered")
    if state in ("registered", "in_progress"):
        return issue, None
    closure = await w.open_closure(issue)
    if state == "rejected":
        assert (await w.decide(closure, "reject")).status_code == 200
    elif state in ("signed_off", "filed"):
        assert (await w.decide(closure)).status_code == 200
        if state == "filed":
            assert (await _file(w, issue, closure)).status_code == 200
    return issue, closure


Command = Callable[[World, str, str | None], Awaitable[Any]]

ILLEGAL: list[tuple[str, str, Command]] = [
    ("apply", "closure_requested", _apply_again),
    ("apply", "signed_off", _apply_again),
    ("apply", "filed", _apply_again),
    ("accept", "signed_off", _decide_accept),
    ("accept", "rejected", _decide_accept),
    ("accept", "filed", _decide_accept),
    ("reject", "signed_off", _decide_reject),
    ("reject", "rejected", _decide_reject),
    ("file", "closure_requested", _file),
    ("file", "rejected", _file),
    ("file", "filed", _file),
    ("reopen", "registered", _reopen),
    ("reopen", "in_progress", _reopen),
    ("reopen", "closure_requested", _reopen),
]


@pytest.mark.parametrize(("action", "state", "command"), ILLEGAL, ids=[f"{a}-from-{s}" for a, s, _ in ILLEGAL])
async def test_an_illegal_transition_is_refused_409_and_changes_nothing(
        world: World, action: str, state: str, command: Command) -> None:
    issue, closure = await _setup(world, state)
    before = await snapshot(world, issue)
    r = await command(world, issue, closure)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "illegal_transition"
    assert await snapshot(world, issue) == before


async def test_reject_then_resubmit_then_accept_file_and_reopen_counts_everything(world: World) -> None:
    issue = await world.issue()
    first = await world.open_closure(issue)
    r = await world.decide(first, "reject", opinion="围挡缺失", reason_code="insufficient_evidence",
                           inspected_on="2020-07-01")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    second = await world.open_closure(issue)
    on_site = await world.evidence(issue, headers=world.sup)
    r = await world.decide(second, "accept", opinion="现场核查属实", inspected_on="2020-07-15", evidence_ids=[on_site])
    assert r.status_code == 200, r.text
    body = (await world.client.get(f"/v1/closures/{second}", headers=world.resp)).json()
    assert body["attempt"] == 2 and body["resubmissions"] == 1 and body["state"] == "accepted"
    [decision] = body["decisions"]
    assert decision["decided_by"] == f"supervisor@{SUPER}" and decision["opinion"] == "现场核查属实"
    assert decision["inspected_on"] == "2020-07-15" and decision["decided_at"]
    hashes = {e["id"]: e["sha256"] for e in decision["evidence"]}
    for eid in [*body["evidence_ids"], on_site]:
        assert hashes[eid] == (await world.client.get(f"/v1/evidence/{eid}", headers=world.admin)).json()["sha256"]
    rejected = (await world.client.get(f"/v1/closures/{first}", headers=world.resp)).json()
    assert rejected["decisions"][0]["reason_code"] == "insufficient_evidence"

    assert (await _file(world, issue, second)).status_code == 200
    r = await world.client.post("/v1/reopenings", headers=world.admin, json={"issue_id": issue, "reason": "扬尘反弹"})
    assert r.status_code == 201 and r.json()["reopenings"] == 1 and r.json()["from_status"] == "filed"
    third = await world.open_closure(issue)
    assert (await world.decide(third)).status_code == 200
    r = await world.client.post("/v1/reopenings", headers=world.sup, json={"issue_id": issue, "reason": "再次反弹"})
    assert r.status_code == 201 and r.json()["reopenings"] == 2 and r.json()["from_status"] == "signed_off"

    log = [(e["type"], e["subject"]) for e in await world.ver.events()]
    types = [t for t, s in log if t != "evidence.submitted" and t != "evidence.flagged"]
    assert types == ["closure.requested", "closure.rejected", "closure.requested", "closure.accepted",
                     "closure.filed", "issue.reopened", "closure.requested", "closure.accepted", "issue.reopened"]
    assert {s for _, s in log} == {issue}


async def test_an_application_needs_evidence_of_that_issue(world: World) -> None:
    issue, other = await world.issue(), await world.issue()
    foreign = await world.evidence(other)
    r = await world.apply(issue, [foreign])
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "evidence_ids.0"
    r = await world.apply(issue, [])
    assert r.status_code == 422
    assert (await world.client.get("/v1/closures", params={"issue_id": issue}, headers=world.admin)).json()[
        "items"] == []


async def test_a_rejection_needs_an_opinion_and_a_reason_code(world: World) -> None:
    closure = await world.open_closure(await world.issue())
    r = await world.client.post(f"/v1/closures/{closure}/decision", headers=world.sup, json={"decision": "reject"})
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["error"]["details"]} >= {"opinion", "reason_code"}
    r = await world.decide(closure, "reject", reason_code="lazy")
    assert r.status_code == 422
    assert (await world.client.get(f"/v1/closures/{closure}", headers=world.sup)).json()["state"] == "open"


async def test_a_reassignment_moves_who_may_apply_and_who_decides(world: World) -> None:
    issue = await world.issue()
    closure = await world.open_closure(issue)
    env = world.events.make("issue.updated", issue, {
        "issue_id": issue, "changed": ["responsible_org_id", "supervising_org_id"], "responsible_org_id": OTHER,
        "supervising_org_id": RESP, "category": "air", "title": "扬尘污染治理不到位"})
    assert await world.ver.deliver(env) == "handled"
    r = await world.decide(closure, headers=world.sup)
    assert r.status_code == 404  # the old supervisor no longer sees the issue at all
    r = await world.decide(closure, "reject", headers=world.who("supervisor", RESP))
    assert r.status_code == 200, r.text
    r = await world.apply(issue, [await world.evidence(issue, headers=world.who("responsible", OTHER))],
                          headers=world.who("responsible", OTHER))
    assert r.status_code == 201, r.text
    listed = (await world.client.get("/v1/closures", params={"supervising_org_id": RESP},
                                     headers=world.who("supervisor", RESP))).json()["items"]
    assert [c["id"] for c in listed] == [closure, r.json()["id"]]


async def test_closures_list_is_scoped_filtered_and_paged(world: World) -> None:
    mine = [await world.issue() for _ in range(3)]
    theirs = await world.issue(responsible=OTHER)
    for issue in mine:
        await world.open_closure(issue)
    await world.open_closure(theirs, org=OTHER)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.client.get("/v1/closures", params=params, headers=world.resp)).json()
        seen += [c["issue_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(mine)
    r = await world.client.get("/v1/closures", params={"state": "accepted"}, headers=world.admin)
    assert r.json()["items"] == []
    r = await world.client.get("/v1/closures", params={"cursor": "nonsense!"}, headers=world.admin)
    assert r.status_code == 422

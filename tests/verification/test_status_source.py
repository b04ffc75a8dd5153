"""Verification takes an issue's status only from the issues service's issue.status_changed; its own decisions
count for its guards until the issues service confirms them."""

from __future__ import annotations

from contracts import Envelope
from services.verification.store import KnownIssue
from tests.support import status_moves
from tests.verification.helpers import World


async def _known(world: World, issue: str) -> KnownIssue:
    async with world.ver.rt.read() as session:
        known = await session.get(KnownIssue, issue)
    assert known is not None
    return known


async def _own_events(world: World, issue: str) -> list[Envelope]:
    return [Envelope.model_validate(e) for e in await world.ver.events() if e["subject"] == issue]


async def test_own_decisions_wait_for_the_issues_services_word_and_issue_started_moves_nothing(world: World) -> None:
    issue = await world.issue()
    started = world.events.make("issue.started", issue, {"issue_id": issue, "responsible_org_id": "city-eeb"})
    assert await world.ver.deliver(started) == "ignored"
    assert (await _known(world, issue)).status == "registered"

    closure = await world.open_closure(issue)
    assert (await world.decide(closure)).status_code == 200
    known = await _known(world, issue)
    assert (known.status, known.own_status) == ("registered", "signed_off")  # not confirmed yet

    decisions = [e for e in await _own_events(world, issue) if e.type.startswith("closure.")]
    requested, accepted = status_moves(world.events, decisions)
    assert await world.ver.deliver(requested) == "handled"
    known = await _known(world, issue)
    assert (known.status, known.own_status) == ("closure_requested", "signed_off")  # the later one still pending
    assert await world.ver.deliver(accepted) == "handled"
    known = await _known(world, issue)
    assert (known.status, known.own_status, known.own_event_id) == ("signed_off", None, None)

    r = await world.client.post(f"/v1/closures/{closure}/file", headers=world.admin)
    assert r.status_code == 200, r.text  # filing is allowed from the confirmed signed_off
    assert (await _known(world, issue)).own_status == "filed"


async def test_a_status_change_before_the_registration_is_kept_and_applied_when_the_issue_arrives(
        world: World) -> None:
    issue = "3b0d8b43-5f7d-4d8e-9a1e-0c4f2c6a7d10"
    moved = world.events.make("issue.status_changed", issue, {
        "issue_id": issue, "from_status": "registered", "to_status": "in_progress", "action": "start"})
    assert await world.ver.deliver(moved) == "parked"
    registered = world.events.make("issue.registered", issue, {
        "issue_id": issue, "code": "HH-P-1", "round_id": "nm-2019-inspection", "category": "air", "title": "扬尘",
        "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31"})
    assert await world.ver.deliver(registered) == "handled"
    assert (await _known(world, issue)).status == "in_progress"

"""Commands and event handlers of the issues service, and the table that maps events to handlers."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from contracts import Envelope
from contracts.enums import IssueStatus
from contracts.events.issues import IssueRegistered, IssueStarted, IssueStatusChanged, OrgRegistered, RoundRegistered
from runtime.errors import Conflict, Invalid, NotFound
from runtime.outbox import UnitOfWork
from services.issues import domain
from services.issues.store import Issue, Org, Round, Transition, get_issue


async def register_org(uow: UnitOfWork, *, cmd: OrgRegistered) -> Org:
    """Register an org; its id must be new."""
    if await uow.session.get(Org, cmd.org_id) is not None:
        raise Conflict(f"org {cmd.org_id} already exists", details=[{"field": "id", "message": "already exists"}])
    org = Org(id=cmd.org_id, name=cmd.name, kind=cmd.kind, zone_type=cmd.zone_type, created_at=uow.clock.now())
    uow.session.add(org)
    await uow.emit("org.registered", cmd.org_id, cmd)
    return org


async def register_round(uow: UnitOfWork, *, cmd: RoundRegistered) -> Round:
    """Register an inspection round; its id must be new."""
    if await uow.session.get(Round, cmd.round_id) is not None:
        raise Conflict(f"round {cmd.round_id} already exists", details=[{"field": "id", "message": "already exists"}])
    rnd = Round(id=cmd.round_id, name=cmd.name, level=cmd.level, started_on=cmd.started_on, ended_on=cmd.ended_on,
                feedback_on=cmd.feedback_on, created_at=uow.clock.now())
    uow.session.add(rnd)
    await uow.emit("round.registered", cmd.round_id, cmd)
    return rnd


async def _check_refs(uow: UnitOfWork, fields: dict[str, Any]) -> None:
    problems = []
    if await uow.session.get(Round, fields["round_id"]) is None:
        problems.append({"field": "round_id", "message": f"unknown round {fields['round_id']}"})
    for name in ("responsible_org_id", "supervising_org_id", "region_id"):
        value = fields.get(name)
        if value and await uow.session.get(Org, value) is None:
            problems.append({"field": name, "message": f"unknown org {value}"})
    for i, value in enumerate(fields.get("cooperating_org_ids") or []):
        if await uow.session.get(Org, value) is None:
            problems.append({"field": f"cooperating_org_ids.{i}", "message": f"unknown org {value}"})
    if problems:
        raise Invalid("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems)


async def register_issue(uow: UnitOfWork, *, fields: dict[str, Any]) -> Issue:
    """Register one ledger item; code unique within its round, referenced orgs and round must exist."""
    await _check_refs(uow, fields)
    dup = await uow.session.execute(
        select(Issue.id).where(Issue.round_id == fields["round_id"], Issue.code == fields["code"])
    )
    if dup.first() is not None:
        raise Conflict(f"code {fields['code']} already exists in round {fields['round_id']}",
                       details=[{"field": "code", "message": "already exists in this round"}])
    issue_id = str(uuid.uuid4())
    payload = IssueRegistered.model_validate({**fields, "issue_id": issue_id})
    now = uow.clock.now()
    data = payload.model_dump(mode="json")
    issue = Issue(
        id=issue_id, code=payload.code, round_id=payload.round_id, category=payload.category, title=payload.title,
        description=payload.description, region_id=payload.region_id,
        responsible_org_id=payload.responsible_org_id, cooperating_org_ids=list(payload.cooperating_org_ids),
        supervising_org_id=payload.supervising_org_id, leader=payload.leader, deadline=payload.deadline,
        target=data["target"], measures=payload.measures, location=data["location"],
        status=IssueStatus.registered, created_at=now, updated_at=now,
    )
    uow.session.add(issue)
    envelope = await uow.emit("issue.registered", issue_id, payload)
    _record(uow, issue, action="register", from_status=None, to_status=IssueStatus.registered, reason=None,
            event_id=str(envelope.id))
    return issue


def _record(uow: UnitOfWork, issue: Issue, *, action: str, from_status: str | None, to_status: str,
            reason: str | None, event_id: str) -> None:
    uow.session.add(Transition(
        issue_id=issue.id, action=action, from_status=from_status, to_status=to_status,
        actor_user=uow.actor.user, actor_org=uow.actor.org, actor_role=uow.actor.role, reason=reason,
        event_id=event_id, at=uow.clock.now(),
    ))


async def start_issue(uow: UnitOfWork, *, issue: Issue, note: str | None = None) -> Issue:
    """registered → in_progress, by the responsible org."""
    target = domain.next_status(action="start", current=issue.status)
    envelope = await uow.emit("issue.started", issue.id,
                              IssueStarted(issue_id=issue.id, responsible_org_id=issue.responsible_org_id))
    _record(uow, issue, action="start", from_status=issue.status, to_status=target, reason=note,
            event_id=str(envelope.id))
    issue.status = target
    issue.updated_at = uow.clock.now()
    uow.session.add(issue)
    return issue


async def on_verification_event(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Move the issue's status as the verification service decided, and log why."""
    issue_id = getattr(payload, "issue_id")
    issue = await get_issue(uow.session, issue_id=issue_id, lock=True)
    if issue is None:
        raise NotFound(f"issue {issue_id} named by {envelope.type} {envelope.id} is unknown here")
    action = domain.EVENT_ACTIONS[envelope.type]
    target = domain.next_status(action=action, current=issue.status)
    reason = getattr(payload, "opinion", None) or getattr(payload, "reason", None) or getattr(payload, "summary", None)
    emitted = await uow.emit("issue.status_changed", issue.id, IssueStatusChanged(
        issue_id=issue.id, from_status=IssueStatus(issue.status), to_status=target, reason=reason,
        cause_event_id=str(envelope.id),
    ))
    _record(uow, issue, action=action, from_status=issue.status, to_status=target, reason=reason,
            event_id=str(emitted.id))
    issue.status = target
    issue.updated_at = uow.clock.now()
    uow.session.add(issue)


HANDLERS = {event_type: on_verification_event for event_type in domain.EVENT_ACTIONS}

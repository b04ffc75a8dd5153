"""Milestones (重要节点) of a task: added by the admin, reported met or missed by the responsible unit, confirmed
or disputed by the supervising unit. Each step is an event of this service and a line of the task's history."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts import lifecycle
from contracts.enums import IssueStatus
from contracts.events.issues import (
    IssueMilestoneAdded,
    IssueMilestoneReported,
    IssueMilestoneReviewed,
    MilestoneOutcome,
    MilestoneReview,
)
from runtime.clock import new_id
from runtime.errors import Conflict, Invalid
from runtime.outbox import UnitOfWork
from services.issues import domain
from services.issues.store import Issue, Milestone, Transition

STATE_ZH = {"pending": "待报告", "reported": "已报告待确认", "confirmed": "已确认"}
OUTCOME_ZH = {"met": "按期完成", "missed": "未完成"}


def _step(uow: UnitOfWork, issue: Issue, *, action: str, reason: str | None, event_id: str,
          details: dict[str, Any]) -> None:
    uow.session.add(Transition(
        issue_id=issue.id, action=action, from_status=issue.status, to_status=issue.status,
        actor_user=uow.actor.user, actor_org=uow.actor.org, actor_role=uow.actor.role, reason=reason,
        details=details, event_id=event_id, at=uow.clock.now()))


def _bad_due(due_on: date, deadline: date, field: str) -> Invalid:
    return Invalid(f"重要节点日期 {due_on.isoformat()} 晚于任务时限 {deadline.isoformat()} ({field}: a milestone "
                   "falls on or before the task's deadline)",
                   details=[{"field": field, "message": f"after the task's deadline {deadline.isoformat()}"}])


async def add(uow: UnitOfWork, *, issue_id: str, deadline: date, responsible_org_id: str, supervising_org_id: str,
              due_on: date | str, description: str, target: str | None,
              field: str = "due_on") -> tuple[Milestone, str]:
    """Store one milestone of a task and announce it (issue.milestone_added); its day is on or before the
    task's deadline. The milestone and its event's id."""
    day = due_on if isinstance(due_on, date) else date.fromisoformat(due_on)
    if day > deadline:
        raise _bad_due(day, deadline, field)
    ms = Milestone(id=new_id(), issue_id=issue_id, due_on=day, description=description, target=target,
                   state="pending", evidence_ids=[], created_at=uow.clock.now())
    uow.session.add(ms)
    envelope = await uow.emit(issue_id, IssueMilestoneAdded(
        issue_id=issue_id, milestone_id=ms.id, due_on=day, description=description, target=target,
        responsible_org_id=responsible_org_id, supervising_org_id=supervising_org_id))
    return ms, str(envelope.id)


async def add_to_issue(uow: UnitOfWork, *, issue: Issue, due_on: date, description: str,
                       target: str | None) -> Milestone:
    """The admin adds a milestone to an open task, up to domain.MAX_MILESTONES of them."""
    if issue.status in lifecycle.CLOSED:
        raise Conflict(f"任务状态为「{lifecycle.LABELS_ZH[IssueStatus(issue.status)]}」,不能再增加重要节点 "
                       f"(the task is {issue.status}; milestones are set on open tasks)", code="illegal_transition",
                       details=[{"field": "status", "message": f"the task is {issue.status}"}])
    count = (await uow.session.execute(
        select(func.count()).select_from(Milestone).where(col(Milestone.issue_id) == issue.id))).scalar_one()
    if count >= domain.MAX_MILESTONES:
        raise Conflict(f"一个任务最多设 {domain.MAX_MILESTONES} 个重要节点 (the task has {count} milestones, the most "
                       "it may have)", details=[{"field": "milestones", "message": f"at most {domain.MAX_MILESTONES}"}])
    ms, event_id = await add(uow, issue_id=issue.id, deadline=issue.deadline,
                             responsible_org_id=issue.responsible_org_id,
                             supervising_org_id=issue.supervising_org_id, due_on=due_on, description=description,
                             target=target)
    _step(uow, issue, action="milestone_added", reason=description, event_id=event_id,
          details={"milestone_id": ms.id, "due_on": due_on.isoformat(), "target": target})
    return ms


async def report(uow: UnitOfWork, *, issue: Issue, ms: Milestone, outcome: MilestoneOutcome, note: str,
                 evidence_ids: list[str]) -> Milestone:
    """The responsible unit reports a milestone met or missed. Refused (409) while a report awaits review, once a
    report of "met" is confirmed, or when the task is closed; a confirmed "missed" may later be reported met."""
    if issue.status in lifecycle.CLOSED:
        raise Conflict(f"任务已销号,不再报告重要节点 (the task is {issue.status})", code="illegal_transition",
                       details=[{"field": "status", "message": f"the task is {issue.status}"}])
    if ms.state == "reported":
        raise Conflict("该节点的上次报告尚待监管单位确认,请等待确认后再报 (the last report awaits the supervising "
                       "unit's review)", code="illegal_transition",
                       details=[{"field": "milestone", "message": "a report awaits review"}])
    if ms.state == "confirmed" and (ms.outcome == MilestoneOutcome.met or outcome == MilestoneOutcome.missed):
        raise Conflict(f"该节点已确认为「{OUTCOME_ZH[ms.outcome or 'met']}」"
                       + (",只能再报告为已完成" if ms.outcome == "missed" else "") +
                       f" (the milestone is confirmed {ms.outcome}"
                       + ("; it may only be reported met now)" if ms.outcome == "missed" else ")"),
                       code="illegal_transition", details=[{"field": "outcome", "message": f"confirmed {ms.outcome}"}])
    now = uow.clock.now()
    envelope = await uow.emit(issue.id, IssueMilestoneReported(
        issue_id=issue.id, milestone_id=ms.id, due_on=ms.due_on, outcome=outcome, note=note,
        evidence_ids=evidence_ids, responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id))
    ms.state, ms.outcome, ms.note, ms.evidence_ids = "reported", outcome.value, note, list(evidence_ids)
    ms.reported_at, ms.reported_by, ms.reported_event_id = now, uow.actor.user, str(envelope.id)
    ms.met_reported_at = now if outcome == MilestoneOutcome.met else None
    ms.disputed, ms.reviewed_at, ms.reviewed_by, ms.opinion = False, None, None, None
    uow.session.add(ms)
    _step(uow, issue, action="milestone_reported", reason=note, event_id=str(envelope.id),
          details={"milestone_id": ms.id, "due_on": ms.due_on.isoformat(), "outcome": outcome.value,
                   "evidence_ids": evidence_ids})
    return ms


async def review(uow: UnitOfWork, *, issue: Issue, ms: Milestone, decision: MilestoneReview,
                 opinion: str | None) -> Milestone:
    """The supervising unit confirms the last report, or disputes it (the unit reports again; a disputed "met"
    no longer counts as met). Refused (409) when no report awaits review."""
    if ms.state != "reported" or ms.reported_event_id is None or ms.outcome is None:
        raise Conflict("该节点没有待确认的报告 (the milestone has no report awaiting review)",
                       code="illegal_transition", details=[{"field": "milestone", "message": f"state {ms.state}"}])
    envelope = await uow.emit(issue.id, IssueMilestoneReviewed(
        issue_id=issue.id, milestone_id=ms.id, due_on=ms.due_on, review=decision,
        outcome=MilestoneOutcome(ms.outcome), reported_event_id=ms.reported_event_id, opinion=opinion,
        responsible_org_id=issue.responsible_org_id, supervising_org_id=issue.supervising_org_id))
    ms.reviewed_at, ms.reviewed_by, ms.opinion = uow.clock.now(), uow.actor.user, opinion
    if decision == MilestoneReview.confirmed:
        ms.state = "confirmed"
    else:
        ms.state, ms.disputed, ms.met_reported_at = "pending", True, None
    uow.session.add(ms)
    _step(uow, issue, action="milestone_reviewed", reason=opinion, event_id=str(envelope.id),
          details={"milestone_id": ms.id, "review": decision.value, "outcome": ms.outcome})
    return ms


async def of_issue(session: AsyncSession, *, issue_id: str) -> list[Milestone]:
    """The milestones of a task, by date."""
    rows = await session.execute(select(Milestone).where(col(Milestone.issue_id) == issue_id)
                                     .order_by(col(Milestone.due_on), col(Milestone.created_at), col(Milestone.id)))
    return list(rows.scalars().all())

"""Commands and event handlers of the issues service, and the table that maps events to handlers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col

from contracts import Envelope, lifecycle
from contracts.enums import IssueStatus
from contracts.events.issues import (
    IssueExtensionDecided,
    IssueExtensionRequested,
    IssueParentReopened,
    IssueProgressReported,
    IssueRegistered,
    IssueStarted,
    IssueStatusChanged,
    IssueUpdated,
    OrgRegistered,
    RoundRegistered,
)
from contracts.events.verification import (
    ClosureAccepted,
    ClosureFiled,
    ClosureRejected,
    ClosureRequested,
    EvidenceSubmitted,
    IssueReopened,
)
from contracts.lifecycle import Action
from runtime.clock import SHANGHAI, new_id
from runtime.consumer import HandlerTable
from runtime.errors import Conflict, Invalid, NotFound
from runtime.outbox import UnitOfWork, emit_each
from services.issues import domain, domain_time, ledger, milestones
from services.issues.store import (
    EvidenceRef,
    Extension,
    Issue,
    Org,
    Party,
    Round,
    Transition,
    get_issue,
    parents_by_code,
    parties_of,
    replace_parties,
)

ASSIGNMENT_FIELDS = ("responsible_org_id", "cooperating_org_ids", "supervising_org_id", "leader", "region_id")
TEXT_FIELDS = ("category", "title", "description", "measures", "target", "location")


async def register_org(uow: UnitOfWork, *, cmd: OrgRegistered) -> Org:
    """Register an org; its id must be new."""
    if await uow.session.get(Org, cmd.org_id) is not None:
        raise Conflict(f"org {cmd.org_id} already exists", details=[{"field": "id", "message": "already exists"}])
    org = Org(id=cmd.org_id, name=cmd.name, kind=cmd.kind, zone_type=cmd.zone_type, created_at=uow.clock.now())
    uow.session.add(org)
    await uow.emit(cmd.org_id, cmd)
    return org


async def register_round(uow: UnitOfWork, *, cmd: RoundRegistered) -> Round:
    """Register an inspection round; its id must be new and its dates in order."""
    if cmd.started_on and cmd.ended_on and cmd.ended_on < cmd.started_on:
        raise Invalid("ended_on is before started_on",
                      details=[{"field": "ended_on", "message": "before started_on"}])
    if await uow.session.get(Round, cmd.round_id) is not None:
        raise Conflict(f"round {cmd.round_id} already exists", details=[{"field": "id", "message": "already exists"}])
    rnd = Round(id=cmd.round_id, name=cmd.name, level=cmd.level, started_on=cmd.started_on, ended_on=cmd.ended_on,
                feedback_on=cmd.feedback_on, created_at=uow.clock.now())
    uow.session.add(rnd)
    await uow.emit(cmd.round_id, cmd)
    return rnd


# 销号制: the unit that rectifies is never the unit that verifies and signs off its own work.
SAME_ORG = "监管单位不能与责任单位相同,请另指定监管单位 (the supervising org cannot be the responsible org)"


async def _check_orgs(uow: UnitOfWork, fields: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    for name in ("responsible_org_id", "supervising_org_id", "region_id"):
        value = fields.get(name)
        if value and await uow.session.get(Org, value) is None:
            problems.append({"field": name, "message": f"unknown org {value}"})
    for i, value in enumerate(fields.get("cooperating_org_ids") or []):
        if await uow.session.get(Org, value) is None:
            problems.append({"field": f"cooperating_org_ids.{i}", "message": f"unknown org {value}"})
    if fields.get("responsible_org_id") in (fields.get("cooperating_org_ids") or []):
        problems.append({"field": "cooperating_org_ids", "message": "the responsible org cannot also be cooperating"})
    if fields.get("responsible_org_id") and fields.get("responsible_org_id") == fields.get("supervising_org_id"):
        problems.append({"field": "supervising_org_id", "message": SAME_ORG})
    return problems


def _refuse(problems: list[dict[str, str]]) -> None:
    if problems:
        raise Invalid("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems)


async def register_issue(uow: UnitOfWork, *, fields: dict[str, Any]) -> Issue:
    """Register one ledger item; code unique within its round, referenced orgs and round must exist."""
    orgs = {fields["responsible_org_id"], fields["supervising_org_id"], *(fields.get("cooperating_org_ids") or [])}
    if fields.get("region_id"):
        orgs.add(fields["region_id"])
    # One round trip on the happy path: round known, code free, every org known.
    round_known, code_taken, orgs_known = (await uow.session.execute(select(
        select(func.count()).select_from(Round).where(Round.id == fields["round_id"]).scalar_subquery(),
        select(func.count()).select_from(Issue).where(Issue.round_id == fields["round_id"],
                                                      Issue.code == fields["code"]).scalar_subquery(),
        select(func.count()).select_from(Org).where(col(Org.id).in_(sorted(orgs))).scalar_subquery(),
    ))).one()
    problems = []
    if not round_known:
        problems.append({"field": "round_id", "message": f"unknown round {fields['round_id']}"})
    if (orgs_known != len(orgs) or fields["responsible_org_id"] in (fields.get("cooperating_org_ids") or [])
            or fields["responsible_org_id"] == fields["supervising_org_id"]):
        problems += await _check_orgs(uow, fields)
    _refuse(problems)
    if code_taken:
        raise Conflict(f"code {fields['code']} already exists in round {fields['round_id']}",
                       details=[{"field": "code", "message": "already exists in this round"}])
    if fields.get("parent_id"):
        parent = await get_issue(uow.session, issue_id=fields["parent_id"], lock=True)
        if parent is None:
            raise Invalid(f"上级任务 {fields['parent_id']} 不存在 (parent_id: unknown task)",
                          details=[{"field": "parent_id", "message": f"unknown task {fields['parent_id']}"}])
        conflicts, problems = domain.check_parent(
            parent_status=parent.status, parent_depth=parent.depth, parent_children=parent.children_total,
            parent_deadline=parent.deadline, parent_round=parent.round_id, round_id=fields["round_id"],
            deadline=date.fromisoformat(str(fields["deadline"])))
        if conflicts:
            raise Conflict(conflicts[0]["message"], details=conflicts, code="illegal_transition")
        _refuse(problems)
        fields = {**fields, "depth": parent.depth + 1}
    [row] = await _create_many(uow, fields=[fields])
    return Issue(**row)


async def import_ledger(uow: UnitOfWork, *, sheet: ledger.Sheet) -> list[dict[str, Any]]:
    """Create every row of a ledger in this transaction, or none: a 422 lists every bad cell."""
    problems = ledger.check_header(sheet)
    if problems:
        raise Invalid("the ledger's header is wrong", details=ledger.capped(problems)[1])
    if not sheet.rows:
        raise Invalid("the ledger has no rows", details=[{"row": 2, "column": None, "message": "no rows"}])
    rounds = {r.get("round", "") for _, r in sheet.rows}
    codes = {r.get("code", "") for _, r in sheet.rows}
    existing: set[tuple[str, str]] = set()
    # Chunked so the IN lists stay within every driver's parameter limit.
    code_list = sorted(codes)
    for i in range(0, len(code_list), 5000):
        rows = await uow.session.execute(select(col(Issue.round_id), col(Issue.code)).where(
            col(Issue.round_id).in_(sorted(rounds)), col(Issue.code).in_(code_list[i:i + 5000])))
        existing.update((r, c) for r, c in rows.all())
    refs = ledger.Refs(
        orgs=set((await uow.session.execute(select(col(Org.id)))).scalars().all()),
        rounds=set((await uow.session.execute(select(col(Round.id)))).scalars().all()),
        existing_codes=existing,
        today=domain_time.today_in_shanghai(uow.clock.now()),
    )
    fields, problems = ledger.check_rows(sheet, refs)
    if problems:
        message, details = ledger.capped(problems)
        raise Invalid(message, details=details)
    if any(f.get("parent_code") for f in fields):
        in_file = {(f["round_id"], f["code"]) for f in fields}
        named = {(f["round_id"], f["parent_code"]) for f in fields if f.get("parent_code")} - in_file
        found = await parents_by_code(uow.session, round_codes=named)
        registered = {k: ledger.ParentRef(issue_id=i.id, status=i.status, depth=i.depth, children=i.children_total,
                                          deadline=i.deadline) for k, i in found.items()}
        fields, problems = ledger.link_parents(fields, registered=registered, ids=[new_id() for _ in fields],
                                               max_depth=domain.MAX_DEPTH, max_children=domain.MAX_CHILDREN)
        if problems:
            message, details = ledger.capped(sorted(problems, key=lambda c: c.row))
            raise Invalid(message, details=details)
    return await _create_many(uow, fields=fields)


async def _create_many(uow: UnitOfWork, *, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert checked issues with few round trips (Core inserts, not the ORM), one issue.registered each; the rows.

    A row moved in from a ledger kept elsewhere (`moved_in`: where it stood) is then moved through the lifecycle
    in this same transaction, one issue.status_changed per move, each carrying its business date.
    """
    now = uow.clock.now()
    moved_in = [f.get("moved_in") for f in fields]
    # a row moved in says how many status moves follow its registration, so that consumers wait for them
    payloads = [IssueRegistered.model_validate({
        **{k: v for k, v in f.items() if k not in _NOT_PAYLOAD}, "issue_id": f.get("issue_id") or new_id(),
        "moves_following": len(domain.path_from_initial(m["status"]) or []) if m else 0})
        for f, m in zip(fields, moved_in, strict=True)]
    issue_rows, party_rows = [], []
    for p, moved, f in zip(payloads, moved_in, fields, strict=True):
        data = p.model_dump(mode="json")
        issue_rows.append({
            **{k: data[k] for k in ("code", "round_id", "category", "title", "description", "region_id",
                                    "responsible_org_id", "cooperating_org_ids", "supervising_org_id", "leader",
                                    "target", "measures", "location")},
            "id": p.issue_id, "deadline": p.deadline, "original_deadline": p.deadline,
            "status": moved["status"] if moved else IssueStatus.registered.value, "created_at": now,
            "updated_at": now, "last_progress_percent": None, "last_progress_note": None, "last_progress_at": None,
            "parent_id": p.parent_id, "depth": f.get("depth") or 1, "children_total": 0, "children_open": 0,
            "derived_percent": None,
        })
        party_rows += parties_of(issue_id=p.issue_id, responsible=p.responsible_org_id,
                                 cooperating=p.cooperating_org_ids, supervising=p.supervising_org_id,
                                 deadline=p.deadline)
    session = uow.session
    await session.execute(insert(Issue.__table__), issue_rows)  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
    await session.execute(insert(Party.__table__), party_rows)  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
    steps = []
    # The chain heads and outbox rows of the new issues' first events: one multi-row INSERT each.
    envelopes = await uow.emit_new([(p.issue_id, p) for p in payloads])
    for p, moved, envelope in zip(payloads, moved_in, envelopes, strict=True):
        # a row moved in with its history shows its registration on its assigned date, before its moves
        at = start_of_day(p.assigned_on) if moved and p.assigned_on else now
        steps.append(_step(uow, issue_id=p.issue_id, action="register", from_status=None,
                           to_status=IssueStatus.registered.value, reason=None, event_id=str(envelope.id),
                           details={"moved_in": True, "assigned_on": p.assigned_on.isoformat(),
                                    "recorded_at": now.isoformat()} if at != now and p.assigned_on else None,
                           at=min(at, now)))
    for p, moved in zip(payloads, moved_in, strict=True):
        if moved:
            steps += await _move_in(uow, issue_id=p.issue_id, moved=moved)
    await session.execute(insert(Transition.__table__), steps)  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
    for p, f in zip(payloads, fields, strict=True):
        for i, m in enumerate(f.get("milestones") or []):
            await milestones.add(uow, field=f"milestones.{i}.due_on", issue_id=p.issue_id, deadline=p.deadline,
                                 responsible_org_id=p.responsible_org_id, supervising_org_id=p.supervising_org_id,
                                 due_on=m["due_on"], description=m["description"], target=m.get("target"))
    await refresh_parents(uow, parent_ids={p.parent_id for p in payloads if p.parent_id})
    return issue_rows


# Keys of a checked row that are not the registration's payload.
_NOT_PAYLOAD = frozenset({"moved_in", "depth", "milestones", "parent_code", "row"})


async def refresh_parents(uow: UnitOfWork, *, parent_ids: set[str]) -> None:
    """Recount the sub-tasks of these parents and derive their progress, then their parents' in turn, up to the
    root (domain.child_percent, domain.derived_percent); a level at a time, deepest first."""
    pending = {i for i in parent_ids if i}
    session = uow.session
    while pending:
        ordered = sorted(pending)
        by_parent: dict[str, list[Any]] = {i: [] for i in pending}
        parents: list[Issue] = []
        for start in range(0, len(ordered), 5000):  # chunked: within every driver's parameter limit
            chunk = ordered[start:start + 5000]
            rows = (await session.execute(
                select(col(Issue.parent_id), col(Issue.status), col(Issue.children_total),
                       col(Issue.derived_percent), col(Issue.last_progress_percent))
                .where(col(Issue.parent_id).in_(chunk)))).all()
            for parent_id, status, total, derived, reported in rows:
                by_parent[str(parent_id)].append((status, total, derived, reported))
            parents += (await session.execute(select(Issue).where(col(Issue.id).in_(chunk)))).scalars().all()
        # deepest first: a parent's parent waits for the next round, after the parent itself is current
        deepest = max(p.depth for p in parents) if parents else 0
        later: set[str] = set()
        for parent in parents:
            if parent.depth < deepest:
                later.add(parent.id)
                continue
            kids = by_parent[parent.id]
            percents = [domain.child_percent(status=st, children_total=t, derived=d, reported=r)
                        for st, t, d, r in kids]
            parent.children_total = len(kids)
            parent.children_open = sum(1 for st, *_ in kids if st not in lifecycle.CLOSED)
            parent.derived_percent = domain.derived_percent(percents)
            session.add(parent)
            if parent.parent_id:
                later.add(parent.parent_id)
        await session.flush()
        pending = later


def _step(uow: UnitOfWork, *, issue_id: str, action: str, from_status: str | None, to_status: str,
          reason: str | None, details: dict[str, Any] | None, event_id: str, at: datetime) -> dict[str, Any]:
    return {"issue_id": issue_id, "action": action, "from_status": from_status, "to_status": to_status,
            "actor_user": uow.actor.user, "actor_org": uow.actor.org, "actor_role": uow.actor.role,
            "reason": reason, "details": details, "event_id": event_id, "at": at}


def start_of_day(day: date) -> datetime:
    """A business date as an instant: the start of that day in Asia/Shanghai, in UTC (as 交办日期 is counted)."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


# Which of a moved-in row's dates, and which unit, each lifecycle move of the import stands for.
_MOVED_IN_DATES = {Action.apply: ("signed_off_on", "signed_off_by", "销号"),
                   Action.accept: ("signed_off_on", "signed_off_by", "销号"),
                   Action.file: ("filed_on", "filed_by", "备案")}


async def _move_in(uow: UnitOfWork, *, issue_id: str, moved: dict[str, Any]) -> list[dict[str, Any]]:
    """Move a just-registered issue to where its ledger said it stood, by the lifecycle's own moves.

    Sign-off and filing happen at the start of their business date in Asia/Shanghai (so a sign-off on the
    deadline day is on time, and a day's moves keep the order of the lifecycle); a start has no date in the
    ledger, so it is dated when it was recorded. Each move is announced as issue.status_changed.
    """
    path = domain.path_from_initial(moved["status"])
    if path is None:  # the ledger's check refused it already; a second guard against a bad caller
        raise Invalid(f"status {moved['status']} cannot be reached from registration",
                      details=[{"field": "status", "message": "unreachable in contracts.lifecycle"}])
    now = uow.clock.now()
    steps = []
    for action, src, dst in path:
        dates = _MOVED_IN_DATES.get(action)
        day: date | None = moved.get(dates[0]) if dates else None
        by: str | None = moved.get(dates[1]) if dates else None
        at = start_of_day(day) if day is not None else now
        if day is not None:
            reason = f"台账迁入:{dates[2]}日期 {day.isoformat()}" + (f",记录单位 {by}" if by else "")  # type: ignore[index]
        else:
            reason = "台账迁入:迁入时状态为" + lifecycle.LABELS_ZH[dst]
        envelope = await uow.emit(issue_id, IssueStatusChanged(
            issue_id=issue_id, from_status=src, to_status=dst, reason=reason, cause_event_id=None, action=action,
            at=at, happened_on=day, recorded_by_org_id=by))
        steps.append(_step(uow, issue_id=issue_id, action=action.value, from_status=src.value, to_status=dst.value,
                           reason=reason, event_id=str(envelope.id), at=at,
                           details={"moved_in": True, "happened_on": day.isoformat() if day else None,
                                    "recorded_by_org_id": by, "recorded_at": now.isoformat()}))
    return steps


def _record(uow: UnitOfWork, issue: Issue, *, action: str, from_status: str | None, to_status: str,
            reason: str | None, event_id: str, details: dict[str, Any] | None = None) -> None:
    uow.session.add(Transition(
        issue_id=issue.id, action=action, from_status=from_status, to_status=to_status,
        actor_user=uow.actor.user, actor_org=uow.actor.org, actor_role=uow.actor.role, reason=reason,
        details=details, event_id=event_id, at=uow.clock.now(),
    ))


async def start_issue(uow: UnitOfWork, *, issue: Issue, note: str | None = None) -> Issue:
    """registered → in_progress, by the responsible org; announced as issue.started and issue.status_changed."""
    target = domain.next_status(action=Action.start, current=issue.status)
    envelope = await uow.emit(issue.id, IssueStarted(issue_id=issue.id, responsible_org_id=issue.responsible_org_id))
    await uow.emit(issue.id, IssueStatusChanged(
        issue_id=issue.id, from_status=IssueStatus(issue.status), to_status=target, reason=note,
        cause_event_id=str(envelope.id), action=Action.start, at=envelope.time))
    _record(uow, issue, action=Action.start.value, from_status=issue.status, to_status=target, reason=note,
            event_id=str(envelope.id))
    issue.status = target
    issue.updated_at = uow.clock.now()
    uow.session.add(issue)
    return issue


async def report_progress(uow: UnitOfWork, *, issue: Issue, note: str, percent: int,
                          evidence_ids: list[str]) -> Issue:
    """A progress report on an issue in progress (note, percent 0–100, evidence ids)."""
    domain.require_status(action="report progress on", current=issue.status, allowed=domain.PROGRESS_FROM)
    if evidence_ids:
        known = set((await uow.session.execute(
            select(col(EvidenceRef.evidence_id))
            .where(col(EvidenceRef.evidence_id).in_(evidence_ids), col(EvidenceRef.issue_id) == issue.id)
        )).scalars())
        bad = [(n, e) for n, e in enumerate(evidence_ids) if e not in known]
        if bad:
            raise Invalid(
                f"evidence_ids: {', '.join(e for _, e in bad)} 不是本问题已上传的证据（不存在、属于其他问题，或刚上传"
                f"尚未登记，请稍后重试）/ not evidence uploaded for this issue",
                details=[{"field": f"evidence_ids.{n}", "message": "no such evidence for this issue (unknown, of "
                          "another issue, or uploaded a moment ago and not yet known here: retry shortly)"}
                         for n, _ in bad])
    envelope = await uow.emit(issue.id, IssueProgressReported(
        issue_id=issue.id, responsible_org_id=issue.responsible_org_id, note=note, percent=percent,
        evidence_ids=evidence_ids))
    _record(uow, issue, action="progress", from_status=issue.status, to_status=issue.status, reason=note,
            event_id=str(envelope.id), details={"percent": percent, "evidence_ids": evidence_ids})
    now = uow.clock.now()
    issue.last_progress_note, issue.last_progress_percent, issue.last_progress_at = note, percent, now
    issue.updated_at = now
    uow.session.add(issue)
    if issue.parent_id:
        await refresh_parents(uow, parent_ids={issue.parent_id})
    return issue


async def request_extension(uow: UnitOfWork, *, issue: Issue, requested_deadline: date, reason: str) -> Extension:
    """The responsible org asks for a later deadline; one pending request at a time."""
    domain.require_status(action="request an extension of", current=issue.status, allowed=domain.EXTENSIBLE)
    if requested_deadline <= issue.deadline:
        raise Invalid("requested_deadline must be after the current deadline",
                      details=[{"field": "requested_deadline",
                                "message": f"must be after the current deadline {issue.deadline.isoformat()}"}])
    pending = await uow.session.execute(
        select(col(Extension.id)).where(col(Extension.issue_id) == issue.id,
                                        col(Extension.state) == "pending"))
    if pending.first() is not None:
        raise Conflict("an extension request of this issue is already pending", code="illegal_transition",
                       details=[{"field": "extension", "message": "wait for the pending request's decision"}])
    now = uow.clock.now()
    ext = Extension(id=new_id(), issue_id=issue.id, current_deadline=issue.deadline,
                    requested_deadline=requested_deadline, reason=reason, state="pending",
                    requested_by=uow.actor.user, requested_at=now)
    uow.session.add(ext)
    envelope = await uow.emit(issue.id, IssueExtensionRequested(
        issue_id=issue.id, extension_id=ext.id, responsible_org_id=issue.responsible_org_id,
        current_deadline=issue.deadline, requested_deadline=requested_deadline, reason=reason))
    _record(uow, issue, action="extension_requested", from_status=issue.status, to_status=issue.status,
            reason=reason, event_id=str(envelope.id),
            details={"extension_id": ext.id, "current_deadline": issue.deadline.isoformat(),
                     "requested_deadline": requested_deadline.isoformat()})
    return ext


async def decide_extension(uow: UnitOfWork, *, issue: Issue, ext: Extension, approved: bool,
                           opinion: str | None) -> Extension:
    """The admin approves (the deadline moves; the old one stays in history) or refuses a pending request."""
    if ext.state != "pending":
        raise Conflict(f"this extension request is already {ext.state}", code="illegal_transition",
                       details=[{"field": "extension", "message": f"already {ext.state}"}])
    if approved:
        domain.require_status(action="extend the deadline of", current=issue.status, allowed=domain.EXTENSIBLE)
    previous = issue.deadline
    new = ext.requested_deadline if approved else previous
    envelope = await uow.emit(issue.id, IssueExtensionDecided(
        issue_id=issue.id, extension_id=ext.id, approved=approved, previous_deadline=previous, deadline=new,
        opinion=opinion))
    now = uow.clock.now()
    ext.state, ext.decided_by, ext.decided_at, ext.opinion = ("approved" if approved else "refused",
                                                              uow.actor.user, now, opinion)
    uow.session.add(ext)
    _record(uow, issue, action="extension_approved" if approved else "extension_refused", from_status=issue.status,
            to_status=issue.status, reason=opinion, event_id=str(envelope.id),
            details={"extension_id": ext.id, "previous_deadline": previous.isoformat(), "deadline": new.isoformat()})
    if approved:
        issue.deadline = new
        issue.updated_at = now
        uow.session.add(issue)
        await uow.session.execute(update(Party).where(col(Party.issue_id) == issue.id).values(deadline=new))
    return ext


async def update_issue(uow: UnitOfWork, *, issue: Issue, changes: dict[str, Any], reason: str | None) -> Issue:
    """PATCH by the admin: reassign orgs or the leader, edit text; never the status. No change, no event."""
    merged = {"responsible_org_id": issue.responsible_org_id, "supervising_org_id": issue.supervising_org_id,
              "cooperating_org_ids": issue.cooperating_org_ids, **changes}
    _refuse(await _check_orgs(uow, merged))
    changed = sorted(k for k, v in changes.items() if getattr(issue, k) != v)
    if not changed:
        return issue
    before = {k: getattr(issue, k) for k in changed}
    for k in changed:
        setattr(issue, k, changes[k])
    payload = IssueUpdated(
        issue_id=issue.id, changed=changed, responsible_org_id=issue.responsible_org_id,
        cooperating_org_ids=list(issue.cooperating_org_ids), supervising_org_id=issue.supervising_org_id,
        leader=issue.leader, region_id=issue.region_id, category=issue.category, title=issue.title,
        description=issue.description, measures=issue.measures,
        target=issue.target, location=issue.location,  # type: ignore[arg-type]  # pydantic validates the dicts
    )
    envelope = await uow.emit(issue.id, payload)
    _record(uow, issue, action="update", from_status=issue.status, to_status=issue.status, reason=reason,
            event_id=str(envelope.id),
            details={"changed": changed, "before": before, "after": {k: changes[k] for k in changed}})
    issue.updated_at = uow.clock.now()
    uow.session.add(issue)
    if set(changed) & {"responsible_org_id", "cooperating_org_ids", "supervising_org_id"}:
        await replace_parties(uow.session, issue=issue)
    return issue


VerificationEvent = ClosureRequested | ClosureAccepted | ClosureRejected | ClosureFiled | IssueReopened


async def on_verification_event(uow: UnitOfWork, envelope: Envelope, payload: VerificationEvent) -> None:
    """Move the issue's status as the verification service decided, and log why."""
    issue_id = payload.issue_id
    issue = await get_issue(uow.session, issue_id=issue_id, lock=True)
    if issue is None:
        raise NotFound(f"issue {issue_id} named by {envelope.type} {envelope.id} is unknown here")
    action = lifecycle.EVENT_ACTIONS[envelope.type]
    target = domain.next_status(action=action, current=issue.status)
    reason = _reason_of(payload)
    emitted = await uow.emit(issue.id, IssueStatusChanged(
        issue_id=issue.id, from_status=IssueStatus(issue.status), to_status=target, reason=reason,
        cause_event_id=str(envelope.id), action=action, at=envelope.time,
    ))
    _record(uow, issue, action=action.value, from_status=issue.status, to_status=target, reason=reason,
            event_id=str(emitted.id), details=_cause_of(envelope))
    issue.status = target
    issue.updated_at = uow.clock.now()
    uow.session.add(issue)
    if issue.parent_id:
        if envelope.type == "issue.reopened":
            await _reopen_ancestors(uow, child=issue, reason=reason or "", cause_event_id=str(envelope.id),
                                    at=envelope.time)
        await refresh_parents(uow, parent_ids={issue.parent_id})


def _reason_of(payload: VerificationEvent) -> str | None:
    return getattr(payload, "opinion", None) or getattr(payload, "reason", None) or getattr(payload, "summary", None)


def _cause_of(envelope: Envelope) -> dict[str, Any]:
    return {"cause": {"type": envelope.type, "id": str(envelope.id), "actor": envelope.actor.model_dump(mode="json")}}


async def on_verification_events(run: Sequence[tuple[UnitOfWork, Envelope, VerificationEvent]]) -> None:
    """`on_verification_event` for a run of a batch, in a few statements whatever its length: the run's issues
    read and locked with one query (in id order), each event's move applied in memory in the order of the run,
    the issue.status_changed events emitted with `emit_each` (every chain head of the run read and locked at
    once), the history steps inserted and the issues updated with one statement each.

    An issue in a task tree (with a parent, or sub-tasks) moves its ancestors too (sub-task counts, reopening):
    the events of such issues go through `on_verification_event` one at a time, in their place in the run, with
    the set-based writes of the events before them done first, so the state, the history and the events (their
    order in the outbox, their seqs and hashes) are what handling the run one event at a time leaves."""
    session = run[0][0].session
    ids = sorted({payload.issue_id for _, _, payload in run})
    status: dict[str, str] = {}
    plain: set[str] = set()  # neither a parent nor a sub-task: its events move only itself
    for i in range(0, len(ids), 5000):  # chunked: within every driver's parameter limit
        rows = await session.execute(
            select(col(Issue.id), col(Issue.status), col(Issue.parent_id), col(Issue.children_total))
            .where(col(Issue.id).in_(ids[i:i + 5000])).order_by(col(Issue.id)).with_for_update())
        for issue_id, current, parent_id, children in rows.all():
            status[issue_id] = current
            if parent_id is None and not children:
                plain.add(issue_id)
    for _, envelope, payload in run:
        if payload.issue_id not in status:
            raise NotFound(f"issue {payload.issue_id} named by {envelope.type} {envelope.id} is unknown here")
    pending: list[tuple[UnitOfWork, Envelope, Action, str, IssueStatusChanged]] = []
    for uow, envelope, payload in run:
        if payload.issue_id not in plain:
            await _apply_moves(session, pending)
            pending = []
            await on_verification_event(uow, envelope, payload)
            continue
        action = lifecycle.EVENT_ACTIONS[envelope.type]
        current = status[payload.issue_id]
        target = domain.next_status(action=action, current=current)
        pending.append((uow, envelope, action, current, IssueStatusChanged(
            issue_id=payload.issue_id, from_status=IssueStatus(current), to_status=target,
            reason=_reason_of(payload), cause_event_id=str(envelope.id), action=action, at=envelope.time)))
        status[payload.issue_id] = target.value
    await _apply_moves(session, pending)


async def _apply_moves(session: AsyncSession,
                       moves: Sequence[tuple[UnitOfWork, Envelope, Action, str, IssueStatusChanged]]
                       ) -> None:
    """The writes of moves computed in memory: their events, history steps and the issues' new status."""
    if not moves:
        return
    emitted = await emit_each([(uow, move.issue_id, move) for uow, _, _, _, move in moves])
    steps, issues = [], {}
    for (uow, envelope, action, current, move), event in zip(moves, emitted, strict=True):
        steps.append({"issue_id": move.issue_id, "action": action.value, "from_status": current,
                      "to_status": move.to_status.value, "actor_user": uow.actor.user, "actor_org": uow.actor.org,
                      "actor_role": uow.actor.role, "reason": move.reason, "details": _cause_of(envelope),
                      "event_id": str(event.id), "at": uow.clock.now()})
        issues[move.issue_id] = {"id": move.issue_id, "status": move.to_status.value, "updated_at": uow.clock.now()}
    await session.execute(insert(Transition), steps)
    if session.get_bind().dialect.name == "postgresql":  # one statement, whatever the number of issues
        await session.execute(text(
            "UPDATE issues_issue AS i SET status = u.status, updated_at = u.updated_at FROM unnest("
            "CAST(:ids AS text[]), CAST(:statuses AS text[]), CAST(:times AS timestamptz[])) AS u(id, status, "
            "updated_at) WHERE i.id = u.id"), {
                "ids": list(issues), "statuses": [v["status"] for v in issues.values()],
                "times": [v["updated_at"] for v in issues.values()]})
    else:
        await session.execute(update(Issue), list(issues.values()))
    for issue_id, values in issues.items():  # an issue object of this session stays true to its row
        held = session.identity_map.get(identity_key(Issue, issue_id))
        if held is not None:
            set_committed_value(held, "status", values["status"])
            set_committed_value(held, "updated_at", values["updated_at"])


async def _reopen_ancestors(uow: UnitOfWork, *, child: Issue, reason: str, cause_event_id: str,
                            at: datetime) -> None:
    """A sub-task rebounded: each signed-off or filed task above it is reopened too, with the reason, announced as
    issue.parent_reopened and issue.status_changed (action reopen); an open one stops nothing and is left as is."""
    current, cause = child, cause_event_id
    while current.parent_id:
        parent = await get_issue(uow.session, issue_id=current.parent_id, lock=True)
        if parent is None:
            return
        if parent.status in lifecycle.CLOSED:
            why = f"子任务 {child.code} 反弹,上级任务随之重新整改:{reason}"[:2000]
            announced = await uow.emit(parent.id, IssueParentReopened(
                issue_id=parent.id, child_issue_id=child.id, child_code=child.code,
                from_status=IssueStatus(parent.status), reason=why, cause_event_id=cause,
                responsible_org_id=parent.responsible_org_id))
            target = domain.next_status(action=Action.reopen, current=parent.status)
            moved = await uow.emit(parent.id, IssueStatusChanged(
                issue_id=parent.id, from_status=IssueStatus(parent.status), to_status=target, reason=why,
                cause_event_id=str(announced.id), action=Action.reopen, at=at))
            _record(uow, parent, action=Action.reopen.value, from_status=parent.status, to_status=target,
                    reason=why, event_id=str(moved.id),
                    details={"cause": {"type": "issue.parent_reopened", "id": str(announced.id),
                                       "child_issue_id": child.id, "child_code": child.code}})
            parent.status = target
            parent.updated_at = uow.clock.now()
            uow.session.add(parent)
            cause = str(announced.id)
        current = parent


async def on_evidence_submitted(uow: UnitOfWork, envelope: Envelope, payload: EvidenceSubmitted) -> None:
    """Remember which issue an evidence file belongs to, so that progress reports name only its own evidence."""
    if await uow.session.get(EvidenceRef, payload.evidence_id) is None:
        uow.session.add(EvidenceRef(evidence_id=payload.evidence_id, issue_id=payload.issue_id,
                                    org_id=payload.org_id))


HANDLERS = HandlerTable()
HANDLERS.add(EvidenceSubmitted, on_evidence_submitted)
HANDLERS.add(ClosureRequested, on_verification_event, many=on_verification_events)
HANDLERS.add(ClosureAccepted, on_verification_event, many=on_verification_events)
HANDLERS.add(ClosureRejected, on_verification_event, many=on_verification_events)
HANDLERS.add(ClosureFiled, on_verification_event, many=on_verification_events)
HANDLERS.add(IssueReopened, on_verification_event, many=on_verification_events)

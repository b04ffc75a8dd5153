"""Commands and event handlers of the verification service, and the table that maps events to handlers."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel
from sqlalchemy import select

from contracts import Envelope
from contracts.events.issues import IssueRegistered, IssueStarted
from contracts.events.verification import ClosureAccepted, ClosureRejected, ClosureRequested, EvidenceSubmitted
from runtime.errors import Conflict, Invalid, NotFound
from runtime.outbox import UnitOfWork
from services.verification import domain
from services.verification.store import Closure, DecisionRecord, Evidence, KnownIssue, known_issue, open_closure


async def on_issue_registered(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Learn of a new issue: who applies, who decides."""
    assert isinstance(payload, IssueRegistered)
    if await uow.session.get(KnownIssue, payload.issue_id) is not None:
        return
    uow.session.add(KnownIssue(
        id=payload.issue_id, code=payload.code, round_id=payload.round_id,
        responsible_org_id=payload.responsible_org_id, cooperating_org_ids=list(payload.cooperating_org_ids),
        supervising_org_id=payload.supervising_org_id, status="registered",
        location=payload.location.model_dump() if payload.location else None, registered_at=envelope.time,
    ))


async def on_issue_started(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """The responsible org started work."""
    assert isinstance(payload, IssueStarted)
    issue = await known_issue(uow.session, issue_id=payload.issue_id, lock=True)
    if issue is None:
        raise NotFound(f"issue {payload.issue_id} started before it was registered here")
    if issue.status == "registered":
        issue.status = "in_progress"
        uow.session.add(issue)


async def submit_evidence(uow: UnitOfWork, *, issue: KnownIssue, evidence: Evidence) -> Evidence:
    """Record an uploaded file as evidence of an issue."""
    uow.session.add(evidence)
    await uow.emit("evidence.submitted", issue.id, EvidenceSubmitted(
        evidence_id=evidence.id, issue_id=issue.id, kind=evidence.kind, sha256=evidence.sha256, size=evidence.size,
        media_type=evidence.media_type, captured_at=evidence.captured_at, latitude=evidence.latitude,
        longitude=evidence.longitude, org_id=evidence.org_id,
    ))
    return evidence


async def _evidence_of(uow: UnitOfWork, *, issue_id: str, ids: list[str], field: str) -> list[Evidence]:
    found: list[Evidence] = []
    problems = []
    for i, eid in enumerate(ids):
        ev = await uow.session.get(Evidence, eid)
        if ev is None or ev.issue_id != issue_id:
            problems.append({"field": f"{field}.{i}", "message": f"no evidence {eid} for this issue"})
        else:
            found.append(ev)
    if problems:
        raise Invalid("; ".join(p["message"] for p in problems), details=problems)
    return found


async def apply_for_closure(uow: UnitOfWork, *, issue: KnownIssue, summary: str, evidence_ids: list[str]) -> Closure:
    """申请销号: the responsible org applies, with evidence of this issue; one open application at a time."""
    if await open_closure(uow.session, issue_id=issue.id) is not None:
        raise Conflict("this issue already has an open application for sign-off", code="illegal_transition",
                       details=[{"field": "issue_id", "message": "an application is already open"}])
    domain.check_can_apply(status=issue.status)
    if not evidence_ids:
        raise Invalid("at least one evidence file is needed", details=[{"field": "evidence_ids", "message": "empty"}])
    await _evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    previous = (await uow.session.execute(select(Closure).where(Closure.issue_id == issue.id))).scalars().all()
    closure = Closure(
        id=str(uuid.uuid4()), issue_id=issue.id, responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id, summary=summary, evidence_ids=evidence_ids, state="open",
        attempt=len(previous) + 1, created_by=uow.actor.user, created_at=uow.clock.now(),
    )
    uow.session.add(closure)
    issue.status = "closure_requested"
    uow.session.add(issue)
    await uow.emit("closure.requested", issue.id, ClosureRequested(
        closure_id=closure.id, issue_id=issue.id, responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id, summary=summary, evidence_ids=evidence_ids,
        attempt=closure.attempt,
    ))
    return closure


async def decide(uow: UnitOfWork, *, closure: Closure, issue: KnownIssue, decision: str, opinion: str | None,
                 reason_code: str | None, inspected_on: date | None, evidence_ids: list[str]) -> DecisionRecord:
    """核查验收: accept signs the issue off; reject sends it back with an opinion and a reason."""
    domain.check_open(state=closure.state)
    on_site = await _evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    applied = await _evidence_of(uow, issue_id=issue.id, ids=closure.evidence_ids, field="closure.evidence_ids")
    now = uow.clock.now()
    record = DecisionRecord(
        closure_id=closure.id, decision=decision, opinion=opinion, reason_code=reason_code,
        inspected_on=inspected_on,
        evidence=[{"id": e.id, "sha256": e.sha256} for e in [*applied, *on_site]],
        decided_by=uow.actor.user, decided_org=uow.actor.org, decided_at=now,
    )
    uow.session.add(record)
    closure.decided_at = now
    common = dict(closure_id=closure.id, issue_id=issue.id, responsible_org_id=issue.responsible_org_id,
                  supervising_org_id=issue.supervising_org_id, inspected_on=inspected_on, evidence_ids=evidence_ids)
    if decision == "accept":
        closure.state = "accepted"
        issue.status = "signed_off"
        await uow.emit("closure.accepted", issue.id, ClosureAccepted(opinion=opinion, **common))
    else:
        closure.state = "rejected"
        issue.status = "in_progress"
        await uow.emit("closure.rejected", issue.id, ClosureRejected(
            opinion=opinion or "", reason_code=reason_code, **common))  # type: ignore[arg-type]
    uow.session.add(closure)
    uow.session.add(issue)
    return record


HANDLERS = {
    "issue.registered": on_issue_registered,
    "issue.started": on_issue_started,
}

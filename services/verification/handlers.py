"""Commands and event handlers of the verification service, and the table that maps events to handlers."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts import Envelope, lifecycle
from contracts.events.issues import IssueRegistered, IssueStatusChanged, IssueUpdated, RoundRegistered
from contracts.events.verification import (
    ClosureAccepted,
    ClosureFiled,
    ClosureRejected,
    ClosureRequested,
    EvidenceFlagged,
    EvidenceSubmitted,
    IssueReopened,
)
from contracts.lifecycle import Action
from runtime.clock import new_id
from runtime.consumer import HandlerTable, Park, issue_key
from runtime.errors import Conflict, Invalid
from runtime.outbox import UnitOfWork
from services.verification import domain
from services.verification.media import PhotoFacts, phash_distance
from services.verification.store import (
    Closure,
    DecisionRecord,
    Evidence,
    KnownIssue,
    KnownRound,
    Reopening,
    accepted_closures,
    evidence_with_sha,
    image_hashes,
    known_issue,
    last_accepted_closure,
    open_children,
    open_closure,
)


async def on_round_registered(uow: UnitOfWork, envelope: Envelope, payload: RoundRegistered) -> None:
    """Learn a round's feedback date: evidence captured before it cannot show rectification."""
    known = await uow.session.get(KnownRound, payload.round_id)
    if known is None:
        uow.session.add(KnownRound(id=payload.round_id, feedback_on=payload.feedback_on))


async def on_issue_registered(uow: UnitOfWork, envelope: Envelope, payload: IssueRegistered) -> None:
    """Learn of a new issue: who applies, who decides, where the site is."""
    if await uow.session.get(KnownIssue, payload.issue_id) is not None:
        return
    uow.session.add(KnownIssue(
        id=payload.issue_id, code=payload.code, round_id=payload.round_id,
        responsible_org_id=payload.responsible_org_id, cooperating_org_ids=list(payload.cooperating_org_ids),
        supervising_org_id=payload.supervising_org_id, status=lifecycle.INITIAL.value,
        location=payload.location.model_dump() if payload.location else None,
        region_id=payload.region_id, category=payload.category,
        # handed over on its assigned date (交办日期) when a ledger was moved in later: the start of that day
        registered_at=domain.handed_over_at(registered_at=envelope.time, feedback_on=payload.assigned_on),
        parent_id=payload.parent_id,
    ))


async def on_status_changed(uow: UnitOfWork, envelope: Envelope, payload: IssueStatusChanged) -> None:
    """The status the issues service holds, the only source of it; it confirms this service's own decision."""
    issue = await known_issue(uow.session, issue_id=payload.issue_id, lock=True)
    if issue is None:
        raise Park(issue_key(payload.issue_id), f"issue {payload.issue_id} is not registered here yet")
    issue.status = payload.to_status.value
    if payload.to_status.value == "signed_off":
        issue.signed_off_at = payload.at or envelope.time  # when it was signed off (a ledger's 销号日期 too)
    if issue.own_event_id is not None and issue.own_event_id == payload.cause_event_id:
        issue.own_status, issue.own_event_id = None, None
    uow.session.add(issue)


def status_of(issue: KnownIssue) -> str:
    """The issue's status for this service's guards: the issues service's word, or where this service's own latest
    decision takes it while that is not yet confirmed (the issues service applies them in this order)."""
    return issue.own_status or issue.status


def _decided(issue: KnownIssue, action: Action, envelope: Envelope) -> None:
    """Remember where this service's decision takes the issue until issue.status_changed confirms it."""
    target = lifecycle.next_status(action, status_of(issue))
    issue.own_status = target.value if target is not None else None
    issue.own_event_id = str(envelope.id) if target is not None else None


async def on_issue_updated(uow: UnitOfWork, envelope: Envelope, payload: IssueUpdated) -> None:
    """A reassignment changes who may apply and who decides, from now on (an open application follows it)."""
    issue = await known_issue(uow.session, issue_id=payload.issue_id, lock=True)
    if issue is None:
        raise Park(issue_key(payload.issue_id), f"issue {payload.issue_id} is not registered here yet")
    issue.responsible_org_id = payload.responsible_org_id
    issue.cooperating_org_ids = list(payload.cooperating_org_ids)
    issue.supervising_org_id = payload.supervising_org_id
    issue.location = payload.location.model_dump() if payload.location else None
    issue.region_id, issue.category = payload.region_id, payload.category
    uow.session.add(issue)
    pending = await open_closure(uow.session, issue_id=issue.id)
    if pending is not None:
        pending.responsible_org_id = issue.responsible_org_id
        pending.supervising_org_id = issue.supervising_org_id
        uow.session.add(pending)


async def _reuse(uow: UnitOfWork, *, issue_id: str, sha256: str, phash: str | None,
                 max_distance: int) -> tuple[list[dict[str, str]], list[dict[str, object]]]:
    same = [{"evidence_id": e.id, "issue_id": e.issue_id}
            for e in await evidence_with_sha(uow.session, sha256=sha256, other_than_issue=issue_id)]
    look: list[dict[str, object]] = []
    if phash is not None:
        exact = {d["evidence_id"] for d in same}
        for eid, other_issue, other_hash in await image_hashes(uow.session, other_than_issue=issue_id):
            d = phash_distance(phash, other_hash)
            if d <= max_distance and eid not in exact:
                look.append({"evidence_id": eid, "issue_id": other_issue, "distance": d})
    return same, look


async def submit_evidence(uow: UnitOfWork, *, issue: KnownIssue, evidence: Evidence, facts: PhotoFacts,
                          far_metres: float, max_phash_distance: int) -> Evidence:
    """Record an uploaded file as evidence of an issue, with its integrity flags (evidence.flagged when any)."""
    evidence.exif_captured_at = facts.captured_at
    evidence.exif_latitude = facts.latitude
    evidence.exif_longitude = facts.longitude
    evidence.phash = facts.phash
    rnd = await uow.session.get(KnownRound, issue.round_id)
    handed_over = domain.handed_over_at(registered_at=issue.registered_at,
                                        feedback_on=rnd.feedback_on if rnd else None)
    same, look = await _reuse(uow, issue_id=issue.id, sha256=evidence.sha256, phash=facts.phash,
                              max_distance=max_phash_distance)
    captures = [
        domain.Capture("exif", facts.captured_at, facts.latitude, facts.longitude),
        domain.Capture("client", evidence.captured_at, evidence.latitude, evidence.longitude),
    ]
    flags = domain.integrity_flags(
        is_photo=evidence.kind == "photo" or evidence.media_type.startswith("image/"), captures=captures,
        handed_over=handed_over, site=issue.location, far_metres=far_metres,
        reused_by_hash=same, reused_by_look=look,
    )
    evidence.flags = flags.codes
    evidence.flag_details = flags.details
    uow.session.add(evidence)
    await uow.emit(issue.id, EvidenceSubmitted(
        evidence_id=evidence.id, issue_id=issue.id, kind=evidence.kind,  # type: ignore[arg-type]  # pydantic validates
        sha256=evidence.sha256, size=evidence.size,
        media_type=evidence.media_type, captured_at=evidence.captured_at or facts.captured_at,
        latitude=evidence.latitude if evidence.latitude is not None else facts.latitude,
        longitude=evidence.longitude if evidence.longitude is not None else facts.longitude,
        org_id=evidence.org_id, flags=flags.codes,
    ))
    if flags.codes:
        await uow.emit(issue.id, EvidenceFlagged.model_validate({
            "evidence_id": evidence.id, "issue_id": issue.id, "sha256": evidence.sha256, "flags": flags.codes,
            "details": flags.details, "responsible_org_id": issue.responsible_org_id,
            "supervising_org_id": issue.supervising_org_id, "org_id": evidence.org_id,
        }))
    return evidence


async def evidence_of(uow: UnitOfWork, *, issue_id: str, ids: list[str], field: str) -> list[Evidence]:
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


async def _no_open_children(uow: UnitOfWork, *, issue: KnownIssue, what: str) -> None:
    """409 naming the open sub-tasks: a parent task is signed off only after every sub-task is (任务分解)."""
    codes = await open_children(uow.session, issue_id=issue.id, closed=frozenset(s.value for s in lifecycle.CLOSED))
    if codes:
        listed = "、".join(codes)
        raise Conflict(f"子任务尚未全部销号,不能{what}:{listed} (sub-tasks still open: {', '.join(codes)})",
                       code="illegal_transition",
                       details=[{"field": "issue_id", "message": f"open sub-task {c}"} for c in codes])


async def apply_for_closure(uow: UnitOfWork, *, issue: KnownIssue, summary: str, evidence_ids: list[str]) -> Closure:
    """申请销号: the responsible org applies, with evidence of this issue; one open application at a time."""
    if await open_closure(uow.session, issue_id=issue.id) is not None:
        raise Conflict("this issue already has an open application for sign-off", code="illegal_transition",
                       details=[{"field": "issue_id", "message": "an application is already open"}])
    domain.check_can_apply(status=status_of(issue))
    await _no_open_children(uow, issue=issue, what="申请销号 (apply for sign-off)")
    if not evidence_ids:
        raise Invalid("at least one evidence file is needed", details=[{"field": "evidence_ids", "message": "empty"}])
    await evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    issue.applications += 1
    closure = Closure(
        id=new_id(), issue_id=issue.id, responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id, summary=summary, evidence_ids=evidence_ids, state="open",
        attempt=issue.applications, created_by=uow.actor.user, created_at=uow.clock.now(),
    )
    uow.session.add(closure)
    envelope = await uow.emit(issue.id, ClosureRequested(
        closure_id=closure.id, issue_id=issue.id, responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id, summary=summary, evidence_ids=evidence_ids,
        attempt=closure.attempt,
    ))
    _decided(issue, Action.apply, envelope)
    uow.session.add(issue)
    return closure


async def decide(uow: UnitOfWork, *, closure: Closure, issue: KnownIssue, decision: str, opinion: str | None,
                 reason_code: str | None, inspected_on: date | None, evidence_ids: list[str]) -> DecisionRecord:
    """核查验收: accept signs the issue off; reject sends it back with an opinion and a reason."""
    domain.check_open(state=closure.state)
    if decision == "accept":
        await _no_open_children(uow, issue=issue, what="验收销号 (accept and sign off)")
    on_site = await evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    applied = await evidence_of(uow, issue_id=issue.id, ids=closure.evidence_ids, field="closure.evidence_ids")
    now = uow.clock.now()
    record = DecisionRecord(
        closure_id=closure.id, decision=decision, opinion=opinion, reason_code=reason_code,
        inspected_on=inspected_on,
        evidence=[{"id": e.id, "sha256": e.sha256, "on_site": False} for e in applied]
        + [{"id": e.id, "sha256": e.sha256, "on_site": True} for e in on_site],
        decided_by=uow.actor.user, decided_org=uow.actor.org, decided_at=now,
    )
    uow.session.add(record)
    closure.decided_at = now
    common: dict[str, Any] = {
        "closure_id": closure.id, "issue_id": issue.id, "responsible_org_id": issue.responsible_org_id,
        "supervising_org_id": issue.supervising_org_id, "inspected_on": inspected_on,
        "evidence_ids": evidence_ids, "attempt": closure.attempt,
    }
    if decision == "accept":
        closure.state = "accepted"
        issue.signed_off_at = now
        envelope = await uow.emit(issue.id, ClosureAccepted(opinion=opinion, **common))
        _decided(issue, Action.accept, envelope)
    else:
        closure.state = "rejected"
        issue.rejections += 1
        envelope = await uow.emit(issue.id, ClosureRejected(
            opinion=opinion or "", reason_code=reason_code, **common))  # type: ignore[arg-type]  # pydantic validates
        _decided(issue, Action.reject, envelope)
    uow.session.add(closure)
    uow.session.add(issue)
    return record


async def file_closure(uow: UnitOfWork, *, closure: Closure, issue: KnownIssue) -> Closure:
    """备案: the inspection office files an accepted application of a signed-off issue."""
    domain.check_can_file(state=closure.state, status=status_of(issue))
    closure.state = "filed"
    closure.filed_at = uow.clock.now()
    closure.filed_by = uow.actor.user
    uow.session.add(closure)
    envelope = await uow.emit(issue.id, ClosureFiled(
        closure_id=closure.id, issue_id=issue.id, responsible_org_id=issue.responsible_org_id))
    _decided(issue, Action.file, envelope)
    uow.session.add(issue)
    return closure


async def file_issue(uow: UnitOfWork, *, issue: KnownIssue) -> Closure | None:
    """备案 of a signed-off issue by its id: its accepted application when it has one (as `file_closure`); else the
    sign-off was moved in with a ledger kept elsewhere (台账迁入) and no application here stands behind it, and
    the filing is announced without one (closure.filed with no closure_id)."""
    accepted = await accepted_closures(uow.session, issue_id=issue.id)
    if accepted:
        return await file_closure(uow, closure=accepted[0], issue=issue)
    domain.check_can_file_moved_in(status=status_of(issue))
    envelope = await uow.emit(issue.id, ClosureFiled(
        closure_id=None, issue_id=issue.id, responsible_org_id=issue.responsible_org_id))
    _decided(issue, Action.file, envelope)
    uow.session.add(issue)
    return None


async def reopen(uow: UnitOfWork, *, issue: KnownIssue, reason: str, evidence_ids: list[str],
                 sample_id: str | None = None) -> Reopening:
    """不反弹: a signed-off or filed issue whose problem came back goes back to in_progress, and it counts."""
    domain.check_can_reopen(status=status_of(issue))
    await evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    last = await last_accepted_closure(uow.session, issue_id=issue.id)
    issue.reopenings += 1
    record = Reopening(
        id=new_id(), issue_id=issue.id, closure_id=last.id if last else None, from_status=status_of(issue),
        reason=reason, evidence_ids=evidence_ids, number=issue.reopenings, reopened_by=uow.actor.user,
        reopened_org=uow.actor.org, created_at=uow.clock.now(),
    )
    uow.session.add(record)
    envelope = await uow.emit(issue.id, IssueReopened(
        reopening_id=record.id, issue_id=issue.id, responsible_org_id=issue.responsible_org_id, reason=reason,
        evidence_ids=evidence_ids, supervising_org_id=issue.supervising_org_id, from_status=record.from_status,
        number=record.number, sample_id=sample_id,
    ))
    _decided(issue, Action.reopen, envelope)
    uow.session.add(issue)
    return record


HANDLERS = HandlerTable()
HANDLERS.add(RoundRegistered, on_round_registered)
HANDLERS.add(IssueRegistered, on_issue_registered, releases=lambda p: issue_key(p.issue_id))
HANDLERS.add(IssueStatusChanged, on_status_changed)
HANDLERS.add(IssueUpdated, on_issue_updated)

"""Random re-inspection (抽查): draw signed-off or filed tasks from public inputs, and record each re-inspection."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from contracts import GENESIS_HASH
from contracts import sampling as rules
from contracts.enums import ReinspectionOutcome
from contracts.envelope import format_time
from contracts.events.verification import SampleDrawn, SampleReinspected
from runtime.clock import SHANGHAI, new_id
from runtime.errors import Conflict, Forbidden, Invalid
from runtime.models import Checkpoint
from runtime.outbox import UnitOfWork
from services.verification import domain
from services.verification.handlers import evidence_of, reopen, status_of
from services.verification.store import (
    KnownIssue,
    Sample,
    SampleItem,
    closed_issues,
    last_acceptance,
)

MAX_CANDIDATES = 5000  # the draw records every candidate in its event; a larger pool is a narrower draw's work
SERVICE = "verification"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def period_range(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in Asia/Shanghai, as UTC instants; 422 naming `period` when it is none."""
    try:
        first, last = rules.period_days(period)
    except ValueError as exc:
        raise Invalid(f"抽查期间格式不对,请写 2020-09、2020-H2 或 2020 (period: {exc})",
                      details=[{"field": "period", "message": "expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY"}]) from None
    return _start(first), _start(last + timedelta(days=1))


def stratum_of(issue: KnownIssue, stratify_by: str) -> str:
    """The stratum a task falls in ("" when not stratified, or when it names no region or category)."""
    if stratify_by == "region":
        return issue.region_id or ""
    if stratify_by == "category":
        return issue.category or ""
    return ""


async def latest_checkpoint(uow: UnitOfWork) -> dict[str, Any]:
    """The log's newest signed checkpoint as the draw records it (size 0 and the genesis root before any)."""
    cp = (await uow.session.execute(select(Checkpoint).order_by(col(Checkpoint.size).desc()).limit(1))
          ).scalar_one_or_none()
    if cp is None:
        return {"service": SERVICE, "size": 0, "root": GENESIS_HASH}
    return {"service": SERVICE, "size": cp.size, "root": cp.root, "time": format_time(cp.time),
            "key_id": cp.key_id, "signature": cp.signature}


async def draw_sample(uow: UnitOfWork, *, period: str, scope: str, basis: str, share: str | None,
                      count: int | None, stratify_by: str) -> tuple[Sample, list[SampleItem]]:
    """抽查: draw signed-off or filed tasks from public inputs (contracts.sampling), and record every input."""
    start, end = period_range(period)
    pool = [i for i in await closed_issues(uow.session)
            if scope == "all" or (i.signed_off_at is not None and start <= i.signed_off_at < end)]
    if not pool:
        raise Conflict(f"{period} 没有可抽查的已销号或已备案任务 (no signed-off or filed task to draw from"
                       f"{' in ' + period if scope == 'period' else ''})", code="nothing_to_draw",
                       details=[{"field": "period", "message": "no candidate"}])
    if len(pool) > MAX_CANDIDATES:
        raise Conflict(f"候选任务 {len(pool)} 项,超过单次抽查上限 {MAX_CANDIDATES} 项,请缩小抽查期间 "
                       f"({len(pool)} candidates; at most {MAX_CANDIDATES} per draw: draw a shorter period)",
                       code="too_many_candidates", details=[{"field": "period", "message": "too many candidates"}])
    by_id = {i.id: i for i in pool}
    candidates = [rules.Candidate(i.id, stratum_of(i, stratify_by)) for i in pool]
    checkpoint = await latest_checkpoint(uow)
    result = rules.draw(period=period, basis=basis, share=share, count=count, stratify_by=stratify_by,
                        checkpoint_service=checkpoint["service"], checkpoint_size=checkpoint["size"],
                        checkpoint_root=checkpoint["root"], candidates=candidates)
    now = uow.clock.now()
    sample = Sample(id=new_id(), period=period, scope=scope, basis=basis, share=share, count=count,
                    stratify_by=stratify_by, checkpoint=checkpoint, seed=result.seed, candidates=len(candidates),
                    strata=[{"stratum": s.stratum, "candidates": s.candidates, "drawn": s.drawn}
                            for s in result.strata],
                    drawn_by=uow.actor.user, drawn_at=now)
    uow.session.add(sample)
    items: list[SampleItem] = []
    for position, chosen in enumerate(result.items, 1):
        issue = by_id[chosen.issue_id]
        accepted = await last_acceptance(uow.session, issue_id=issue.id)
        item = SampleItem(sample_id=sample.id, issue_id=issue.id, position=position, stratum=chosen.stratum,
                          code=issue.code, responsible_org_id=issue.responsible_org_id,
                          supervising_org_id=issue.supervising_org_id,
                          # a sign-off moved in from a ledger has no decision here: its supervising org signed it
                          accepted_by_org_id=accepted.decided_org if accepted else issue.supervising_org_id,
                          accepted_by=accepted.decided_by if accepted else None, evidence_ids=[])
        uow.session.add(item)
        items.append(item)
    await uow.emit(sample.id, SampleDrawn.model_validate({
        "sample_id": sample.id, "algorithm": rules.ALGORITHM, "period": period, "scope": scope, "basis": basis,
        "share": share, "count": count, "stratify_by": stratify_by, "checkpoint": checkpoint,
        "candidates": [{"issue_id": c.issue_id, "stratum": c.stratum} for c in sorted(candidates)],
        "seed": result.seed, "strata": sample.strata,
        "items": [{"issue_id": i.issue_id, "stratum": i.stratum, "code": i.code,
                   "responsible_org_id": i.responsible_org_id, "supervising_org_id": i.supervising_org_id,
                   "accepted_by_org_id": i.accepted_by_org_id, "accepted_by": i.accepted_by} for i in items],
    }), new_subject=True)
    return sample, items


def check_reinspector(*, org: str | None, user: str, item: SampleItem, issue: KnownIssue) -> None:
    """403 unless the caller may re-inspect this drawn task (domain.reinspector_refusal says why not)."""
    why = domain.reinspector_refusal(org=org, user=user, accepted_by_org_id=item.accepted_by_org_id,
                                     accepted_by=item.accepted_by, responsible_org_id=issue.responsible_org_id,
                                     cooperating_org_ids=list(issue.cooperating_org_ids),
                                     supervising_org_id=issue.supervising_org_id)
    if why is not None:
        raise Forbidden(f"抽查复核须由销号单位以外单位的监管人员进行 (only a supervisor of another org than the one "
                        f"that signed the task off may re-inspect it: {why})")


async def reinspect(uow: UnitOfWork, *, sample: Sample, item: SampleItem, issue: KnownIssue,
                    outcome: ReinspectionOutcome, opinion: str, inspected_on: date | None,
                    evidence_ids: list[str]) -> SampleItem:
    """复核 a drawn task: confirm its sign-off, or find a rebound and reopen it (issue.reopened) with evidence."""
    if item.outcome is not None:
        raise Conflict(f"该任务已于 {item.reinspected_at} 复核 (this drawn task was already re-inspected: "
                       f"{item.outcome})", code="already_reinspected",
                       details=[{"field": "issue_id", "message": f"already {item.outcome}"}])
    check_reinspector(org=uow.actor.org, user=uow.actor.user, item=item, issue=issue)
    # confirmed or rebound, the task must still be signed off or filed: one reopened since the draw is no longer
    # the sign-off that was drawn (the lifecycle's reopen sources are exactly those)
    domain.check_can_reopen(status=status_of(issue))
    await evidence_of(uow, issue_id=issue.id, ids=evidence_ids, field="evidence_ids")
    reopening_id: str | None = None
    if outcome == ReinspectionOutcome.rebound:
        if not evidence_ids:
            raise Invalid("发现反弹须附证据 (a rebound needs at least one evidence file)",
                          details=[{"field": "evidence_ids", "message": "at least one when the outcome is rebound"}])
        record = await reopen(uow, issue=issue, reason=f"抽查复核发现反弹:{opinion}", evidence_ids=evidence_ids,
                              sample_id=sample.id)
        reopening_id = record.id
    item.outcome = outcome.value
    item.opinion = opinion
    item.inspected_on = inspected_on
    item.evidence_ids = list(evidence_ids)
    item.reinspected_by = uow.actor.user
    item.reinspector_org_id = uow.actor.org
    item.reinspected_at = uow.clock.now()
    item.reopening_id = reopening_id
    uow.session.add(item)
    assert uow.actor.org is not None  # check_reinspector refused a caller without an org
    await uow.emit(sample.id, SampleReinspected(
        sample_id=sample.id, period=sample.period, issue_id=issue.id, outcome=outcome, opinion=opinion,
        inspected_on=inspected_on, evidence_ids=list(evidence_ids), responsible_org_id=issue.responsible_org_id,
        supervising_org_id=issue.supervising_org_id, accepted_by_org_id=item.accepted_by_org_id,
        reinspector_org_id=uow.actor.org, reopening_id=reopening_id))
    return item

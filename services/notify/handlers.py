"""Event handlers of the notify service and the table that maps them.

Each handler keeps notify's own view of issues current and issues the notices of the design's table at once.
A notice's key comes from the event id, so a redelivered event (or a second replica) adds nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts import Envelope, lifecycle
from contracts.events.issues import (
    IssueExtensionDecided,
    IssueMilestoneAdded,
    IssueMilestoneReported,
    IssueMilestoneReviewed,
    IssueParentReopened,
    IssueProgressReported,
    IssueRegistered,
    IssueStatusChanged,
    IssueUpdated,
    OrgRegistered,
)
from contracts.events.scoring import AppealDecided, AppealFiled, CalendarYearPublished, RankingPublished
from contracts.events.verification import (
    ClosureAccepted,
    ClosureRejected,
    ClosureRequested,
    IssueReopened,
    SampleDrawn,
    SampleReinspected,
)
from runtime.consumer import HandlerTable, Park, issue_key
from runtime.outbox import UnitOfWork
from services.notify import domain
from services.notify.bulletins import publish_bulletin
from services.notify.notices import CHUNK, Addressee, Directory, LeaderTitle, Notices, Org, notify
from services.notify.store import AppealView, CalendarYear, Fact, IssueView, MilestoneView, OrgView, Reinspection, insert_for

log = structlog.get_logger("closeloop.notify")

REJECT_ZH = {"insufficient_evidence": "佐证材料不足", "target_not_met": "未达到整改目标", "superficial": "表面整改",
             "other": "其他"}


async def _issue(uow: UnitOfWork, issue_id: str) -> IssueView:
    """Notify's view of the issue; an event about an issue not registered here yet waits for it (parked)."""
    view = await uow.session.get(IssueView, issue_id)
    if view is None:
        raise Park(issue_key(issue_id), f"issue {issue_id} is not registered here yet")
    return view


def _label(view: IssueView) -> str:
    return f"{view.code}「{view.title}」"


async def _fact(uow: UnitOfWork, envelope: Envelope, *, org_id: str, kind: str, issue_id: str | None,
                detail: str | None = None, at: datetime | None = None) -> None:
    ins = insert_for(uow.session)
    await uow.session.execute(ins(Fact).values(event_id=str(envelope.id), org_id=org_id, kind=kind, issue_id=issue_id,
                                               at=at or envelope.time, detail=detail).on_conflict_do_nothing())


async def on_org_registered(uow: UnitOfWork, envelope: Envelope, payload: OrgRegistered) -> None:
    """Remember the org's name for digests."""
    org = await uow.session.get(OrgView, payload.org_id) or OrgView(id=payload.org_id, name=payload.name,
                                                                    kind=str(payload.kind))
    org.name, org.kind = payload.name, str(payload.kind)
    uow.session.add(org)


# --- issue and closure events, one at a time or a run of them at once ---------------------------------------------
#
# Each handler below is written once, against `Run`: what the events of a run share (notify's views of their issues,
# read with one query; one directory; the facts and notices they add, written together when the run is done). The
# one-event form is a run of one; `on_issue_events` is the set-based form of a batch's run (HandlerTable many=).


class Run:
    """What the handlers of a run of issue and closure events share, on the batch's one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.views: dict[str, IssueView | None] = {}
        self.notices = Notices(session)
        self.facts: list[dict[str, Any]] = []

    async def load(self, issue_ids: Iterable[str]) -> None:
        """Read the views of these issues (those not read yet) with one query."""
        missing = sorted({i for i in issue_ids if i not in self.views})
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            found = {v.id: v for v in (await self.session.execute(
                select(IssueView).where(col(IssueView.id).in_(chunk)))).scalars()}
            self.views.update({i: found.get(i) for i in chunk})

    async def view(self, issue_id: str) -> IssueView | None:
        """Notify's view of the issue, or None."""
        if issue_id not in self.views:
            await self.load([issue_id])
        return self.views[issue_id]

    async def issue(self, issue_id: str) -> IssueView:
        """Notify's view of the issue; an event about an issue not registered here yet waits for it (parked)."""
        view = await self.view(issue_id)
        if view is None:
            raise Park(issue_key(issue_id), f"issue {issue_id} is not registered here yet")
        return view

    def add(self, view: IssueView) -> None:
        """A view new in this run."""
        self.session.add(view)
        self.views[view.id] = view

    def fact(self, envelope: Envelope, *, org_id: str, kind: str, issue_id: str | None, detail: str | None = None,
             at: datetime | None = None) -> None:
        """A countable event for the half-year account (once per event, org and kind)."""
        self.facts.append({"event_id": str(envelope.id), "org_id": org_id, "kind": kind, "issue_id": issue_id,
                           "at": at or envelope.time, "detail": detail})

    def notify(self, uow: UnitOfWork, *, trigger: str, key: str, subject: str, title: str, body: str,
               recipients: list[Addressee]) -> None:
        """A notice of the event `uow` handles (see `Notices.add`)."""
        self.notices.add(uow, trigger=trigger, key=key, subject=subject, title=title, body=body,
                         recipients=recipients)

    async def finish(self) -> None:
        """Write the facts (one multi-row insert) and the notices (`Notices.write`) the run added, in order."""
        await self.session.flush()  # the views' changes first, as one handler after another would
        table: Any = Fact.__table__  # type: ignore[attr-defined]
        facts, self.facts = self.facts, []
        for start in range(0, len(facts), CHUNK):
            await self.session.execute(insert_for(self.session)(table).values(facts[start:start + CHUNK])
                                       .on_conflict_do_nothing())
        await self.notices.write()


async def _registered(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueRegistered) -> None:
    """Keep the issue, and tell the responsible org (cooperating orgs in copy) it was assigned to it."""
    view = await r.view(payload.issue_id)
    if view is None:
        view = IssueView(id=payload.issue_id, code=payload.code, title=payload.title,
                         responsible_org_id=payload.responsible_org_id,
                         cooperating_org_ids=list(payload.cooperating_org_ids),
                         supervising_org_id=payload.supervising_org_id, leader=payload.leader,
                         deadline=payload.deadline, status=lifecycle.INITIAL.value,
                         registered_at=domain.assigned_at(envelope.time, payload.assigned_on),
                         moves_pending=payload.moves_following)
        r.add(view)
    _announce_assignment(r, uow, envelope, view, trigger="issue.assigned", verb="交办")


def _announce_assignment(r: Run, uow: UnitOfWork, envelope: Envelope, view: IssueView, *, trigger: str,
                         verb: str) -> None:
    deadline = view.deadline.isoformat()
    r.notify(uow, trigger=trigger, key=f"{trigger}:{envelope.id}", subject=view.id,
             title=f"整改任务{verb}:{view.code} {view.title}",
             body=f"整改任务 {view.code}「{view.title}」已{verb}贵单位牵头办理,整改时限 {deadline}。"
                  f"请按时推进整改并报送进展。",
             recipients=[Org(view.responsible_org_id)])
    if view.cooperating_org_ids:
        r.notify(uow, trigger=trigger, key=f"{trigger}:{envelope.id}", subject=view.id,
                 title=f"(抄送)整改任务{verb}:{view.code} {view.title}",
                 body=f"整改任务 {view.code}「{view.title}」已{verb},贵单位为配合单位,牵头单位为 "
                      f"{view.responsible_org_id},整改时限 {deadline}。",
                 recipients=[Org(o) for o in view.cooperating_org_ids if o != view.responsible_org_id])


async def _updated(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueUpdated) -> None:
    """Keep the issue current; a change of responsible or cooperating orgs is announced as a reassignment."""
    view = await r.issue(payload.issue_id)
    view.responsible_org_id = payload.responsible_org_id
    view.cooperating_org_ids = list(payload.cooperating_org_ids)
    view.supervising_org_id = payload.supervising_org_id
    view.leader = payload.leader
    view.title = payload.title
    r.session.add(view)
    if {"responsible_org_id", "cooperating_org_ids"} & set(payload.changed):
        _announce_assignment(r, uow, envelope, view, trigger="issue.reassigned", verb="调整交办")


async def _status_changed(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueStatusChanged) -> None:
    """Follow the status the issues service holds: the only place notify writes an issue's status."""
    view = await r.issue(payload.issue_id)
    view.status = payload.to_status.value
    view.moves_pending = max(0, view.moves_pending - 1)
    r.session.add(view)
    if payload.happened_on is not None and payload.to_status.value == "signed_off":
        # a sign-off moved in from a ledger kept elsewhere has no closure.accepted: the half-year account counts
        # it on its business date (销号日期)
        r.fact(envelope, org_id=view.responsible_org_id, kind="signed_off", issue_id=payload.issue_id, at=payload.at)


async def _progress(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueProgressReported) -> None:
    """The last progress, for the weekly dispatch."""
    view = await r.issue(payload.issue_id)
    if view.progress_at is None or envelope.time >= view.progress_at:
        view.progress_note, view.progress_percent, view.progress_at = payload.note, payload.percent, envelope.time
        r.session.add(view)


async def _extension_decided(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueExtensionDecided) -> None:
    """An approved extension moves the deadline; reminders are keyed by deadline, so they start afresh."""
    view = await r.issue(payload.issue_id)
    if payload.approved:
        view.deadline = payload.deadline
        r.session.add(view)


async def _closure_requested(r: Run, uow: UnitOfWork, envelope: Envelope, payload: ClosureRequested) -> None:
    """Tell the supervising org a closure application awaits its verification."""
    view = await r.issue(payload.issue_id)
    r.notify(uow, trigger="closure.requested", key=f"closure.requested:{envelope.id}", subject=payload.issue_id,
             title=f"销号申请待核查:{view.code}",
             body=f"{payload.responsible_org_id} 已就整改任务 {_label(view)} 申请销号(第{payload.attempt}次),"
                  f"整改情况:{payload.summary}。请组织核查验收。",
             recipients=[Org(payload.supervising_org_id)])


async def _closure_accepted(r: Run, uow: UnitOfWork, envelope: Envelope, payload: ClosureAccepted) -> None:
    """Tell the responsible org its issue was accepted and signed off."""
    view = await r.issue(payload.issue_id)
    r.fact(envelope, org_id=payload.responsible_org_id, kind="signed_off", issue_id=payload.issue_id)
    opinion = f"核查意见:{payload.opinion}" if payload.opinion else ""
    r.notify(uow, trigger="closure.accepted", key=f"closure.accepted:{envelope.id}", subject=payload.issue_id,
             title="整改任务已通过验收并销号",
             body=f"贵单位申请销号的整改任务 {_label(view)} 已通过监管单位核查验收,予以销号。"
                  f"{opinion}",
             recipients=[Org(payload.responsible_org_id)])


async def _closure_rejected(r: Run, uow: UnitOfWork, envelope: Envelope, payload: ClosureRejected) -> None:
    """Tell the responsible org its application was sent back, with the supervisor's opinion."""
    view = await r.issue(payload.issue_id)
    r.fact(envelope, org_id=payload.responsible_org_id, kind="rejected", issue_id=payload.issue_id,
           detail=payload.opinion)
    reason = REJECT_ZH.get(str(payload.reason_code), str(payload.reason_code))
    r.notify(uow, trigger="closure.rejected", key=f"closure.rejected:{envelope.id}", subject=payload.issue_id,
             title=f"销号申请被退回:{view.code}",
             body=f"贵单位就整改任务 {_label(view)} 提出的销号申请未通过核查验收,"
                  f"退回原因:{reason}。核查意见:{payload.opinion}。请继续整改后重新申请。",
             recipients=[Org(payload.responsible_org_id)])


async def _reopened(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueReopened) -> None:
    """A rebound: tell the responsible org and the leader in charge."""
    view = await r.issue(payload.issue_id)
    r.fact(envelope, org_id=payload.responsible_org_id, kind="reopened", issue_id=payload.issue_id,
           detail=payload.reason)
    recipients: list[Addressee] = [Org(payload.responsible_org_id)]
    if view.leader:
        recipients.append(LeaderTitle(view.leader))
    r.notify(uow, trigger="issue.reopened", key=f"issue.reopened:{envelope.id}", subject=payload.issue_id,
             title=f"问题反弹,重新整改:{view.code}",
             body=f"已销号的整改任务 {_label(view)} 出现反弹,现重新交由 "
                  f"{payload.responsible_org_id} 整改。原因:{payload.reason}。",
             recipients=recipients)


async def _parent_reopened(r: Run, uow: UnitOfWork, envelope: Envelope, payload: IssueParentReopened) -> None:
    """A sub-task rebounded and its signed-off parent is reopened: tell the parent's org and its leader in charge."""
    view = await r.issue(payload.issue_id)
    recipients: list[Addressee] = [Org(view.responsible_org_id)]
    if view.leader:
        recipients.append(LeaderTitle(view.leader))
    r.notify(uow, trigger="issue.parent_reopened", key=f"issue.parent_reopened:{envelope.id}",
             subject=payload.issue_id, title=f"子任务反弹,上级任务重新整改:{view.code}",
             body=f"整改任务 {_label(view)} 的子任务 {payload.child_code} 出现反弹,该任务随之重新整改。"
                  f"原因:{payload.reason}。", recipients=recipients)


IssueEvent = (IssueRegistered | IssueUpdated | IssueStatusChanged | IssueProgressReported | IssueExtensionDecided
              | ClosureRequested | ClosureAccepted | ClosureRejected | IssueReopened | IssueParentReopened)
_BODIES: dict[type[Any], Callable[[Run, UnitOfWork, Envelope, Any], Awaitable[None]]] = {
    IssueRegistered: _registered, IssueUpdated: _updated, IssueStatusChanged: _status_changed,
    IssueProgressReported: _progress, IssueExtensionDecided: _extension_decided,
    ClosureRequested: _closure_requested, ClosureAccepted: _closure_accepted, ClosureRejected: _closure_rejected,
    IssueReopened: _reopened, IssueParentReopened: _parent_reopened,
}


async def on_issue_event(uow: UnitOfWork, envelope: Envelope, payload: IssueEvent) -> None:
    """An issue or closure event alone: notify's view of the issue kept current, its notices issued."""
    await on_issue_events([(uow, envelope, payload)])


async def on_issue_events(run: Sequence[tuple[UnitOfWork, Envelope, IssueEvent]]) -> None:
    """A run of a batch's issue and closure events at once (`on_issue_event` for each, in order, leaves the same
    state): the views of their issues read with one query, their changes flushed together, their facts in one
    insert and their notices written set-based (`Notices`), with each event's own unit of work."""
    r = Run(run[0][0].session)
    await r.load(p.issue_id for _, _, p in run)
    for uow, envelope, payload in run:
        await _BODIES[type(payload)](r, uow, envelope, payload)
    await r.finish()


async def on_milestone_added(uow: UnitOfWork, envelope: Envelope, payload: IssueMilestoneAdded) -> None:
    """Keep the milestone: its reminders and the weekly dispatch are computed from it."""
    await _issue(uow, payload.issue_id)
    if await uow.session.get(MilestoneView, payload.milestone_id) is None:
        uow.session.add(MilestoneView(id=payload.milestone_id, issue_id=payload.issue_id, due_on=payload.due_on,
                                      description=payload.description, target=payload.target, state="pending"))


def milestone_key(milestone_id: str) -> str:
    """The parked key of events waiting for a milestone's issue.milestone_added."""
    return f"milestone:{milestone_id}"


async def _milestone(uow: UnitOfWork, issue_id: str, milestone_id: str) -> MilestoneView:
    view = await uow.session.get(MilestoneView, milestone_id)
    if view is None:
        raise Park(milestone_key(milestone_id), f"milestone {milestone_id} of issue {issue_id} is not known here yet")
    return view


async def on_milestone_reported(uow: UnitOfWork, envelope: Envelope, payload: IssueMilestoneReported) -> None:
    """The responsible unit reported a milestone: the supervising unit is asked to confirm it."""
    issue = await _issue(uow, payload.issue_id)
    ms = await _milestone(uow, payload.issue_id, payload.milestone_id)
    ms.state, ms.outcome = "reported", payload.outcome.value
    ms.met_reported_at = envelope.time if payload.outcome.value == "met" else None
    uow.session.add(ms)
    said = "已按期完成" if payload.outcome.value == "met" else "未能完成"
    d = Directory(uow.session)
    await notify(uow, trigger="milestone.reported", key=f"milestone.reported:{envelope.id}", subject=payload.issue_id,
                 title=f"重要节点报告待确认:{issue.code}({payload.due_on.isoformat()})",
                 body=f"{payload.responsible_org_id} 报告整改任务 {_label(issue)} 的重要节点"
                      f"「{ms.description}」(节点日期 {payload.due_on.isoformat()}){said}。说明:{payload.note}。"
                      f"请核实后确认或退回。",
                 recipients=[await d.org(payload.supervising_org_id)])


async def on_milestone_reviewed(uow: UnitOfWork, envelope: Envelope, payload: IssueMilestoneReviewed) -> None:
    """The supervising unit confirmed or disputed a milestone report: the responsible unit is told."""
    issue = await _issue(uow, payload.issue_id)
    ms = await _milestone(uow, payload.issue_id, payload.milestone_id)
    confirmed = payload.review.value == "confirmed"
    if confirmed:
        ms.state = "confirmed"
    else:
        ms.state, ms.met_reported_at = "pending", None
    uow.session.add(ms)
    opinion = f"意见:{payload.opinion}。" if payload.opinion else ""
    d = Directory(uow.session)
    await notify(uow, trigger="milestone.reviewed", key=f"milestone.reviewed:{envelope.id}", subject=payload.issue_id,
                 title=f"重要节点报告{'已确认' if confirmed else '被退回'}:{issue.code}({payload.due_on.isoformat()})",
                 body=f"贵单位就整改任务 {_label(issue)} 重要节点「{ms.description}」的报告"
                      f"{'已经监管单位确认' if confirmed else '未获监管单位认可,请核实后重新报告'}。{opinion}",
                 recipients=[await d.org(payload.responsible_org_id)])


async def on_sample_drawn(uow: UnitOfWork, envelope: Envelope, payload: SampleDrawn) -> None:
    """Keep the tasks drawn for re-inspection (抽查): the bulletin of the draw's period lists them."""
    ins = insert_for(uow.session)
    for position, item in enumerate(payload.items, 1):
        await uow.session.execute(ins(Reinspection).values(
            sample_id=payload.sample_id, issue_id=item.issue_id, period=payload.period, position=position,
            stratum=item.stratum, code=item.code, responsible_org_id=item.responsible_org_id
        ).on_conflict_do_nothing())


async def on_sample_reinspected(uow: UnitOfWork, envelope: Envelope, payload: SampleReinspected) -> None:
    """Record what the re-inspection found, and tell the responsible unit (a rebound is also told as a rebound)."""
    row = await uow.session.get(Reinspection, (payload.sample_id, payload.issue_id))
    if row is None:  # the draw comes first on the same subject; a lone result is kept all the same
        row = Reinspection(sample_id=payload.sample_id, issue_id=payload.issue_id, period=payload.period,
                           position=0, responsible_org_id=payload.responsible_org_id)
    row.outcome, row.reinspector_org_id, row.reinspected_at = (payload.outcome.value, payload.reinspector_org_id,
                                                               envelope.time)
    uow.session.add(row)
    view = await uow.session.get(IssueView, payload.issue_id)
    label = _label(view) if view is not None else (row.code or payload.issue_id)
    d = Directory(uow.session)
    await notify(uow, trigger="sample.reinspected", key=f"sample.reinspected:{envelope.id}",
                 subject=payload.issue_id, title=f"抽查复核结果:{domain.REINSPECTION_ZH[payload.outcome.value]}",
                 body=f"贵单位已销号的整改任务 {label} 被抽查复核({payload.period}),复核单位 "
                      f"{payload.reinspector_org_id},结果:{domain.REINSPECTION_ZH[payload.outcome.value]}。"
                      f"复核意见:{payload.opinion}。",
                 recipients=[await d.org(payload.responsible_org_id)])


async def on_ranking_published(uow: UnitOfWork, envelope: Envelope, payload: RankingPublished) -> None:
    """The monthly bulletin (月通报): build it, count the penalties, tell every org and leader."""
    for org_id in payload.penalized:
        await _fact(uow, envelope, org_id=org_id, kind="penalized", issue_id=None, detail=payload.ranking_id)
    await publish_bulletin(uow, payload)


async def on_calendar_year(uow: UnitOfWork, envelope: Envelope, payload: CalendarYearPublished) -> None:
    """Scoring set a year of the working-day calendar: reminders from now on are timed by it."""
    row = await uow.session.get(CalendarYear, payload.year) or CalendarYear(
        year=payload.year, holidays=[], workdays=[], source=payload.source, updated_at=envelope.time)
    # one subject per year on one keyed topic: a year's tables arrive in the order they were set, so the last wins
    row.holidays = sorted(d.isoformat() for d in payload.holidays)
    row.workdays = sorted(d.isoformat() for d in payload.workdays)
    row.source = payload.source
    row.updated_at = envelope.time
    uow.session.add(row)


def _appeal_key(appeal_id: str) -> str:
    return f"appeal:{appeal_id}"


# The leaders told of appeals are the address book's (GET /v1/address-book), not the titles the ledger's events name:
# who receives a notice must not depend on whether the ledger's events arrived before the appeal's.


async def on_appeal_filed(uow: UnitOfWork, envelope: Envelope, payload: AppealFiled) -> None:
    """Keep the appeal for the next bulletin; tell the unit it was received and the leaders it was filed."""
    session = uow.session
    if await session.get(AppealView, payload.appeal_id) is None:
        session.add(AppealView(id=payload.appeal_id, ranking_id=payload.ranking_id, period=payload.period,
                               kind=payload.kind, org_id=payload.org_id, org_name=payload.org_name,
                               component=payload.component, disputed_value=payload.disputed_value,
                               reason=payload.reason, filed_at=payload.filed_at, appeal_due=payload.appeal_due,
                               decision_due=payload.decision_due))
    d = Directory(session)
    what = (f"{domain.month_zh(payload.period)}{domain.KIND_ZH.get(payload.kind, payload.kind)}考核排名中"
            f"「{domain.COMPONENT_ZH.get(payload.component, payload.component)}」一项(已发布 {payload.disputed_value:g} 分)")
    org = payload.org_name or payload.org_id
    await notify(uow, trigger="appeal.filed", key=f"appeal.filed:{envelope.id}", subject=payload.appeal_id,
                 title=f"排名申诉已受理:{what[:60]}",
                 body=f"贵单位对{what}提出的申诉已于 {payload.filed_on.isoformat()} 受理(申诉编号 {payload.appeal_id})。"
                      f"督察整改办将于 {payload.decision_due.isoformat()} 前作出复核决定;复核决定前,已发布的排名继续有效。",
                 recipients=[await d.org(payload.org_id)])
    await notify(uow, trigger="appeal.filed", key=f"appeal.filed:{envelope.id}", subject=payload.appeal_id,
                 title=f"排名申诉:{org}",
                 body=f"{org}对{what}提出申诉。申诉理由:{payload.reason}。复核期限 {payload.decision_due.isoformat()}。",
                 recipients=await d.all_leaders())


async def on_appeal_decided(uow: UnitOfWork, envelope: Envelope, payload: AppealDecided) -> None:
    """Record the decision for the next bulletin; tell the unit and the leaders the outcome."""
    session = uow.session
    view = await session.get(AppealView, payload.appeal_id)
    if view is None:
        raise Park(_appeal_key(payload.appeal_id), f"appeal {payload.appeal_id} is not filed here yet")
    view.status, view.reasons = payload.outcome.value, payload.reasons
    view.previous, view.correction = payload.previous, payload.correction
    view.corrected_ranking_id, view.decided_at, view.late = (payload.corrected_ranking_id, payload.decided_at,
                                                             payload.late)
    session.add(view)
    d = Directory(session)
    outcome = domain.OUTCOME_ZH.get(payload.outcome.value, payload.outcome.value)
    what = (f"{domain.month_zh(payload.period)}{domain.KIND_ZH.get(payload.kind, payload.kind)}考核排名"
            f"「{domain.COMPONENT_ZH.get(payload.component, payload.component)}」")
    fix = ""
    if payload.correction:
        fix = "更正为" + "、".join(f"{domain.COMPONENT_ZH.get(c, c)} {v:g} 分" for c, v in payload.correction.items())
        fix += f",更正后的排名 {payload.corrected_ranking_id} 取代原排名并另发更正通报。"
    late = f"(复核期限 {payload.decision_due.isoformat()},逾期作出)" if payload.late else ""
    org = view.org_name or payload.org_id
    await notify(uow, trigger="appeal.decided", key=f"appeal.decided:{envelope.id}", subject=payload.appeal_id,
                 title=f"申诉复核决定:{outcome}",
                 body=f"贵单位对{what}的申诉(申诉编号 {payload.appeal_id})已于 {payload.decided_on.isoformat()} 作出复核决定"
                      f"{late}:{outcome}。{fix}复核意见:{payload.reasons}。",
                 recipients=[await d.org(payload.org_id)])
    await notify(uow, trigger="appeal.decided", key=f"appeal.decided:{envelope.id}", subject=payload.appeal_id,
                 title=f"申诉复核决定:{org} {outcome}",
                 body=f"{org}对{what}的申诉已作出复核决定{late}:{outcome}。{fix}复核意见:{payload.reasons}。",
                 recipients=await d.all_leaders())


HANDLERS = HandlerTable()
HANDLERS.add(OrgRegistered, on_org_registered)
HANDLERS.add(IssueRegistered, on_issue_event, releases=lambda p: issue_key(p.issue_id), many=on_issue_events)
HANDLERS.add(IssueUpdated, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueStatusChanged, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueProgressReported, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueExtensionDecided, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureRequested, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureAccepted, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureRejected, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueReopened, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueParentReopened, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueMilestoneAdded, on_milestone_added, releases=lambda p: milestone_key(p.milestone_id))
HANDLERS.add(IssueMilestoneReported, on_milestone_reported)
HANDLERS.add(IssueMilestoneReviewed, on_milestone_reviewed)
HANDLERS.add(RankingPublished, on_ranking_published)
HANDLERS.add(SampleDrawn, on_sample_drawn)
HANDLERS.add(SampleReinspected, on_sample_reinspected)
HANDLERS.add(CalendarYearPublished, on_calendar_year)
HANDLERS.add(AppealFiled, on_appeal_filed, releases=lambda p: _appeal_key(p.appeal_id))
HANDLERS.add(AppealDecided, on_appeal_decided)

"""Reminders and the cadence (周调度、半年交账), and the scheduler that runs them from persisted state.

What is due is computed from the database and the runtime's clock: each issue's deadline and the reminders
already issued for it, and each schedule's anchor and last occurrence. A restart therefore neither repeats nor
skips; after downtime the next tick catches up. Every write is guarded by a unique key, so two replicas ticking
at once issue each notice once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.calendar import WorkCalendar
from contracts.events.notify import DigestPublished
from runtime.auth import Principal
from runtime.bootstrap import Runtime
from runtime.clock import new_id
from runtime.outbox import UnitOfWork
from services.notify import domain
from services.notify.bulletins import CC_LEADERS, org_names
from services.notify.documents import DocTable, issue_document, render_pending
from services.notify.notices import Directory, Notices, Org, leader_or_fallback, notify
from services.notify.settings import settings_of
from services.notify.store import (
    Digest,
    Fact,
    IssueView,
    MilestoneView,
    ReminderSent,
    ScheduleState,
    insert_for,
    work_calendar,
)

log = structlog.get_logger("closeloop.notify.schedule")

SYSTEM = Principal(sub="service:notify", org=None, roles=frozenset({"system"}))


# --- reminders -------------------------------------------------------------------------------------------------

async def _pending_reminders(session: AsyncSession, now: datetime,
                             calendar: WorkCalendar) -> list[tuple[str, domain.Reminder]]:
    horizon = domain.earliest_reminder_deadline(now)
    open_issues = (await session.execute(
        select(col(IssueView.id), col(IssueView.deadline))
        .where(col(IssueView.status).in_(domain.OPEN_STATUSES), col(IssueView.deadline) <= horizon,
               col(IssueView.moves_pending) == 0)
    )).all()
    sent = set((await session.execute(
        select(col(ReminderSent.issue_id), col(ReminderSent.kind)).join(
            IssueView, and_(col(IssueView.id) == ReminderSent.issue_id,
                            col(IssueView.deadline) == ReminderSent.deadline))
        .where(col(IssueView.status).in_(domain.OPEN_STATUSES), col(IssueView.deadline) <= horizon)
    )).all())
    return [(issue_id, r) for issue_id, deadline in open_issues for r in domain.due_reminders(deadline, now, calendar)
            if (issue_id, r.kind) not in sent]


async def issue_reminder(uow: UnitOfWork, *, issue_id: str, reminder: domain.Reminder, now: datetime,
                         directory: Directory, calendar: WorkCalendar | None = None) -> bool:
    """Issue one reminder of one issue, unless it was already issued or no longer applies."""
    session = uow.session
    view = await session.get(IssueView, issue_id)
    if view is None or view.status not in domain.OPEN_STATUSES or view.moves_pending or reminder not in domain.due_reminders(
            view.deadline, now, calendar):
        return False
    claimed = (await session.execute(
        insert_for(session)(ReminderSent).values(issue_id=issue_id, kind=reminder.kind, deadline=view.deadline,
                                                 sent_at=now)
        .on_conflict_do_nothing().returning(ReminderSent.issue_id)
    )).scalar_one_or_none()
    if claimed is None:
        return False
    label = f"{view.code}「{view.title}」"
    deadline = view.deadline.isoformat()
    key = f"{reminder.trigger}:{reminder.kind}:{issue_id}:{deadline}"
    if reminder.trigger == "deadline.near":
        days = int(reminder.kind.removeprefix("near"))
        await notify(uow, trigger=reminder.trigger, key=key, subject=issue_id,
                     title=f"整改时限临近:{view.code}(还剩{days}天)",
                     body=f"贵单位牵头的整改任务 {label} 整改时限为 {deadline},距时限还有{days}天,"
                          f"请抓紧推进并按时申请销号。",
                     recipients=[await directory.org(view.responsible_org_id)])
    elif reminder.trigger == "issue.overdue":
        await notify(uow, trigger=reminder.trigger, key=key, subject=issue_id,
                     title=f"整改任务逾期:{view.code}",
                     body=f"整改任务 {label} 整改时限 {deadline} 已过,尚未销号,已逾期。责任单位 "
                          f"{view.responsible_org_id},监管单位 {view.supervising_org_id}。请立即督促整改。",
                     recipients=[await directory.org(view.responsible_org_id),
                                 await directory.org(view.supervising_org_id)])
    else:
        who = await leader_or_fallback(directory, leader=view.leader, fallback_org=view.supervising_org_id)
        await notify(uow, trigger=reminder.trigger, key=key, subject=issue_id,
                     title=f"逾期升级督办:{view.code}(逾期已超{domain.ESCALATE_AFTER_DAYS}天)",
                     body=f"整改任务 {label} 整改时限 {deadline},已逾期 {domain.days_overdue(view.deadline, now)} 天"
                          f"仍未销号,提请包联领导{('(' + view.leader + ')') if view.leader else ''}督办。"
                          f"责任单位 {view.responsible_org_id},监管单位 {view.supervising_org_id}。",
                     recipients=[who])
    return True


async def _pending_milestone_reminders(session: AsyncSession, now: datetime,
                                       calendar: WorkCalendar) -> list[tuple[str, domain.Reminder]]:
    """(milestone id, reminder) due at `now` and not yet issued, for milestones nothing stands reported of, of
    open issues."""
    horizon = domain.earliest_reminder_deadline(now)
    rows = (await session.execute(
        select(col(MilestoneView.id), col(MilestoneView.due_on)).join(IssueView, col(IssueView.id) ==
                                                                      MilestoneView.issue_id)
        .where(col(MilestoneView.state) == "pending", col(MilestoneView.due_on) <= horizon,
               col(IssueView.status).in_(domain.OPEN_STATUSES)))).all()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    sent: set[Any] = set()
    for start in range(0, len(ids), 5000):  # chunked: within every driver's parameter limit
        sent.update((await session.execute(
            select(col(ReminderSent.issue_id), col(ReminderSent.kind), col(ReminderSent.deadline))
            .where(col(ReminderSent.issue_id).in_(ids[start:start + 5000])))).all())
    return [(mid, r) for mid, due_on in rows for r in domain.due_milestone_reminders(due_on, now, calendar)
            if (mid, r.kind, due_on) not in sent]


async def issue_milestone_reminder(uow: UnitOfWork, *, milestone_id: str, reminder: domain.Reminder, now: datetime,
                                   directory: Directory, calendar: WorkCalendar | None = None) -> bool:
    """Issue one reminder of one milestone (its day near, or passed unreported), unless issued or moot."""
    session = uow.session
    ms = await session.get(MilestoneView, milestone_id)
    view = await session.get(IssueView, ms.issue_id) if ms is not None else None
    if ms is None or view is None or ms.state != "pending" or view.status not in domain.OPEN_STATUSES \
            or reminder not in domain.due_milestone_reminders(ms.due_on, now, calendar):
        return False
    claimed = (await session.execute(
        insert_for(session)(ReminderSent).values(issue_id=milestone_id, kind=reminder.kind, deadline=ms.due_on,
                                                 sent_at=now)
        .on_conflict_do_nothing().returning(ReminderSent.issue_id)
    )).scalar_one_or_none()
    if claimed is None:
        return False
    label = f"{view.code}「{view.title}」"
    day = ms.due_on.isoformat()
    key = f"{reminder.trigger}:{reminder.kind}:{milestone_id}:{day}"
    if reminder.trigger == "milestone.near":
        days = int(reminder.kind.removeprefix("ms_near"))
        await notify(uow, trigger=reminder.trigger, key=key, subject=view.id,
                     title=f"重要节点临近:{view.code}(还剩{days}天)",
                     body=f"贵单位牵头的整改任务 {label} 的重要节点「{ms.description}」节点日期为 {day},"
                          f"距节点还有{days}天,请按期完成并报告完成情况。",
                     recipients=[await directory.org(view.responsible_org_id)])
    else:
        await notify(uow, trigger=reminder.trigger, key=key, subject=view.id,
                     title=f"重要节点逾期未报:{view.code}({day})",
                     body=f"整改任务 {label} 的重要节点「{ms.description}」节点日期 {day} 已过,责任单位尚未报告"
                          f"完成情况,按未完成计。责任单位 {view.responsible_org_id},监管单位 "
                          f"{view.supervising_org_id}。请立即报告并督促整改。",
                     recipients=[await directory.org(view.responsible_org_id),
                                 await directory.org(view.supervising_org_id)])
    return True


async def run_reminders(rt: Runtime, now: datetime, *, batch: int | None = None) -> int:
    """Issue every reminder due at `now` that was not issued yet, `batch` issues per transaction."""
    return (await reminders_due(rt, now, batch=batch))[0]


async def reminders_due(rt: Runtime, now: datetime, *, batch: int | None = None) -> tuple[int, list[int]]:
    """Issue the reminders due at `now`; also the years the calendar lacked (their reminders went out unmoved)."""
    batch = batch or settings_of(rt).notify_reminder_batch
    async with rt.read() as session:
        calendar = await work_calendar(session)
        pending = await _pending_reminders(session, now, calendar)
        marks = await _pending_milestone_reminders(session, now, calendar)
    missing = sorted({r.calendar_missing for _, r in [*pending, *marks] if r.calendar_missing is not None})
    if missing:
        # never guessed: the reminder keeps its own day, and the gap is told to whoever reads the logs
        log.warning("calendar_year_missing", years=missing,
                    message=f"工作日历缺少 {'、'.join(map(str, missing))} 年数据,临近提醒未按节假日调整")
    issued = 0
    for start in range(0, len(pending), batch):
        async with rt.unit_of_work(SYSTEM, role="system") as uow:
            directory = Directory(uow.session)
            for issue_id, reminder in pending[start:start + batch]:
                issued += await issue_reminder(uow, issue_id=issue_id, reminder=reminder, now=now,
                                               directory=directory, calendar=calendar)
    for start in range(0, len(marks), batch):
        async with rt.unit_of_work(SYSTEM, role="system") as uow:
            directory = Directory(uow.session)
            for milestone_id, reminder in marks[start:start + batch]:
                issued += await issue_milestone_reminder(uow, milestone_id=milestone_id, reminder=reminder, now=now,
                                                         directory=directory, calendar=calendar)
    return issued, missing


# --- weekly dispatch (周调度) -------------------------------------------------------------------------------------

async def _claim_run(uow: UnitOfWork, *, run_key: str, kind: str, period: str, origin: str) -> str | None:
    digest_id = new_id()
    claimed = (await uow.session.execute(
        insert_for(uow.session)(Digest).values(id=digest_id, run_key=run_key, kind=kind, period=period, origin=origin,
                                               recipients=0, created_at=uow.clock.now())
        .on_conflict_do_nothing().returning(Digest.id)
    )).scalar_one_or_none()
    return claimed


async def _finish_run(uow: UnitOfWork, *, digest_id: str, kind: str, period: str, origin: str, recipients: int) -> None:
    digest = await uow.session.get(Digest, digest_id)
    assert digest is not None
    digest.recipients = recipients
    uow.session.add(digest)
    await uow.emit(digest_id, DigestPublished(digest_id=digest_id, kind=kind, period=period,
                                                                   origin=origin, recipients=recipients))


def _issue_line(i: IssueView, now: datetime) -> str:
    progress = f"最新进展({domain.shanghai_day(i.progress_at).isoformat()},{i.progress_percent}%):{i.progress_note}" \
        if i.progress_note and i.progress_at else "最新进展:暂无"
    late = domain.days_overdue(i.deadline, now)
    flag = f",已逾期{late}天" if late else ""
    return f"· {i.code} {i.title}(时限 {i.deadline.isoformat()}{flag},{domain.STATUS_ZH.get(i.status, i.status)});{progress}"


def milestone_lines(issues: list[IssueView], marks: list[MilestoneView], now: datetime) -> list[str]:
    """The dispatch's 重要节点 lines: milestones of these issues missed (past their day without a standing report of
    "met" made by then) and those due in the next DUE_SOON_DAYS days, by date."""
    today = domain.shanghai_day(now)
    soon = today + timedelta(days=domain.DUE_SOON_DAYS)
    by_id = {i.id: i for i in issues}
    lines = []
    for m in sorted(marks, key=lambda m: (m.due_on, m.id)):
        issue = by_id.get(m.issue_id)
        if issue is None:
            continue
        if domain.milestone_missed(m.due_on, m.met_reported_at, now):
            said = "已报告未完成" if m.state != "pending" and m.outcome == "missed" else \
                "逾期后报告完成" if m.outcome == "met" and m.state != "pending" else "逾期未报"
            lines.append(f"· 【未按期完成】{issue.code} 节点 {m.due_on.isoformat()}「{m.description}」({said})")
        elif today <= m.due_on <= soon and m.state == "pending":
            lines.append(f"· 【即将到期】{issue.code} 节点 {m.due_on.isoformat()}「{m.description}」(待报告)")
    return lines


def weekly_body(org_name: str, issues: list[IssueView], now: datetime,
                marks: list[MilestoneView] | None = None) -> str:
    """The weekly dispatch of one org: overdue, due soon, the rest in progress, each with its last progress; then
    the milestones missed or due soon (重要节点)."""
    today = domain.shanghai_day(now)
    soon = today + timedelta(days=domain.DUE_SOON_DAYS)
    overdue = [i for i in issues if i.deadline < today]
    due_soon = [i for i in issues if today <= i.deadline <= soon]
    rest = [i for i in issues if i.deadline > soon]
    parts = [(f"{org_name}:截至{today.isoformat()},贵单位牵头在办整改任务 {len(issues)} 项,"
              f"其中逾期 {len(overdue)} 项,{domain.DUE_SOON_DAYS}日内到期 {len(due_soon)} 项。")]
    for heading, group in (("【逾期】", overdue), ("【即将到期】", due_soon), ("【在办】", rest)):
        if group:
            parts.append(heading)
            parts += [_issue_line(i, now) for i in group]
    lines = milestone_lines(issues, marks or [], now)
    if lines:
        parts.append("【重要节点】")
        parts += lines
    return "\n".join(parts)


async def run_weekly(uow: UnitOfWork, *, now: datetime, run_key: str, origin: str,
                     org_id: str | None = None) -> dict[str, Any] | None:
    """The weekly dispatch: each org with open issues gets its own list; None when this run already happened."""
    period = domain.week_period(now)
    digest_id = await _claim_run(uow, run_key=run_key, kind="weekly", period=period, origin=origin)
    if digest_id is None:
        return None
    session = uow.session
    stmt = select(IssueView).where(col(IssueView.status).in_(domain.OPEN_STATUSES),
                                   col(IssueView.moves_pending) == 0).order_by(
        col(IssueView.deadline), col(IssueView.code))
    if org_id:
        stmt = stmt.where(col(IssueView.responsible_org_id) == org_id)
    by_org: dict[str, list[IssueView]] = defaultdict(list)
    for issue in (await session.execute(stmt)).scalars():
        by_org[issue.responsible_org_id].append(issue)
    names = await org_names(session)
    directory = Directory(session)
    marks_of: dict[str, list[MilestoneView]] = defaultdict(list)
    open_ids = [i.id for issues in by_org.values() for i in issues]
    for start in range(0, len(open_ids), 5000):
        for m in (await session.execute(select(MilestoneView).where(
                col(MilestoneView.issue_id).in_(open_ids[start:start + 5000])))).scalars():
            marks_of[m.issue_id].append(m)
    notices = Notices(session, directory)
    for org, issues in sorted(by_org.items()):
        marks = [m for i in issues for m in marks_of.get(i.id, [])]
        notices.add(uow, trigger="digest.weekly", key=f"digest.weekly:{run_key}", subject=period,
                    title=f"周调度:{period} 整改任务进展({names.get(org, org)})",
                    body=weekly_body(names.get(org, org), issues, now, marks), recipients=[Org(org)])
    sent = sum(len(created) for created in await notices.write())
    await weekly_document(session, digest_id=digest_id, period=period, by_org=by_org, names=names, now=now)
    await _finish_run(uow, digest_id=digest_id, kind="weekly", period=period, origin=origin, recipients=sent)
    return {"digest_id": digest_id, "kind": "weekly", "period": period, "origin": origin, "recipients": sent}


async def weekly_document(session: AsyncSession, *, digest_id: str, period: str, by_org: dict[str, list[IssueView]],
                          names: dict[str, str], now: datetime) -> None:
    """The weekly dispatch as one official document: each org's counts, then every overdue and due-soon task."""
    today = domain.shanghai_day(now)
    soon = today + timedelta(days=domain.DUE_SOON_DAYS)
    counts, watch = [], []
    for org, issues in sorted(by_org.items(), key=lambda kv: names.get(kv[0], kv[0])):
        late = [i for i in issues if i.deadline < today]
        near = [i for i in issues if today <= i.deadline <= soon]
        counts.append([names.get(org, org), str(len(issues)), str(len(near)), str(len(late))])
        for i in late + near:
            watch.append([i.code, i.title, names.get(org, org), i.deadline.isoformat(),
                          str(domain.days_overdue(i.deadline, now)) if i.deadline < today else "即将到期",
                          f"{i.progress_percent}% {i.progress_note}" if i.progress_note else "暂无进展"])
    total = sum(len(v) for v in by_org.values())
    late_total = sum(int(r[3]) for r in counts)
    await issue_document(
        session, owner=digest_id, kind="weekly", day=today, title=f"生态环境保护督察整改工作周调度({period})",
        to="各责任单位", cc=CC_LEADERS, now=now,
        paragraphs=[f"截至{domain.date_zh(today)},在办整改任务共 {total} 项,其中逾期 {late_total} 项,"
                    f"{domain.DUE_SOON_DAYS}日内到期 {sum(int(r[2]) for r in counts)} 项。现将各单位进展调度如下。",
                    "请逾期和即将到期任务的牵头单位倒排工期,按时申请销号。"],
        tables=[DocTable(heading="附表1 各单位在办整改任务", headers=["单位", "在办", f"{domain.DUE_SOON_DAYS}日内到期", "逾期"],
                         rows=counts, empty="本周无在办整改任务。", left=[0]),
                DocTable(heading="附表2 逾期和即将到期任务", headers=["编号", "整改任务", "责任单位", "整改时限",
                                                                   "逾期天数", "最新进展"],
                         rows=watch, empty="本周无逾期或即将到期任务。", left=[1, 2, 5])])


async def half_year_document(session: AsyncSession, *, digest_id: str, period: str, table: list[dict[str, Any]],
                             now: datetime) -> None:
    """The half-year account (半年交账) as one official document for the leaders."""
    rows = [[r["org_name"], str(r["assigned"]), str(r["completed"]), domain.percent(r["completed"], r["assigned"]),
             str(r["overdue"]), str(r["signed_off"]), str(r["rejected"]), str(r["reopened"]), str(r["penalized"])]
            for r in table]
    assigned = sum(r["assigned"] for r in table)
    completed = sum(r["completed"] for r in table)
    await issue_document(
        session, owner=digest_id, kind="half_year", day=domain.shanghai_day(now),
        title=f"{domain.half_zh(period)}生态环境保护督察整改工作交账情况", to="各位包联领导", cc=CC_LEADERS, now=now,
        paragraphs=[f"{domain.half_zh(period)},各责任单位牵头整改任务共 {assigned} 项,已完成 {completed} 项"
                    f"(完成率 {domain.percent(completed, assigned)})。各单位交账情况如下。",
                    f"本期问题反弹 {sum(r['reopened'] for r in table)} 次,经济处罚 {sum(r['penalized'] for r in table)} 次。"],
        tables=[DocTable(heading="附表 各单位半年交账", headers=["单位", "牵头任务", "已完成", "完成率", "逾期", "本期销号",
                                                              "退回", "反弹", "处罚"],
                         rows=rows, empty="本期无整改任务。", left=[0]),
                DocTable(heading="抽查复核情况", headers=[], rows=[], empty="本期暂无抽查复核结果。")])


# --- half-year account (半年交账) ----------------------------------------------------------------------------------

async def half_year_table(session: AsyncSession, *, period: str, now: datetime) -> list[dict[str, Any]]:
    """Per responsible org: issues assigned by the period's end, completed, overdue, and the period's
    sign-offs, rejections, rebounds and penalties."""
    start, end = domain.half_bounds(period)
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {"assigned": 0, "completed": 0, "overdue": 0,
                                                         "signed_off": 0, "rejected": 0, "reopened": 0,
                                                         "penalized": 0})
    as_of = min(now, end)
    for org, status, deadline in (await session.execute(
            select(col(IssueView.responsible_org_id), col(IssueView.status), col(IssueView.deadline))
            .where(col(IssueView.registered_at) < end))).all():
        r = rows[org]
        r["assigned"] += 1
        if status in domain.DONE_STATUSES:
            r["completed"] += 1
        elif domain.days_overdue(deadline, as_of):
            r["overdue"] += 1
    for org, kind, n in (await session.execute(
            select(col(Fact.org_id), col(Fact.kind), func.count()).where(col(Fact.at) >= start, col(Fact.at) < end)
            .group_by(Fact.org_id, Fact.kind))).all():
        rows[org][kind] = n
    names = await org_names(session)
    return [{"org_id": org, "org_name": names.get(org, org), **r} for org, r in sorted(rows.items())]


def half_year_body(period: str, table: list[dict[str, Any]], mine: str) -> str:
    """The account as text: one line per org."""
    lines = [f"{domain.half_zh(period)}生态环境保护督察整改半年交账:{mine}"]
    for r in table:
        lines.append(f"· {r['org_name']}:牵头任务 {r['assigned']} 项,已完成 {r['completed']} 项"
                     f"(完成率 {domain.percent(r['completed'], r['assigned'])}),逾期 {r['overdue']} 项;"
                     f"本期销号 {r['signed_off']} 项,销号申请被退回 {r['rejected']} 次,"
                     f"问题反弹 {r['reopened']} 次,经济处罚 {r['penalized']} 次。")
    return "\n".join(lines)


async def run_half_year(uow: UnitOfWork, *, period: str, now: datetime, run_key: str,
                        origin: str) -> dict[str, Any] | None:
    """The half-year account to every leader in charge; None when this run already happened."""
    digest_id = await _claim_run(uow, run_key=run_key, kind="half_year", period=period, origin=origin)
    if digest_id is None:
        return None
    session = uow.session
    table = await half_year_table(session, period=period, now=now)
    per_leader: dict[str, list[IssueView]] = defaultdict(list)
    for issue in (await session.execute(select(IssueView).where(col(IssueView.leader).is_not(None)))).scalars():
        per_leader[issue.leader or ""].append(issue)
    directory = Directory(session)
    notices = Notices(session, directory)
    for leader in await directory.all_leaders(list(per_leader)):
        title = leader.key.removeprefix("leader:")
        own = per_leader.get(title, [])
        done = sum(1 for i in own if i.status in domain.DONE_STATUSES)
        mine = f"您包联的整改任务 {len(own)} 项,已完成 {done} 项。" if own else ""
        notices.add(uow, trigger="digest.half_year", key=f"digest.half_year:{run_key}", subject=period,
                    title=f"半年交账:{domain.half_zh(period)}整改完成情况",
                    body=half_year_body(period, table, mine), recipients=[leader])
    sent = sum(len(created) for created in await notices.write())
    await half_year_document(session, digest_id=digest_id, period=period, table=table, now=now)
    await _finish_run(uow, digest_id=digest_id, kind="half_year", period=period, origin=origin, recipients=sent)
    return {"digest_id": digest_id, "kind": "half_year", "period": period, "origin": origin, "recipients": sent,
            "table": table}


# --- the scheduler -------------------------------------------------------------------------------------------------

async def _state(rt: Runtime, name: str, now: datetime) -> ScheduleState:
    """The schedule's persisted state; created with `now` as its anchor the first time the service runs."""
    async with rt.sessions() as session, session.begin():
        await session.execute(insert_for(session)(ScheduleState).values(name=name, anchor_at=now)
                              .on_conflict_do_nothing())
        state = await session.get(ScheduleState, name)
        assert state is not None
        return state


async def _mark(uow: UnitOfWork, name: str, occurrence: datetime) -> None:
    state = await uow.session.get(ScheduleState, name)
    assert state is not None
    if state.last_occurrence is None or occurrence > state.last_occurrence:
        state.last_occurrence = occurrence
        uow.session.add(state)


async def run_weekly_schedule(rt: Runtime, now: datetime) -> dict[str, Any] | None:
    """Run the weekly dispatch of the latest Monday 09:00 if it has not run (older missed weeks are superseded
    by it: a dispatch lists the present state, so one catch-up run says everything the missed ones would)."""
    state = await _state(rt, "weekly", now)
    occurrence = domain.last_weekly(now)
    if occurrence < state.anchor_at or (state.last_occurrence and occurrence <= state.last_occurrence):
        return None
    async with rt.unit_of_work(SYSTEM, role="system") as uow:
        result = await run_weekly(uow, now=occurrence, run_key=f"weekly:{domain.week_period(occurrence)}",
                                  origin="schedule")
        await _mark(uow, "weekly", occurrence)
    return result


async def run_half_year_schedule(rt: Runtime, now: datetime) -> list[dict[str, Any]]:
    """Run every half-year account that fell due since the last one (each covers its own period)."""
    state = await _state(rt, "half_year", now)
    since = state.last_occurrence or (state.anchor_at - timedelta(microseconds=1))
    done = []
    for occurrence in domain.half_year_occurrences(since, now):
        period = domain.half_year_closing(occurrence)
        async with rt.unit_of_work(SYSTEM, role="system") as uow:
            result = await run_half_year(uow, period=period, now=occurrence, run_key=f"half_year:{period}",
                                         origin="schedule")
            await _mark(uow, "half_year", occurrence)
        if result:
            done.append(result)
    return done


async def tick(rt: Runtime, *, render: bool = True) -> dict[str, Any]:
    """Everything due at the runtime clock's now: reminders, the weekly dispatch, half-year accounts, and the
    documents not rendered yet (`render=False` leaves those to a caller that renders them elsewhere, as the demo
    does in a worker process while its campaign goes on)."""
    now = rt.clock.now()
    reminders, calendar_missing = await reminders_due(rt, now)
    weekly = await run_weekly_schedule(rt, now)
    half = await run_half_year_schedule(rt, now)
    # after the runs above, so their documents go out in the same tick
    documents = await render_pending(rt) if render else 0
    if reminders or weekly or half:
        log.info("schedule_ran", reminders=reminders, weekly=bool(weekly), half_year=len(half))
    return {"reminders": reminders, "weekly": weekly, "half_year": half, "calendar_missing": calendar_missing,
            "documents": documents}


async def scheduler(rt: Runtime) -> None:
    """Background task: tick, then wait; a failed tick is logged and retried at the next one."""
    while True:
        try:
            await tick(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next tick recomputes what is due from the database
            log.warning("schedule_failed", error=repr(exc))
        await asyncio.sleep(settings_of(rt).notify_scheduler_interval)

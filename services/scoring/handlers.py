"""Commands and event handlers of the scoring service, and the table that maps events to handlers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts import Envelope
from contracts.calendar import CalendarError, CalendarYearMissing, YearCalendar
from contracts.enums import AppealOutcome
from contracts.events.issues import (
    IssueExtensionDecided,
    IssueMilestoneAdded,
    IssueMilestoneReported,
    IssueMilestoneReviewed,
    IssueRegistered,
    IssueStatusChanged,
    IssueUpdated,
    OrgRegistered,
)
from contracts.events.scoring import (
    AppealDecided,
    AppealFiled,
    CalendarYearPublished,
    IndicatorRecorded,
    RankingPublished,
    SchemeVersioned,
)
from contracts.events.verification import (
    ClosureAccepted,
    ClosureFiled,
    ClosureRejected,
    ClosureRequested,
    IssueReopened,
    SampleReinspected,
)
from runtime.clock import SHANGHAI, new_id
from runtime.consumer import HandlerTable
from runtime.errors import Conflict, Invalid, NotFound, field_error
from runtime.outbox import UnitOfWork
from runtime.spreadsheets import append_row
from services.scoring import accountability, domain
from services.scoring.settings import ScoringSettings
from services.scoring.store import (
    Appeal,
    CalendarYearRow,
    IssueEventFact,
    OrgFact,
    Ranking,
    ReadingRow,
    SchemeVersion,
    current_ranking,
    current_rankings,
    default_scheme_row,
    find_appeal,
    get_ranking,
    get_scheme,
    known_indicators,
    known_org_ids,
    load_clue_facts,
    load_issue_events,
    load_orgs,
    load_readings,
    ranking_events,
    scheme_versions,
    superseded_by,
    to_domain_scheme,
    work_calendar,
    year_table,
)

# ---------------------------------------------------------------- events

async def on_org_registered(uow: UnitOfWork, envelope: Envelope, payload: OrgRegistered) -> None:
    """Know an assessee: its kind and zone type (of two registrations, the later event wins)."""
    org = await uow.session.get(OrgFact, payload.org_id)
    if org is None:
        uow.session.add(OrgFact(id=payload.org_id, name=payload.name, kind=payload.kind,
                                zone_type=payload.zone_type, event_time=envelope.time))
    elif envelope.time >= org.event_time:
        org.name, org.kind, org.zone_type, org.event_time = (payload.name, payload.kind, payload.zone_type,
                                                             envelope.time)
        uow.session.add(org)


# The issue and closure events scoring keeps as facts (the status only from issue.status_changed).
FactEvent = (IssueRegistered | IssueUpdated | IssueExtensionDecided | IssueStatusChanged | ClosureRequested
             | ClosureAccepted | ClosureRejected | ClosureFiled | IssueReopened | IssueMilestoneAdded
             | IssueMilestoneReported | IssueMilestoneReviewed | SampleReinspected)


# Every column of a fact, unset: a fact's values name them all, so a run's facts are one multi-row insert.
_NO_FACT: dict[str, Any] = {name: None for name in IssueEventFact.model_fields}


def fact_values(envelope: Envelope, payload: FactEvent) -> dict[str, Any] | None:
    """The columns of the fact scoring keeps of an issue or closure event, with its event time; None for one it
    does not count."""
    fact: dict[str, Any] = {**_NO_FACT, "event_id": str(envelope.id), "issue_id": payload.issue_id, "type": envelope.type,
            "source": envelope.source, "seq": envelope.seq, "time": envelope.time, "recorded_at": envelope.time}
    if isinstance(payload, (IssueRegistered, IssueUpdated)):
        fact["org_id"] = payload.responsible_org_id
        if payload.target is not None:
            fact["target_indicator"] = payload.target.indicator
            fact["target_op"] = str(payload.target.op.value)
            fact["target_value"] = payload.target.value
        if isinstance(payload, IssueRegistered):
            fact["deadline"] = payload.deadline
            fact["code"] = payload.code
            fact["time"] = domain.effective_time(envelope.time, payload.assigned_on)
            fact["parent_id"] = payload.parent_id
    elif isinstance(payload, IssueStatusChanged):
        fact["to_status"] = payload.to_status.value
        fact["time"] = payload.at or envelope.time  # when the move happened: the deciding event's time
    elif isinstance(payload, IssueExtensionDecided):
        if not payload.approved:
            return None  # a refused extension changes nothing scoring counts
        fact["deadline"] = payload.deadline
    elif isinstance(payload, (IssueMilestoneAdded, IssueMilestoneReported, IssueMilestoneReviewed)):
        fact["milestone_id"], fact["deadline"] = payload.milestone_id, payload.due_on
        if isinstance(payload, (IssueMilestoneReported, IssueMilestoneReviewed)):
            fact["outcome"] = payload.outcome.value
        if isinstance(payload, IssueMilestoneReviewed):
            fact["review"] = payload.review.value
            fact["detail"] = f"{payload.review.value}:{payload.outcome.value}"  # confirmed:missed is a clue
    elif isinstance(payload, ClosureRejected):
        fact["detail"] = payload.reason_code.value  # superficial (表面整改) is an accountability clue
    elif isinstance(payload, SampleReinspected):
        fact["detail"] = payload.outcome.value  # a rebound found in re-inspection (抽查)
    return fact


def fact_of(envelope: Envelope, payload: FactEvent) -> IssueEventFact | None:
    """The fact scoring keeps of an issue or closure event, with its event time; None for one it does not count."""
    values = fact_values(envelope, payload)
    return None if values is None else IssueEventFact(**values)


async def on_issue_event(uow: UnitOfWork, envelope: Envelope, payload: FactEvent) -> None:
    """Keep an issue or closure event as a fact with its event time; scores are computed from these at query time."""
    if await uow.session.get(IssueEventFact, str(envelope.id)) is not None:
        return
    fact = fact_of(envelope, payload)
    if fact is not None:
        uow.session.add(fact)


async def on_issue_events(run: Sequence[tuple[UnitOfWork, Envelope, FactEvent]]) -> None:
    """`on_issue_event` for a run of a batch: one query for the facts kept already, one multi-row insert of the new
    ones."""
    session = run[0][0].session
    ids = [str(envelope.id) for _, envelope, _ in run]
    kept: set[str] = set()
    for i in range(0, len(ids), 500):
        kept.update((await session.execute(
            select(col(IssueEventFact.event_id)).where(col(IssueEventFact.event_id).in_(ids[i:i + 500]))
        )).scalars().all())
    facts = []
    for _, envelope, payload in run:
        if str(envelope.id) in kept:
            continue
        kept.add(str(envelope.id))
        fact = fact_values(envelope, payload)
        if fact is not None:
            facts.append(fact)
    if facts:  # one statement, no ORM object per fact
        await session.execute(insert(IssueEventFact), facts)


HANDLERS = HandlerTable()
HANDLERS.add(OrgRegistered, on_org_registered)
HANDLERS.add(IssueRegistered, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueUpdated, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueExtensionDecided, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueStatusChanged, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureRequested, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureAccepted, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureRejected, on_issue_event, many=on_issue_events)
HANDLERS.add(ClosureFiled, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueReopened, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueMilestoneAdded, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueMilestoneReported, on_issue_event, many=on_issue_events)
HANDLERS.add(IssueMilestoneReviewed, on_issue_event, many=on_issue_events)
HANDLERS.add(SampleReinspected, on_issue_event, many=on_issue_events)

# ---------------------------------------------------------------- schemes


def scheme_view(row: SchemeVersion, versions: list[int]) -> dict[str, Any]:
    """A scheme version as the API shows it."""
    return {"id": row.id, "version": row.version, "weights": row.weights, "bottom_named": row.bottom_named,
            "penalized": row.penalized, "penalty": row.penalty,
            "milestone_missed_points": domain.DEFAULT_MILESTONE_POINTS if row.milestone_missed_points is None
            else row.milestone_missed_points, "appeal_days": row.appeal_days,
            "decision_days": row.decision_days, "created_at": row.created_at.isoformat(),
            "created_by": row.created_by, "versions": versions}


async def put_scheme(uow: UnitOfWork, *, scheme_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Store a new version of a scheme; the old ones stay readable."""
    clean = domain.validate_scheme(body)
    versions = await scheme_versions(uow.session, scheme_id=scheme_id)
    now = uow.clock.now()
    implicit = scheme_id == "default" and versions and versions[0].created_by == "design"
    if implicit and await uow.session.get(SchemeVersion, ("default", 1)) is None:
        # the design's version 1 was implicit until now: store it so the history is all data
        uow.session.add(default_scheme_row(now))
    version = (versions[-1].version if versions else 0) + 1
    row = SchemeVersion(id=scheme_id, version=version, created_at=now, created_by=uow.actor.user or "?", **clean)
    uow.session.add(row)
    await uow.emit(f"scheme/{scheme_id}",
                   SchemeVersioned(scheme_id=scheme_id, version=version, **clean))
    return scheme_view(row, [v.version for v in versions] + [version])


# ---------------------------------------------------------------- readings


async def record_readings(uow: UnitOfWork, *, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store readings, all or none: an unknown org or indicator is refused (422) naming it."""
    problems: list[dict[str, str]] = []
    orgs = await known_org_ids(uow.session, ids={str(i["org_id"]) for i in items})
    indicators = await known_indicators(uow.session, names={str(i["indicator"]) for i in items})
    for n, item in enumerate(items):
        if item["org_id"] not in orgs:
            problems.append({"field": f"{n}.org_id", "message": f"unknown org {item['org_id']}"})
        if item["indicator"] not in indicators:
            problems.append({"field": f"{n}.indicator",
                             "message": f"unknown indicator {item['indicator']}: no issue target uses it"})
        if not math.isfinite(item["value"]):
            problems.append({"field": f"{n}.value", "message": "must be a finite number"})
    if problems:
        raise Invalid("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems)
    now = uow.clock.now()
    out = []
    for item in items:
        row = ReadingRow(id=new_id(), org_id=item["org_id"], indicator=item["indicator"],
                         value=float(item["value"]), observed_at=item["observed_at"], recorded_at=now,
                         recorded_by=uow.actor.user or "?")
        uow.session.add(row)
        await uow.emit(row.org_id, IndicatorRecorded(
            reading_id=row.id, org_id=row.org_id, indicator=row.indicator, value=row.value,
            observed_at=row.observed_at))
        out.append({"id": row.id, "org_id": row.org_id, "indicator": row.indicator, "value": row.value,
                    "observed_at": row.observed_at.isoformat(), "recorded_at": now.isoformat()})
    return out


# ---------------------------------------------------------------- scores and rankings


async def resolve_scheme(session: AsyncSession, *, scheme_id: str, version: int | None) -> domain.Scheme:
    """The scheme version a request names (the newest when it names no version), or 404."""
    row = await get_scheme(session, scheme_id=scheme_id, version=version)
    if row is None:
        what = f"scheme {scheme_id}" + (f" version {version}" if version is not None else "")
        raise NotFound(f"{what} does not exist", details=[{"field": "scheme_id", "message": "unknown scheme"}])
    return to_domain_scheme(row)


async def compute(session: AsyncSession, *, period: domain.Period, kind: str, scheme: domain.Scheme,
                  now: datetime) -> list[dict[str, Any]]:
    """Load the facts of a period and score them (the pure rules live in domain.compute_scores)."""
    as_of = min(period.end, now)
    orgs = await load_orgs(session)
    events = await load_issue_events(session, before=as_of, recorded_before=now)
    readings = await load_readings(session, start=period.start, end=period.end)
    return domain.compute_scores(orgs=orgs, events=events, readings=readings, scheme=scheme, period=period,
                                 kind=kind, now=now)


def ranking_view(r: Ranking, superseded_by: str | None = None) -> dict[str, Any]:
    """A published ranking as the API shows it."""
    return {"id": r.id, "period": r.period, "kind": r.kind, "scheme_id": r.scheme_id,
            "scheme_version": r.scheme_version, "generation": r.generation, "supersedes": r.supersedes,
            "correction": r.supersedes is not None, "superseded_by": superseded_by,
            "as_of": r.as_of.isoformat(), "published_at": r.published_at.isoformat(),
            "published_by": r.published_by, "rows": r.rows, "bottom_named": r.bottom_named,
            "penalized": r.penalized, "on_appeal": r.on_appeal, "positions": r.positions}


async def publish_ranking(uow: UnitOfWork, *, period: str, kind: str, scheme_id: str,
                          scheme_version: int | None = None,
                          positions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Freeze the ranking of (period, kind, scheme); publishing it again is a correction superseding the last.

    `positions` says how far scoring had read each log it follows (runtime.lag), recorded with the ranking."""
    p = domain.parse_period(period)
    now = uow.clock.now()
    if p.start > now:
        raise Invalid(f"period: {period} has not begun; there is nothing to rank",
                      details=[{"field": "period", "message": "has not begun"}])
    scheme = await resolve_scheme(uow.session, scheme_id=scheme_id, version=scheme_version)
    rows = await compute(uow.session, period=p, kind=kind, scheme=scheme, now=now)
    frozen = domain.freeze_ranking(rows, scheme)
    previous = await current_ranking(uow.session, period=p.label, kind=kind, scheme_id=scheme_id)
    ranking = Ranking(id=new_id(), period=p.label, kind=kind, scheme_id=scheme_id,
                      scheme_version=scheme.version, generation=(previous.generation + 1) if previous else 1,
                      supersedes=previous.id if previous else None, as_of=min(p.end, now), published_at=now,
                      published_by=uow.actor.user or "?", positions=positions, **frozen)
    uow.session.add(ranking)
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"another ranking of {p.label}/{kind}/{scheme_id} was published at the same moment; "
                       "read it and publish again if it still needs correcting") from exc
    await _announce_ranking(uow, ranking)
    return ranking_view(ranking)


async def _announce_ranking(uow: UnitOfWork, ranking: Ranking) -> None:
    # plain dicts: RankingPublished validates each into a RankingRow
    payload_rows: list[Any] = [
        {"org_id": r["org_id"], "org_name": r["org_name"], "score": r["score"], "rank": r["rank"],
         "components": {c: r["components"][c]["score"] for c in domain.COMPONENTS},
         "overdue": r["overdue"], "named": r["named"], "penalty": r["penalty"]}
        for r in ranking.rows]
    on_appeal: Any = ranking.on_appeal
    positions: Any = ranking.positions
    await uow.emit(f"{ranking.period}/{ranking.kind}/{ranking.scheme_id}", RankingPublished(
        ranking_id=ranking.id, period=ranking.period, kind=ranking.kind, scheme_id=ranking.scheme_id,
        scheme_version=ranking.scheme_version, published_at=ranking.published_at, supersedes=ranking.supersedes,
        bottom_named=ranking.bottom_named, penalized=ranking.penalized, rows=payload_rows, on_appeal=on_appeal,
        positions=positions,
    ))


async def issue_fact(session: AsyncSession, *, issue_id: str) -> dict[str, Any]:
    """What scoring has recorded of one issue: its state after every event consumed."""
    events = await load_issue_events(session, issue_id=issue_id)
    state = domain.issue_state_at(events)
    if state is None:
        raise NotFound(f"scoring has recorded nothing of issue {issue_id}")
    return {"id": state.issue_id, "responsible_org_id": state.org_id,
            "deadline": state.deadline.isoformat() if state.deadline else None, "status": state.status,
            "registered_at": state.registered_at.isoformat() if state.registered_at else None,
            "signed_off_at": state.signed_off_at.isoformat() if state.signed_off_at else None,
            "target": None if state.target is None else {"indicator": state.target.indicator,
                                                         "op": state.target.op, "value": state.target.value},
            "events": len(events)}


# ---------------------------------------------------------------- the working-day calendar


def calendar_view(row: CalendarYearRow) -> dict[str, Any]:
    """A stored year, with its count of working days."""
    table = year_table(row)
    first = date(row.year, 1, 1)
    days = (date(row.year + 1, 1, 1) - first).days
    return {"year": row.year, "holidays": sorted(table.holidays), "workdays": sorted(table.workdays),
            "source": row.source, "updated_at": row.updated_at,
            "working_days": sum(table.is_working_day(first + timedelta(days=k)) for k in range(days))}


async def put_calendar_year(uow: UnitOfWork, *, year: int, holidays: list[date], workdays: list[date],
                            source: str) -> dict[str, Any]:
    """Replace (or add) a year's table, refused with the field when it contradicts itself; announced to notify."""
    for name, days in (("holidays", holidays), ("workdays", workdays)):
        for i, d in enumerate(days):
            if d.year != year:
                raise field_error(f"{name}.{i}", f"{d.isoformat()} is not in {year}")
    try:
        table = YearCalendar(year=year, holidays=frozenset(holidays), workdays=frozenset(workdays))
    except CalendarError as exc:
        raise field_error("workdays" if "workday" in str(exc) else "holidays", str(exc)) from exc
    row = await uow.session.get(CalendarYearRow, year) or CalendarYearRow(year=year, holidays=[], workdays=[],
                                                                          source=source, updated_at=uow.clock.now())
    row.holidays = sorted(d.isoformat() for d in table.holidays)
    row.workdays = sorted(d.isoformat() for d in table.workdays)
    row.source = source
    row.updated_at = uow.clock.now()
    uow.session.add(row)
    await uow.emit(f"calendar/{year}", CalendarYearPublished(year=year, holidays=sorted(table.holidays),
                                                             workdays=sorted(table.workdays), source=source))
    return calendar_view(row)


# ---------------------------------------------------------------- accountability clues (问责线索)


def clue_thresholds(settings: ScoringSettings) -> accountability.Thresholds:
    """The rules' thresholds as the settings give them."""
    return accountability.Thresholds(
        overdue_days=settings.clue_overdue_days, superficial_rejections=settings.clue_superficial_rejections,
        rebounds=settings.clue_rebounds, missed_milestones=settings.clue_missed_milestones,
        bottom_times=settings.clue_bottom_times, bottom_of_last=settings.clue_bottom_of_last)


_RULE_THRESHOLDS = {"overdue": ("overdue_days",), "superficial": ("superficial_rejections",),
                    "rebound": ("rebounds",), "missed_milestones": ("missed_milestones",),
                    "bottom_of_ranking": ("bottom_times", "bottom_of_last")}


def clue_rules(settings: ScoringSettings) -> list[dict[str, Any]]:
    """Every rule, whether it is active, and its thresholds."""
    t = clue_thresholds(settings)
    return [{"rule": r.rule, "rule_zh": r.rule_zh, "active": r.active,
             "threshold": {name: getattr(t, name) for name in _RULE_THRESHOLDS.get(r.rule, ())}}
            for r in accountability.RULES]


async def clue_lines(session: AsyncSession, *, thresholds: accountability.Thresholds,
                     now: datetime) -> list[dict[str, Any]]:
    """Every clue of every active rule, as the API shows it (unit names added)."""
    facts = [accountability.Fact(*row) for row in await load_clue_facts(session)]
    published = await ranking_events(session)
    rankings = [accountability.RankingFact(
        ranking_id=r.id, period=r.period, kind=r.kind, scheme_id=r.scheme_id, published_at=r.published_at,
        bottom_named=tuple(r.bottom_named), event_id=published.get(r.id, (None, None))[0])
        for r in await current_rankings(session)]
    names = {o.org_id: o.name for o in await load_orgs(session)}
    found = accountability.clues(facts=facts, rankings=rankings, thresholds=thresholds, now=now)
    return [{"id": c.key, "rule": c.rule, "rule_zh": c.rule_zh, "threshold": c.threshold, "org_id": c.org_id,
             "org_name": names.get(c.org_id) if c.org_id else None, "issue_id": c.issue_id, "code": c.code,
             "found": c.found, "summary_zh": c.summary_zh, "events": c.events} for c in found]


CLUE_HEADERS = ["序号", "规则", "阈值", "单位", "单位编码", "任务编号", "任务ID", "查明事实", "触发事件数"]
EVENT_HEADERS = ["序号", "规则", "单位", "任务编号", "事件类型", "事件时间(北京时间)", "事件ID", "记录服务"]


def _threshold_text(threshold: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in threshold.items())


def clues_xlsx(lines: list[dict[str, Any]], rules: list[dict[str, Any]], *, title: str) -> bytes:
    """The clues as a workbook: one sheet of lines, one of the events behind them, one of the rules; every text
    cell a spreadsheet could take for a formula is written as text (runtime.spreadsheets)."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    sheet = wb.active
    sheet.title = "问责线索"
    events = wb.create_sheet("触发事件")
    rule_sheet = wb.create_sheet("规则")
    for ws, headers in ((sheet, CLUE_HEADERS), (events, EVENT_HEADERS),
                        (rule_sheet, ["规则", "规则编码", "是否启用", "阈值"])):
        append_row(ws, [title])
        ws["A1"].font = Font(bold=True, size=14)
        append_row(ws, headers)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A3"
    for n, c in enumerate(lines, 1):
        unit = c["org_name"] or c["org_id"] or ""
        append_row(sheet, [n, c["rule_zh"], _threshold_text(c["threshold"]), unit, c["org_id"] or "",
                           c["code"] or "", c["issue_id"] or "", c["summary_zh"], len(c["events"])])
        for e in c["events"]:
            at = e["time"]
            local = at.astimezone(SHANGHAI).replace(tzinfo=None) if isinstance(at, datetime) else at
            append_row(events, [n, c["rule_zh"], unit, c["code"] or "", e["type"], local, e["event_id"], e["source"]])
    for r in rules:
        append_row(rule_sheet, [r["rule_zh"], r["rule"], "是" if r["active"] else "否(所需事件尚未定义)",
                                _threshold_text(r["threshold"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- appeals (申诉 / 复核)


def appeal_view(a: Appeal) -> dict[str, Any]:
    """An appeal as the API shows it."""
    return {"id": a.id, "ranking_id": a.ranking_id, "period": a.period, "kind": a.kind, "scheme_id": a.scheme_id,
            "org_id": a.org_id, "org_name": a.org_name, "component": a.component, "disputed_value": a.disputed_value,
            "reason": a.reason, "evidence_ids": list(a.evidence_ids), "filed_at": a.filed_at, "filed_by": a.filed_by,
            "filed_on": a.filed_on, "appeal_due": a.appeal_due, "decision_due": a.decision_due, "status": a.status,
            "reasons": a.reasons, "previous": a.previous, "correction": a.correction,
            "corrected_ranking_id": a.corrected_ranking_id, "decided_at": a.decided_at, "decided_by": a.decided_by,
            "decided_on": a.decided_on, "late": a.late}


def _calendar_missing(exc: CalendarYearMissing, what: str) -> Conflict:
    return Conflict(f"{exc};无法推算{what} (cannot compute the {what} without that year)",
                    code="calendar_year_missing",
                    details=[{"field": "calendar", "message": f"no working-day calendar for {exc.year}; "
                                                              f"an admin sets it with PUT /v1/calendar/{exc.year}"}])


async def file_appeal(uow: UnitOfWork, *, ranking_id: str, org_id: str | None, component: str, reason: str,
                      evidence_ids: list[str]) -> dict[str, Any]:
    """A ranked unit appeals one component of its row, within the appeal window; refused with the reason."""
    session = uow.session
    ranking = await get_ranking(session, ranking_id=ranking_id)
    if ranking is None:
        raise NotFound(f"排名 {ranking_id} 不存在 (ranking {ranking_id} does not exist)")
    row = next((r for r in ranking.rows if r["org_id"] == org_id), None)
    if org_id is None or row is None:
        raise Invalid(f"贵单位 {org_id or '(令牌未载明单位)'} 不在排名 {ranking_id} 中,只有参加排名的单位可以申诉 "
                      f"(only a unit ranked in it may appeal a ranking)",
                      details=[{"field": "ranking_id", "message": f"org {org_id} is not ranked in {ranking_id}"}])
    later = (await superseded_by(session, ids=[ranking.id])).get(ranking.id)
    if later is not None:
        raise Conflict(f"排名 {ranking_id} 已被更正后的排名 {later} 取代,请对现行排名提出申诉 "
                       f"(this ranking was superseded by {later}; appeal the ranking in force)",
                       details=[{"field": "ranking_id", "message": f"superseded by {later}",
                                 "superseded_by": later}])
    scheme = await resolve_scheme(session, scheme_id=ranking.scheme_id, version=ranking.scheme_version)
    now = uow.clock.now()
    filed_on = domain.shanghai_day(now)
    calendar = await work_calendar(session)
    try:
        due = domain.appeal_due(ranking.published_at, scheme, calendar)
    except CalendarYearMissing as exc:
        raise _calendar_missing(exc, "申诉期 (appeal window)") from exc
    if filed_on > due:
        raise Conflict(f"申诉期已于 {due.isoformat()} 届满(排名发布后 {scheme.appeal_days} 个工作日),不再受理申诉 "
                       f"(the appeal window closed on {due.isoformat()})",
                       details=[{"field": "ranking_id", "message": f"appeal window closed on {due.isoformat()}",
                                 "appeal_due": due.isoformat()}])
    try:
        decide_by = domain.decision_due(filed_on, scheme, calendar)
    except CalendarYearMissing as exc:
        raise _calendar_missing(exc, "复核期 (decision window)") from exc
    if await find_appeal(session, ranking_id=ranking_id, org_id=org_id, component=component) is not None:
        raise _twice(ranking_id, component)
    appeal = Appeal(id=new_id(), ranking_id=ranking.id, period=ranking.period, kind=ranking.kind,
                    scheme_id=ranking.scheme_id, org_id=org_id, org_name=row.get("org_name"), component=component,
                    disputed_value=float(row["components"][component]["score"]), reason=reason,
                    evidence_ids=list(evidence_ids), filed_at=now, filed_by=uow.actor.user or "?", filed_on=filed_on,
                    appeal_due=due, decision_due=decide_by)
    session.add(appeal)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _twice(ranking_id, component) from exc
    await uow.emit(f"appeal/{appeal.id}", AppealFiled(
        appeal_id=appeal.id, ranking_id=appeal.ranking_id, period=appeal.period, kind=appeal.kind,
        scheme_id=appeal.scheme_id, org_id=org_id, org_name=appeal.org_name, component=component,
        disputed_value=appeal.disputed_value, reason=reason, evidence_ids=list(evidence_ids), filed_at=now,
        filed_on=filed_on, appeal_due=due, decision_due=decide_by))
    return appeal_view(appeal)


def _twice(ranking_id: str, component: str) -> Conflict:
    return Conflict(f"贵单位已就排名 {ranking_id} 的「{domain.COMPONENT_ZH.get(component, component)}」提出过申诉,"
                    f"同一排名同一考核项只能申诉一次 (one appeal per ranking and component)",
                    details=[{"field": "component", "message": f"already appealed {component} of {ranking_id}"}])


async def decide_appeal(uow: UnitOfWork, *, appeal_id: str, outcome: str, reasons: str,
                        correction: dict[str, float] | None) -> dict[str, Any]:
    """The office decides an appeal; an (partly) upheld one publishes a ranking that corrects the one in force."""
    session = uow.session
    appeal = await session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound(f"申诉 {appeal_id} 不存在 (appeal {appeal_id} does not exist)")
    if appeal.status != "pending":
        raise Conflict(f"申诉 {appeal_id} 已于 {appeal.decided_on} 作出复核决定({appeal.status}),不能再次决定 "
                       f"(the appeal was decided already)",
                       details=[{"field": "outcome", "message": f"already decided: {appeal.status}"}])
    now = uow.clock.now()
    decided_on = domain.shanghai_day(now)
    corrected: Ranking | None = None
    previous: dict[str, float] | None = None
    clean: dict[str, float] | None = None
    # the correction applies to the ranking in force: another appeal's correction may have superseded the appealed one
    current = await current_ranking(session, period=appeal.period, kind=appeal.kind, scheme_id=appeal.scheme_id)
    if outcome in domain.CORRECTING:
        row = next((r for r in current.rows if r["org_id"] == appeal.org_id), None) if current else None
        if current is None or row is None:
            raise Conflict(f"现行排名中没有 {appeal.org_id},无法更正 (the org is not in the ranking in force)",
                           details=[{"field": "outcome", "message": "the appellant is not in the ranking in force"}])
        published = {c: float(v["score"]) for c, v in row["components"].items()}
        clean = domain.check_correction(outcome=outcome, component=appeal.component, correction=correction,
                                        published=published)
        assert clean is not None
        previous = {c: published[c] for c in clean}
        scheme = await resolve_scheme(session, scheme_id=current.scheme_id, version=current.scheme_version)
        frozen = domain.corrected_rows(current.rows, org_id=appeal.org_id, correction=clean, appeal_id=appeal.id,
                                       scheme=scheme)
        corrected = Ranking(id=new_id(), period=current.period, kind=current.kind, scheme_id=current.scheme_id,
                            scheme_version=current.scheme_version, generation=current.generation + 1,
                            supersedes=current.id, as_of=current.as_of, published_at=now,
                            published_by=uow.actor.user or "?",
                            on_appeal={"appeal_id": appeal.id, "org_id": appeal.org_id, "component": appeal.component,
                                       "outcome": outcome, "previous": previous, "corrected": clean,
                                       "reasons": reasons}, positions=current.positions, **frozen)
        session.add(corrected)
    else:
        domain.check_correction(outcome=outcome, component=appeal.component, correction=correction, published={})
    appeal.status, appeal.reasons, appeal.previous, appeal.correction = outcome, reasons, previous, clean
    appeal.corrected_ranking_id = corrected.id if corrected else None
    appeal.decided_at, appeal.decided_by, appeal.decided_on = now, uow.actor.user or "?", decided_on
    appeal.late = decided_on > appeal.decision_due
    session.add(appeal)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("另一更正排名同时发布,请刷新后重试 (another correction was published at the same moment; "
                       "read it and decide again)") from exc
    if corrected is not None:
        await _announce_ranking(uow, corrected)
    await uow.emit(f"appeal/{appeal.id}", AppealDecided(
        appeal_id=appeal.id, ranking_id=appeal.ranking_id, period=appeal.period, kind=appeal.kind,
        org_id=appeal.org_id, component=appeal.component, outcome=AppealOutcome(outcome), reasons=reasons,
        previous=previous, correction=clean, corrected_ranking_id=appeal.corrected_ranking_id, decided_at=now,
        decided_on=decided_on, decision_due=appeal.decision_due, late=appeal.late))
    return appeal_view(appeal)

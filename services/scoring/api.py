"""Routes of the scoring service: parse, call a handler, shape the answer."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi import Path as FastPath
from pydantic import AwareDatetime

from contracts.calendar import MAX_WORKING_DAYS, CalendarYearMissing
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.clock import SHANGHAI
from runtime.errors import Conflict, NotFound, error_responses, field_error
from runtime.lag import FeedLag, wait_caught_up
from runtime.pagination import Key, Page, decode_cursor, encode_cursor
from services.scoring import accountability, domain, handlers, store
from services.scoring.schemas import (
    MAX_READINGS,
    SCHEME_BODY,
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    CalendarYearIn,
    CalendarYearOut,
    CluesOut,
    Component,
    IssueFactOut,
    RankingIn,
    RankingOut,
    ReadingOut,
    ReadingsIn,
    SchemeOut,
    ScoresOut,
    WorkingDaysOut,
)
from services.scoring.settings import settings_of

router = APIRouter(tags=["scoring"])

RT = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
AdminP = Annotated[Principal, Depends(require("admin"))]
FeederP = Annotated[Principal, Depends(require("system", "admin"))]
UnitP = Annotated[Principal, Depends(require("responsible"))]

_ID = r"^[A-Za-z0-9_.\-]+$"
READ = error_responses(401, 422)
READ_ONE = error_responses(401, 404, 422)
WRITE = error_responses(400, 401, 403, 404, 409, 422)


@router.put("/v1/schemes/{scheme_id}", summary="Store a new version of a scheme (admin)", openapi_extra=SCHEME_BODY,
            responses=WRITE)
async def put_scheme(scheme_id: str, body: Annotated[dict[str, Any], Body()], rt: RT,
                     principal: AdminP) -> SchemeOut:
    if not re.match(_ID, scheme_id) or len(scheme_id) > 64:
        raise field_error("scheme_id", "letters, digits, '.', '_' and '-' only, at most 64")
    async with rt.unit_of_work(principal, role="admin") as uow:
        return SchemeOut.model_validate(await handlers.put_scheme(uow, scheme_id=scheme_id, body=body))


@router.get("/v1/schemes", summary="The schemes and their newest versions (a short catalogue: one page)",
            responses=READ)
async def list_schemes(rt: RT, _: Caller) -> Page[SchemeOut]:
    async with rt.read() as session:
        items = []
        for sid in await store.scheme_ids(session):
            versions = await store.scheme_versions(session, scheme_id=sid)
            items.append(SchemeOut.model_validate(handlers.scheme_view(versions[-1], [v.version for v in versions])))
    return Page(items=items, next_cursor=None)


@router.get("/v1/schemes/{scheme_id}", summary="A scheme: its newest version, or the one named by ?version=",
            responses=READ_ONE)
async def read_scheme(scheme_id: str, rt: RT, _: Caller,
                      version: Annotated[int | None, Query(ge=1)] = None) -> SchemeOut:
    async with rt.read() as session:
        row = await store.get_scheme(session, scheme_id=scheme_id, version=version)
        if row is None:
            raise NotFound(f"scheme {scheme_id}" + (f" version {version}" if version else "") + " does not exist")
        versions = await store.scheme_versions(session, scheme_id=scheme_id)
    return SchemeOut.model_validate(handlers.scheme_view(row, [v.version for v in versions]))


@router.post("/v1/readings", status_code=201,
             summary=f"Record monitoring readings, one or a list of at most {MAX_READINGS} (system, admin)",
             responses=error_responses(400, 401, 403, 422))
async def post_readings(body: Annotated[ReadingsIn, Body()], rt: RT, principal: FeederP) -> Page[ReadingOut]:
    items = body if isinstance(body, list) else [body]
    role = "system" if principal.has("system") else "admin"
    async with rt.unit_of_work(principal, role=role) as uow:
        stored = await handlers.record_readings(uow, items=[i.model_dump() for i in items])
    return Page(items=[ReadingOut.model_validate(r) for r in stored], next_cursor=None)


@router.get("/v1/readings", summary="Monitoring readings, oldest observation first (any signed-in role)",
            responses=READ)
async def list_readings(
        rt: RT, _: Caller,
        org_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=_ID)] = None,
        indicator: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        start: Annotated[AwareDatetime | None, Query(alias="from", description="observed at or after (with zone)")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to", description="observed before (with zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=500)] = None) -> Page[ReadingOut]:
    if start is not None and end is not None and end <= start:
        raise field_error("to", "must be later than from")
    async with rt.read() as session:
        rows, nxt = await store.page_readings(session, org_id=org_id, indicator=indicator, start=start, end=end,
                                              cursor=cursor, limit=limit)
    return Page(items=[ReadingOut.model_validate(r, from_attributes=True) for r in rows], next_cursor=nxt)


@router.get("/v1/scores", summary="Ranked scores of every region or department for a period", responses=READ_ONE)
async def scores(rt: RT, _: Caller,
                 period: Annotated[str, Query(description="2020-06, 2020-H1 or 2020 (Asia/Shanghai)")],
                 kind: Annotated[str, Query(pattern="^(region|department)$")],
                 scheme_id: str = "default",
                 scheme_version: Annotated[int | None, Query(ge=1)] = None) -> ScoresOut:
    p = domain.parse_period(period)
    now = rt.clock.now()
    async with rt.read() as session:
        scheme = await handlers.resolve_scheme(session, scheme_id=scheme_id, version=scheme_version)
        rows = await handlers.compute(session, period=p, kind=kind, scheme=scheme, now=now)
    return ScoresOut.model_validate({
        "period": p.label, "kind": kind, "scheme_id": scheme.scheme_id, "scheme_version": scheme.version,
        "start": p.start, "end": p.end, "as_of": min(p.end, now), "items": rows, "next_cursor": None})


def _behind(lags: list[FeedLag], waited: float) -> Conflict:
    late = [x for x in lags if x.behind]
    said = ", ".join(f"{x.name()} 落后 {x.lag} 条" if x.lag is not None else f"{x.name()} 位置未知" for x in late)
    return Conflict(
        f"评分服务尚未读完所跟随的日志({said}),已等待 {waited:g} 秒;排名若此时发布将基于过时的事实,请几秒后重试 "
        f"(scoring has not read every log it follows to its end after waiting {waited:g} s; a ranking published "
        "now would be frozen on stale facts: retry in a few seconds)",
        code="scoring_behind",
        details=[{"field": x.name(), "feed": x.feed, "partition": x.partition, "position": x.position,
                  "end": x.end, "lag": x.lag,
                  "message": x.error or f"read to {x.position}, the log ends at {x.end}"} for x in late])


@router.post("/v1/rankings", status_code=201, summary="Publish (freeze) a ranking; again = a correction (admin)",
             description="排名只在评分服务读完其跟随的每个日志(嵌入式总线:对端日志的最新位置;Kafka:各分区的高水位)"
                         "后计算;落后时最多等待 CLOSELOOP_RANKING_CATCH_UP_SECONDS 秒(默认 3 秒),仍落后则拒绝:"
                         "409 scoring_behind,details 列出每个落后的日志及其落后条数,什么也不写入。发布的排名记录计算时"
                         "读到的位置 (positions). (Computed only once scoring has read every log it follows to its "
                         "end; while it is behind the request waits up to CLOSELOOP_RANKING_CATCH_UP_SECONDS, "
                         "default 3 s, then is refused with 409 scoring_behind naming each log and its lag, writing "
                         "nothing. The ranking records the positions it was computed at.)",
             responses=WRITE)
async def post_ranking(body: RankingIn, rt: RT, principal: AdminP) -> RankingOut:
    within = settings_of(rt).ranking_catch_up_seconds
    caught_up, lags = await wait_caught_up(rt, within=within)
    if not caught_up:
        raise _behind(lags, within)
    async with rt.unit_of_work(principal, role="admin") as uow:
        return RankingOut.model_validate(await handlers.publish_ranking(
            uow, period=body.period, kind=body.kind, scheme_id=body.scheme_id, scheme_version=body.scheme_version,
            positions=[x.recorded() for x in lags if not x.outbox]))


@router.get("/v1/rankings", summary="Published rankings, newest first", responses=READ)
async def list_rankings(rt: RT, _: Caller, period: str | None = None, kind: str | None = None,
                        scheme_id: str | None = None,
                        current: Annotated[bool, Query(description="only those no correction supersedes")] = False,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        cursor: str | None = None) -> Page[RankingOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_rankings(session, period=period, kind=kind, scheme_id=scheme_id,
                                              current=current, cursor=cursor, limit=limit)
        successors = await store.superseded_by(session, ids=[r.id for r in rows])
    return Page(items=[RankingOut.model_validate(handlers.ranking_view(r, successors.get(r.id))) for r in rows],
                next_cursor=nxt)


@router.get("/v1/rankings/{ranking_id}", summary="One published ranking", responses=READ_ONE)
async def read_ranking(ranking_id: str, rt: RT, _: Caller) -> RankingOut:
    async with rt.read() as session:
        r = await store.get_ranking(session, ranking_id=ranking_id)
        if r is None:
            raise NotFound(f"ranking {ranking_id} does not exist")
        successors = await store.superseded_by(session, ids=[r.id])
    return RankingOut.model_validate(handlers.ranking_view(r, successors.get(r.id)))


@router.get("/v1/facts/issues/{issue_id}", responses=READ_ONE,
            summary="What scoring has recorded of an issue (admin, leader, auditor, system; an org: its own issues)")
async def issue_fact(issue_id: Annotated[str, FastPath(max_length=64)], rt: RT, who: Caller) -> IssueFactOut:
    async with rt.read() as session:
        fact = await handlers.issue_fact(session, issue_id=issue_id)
    # scoring knows the responsible org only: an org sees the facts of the issues it is responsible for
    if not who.sees_all and (who.org is None or who.org != fact["responsible_org_id"]):
        raise NotFound(f"scoring has recorded nothing of issue {issue_id} that you may see")
    return IssueFactOut.model_validate(fact)


# ---- the working-day calendar (工作日历) ----------------------------------------------------------------------------

Year = Annotated[int, FastPath(ge=1949, le=2200, description="a calendar year, e.g. 2020")]


@router.get("/v1/calendar/{year}", summary="A year of the working-day calendar: holidays and make-up working days",
            responses=READ_ONE)
async def read_calendar_year(year: Year, rt: RT, _: Caller) -> CalendarYearOut:
    async with rt.read() as session:
        row = await session.get(store.CalendarYearRow, year)
        if row is None:
            raise NotFound(f"工作日历没有 {year} 年的数据 (the calendar has no table for {year})")
        return CalendarYearOut.model_validate(handlers.calendar_view(row))


@router.put("/v1/calendar/{year}", summary="Set a year of the working-day calendar, replacing it (admin)",
            responses=WRITE)
async def put_calendar_year(year: Year, body: CalendarYearIn, rt: RT, principal: AdminP) -> CalendarYearOut:
    async with rt.unit_of_work(principal, role="admin") as uow:
        return CalendarYearOut.model_validate(await handlers.put_calendar_year(
            uow, year=year, holidays=body.holidays, workdays=body.workdays, source=body.source))


@router.get("/v1/calendar/working-days/after", summary="The n-th working day after a day (e.g. an appeal window)",
            responses=READ)
async def working_days_after(rt: RT, _: Caller, start: Annotated[date, Query(alias="from")],
                             days: Annotated[int, Query(ge=0, le=MAX_WORKING_DAYS)]) -> WorkingDaysOut:
    async with rt.read() as session:
        calendar = await store.work_calendar(session)
    try:
        due = calendar.add_working_days(start, days)
    except CalendarYearMissing as exc:
        raise field_error("from", str(exc)) from exc
    return WorkingDaysOut(start=start, days=days, due=due)


# ---- accountability clues (问责线索) --------------------------------------------------------------------------

CluesReader = Annotated[Principal, Depends(require("admin", "leader"))]
CLUES = error_responses(401, 403, 422)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RuleQ = Annotated[str | None, Query(max_length=40, description="only this rule (overdue, superficial, rebound, "
                                                               "missed_milestones, bottom_of_ranking)")]
OrgQ = Annotated[str | None, Query(min_length=1, max_length=64, description="only this unit")]


async def _clues(rt: Runtime, *, rule: str | None, org_id: str | None) -> tuple[list[dict[str, Any]],
                                                                                list[dict[str, Any]]]:
    if rule is not None and rule not in accountability.RULE_ORDER:
        raise field_error("rule", f"unknown rule; rules are {', '.join(accountability.RULE_ORDER)}")
    async with rt.read() as session:
        lines = await handlers.clue_lines(session, thresholds=handlers.clue_thresholds(settings_of(rt)),
                                          now=rt.clock.now())
    rules = handlers.clue_rules(settings_of(rt))
    return [c for c in lines if (rule is None or c["rule"] == rule) and (org_id is None or c["org_id"] == org_id)], rules


@router.get("/v1/accountability/clues", tags=["accountability"],
            summary="Accountability clues (问责线索): units and tasks meeting a rule, with the events behind each "
                    "(admin, leader)",
            description="Derived on every read from the events scoring keeps; records no judgement. Thresholds come "
                        "from the CLOSELOOP_CLUE_* settings (the rules list says which apply).",
            responses=CLUES)
async def list_clues(rt: RT, _: CluesReader, rule: RuleQ = None, org_id: OrgQ = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100,
                     cursor: Annotated[str | None, Query(max_length=500)] = None) -> CluesOut:
    lines, rules = await _clues(rt, rule=rule, org_id=org_id)
    after = decode_cursor(cursor, [Key(None, "id")])[0] if cursor else None
    rest = [c for c in lines if after is None or c["id"] > after]
    page = rest[:limit]
    nxt = encode_cursor([page[-1]["id"]]) if len(rest) > limit and page else None
    return CluesOut.model_validate({"items": page, "next_cursor": nxt, "rules": rules, "as_of": rt.clock.now()})


@router.get("/v1/accountability/clues/export", tags=["accountability"],
            summary="The accountability clues as an XLSX workbook for the discipline inspection office (admin, leader)",
            response_class=Response,
            responses={200: {"description": "问责线索清单 XLSX (two sheets: the clues, and the events behind them)",
                             "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **CLUES})
async def export_clues(rt: RT, _: CluesReader, rule: RuleQ = None, org_id: OrgQ = None) -> Response:
    lines, rules = await _clues(rt, rule=rule, org_id=org_id)
    day = rt.clock.now().astimezone(SHANGHAI).date().isoformat()
    body = handlers.clues_xlsx(lines, rules, title=f"问责线索清单(截至 {day})")
    name = f"问责线索-{day}.xlsx"
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"accountability-clues-{day}.xlsx\"; "
                               f"filename*=UTF-8''{quote(name)}"})


# ---- appeals (申诉 / 复核) ------------------------------------------------------------------------------------------

AppealId = Annotated[str, FastPath(min_length=1, max_length=36, pattern=_ID)]


@router.post("/v1/rankings/{ranking_id}/appeals", status_code=201,
             summary="Appeal one component of the caller's row in a published ranking (responsible of a ranked unit)",
             description="Within the scheme's appeal_days working days after the publication day (Asia/Shanghai, the "
                         "working-day calendar). Refused: 404 no such ranking; 403 not a responsible role; 422 the "
                         "caller's org is not in the ranking (field ranking_id) or bad input; 409 the ranking was "
                         "superseded (ranking_id), the window closed (ranking_id), the same component was appealed "
                         "already (component), or the calendar lacks a year (calendar, code calendar_year_missing).",
             responses=WRITE)
async def post_appeal(ranking_id: AppealId, body: AppealIn, rt: RT, principal: UnitP) -> AppealOut:
    async with rt.unit_of_work(principal, role="responsible") as uow:
        return AppealOut.model_validate(await handlers.file_appeal(
            uow, ranking_id=ranking_id, org_id=principal.org, component=body.component, reason=body.reason,
            evidence_ids=list(body.evidence_ids)))


@router.get("/v1/appeals", summary="Appeals, newest first (admin, leader, auditor: all; a unit: its own)",
            responses=READ)
async def list_appeals(
        rt: RT, principal: Caller,
        org_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=_ID)] = None,
        ranking_id: Annotated[str | None, Query(min_length=1, max_length=36, pattern=_ID)] = None,
        status: Annotated[str | None, Query(pattern="^(pending|upheld|partly_upheld|refused)$")] = None,
        period: Annotated[str | None, Query(min_length=4, max_length=10)] = None,
        kind: Annotated[str | None, Query(pattern="^(region|department)$")] = None,
        component: Annotated[Component | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=500)] = None) -> Page[AppealOut]:
    if not principal.sees_all:
        if principal.org is None or (org_id is not None and org_id != principal.org):
            return Page(items=[], next_cursor=None)  # a unit sees its own appeals only
        org_id = principal.org
    async with rt.read() as session:
        rows, nxt = await store.page_appeals(session, org_id=org_id, ranking_id=ranking_id, status=status,
                                             period=period, kind=kind, component=component, cursor=cursor,
                                             limit=limit)
    return Page(items=[AppealOut.model_validate(handlers.appeal_view(a)) for a in rows], next_cursor=nxt)


@router.get("/v1/appeals/{appeal_id}", summary="One appeal and its decision (a unit: its own)", responses=READ_ONE)
async def read_appeal(appeal_id: AppealId, rt: RT, principal: Caller) -> AppealOut:
    async with rt.read() as session:
        appeal = await session.get(store.Appeal, appeal_id)
    if appeal is None or not (principal.sees_all or principal.org == appeal.org_id):
        raise NotFound(f"申诉 {appeal_id} 不存在或无权查看 (appeal {appeal_id} does not exist or is not yours)")
    return AppealOut.model_validate(handlers.appeal_view(appeal))


@router.post("/v1/appeals/{appeal_id}/decision",
             summary="Decide an appeal (admin): upheld / partly_upheld with the correction, or refused",
             description="An (partly) upheld appeal publishes a ranking that supersedes the one in force, with the "
                         "appellant's corrected component values. A decision after decision_due is taken and flagged "
                         "late. Refused: 403 not admin; 404 no such appeal; 409 decided already (outcome); 422 the "
                         "correction is missing, unknown, out of 0–100, equal to the published values, or given "
                         "with a refusal (correction…).",
             responses=WRITE)
async def post_appeal_decision(appeal_id: AppealId, body: AppealDecisionIn, rt: RT, principal: AdminP) -> AppealOut:
    async with rt.unit_of_work(principal, role="admin") as uow:
        return AppealOut.model_validate(await handlers.decide_appeal(
            uow, appeal_id=appeal_id, outcome=body.outcome.value, reasons=body.reasons,
            correction=None if body.correction is None else {str(c): v for c, v in body.correction.items()}))

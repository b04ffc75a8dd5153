"""Routes of the scoring service: parse, call a handler, shape the answer."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi import Path as FastPath
from pydantic import AwareDatetime

from contracts.calendar import MAX_WORKING_DAYS, CalendarYearMissing
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import NotFound, error_responses, field_error
from runtime.pagination import Page
from services.scoring import domain, handlers, store
from services.scoring.schemas import (
    MAX_READINGS,
    SCHEME_BODY,
    CalendarYearIn,
    CalendarYearOut,
    IssueFactOut,
    RankingIn,
    RankingOut,
    ReadingOut,
    ReadingsIn,
    SchemeOut,
    ScoresOut,
    WorkingDaysOut,
)

router = APIRouter(tags=["scoring"])

RT = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
AdminP = Annotated[Principal, Depends(require("admin"))]
FeederP = Annotated[Principal, Depends(require("system", "admin"))]

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


@router.post("/v1/rankings", status_code=201, summary="Publish (freeze) a ranking; again = a correction (admin)",
             responses=WRITE)
async def post_ranking(body: RankingIn, rt: RT, principal: AdminP) -> RankingOut:
    async with rt.unit_of_work(principal, role="admin") as uow:
        return RankingOut.model_validate(await handlers.publish_ranking(
            uow, period=body.period, kind=body.kind, scheme_id=body.scheme_id, scheme_version=body.scheme_version))


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

"""Routes of the issues service: parse, call a handler, shape the answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from contracts.enums import OrgKind, RoundLevel, ZoneType
from contracts.events.issues import Location, OrgRegistered, RoundRegistered, Target
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import Forbidden, NotFound
from runtime.pagination import page_of
from services.issues import domain, handlers
from services.issues.store import Issue, Org, Round, get_issue, history

router = APIRouter()


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    zone_type: ZoneType | None = None


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: RoundLevel
    started_on: date | None = None
    ended_on: date | None = None
    feedback_on: date | None = None


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    round_id: str = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=20000)
    region_id: str | None = None
    responsible_org_id: str = Field(min_length=1)
    cooperating_org_ids: list[str] = []
    supervising_org_id: str = Field(min_length=1)
    leader: str | None = Field(default=None, max_length=200)
    deadline: date
    target: Target | None = None
    measures: str | None = Field(default=None, max_length=20000)
    location: Location | None = None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


def org_out(org: Org) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": org.kind, "zone_type": org.zone_type}


def round_out(rnd: Round) -> dict[str, Any]:
    return rnd.model_dump(mode="json", exclude={"created_at"})


def issue_out(issue: Issue, *, today: date | None = None) -> dict[str, Any]:
    out = issue.model_dump(mode="json")
    from services.issues.domain_time import is_overdue

    out["overdue"] = is_overdue(deadline=issue.deadline, status=issue.status, today=today)
    return out


@router.post("/v1/orgs", status_code=201, tags=["orgs"], summary="Register an org (admin)")
async def create_org(body: OrgIn, rt: Runtime = Depends(get_runtime),
                     who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        org = await handlers.register_org(uow, cmd=OrgRegistered(org_id=body.id, name=body.name, kind=body.kind,
                                                                 zone_type=body.zone_type))
    return org_out(org)


@router.get("/v1/orgs", tags=["orgs"], summary="List orgs")
async def list_orgs(limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                    rt: Runtime = Depends(get_runtime), _: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        stmt = select(Org).order_by(Org.id)
        if cursor:
            stmt = stmt.where(Org.id > cursor)
        rows = list((await session.execute(stmt.limit(limit))).scalars().all())
    return page_of([org_out(o) for o in rows], limit=limit, key="id")


@router.get("/v1/orgs/{org_id}", tags=["orgs"], summary="One org")
async def read_org(org_id: str, rt: Runtime = Depends(get_runtime),
                   _: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        org = await session.get(Org, org_id)
    if org is None:
        raise NotFound(f"no org {org_id}")
    return org_out(org)


@router.post("/v1/rounds", status_code=201, tags=["rounds"], summary="Register an inspection round (admin)")
async def create_round(body: RoundIn, rt: Runtime = Depends(get_runtime),
                       who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        rnd = await handlers.register_round(uow, cmd=RoundRegistered(round_id=body.id, **body.model_dump(exclude={"id"})))
    return round_out(rnd)


@router.get("/v1/rounds", tags=["rounds"], summary="List inspection rounds")
async def list_rounds(limit: int = Query(100, ge=1, le=1000), cursor: str | None = None,
                      rt: Runtime = Depends(get_runtime), _: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        stmt = select(Round).order_by(Round.id)
        if cursor:
            stmt = stmt.where(Round.id > cursor)
        rows = list((await session.execute(stmt.limit(limit))).scalars().all())
    return page_of([round_out(r) for r in rows], limit=limit, key="id")


@router.post("/v1/issues", status_code=201, tags=["issues"], summary="Register a ledger item (admin)")
async def create_issue(body: IssueIn, rt: Runtime = Depends(get_runtime),
                       who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await handlers.register_issue(uow, fields=body.model_dump(mode="json"))
    return issue_out(issue)


def _visible(who: Principal):  # type: ignore[no-untyped-def]
    if who.sees_all:
        return None
    org = who.org or "\x00"
    return or_(Issue.responsible_org_id == org, Issue.supervising_org_id == org,
               Issue.cooperating_org_ids.contains(org))  # type: ignore[union-attr]


@router.get("/v1/issues", tags=["issues"], summary="List the issues the caller may see")
async def list_issues(status: str | None = None, limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
                      rt: Runtime = Depends(get_runtime), who: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        stmt = select(Issue).order_by(Issue.deadline, Issue.id)
        if status:
            stmt = stmt.where(Issue.status == status)
        rows = list((await session.execute(stmt)).scalars().all())
    rows = [i for i in rows if domain.may_see(who, responsible=i.responsible_org_id, cooperating=i.cooperating_org_ids,
                                              supervising=i.supervising_org_id)]
    start = 0
    if cursor:
        ids = [i.id for i in rows]
        start = ids.index(cursor) + 1 if cursor in ids else 0
    chunk = rows[start:start + limit]
    return {"items": [issue_out(i) for i in chunk],
            "next_cursor": chunk[-1].id if len(chunk) == limit and start + limit < len(rows) else None}


async def _load_visible(rt: Runtime, who: Principal, issue_id: str) -> Issue:
    async with rt.read() as session:
        issue = await get_issue(session, issue_id=issue_id)
    if issue is None or not domain.may_see(who, responsible=issue.responsible_org_id,
                                           cooperating=issue.cooperating_org_ids,
                                           supervising=issue.supervising_org_id):
        raise NotFound(f"no issue {issue_id} that you may see")
    return issue


@router.get("/v1/issues/{issue_id}", tags=["issues"], summary="One issue with its history of transitions")
async def read_issue(issue_id: str, rt: Runtime = Depends(get_runtime),
                     who: Principal = Depends(current_principal)) -> dict[str, Any]:
    issue = await _load_visible(rt, who, issue_id)
    async with rt.read() as session:
        steps = await history(session, issue_id=issue_id)
    out = issue_out(issue)
    out["history"] = [
        {"action": t.action, "from": t.from_status, "to": t.to_status,
         "by": {"user": t.actor_user, "org": t.actor_org, "role": t.actor_role},
         "at": t.at.isoformat(), "reason": t.reason, "event_id": t.event_id}
        for t in steps
    ]
    return out


@router.post("/v1/issues/{issue_id}/start", tags=["issues"], summary="registered → in_progress (responsible)")
async def start(issue_id: str, body: StartIn | None = None, rt: Runtime = Depends(get_runtime),
                who: Principal = Depends(require("responsible"))) -> dict[str, Any]:
    await _load_visible(rt, who, issue_id)
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await get_issue(uow.session, issue_id=issue_id, lock=True)
        assert issue is not None
        if not domain.may_act_as_responsible(who, responsible=issue.responsible_org_id):
            raise Forbidden("only the issue's responsible org may start it")
        issue = await handlers.start_issue(uow, issue=issue, note=body.note if body else None)
    return issue_out(issue)

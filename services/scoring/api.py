"""Routes of the scoring service: parse, call a handler, shape the answer."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import col

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import NotFound, field_error
from services.scoring import domain, handlers
from services.scoring.store import Ranking, get_scheme, scheme_ids, scheme_versions, superseded_by

router = APIRouter(tags=["scoring"])

RT = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
AdminP = Annotated[Principal, Depends(require("admin"))]
FeederP = Annotated[Principal, Depends(require("system", "admin"))]

_ID = r"^[A-Za-z0-9_.\-]+$"


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: str = Field(min_length=1, max_length=64)
    indicator: str = Field(min_length=1, max_length=100)
    value: float
    observed_at: AwareDatetime


class RankingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(min_length=4, max_length=10)
    kind: str = Field(pattern="^(region|department)$")
    scheme_id: str = Field(default="default", min_length=1, max_length=64)
    scheme_version: int | None = Field(default=None, ge=1)


@router.put("/v1/schemes/{scheme_id}", summary="Store a new version of a scheme (admin)")
async def put_scheme(scheme_id: str, body: Annotated[dict[str, Any], Body()], rt: RT,
                     principal: AdminP) -> dict[str, Any]:
    if not re.match(_ID, scheme_id) or len(scheme_id) > 64:
        raise field_error("scheme_id", "letters, digits, '.', '_' and '-' only, at most 64")
    async with rt.unit_of_work(principal, role="admin") as uow:
        return await handlers.put_scheme(uow, scheme_id=scheme_id, body=body)


@router.get("/v1/schemes", summary="The schemes and their newest versions")
async def list_schemes(rt: RT,
                       _: Caller) -> dict[str, Any]:
    async with rt.read() as session:
        items = []
        for sid in await scheme_ids(session):
            versions = await scheme_versions(session, scheme_id=sid)
            items.append(handlers.scheme_view(versions[-1], [v.version for v in versions]))
    return {"items": items, "next_cursor": None}


@router.get("/v1/schemes/{scheme_id}", summary="A scheme: its newest version, or the one named by ?version=")
async def read_scheme(scheme_id: str, rt: RT, _: Caller,
                      version: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    async with rt.read() as session:
        row = await get_scheme(session, scheme_id=scheme_id, version=version)
        if row is None:
            raise NotFound(f"scheme {scheme_id}" + (f" version {version}" if version else "") + " does not exist")
        versions = await scheme_versions(session, scheme_id=scheme_id)
    return handlers.scheme_view(row, [v.version for v in versions])


@router.post("/v1/readings", status_code=201, summary="Record monitoring readings, one or a list (system, admin)")
async def post_readings(body: Annotated[ReadingIn | list[ReadingIn], Body()], rt: RT,
                        principal: FeederP) -> dict[str, Any]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise field_error("body", "send one reading or a non-empty list")
    role = "system" if principal.has("system") else "admin"
    async with rt.unit_of_work(principal, role=role) as uow:
        stored = await handlers.record_readings(uow, items=[i.model_dump() for i in items])
    return {"items": stored, "next_cursor": None}


@router.get("/v1/scores", summary="Ranked scores of every region or department for a period")
async def scores(rt: RT, _: Caller,
                 period: Annotated[str, Query(description="2020-06, 2020-H1 or 2020 (Asia/Shanghai)")],
                 kind: Annotated[str, Query(pattern="^(region|department)$")],
                 scheme_id: str = "default",
                 scheme_version: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    p = domain.parse_period(period)
    now = rt.clock.now()
    async with rt.read() as session:
        scheme = await handlers.resolve_scheme(session, scheme_id=scheme_id, version=scheme_version)
        rows = await handlers.compute(session, period=p, kind=kind, scheme=scheme, now=now)
    return {"period": p.label, "kind": kind, "scheme_id": scheme.scheme_id, "scheme_version": scheme.version,
            "start": p.start.isoformat(), "end": p.end.isoformat(), "as_of": min(p.end, now).isoformat(),
            "items": rows, "next_cursor": None}


@router.post("/v1/rankings", status_code=201, summary="Publish (freeze) a ranking; again = a correction (admin)")
async def post_ranking(body: RankingIn, rt: RT,
                       principal: AdminP) -> dict[str, Any]:
    async with rt.unit_of_work(principal, role="admin") as uow:
        return await handlers.publish_ranking(uow, period=body.period, kind=body.kind, scheme_id=body.scheme_id,
                                              scheme_version=body.scheme_version)


@router.get("/v1/rankings", summary="Published rankings, newest first")
async def list_rankings(rt: RT, _: Caller, period: str | None = None, kind: str | None = None,
                        scheme_id: str | None = None,
                        current: Annotated[bool, Query(description="only those no correction supersedes")] = False,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        cursor: str | None = None) -> dict[str, Any]:
    query = select(Ranking).order_by(col(Ranking.published_at).desc(), col(Ranking.id).desc())
    if period:
        query = query.where(col(Ranking.period) == period)
    if kind:
        query = query.where(col(Ranking.kind) == kind)
    if scheme_id:
        query = query.where(col(Ranking.scheme_id) == scheme_id)
    async with rt.read() as session:
        if cursor:
            anchor = await session.get(Ranking, cursor)
            if anchor is None:
                raise field_error("cursor", "unknown cursor")
            query = query.where((col(Ranking.published_at) < anchor.published_at) | (
                (Ranking.published_at == anchor.published_at) & (Ranking.id < anchor.id)))
        rows = list((await session.execute(query)).scalars().all())
        successors = await superseded_by(session, ids=[r.id for r in rows])
    if current:
        rows = [r for r in rows if r.id not in successors]
    page = rows[:limit]
    items = [handlers.ranking_view(r, successors.get(r.id)) for r in page]
    return {"items": items, "next_cursor": page[-1].id if len(rows) > limit else None}


@router.get("/v1/rankings/{ranking_id}", summary="One published ranking")
async def read_ranking(ranking_id: str, rt: RT,
                       _: Caller) -> dict[str, Any]:
    async with rt.read() as session:
        r = await session.get(Ranking, ranking_id)
        if r is None:
            raise NotFound(f"ranking {ranking_id} does not exist")
        successors = await superseded_by(session, ids=[r.id])
    return handlers.ranking_view(r, successors.get(r.id))


@router.get("/v1/facts/issues/{issue_id}", summary="What scoring has recorded of an issue")
async def issue_fact(issue_id: str, rt: RT,
                     _: Caller) -> dict[str, Any]:
    async with rt.read() as session:
        return await handlers.issue_fact(session, issue_id=issue_id)


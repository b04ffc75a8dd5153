"""Routes of the issues service: parse, call a handler, shape the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from contracts.enums import IssueStatus, OrgKind, RoundLevel, ZoneType
from contracts.events.issues import Location, OrgRegistered, RoundRegistered, Target
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.clock import SHANGHAI
from runtime.errors import Forbidden, Invalid, NotFound, PayloadTooLarge
from runtime.pagination import page_of
from services.issues import domain, handlers, ledger
from services.issues.domain_time import is_overdue, overdue_days, today_in_shanghai
from services.issues.store import (
    Extension,
    Issue,
    Org,
    Round,
    encode_cursor,
    extensions,
    filtered,
    get_issue,
    history,
    page,
)

router = APIRouter()
RT = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
AdminP = Annotated[Principal, Depends(require("admin"))]
ResponsibleP = Annotated[Principal, Depends(require("responsible"))]

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_EXPORT_ROWS = 200_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


class IssuePatch(BaseModel):
    """What an admin may change: assignment and text. Status, code, round and deadline are not here."""

    model_config = ConfigDict(extra="forbid")
    responsible_org_id: str | None = Field(default=None, min_length=1)
    cooperating_org_ids: list[str] | None = None
    supervising_org_id: str | None = Field(default=None, min_length=1)
    leader: str | None = Field(default=None, max_length=200)
    region_id: str | None = None
    category: str | None = Field(default=None, min_length=1, max_length=40)
    title: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=20000)
    measures: str | None = Field(default=None, max_length=20000)
    target: Target | None = None
    location: Location | None = None
    reason: str | None = Field(default=None, max_length=2000)


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=5000)
    percent: int = Field(ge=0, le=100)
    evidence_ids: list[str] = Field(default=[], max_length=100)


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_deadline: date
    reason: str = Field(min_length=1, max_length=5000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    opinion: str | None = Field(default=None, max_length=5000)


def org_out(org: Org) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": org.kind, "zone_type": org.zone_type}


def round_out(rnd: Round) -> dict[str, Any]:
    return rnd.model_dump(mode="json", exclude={"created_at"})


def _json_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def issue_out(issue: Issue | Mapping[str, Any] | RowMapping, *, today: date) -> dict[str, Any]:
    """An issue as the API shows it: its fields, derived overdue and overdue days, the last progress."""
    out = dict(issue.model_dump() if isinstance(issue, Issue) else issue)
    deadline, status = out["deadline"], out["status"]
    out["deadline"], out["original_deadline"] = deadline.isoformat(), out["original_deadline"].isoformat()
    out["created_at"], out["updated_at"] = _json_time(out["created_at"]), _json_time(out["updated_at"])
    out["overdue"] = is_overdue(deadline=deadline, status=status, today=today)
    out["overdue_days"] = overdue_days(deadline=deadline, status=status, today=today)
    note, percent, at = out.pop("last_progress_note"), out.pop("last_progress_percent"), out.pop("last_progress_at")
    out["last_progress"] = None if at is None else {"note": note, "percent": percent, "at": _json_time(at)}
    return out


def extension_out(ext: Extension) -> dict[str, Any]:
    return ext.model_dump(mode="json")


def _today(rt: Runtime) -> date:
    return today_in_shanghai(rt.clock.now())


# ---- orgs and rounds --------------------------------------------------------------------------------------

@router.post("/v1/orgs", status_code=201, tags=["orgs"], summary="Register an org (admin)")
async def create_org(body: OrgIn, rt: RT, who: AdminP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        org = await handlers.register_org(uow, cmd=OrgRegistered(org_id=body.id, name=body.name, kind=body.kind,
                                                                 zone_type=body.zone_type))
    return org_out(org)


async def _page_by_id(rt: Runtime, model: type[Org | Round], out: Callable[[Any], dict[str, Any]], *,
                      limit: int, cursor: str | None) -> dict[str, Any]:
    """Orgs or rounds in id order, a page after `cursor`."""
    async with rt.read() as session:
        stmt = select(model).order_by(col(model.id))
        if cursor:
            stmt = stmt.where(col(model.id) > cursor)
        rows = list((await session.execute(stmt.limit(limit))).scalars().all())
    return page_of([out(r) for r in rows], limit=limit, key="id")


async def _one(rt: Runtime, model: type[Org | Round], key: str, what: str) -> Any:
    async with rt.read() as session:
        row = await session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key}")
    return row


@router.get("/v1/orgs", tags=["orgs"], summary="List orgs")
async def list_orgs(rt: RT, _: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    cursor: str | None = None) -> dict[str, Any]:
    return await _page_by_id(rt, Org, org_out, limit=limit, cursor=cursor)


@router.get("/v1/orgs/{org_id}", tags=["orgs"], summary="One org")
async def read_org(org_id: str, rt: RT, _: Caller) -> dict[str, Any]:
    return org_out(await _one(rt, Org, org_id, "org"))


@router.post("/v1/rounds", status_code=201, tags=["rounds"], summary="Register an inspection round (admin)")
async def create_round(body: RoundIn, rt: RT, who: AdminP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        rnd = await handlers.register_round(uow, cmd=RoundRegistered(round_id=body.id, **body.model_dump(exclude={"id"})))
    return round_out(rnd)


@router.get("/v1/rounds", tags=["rounds"], summary="List inspection rounds")
async def list_rounds(rt: RT, _: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      cursor: str | None = None) -> dict[str, Any]:
    return await _page_by_id(rt, Round, round_out, limit=limit, cursor=cursor)


@router.get("/v1/rounds/{round_id}", tags=["rounds"], summary="One inspection round")
async def read_round(round_id: str, rt: RT, _: Caller) -> dict[str, Any]:
    return round_out(await _one(rt, Round, round_id, "round"))


# ---- the ledger -------------------------------------------------------------------------------------------

@router.post("/v1/issues", status_code=201, tags=["issues"], summary="Register a ledger item (admin)")
async def create_issue(body: IssueIn, rt: RT, who: AdminP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await handlers.register_issue(uow, fields=body.model_dump(mode="json"))
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/import", status_code=201, tags=["issues"],
             summary="Import a ledger, CSV (UTF-8) or XLSX, all rows or none (admin)")
async def import_issues(request: Request, rt: RT, who: AdminP) -> dict[str, Any]:
    """Send the file as multipart field `file`, or as the raw body; the format is sniffed from the content."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_IMPORT_BYTES + 64 * 1024:
        raise PayloadTooLarge(f"a ledger may have at most {MAX_IMPORT_BYTES} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid("send the ledger as the multipart field `file`",
                          details=[{"field": "file", "message": "required"}])
        content = await upload.read()
    else:
        content = await request.body()
    if len(content) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"a ledger may have at most {MAX_IMPORT_BYTES} bytes")
    try:
        sheet = ledger.read_sheet(content)
    except ledger.UnreadableLedger as exc:
        raise Invalid(str(exc), details=[{"row": None, "column": None, "message": str(exc)}]) from None
    async with rt.unit_of_work(who, role="admin") as uow:
        created = await handlers.import_ledger(uow, sheet=sheet)
    return {"created": len(created), "items": [{"id": i["id"], "code": i["code"], "round_id": i["round_id"]}
                                               for i in created]}


class ListFilters(BaseModel):
    status: IssueStatus | None = None
    responsible_org_id: str | None = None
    supervising_org_id: str | None = None
    region_id: str | None = None
    category: str | None = None
    round_id: str | None = None
    overdue: bool | None = None
    q: str | None = Field(default=None, min_length=1, max_length=200)


def list_filters(status: IssueStatus | None = None, responsible_org_id: str | None = None,
                 supervising_org_id: str | None = None, region_id: str | None = None,
                 category: str | None = None, round_id: str | None = None, overdue: bool | None = None,
                 q: Annotated[str | None, Query(min_length=1, max_length=200,
                                                 description="substring of the code or title")] = None) -> ListFilters:
    """The design's list filters, shared by the list and the export."""
    return ListFilters(status=status, responsible_org_id=responsible_org_id, supervising_org_id=supervising_org_id,
                       region_id=region_id, category=category, round_id=round_id, overdue=overdue, q=q)


Filters = Annotated[ListFilters, Depends(list_filters)]


@router.get("/v1/issues", tags=["issues"], summary="List the issues the caller may see, by deadline")
async def list_issues(filters: Filters, rt: RT, who: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      cursor: str | None = None,
                      sort: Annotated[str, Query(pattern=r"^-?deadline$",
                                                 description="deadline or -deadline")] = "deadline") -> dict[str, Any]:
    today = _today(rt)
    # Plain rows, not ORM objects: a page is read-only and this is the hottest path of the service.
    stmt = filtered(select(*Issue.__table__.c), visible_to=who.org, sees_all=who.sees_all,  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
                    today=today, **filters.model_dump())
    stmt = page(stmt, cursor=cursor, limit=limit, scoped=not who.sees_all, descending=sort.startswith("-"))
    async with rt.read() as session:
        rows = list((await session.execute(stmt)).mappings().all())
    nxt = encode_cursor(deadline=rows[-1]["deadline"], issue_id=rows[-1]["id"]) if len(rows) == limit else None
    return {"items": [issue_out(i, today=today) for i in rows], "next_cursor": nxt}


@router.get("/v1/issues/export", tags=["issues"], summary="The ledger (台账) as XLSX, filtered like the list",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export_issues(filters: Filters, rt: RT, who: Caller) -> Response:
    today = _today(rt)
    stmt = filtered(select(Issue), visible_to=who.org, sees_all=who.sees_all, today=today, **filters.model_dump())
    stmt = page(stmt, cursor=None, limit=MAX_EXPORT_ROWS, scoped=not who.sees_all)
    async with rt.read() as session:
        rows = list((await session.execute(stmt)).scalars().all())
        names: dict[str, str] = dict((await session.execute(select(col(Org.id), col(Org.name)))).all())
        rounds: dict[str, str] = dict((await session.execute(select(col(Round.id), col(Round.name)))).all())

    def line(i: Issue) -> dict[str, Any]:
        target = i.target or {}
        return {
            "编号": i.code, "督察轮次": rounds.get(i.round_id, i.round_id), "类别": i.category, "问题(任务)": i.title,
            "区域": names.get(i.region_id, i.region_id) if i.region_id else None,
            "责任单位": names.get(i.responsible_org_id, i.responsible_org_id),
            "配合单位": ";".join(names.get(o, o) for o in i.cooperating_org_ids) or None,
            "督办单位": names.get(i.supervising_org_id, i.supervising_org_id), "包联领导": i.leader,
            "整改时限": i.deadline, "原定时限": i.original_deadline,
            "目标指标": target.get("indicator"), "比较": target.get("op"), "目标值": target.get("value"),
            "单位": target.get("unit"), "整改措施": i.measures,
            "状态": ledger.STATUS_LABELS.get(i.status, i.status),
            "逾期天数": overdue_days(deadline=i.deadline, status=i.status, today=today),
            "最新进展": i.last_progress_note, "进展(%)": i.last_progress_percent,
            "进展时间": i.last_progress_at.astimezone(SHANGHAI).replace(tzinfo=None)
            if i.last_progress_at else None,
        }

    body = ledger.write_xlsx(line(i) for i in rows)
    name = f"台账-{today.isoformat()}.xlsx"
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"ledger-{today.isoformat()}.xlsx\"; "
                               f"filename*=UTF-8''{quote(name)}"})


async def _visible_issue(session: Any, who: Principal, issue_id: str, *, lock: bool = False) -> Issue:
    issue = await get_issue(session, issue_id=issue_id, lock=lock)
    if issue is None or not domain.may_see(who, responsible=issue.responsible_org_id,
                                           cooperating=issue.cooperating_org_ids,
                                           supervising=issue.supervising_org_id):
        raise NotFound(f"no issue {issue_id} that you may see")
    return issue


def _as_responsible(who: Principal, issue: Issue, what: str) -> None:
    if not domain.may_act_as_responsible(who, responsible=issue.responsible_org_id):
        raise Forbidden(f"only the issue's lead responsible org may {what}")


@router.get("/v1/issues/{issue_id}", tags=["issues"], summary="One issue with its history of transitions")
async def read_issue(issue_id: str, rt: RT, who: Caller) -> dict[str, Any]:
    async with rt.read() as session:
        issue = await _visible_issue(session, who, issue_id)
        steps = await history(session, issue_id=issue_id)
        exts = await extensions(session, issue_id=issue_id)
    out = issue_out(issue, today=_today(rt))
    out["history"] = [
        {"action": t.action, "from": t.from_status, "to": t.to_status,
         "by": {"user": t.actor_user, "org": t.actor_org, "role": t.actor_role},
         "at": t.at.isoformat(), "reason": t.reason, "details": t.details, "event_id": t.event_id}
        for t in steps
    ]
    out["extensions"] = [extension_out(e) for e in exts]
    return out


@router.patch("/v1/issues/{issue_id}", tags=["issues"], summary="Reassign orgs or leader, edit text (admin)")
async def patch_issue(issue_id: str, body: IssuePatch, rt: RT, who: AdminP) -> dict[str, Any]:
    given = body.model_fields_set - {"reason"}
    for required in ("responsible_org_id", "supervising_org_id", "category", "title", "cooperating_org_ids"):
        if required in given and getattr(body, required) is None:
            raise Invalid(f"{required} cannot be cleared", details=[{"field": required, "message": "cannot be null"}])
    changes = body.model_dump(mode="json", include=given)
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        issue = await handlers.update_issue(uow, issue=issue, changes=changes, reason=body.reason)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/start", tags=["issues"], summary="registered → in_progress (responsible)")
async def start(issue_id: str, rt: RT, who: ResponsibleP, body: StartIn | None = None) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "start it")
        issue = await handlers.start_issue(uow, issue=issue, note=body.note if body else None)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/progress", status_code=201, tags=["issues"],
             summary="Report progress: note, percent, evidence ids (responsible)")
async def progress(issue_id: str, body: ProgressIn, rt: RT, who: ResponsibleP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "report its progress")
        issue = await handlers.report_progress(uow, issue=issue, note=body.note, percent=body.percent,
                                               evidence_ids=body.evidence_ids)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/extensions", status_code=201, tags=["issues"],
             summary="Ask for a later deadline (responsible)")
async def request_extension(issue_id: str, body: ExtensionIn, rt: RT, who: ResponsibleP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "ask for an extension")
        ext = await handlers.request_extension(uow, issue=issue, requested_deadline=body.requested_deadline,
                                               reason=body.reason)
    return extension_out(ext)


@router.post("/v1/issues/{issue_id}/extensions/{extension_id}/decision", tags=["issues"],
             summary="Approve or refuse an extension request (admin)")
async def decide_extension(issue_id: str, extension_id: str, body: DecisionIn, rt: RT, who: AdminP) -> dict[str, Any]:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        ext = await uow.session.get(Extension, extension_id)
        if ext is None or ext.issue_id != issue.id:
            raise NotFound(f"no extension request {extension_id} of issue {issue_id}")
        ext = await handlers.decide_extension(uow, issue=issue, ext=ext, approved=body.approved,
                                              opinion=body.opinion)
    return extension_out(ext)


# ---- the public view --------------------------------------------------------------------------------------

@router.get("/v1/public/issues", tags=["public"], summary="The public view (no token): what was found, how far it got")
async def public_issues(rt: RT, limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
                        q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                        status: IssueStatus | None = None, category: str | None = None,
                        region_id: str | None = None) -> dict[str, Any]:
    region, responsible = aliased(Org), aliased(Org)
    stmt = select(col(Issue.code), col(Issue.title), col(Issue.category), col(region.name), col(responsible.name),
                  col(Issue.deadline), col(Issue.status), col(Issue.id))
    stmt = stmt.outerjoin(region, col(region.id) == Issue.region_id).outerjoin(
        responsible, col(responsible.id) == Issue.responsible_org_id)
    stmt = filtered(stmt, visible_to=None, sees_all=True, today=_today(rt), status=status, category=category,
                    region_id=region_id, q=q)
    stmt = page(stmt, cursor=cursor, limit=limit, scoped=False)
    async with rt.read() as session:
        rows = (await session.execute(stmt)).all()
    items = [{"code": c, "title": t, "category": cat, "region": reg, "responsible_org": resp,
              "deadline": d.isoformat(), "status": s} for c, t, cat, reg, resp, d, s, _ in rows]
    nxt = encode_cursor(deadline=rows[-1][5], issue_id=rows[-1][7]) if len(rows) == limit else None
    return {"items": items, "next_cursor": nxt}

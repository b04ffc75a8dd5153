"""Routes of the issues service: parse, call a handler, shape the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import lifecycle
from contracts.enums import IssueStatus
from contracts.events.issues import MilestoneReview, OrgRegistered, RoundRegistered
from contracts.lifecycle import ESCALATE_AFTER_DAYS
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.clock import SHANGHAI
from runtime.errors import Forbidden, Invalid, NotFound, PayloadTooLarge, error_responses
from runtime.pagination import Page
from services.issues import domain, handlers, ledger, milestones, store
from services.issues.domain_time import is_overdue, overdue_days, today_in_shanghai
from services.issues.schemas import (
    DecisionIn,
    ExtensionIn,
    ExtensionOut,
    ImportOut,
    IssueDetailOut,
    IssueIn,
    IssueOut,
    IssuePatch,
    IssueSummaryOut,
    ListFilters,
    MilestoneIn,
    MilestoneOut,
    MilestoneReportIn,
    MilestoneReviewIn,
    OrgIn,
    OrgOut,
    ProgressIn,
    PublicIssueOut,
    PublicSummaryOut,
    RoundIn,
    RoundOut,
    StartIn,
    StepOut,
)
from services.issues.store import Extension, Issue, Milestone, Org, Round

router = APIRouter()
RT = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
AdminP = Annotated[Principal, Depends(require("admin"))]
ResponsibleP = Annotated[Principal, Depends(require("responsible"))]
SupervisorP = Annotated[Principal, Depends(require("supervisor"))]

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_EXPORT_ROWS = 200_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

READ = error_responses(401, 422)
READ_ONE = error_responses(401, 404, 422)
CREATE = error_responses(400, 401, 403, 409, 422)
ACT = error_responses(400, 401, 403, 404, 409, 422)


def org_out(org: Org) -> OrgOut:
    """An org as the API shows it."""
    return OrgOut.model_validate(org.model_dump(exclude={"created_at"}))


def round_out(rnd: Round) -> RoundOut:
    """An inspection round as the API shows it."""
    return RoundOut.model_validate(rnd.model_dump(exclude={"created_at"}))


def issue_fields(issue: Issue | Mapping[str, Any] | RowMapping, *, today: date) -> dict[str, Any]:
    """An issue as the API shows it: its fields, derived overdue and overdue days, the last progress."""
    out = dict(issue.model_dump() if isinstance(issue, Issue) else issue)
    deadline, status = out["deadline"], out["status"]
    out["overdue"] = is_overdue(deadline=deadline, status=status, today=today)
    out["overdue_days"] = overdue_days(deadline=deadline, status=status, today=today)
    note, percent, at = out.pop("last_progress_note"), out.pop("last_progress_percent"), out.pop("last_progress_at")
    out["last_progress"] = None if at is None else {"note": note, "percent": percent, "at": at}
    return out


def issue_out(issue: Issue | Mapping[str, Any] | RowMapping, *, today: date) -> IssueOut:
    """An issue as the API shows it, typed."""
    return IssueOut.model_validate(issue_fields(issue, today=today))


def extension_out(ext: Extension) -> ExtensionOut:
    """An extension request as the API shows it."""
    return ExtensionOut.model_validate(ext.model_dump())


def milestone_out(m: Milestone, *, now: datetime, signed_off_at: datetime | None = None) -> MilestoneOut:
    """A milestone as the API shows it: where it stands, whether it is overdue, whether it counts as missed."""
    end = datetime.combine(m.due_on + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return MilestoneOut.model_validate({
        **m.model_dump(exclude={"reported_event_id", "met_reported_at"}),
        "state_zh": ("被退回待重报" if m.disputed and m.state == "pending" else milestones.STATE_ZH[m.state]),
        "overdue": m.state == "pending" and now >= end and signed_off_at is None,
        "missed": domain.milestone_missed(due_on=m.due_on, met_reported_at=m.met_reported_at, now=now,
                                          signed_off_at=signed_off_at)})


def _today(rt: Runtime) -> date:
    return today_in_shanghai(rt.clock.now())


# ---- orgs and rounds --------------------------------------------------------------------------------------

@router.post("/v1/orgs", status_code=201, tags=["orgs"], summary="Register an org (admin)", responses=CREATE)
async def create_org(body: OrgIn, rt: RT, who: AdminP) -> OrgOut:
    async with rt.unit_of_work(who, role="admin") as uow:
        org = await handlers.register_org(uow, cmd=OrgRegistered(org_id=body.id, name=body.name, kind=body.kind,
                                                                 zone_type=body.zone_type))
    return org_out(org)


@router.get("/v1/orgs", tags=["orgs"], summary="List orgs", responses=READ)
async def list_orgs(rt: RT, _: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    cursor: str | None = None) -> Page[OrgOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_orgs(session, cursor=cursor, limit=limit)
    return Page(items=[org_out(r) for r in rows], next_cursor=nxt)


@router.get("/v1/orgs/{org_id}", tags=["orgs"], summary="One org", responses=READ_ONE)
async def read_org(org_id: str, rt: RT, _: Caller) -> OrgOut:
    async with rt.read() as session:
        org = await store.get_org(session, org_id=org_id)
    if org is None:
        raise NotFound(f"no org {org_id}")
    return org_out(org)


@router.post("/v1/rounds", status_code=201, tags=["rounds"], summary="Register an inspection round (admin)",
             responses=CREATE)
async def create_round(body: RoundIn, rt: RT, who: AdminP) -> RoundOut:
    async with rt.unit_of_work(who, role="admin") as uow:
        rnd = await handlers.register_round(uow, cmd=RoundRegistered(round_id=body.id, **body.model_dump(exclude={"id"})))
    return round_out(rnd)


@router.get("/v1/rounds", tags=["rounds"], summary="List inspection rounds", responses=READ)
async def list_rounds(rt: RT, _: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      cursor: str | None = None) -> Page[RoundOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_rounds(session, cursor=cursor, limit=limit)
    return Page(items=[round_out(r) for r in rows], next_cursor=nxt)


@router.get("/v1/rounds/{round_id}", tags=["rounds"], summary="One inspection round", responses=READ_ONE)
async def read_round(round_id: str, rt: RT, _: Caller) -> RoundOut:
    async with rt.read() as session:
        rnd = await store.get_round(session, round_id=round_id)
    if rnd is None:
        raise NotFound(f"no round {round_id}")
    return round_out(rnd)


# ---- the ledger -------------------------------------------------------------------------------------------

@router.post("/v1/issues", status_code=201, tags=["issues"], summary="Register a ledger item (admin)",
             responses=ACT)
async def create_issue(body: IssueIn, rt: RT, who: AdminP) -> IssueOut:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await handlers.register_issue(uow, fields=body.model_dump(mode="json"))
    return issue_out(issue, today=_today(rt))


LEDGER_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "台账文件 (CSV UTF-8 or XLSX)"}}}},
    "text/csv": {"schema": {"type": "string", "format": "binary"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}}}


@router.post("/v1/issues/import", status_code=201, tags=["issues"], openapi_extra=LEDGER_BODY,
             summary="Import a ledger, CSV (UTF-8) or XLSX, all rows or none (admin)",
             responses=error_responses(400, 401, 403, 404, 409, 413, 422))
async def import_issues(request: Request, rt: RT, who: AdminP) -> ImportOut:
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
        sheet = await asyncio.to_thread(ledger.read_sheet, content)  # parsing is CPU work: off the event loop
    except ledger.UnreadableLedger as exc:
        raise Invalid(str(exc), details=[{"row": None, "column": None, "message": str(exc)}]) from None
    async with rt.unit_of_work(who, role="admin") as uow:
        created = await handlers.import_ledger(uow, sheet=sheet)
    return ImportOut.model_validate({"created": len(created), "items": [
        {"id": i["id"], "code": i["code"], "round_id": i["round_id"]} for i in created]})


async def list_filters(status: IssueStatus | None = None, responsible_org_id: str | None = None,
                       supervising_org_id: str | None = None, region_id: str | None = None,
                       category: str | None = None, round_id: str | None = None, overdue: bool | None = None,
                       escalated: Annotated[bool | None, Query(
                           description="逾期升级: overdue more than the escalation days (contracts.lifecycle)")] = None,
                       q: Annotated[str | None, Query(min_length=1, max_length=200,
                                                       description="substring of the code or title")] = None,
                       parent_id: Annotated[str | None, Query(
                           min_length=1, max_length=36, description="上级任务 id: only its direct sub-tasks")] = None,
                       roots_only: Annotated[bool | None, Query(
                           description="只看上级任务: only tasks that are no sub-task (true), or everything "
                                       "(absent)")] = None,
                       moved_in: Annotated[bool | None, Query(description=(
                           "台账迁入: true keeps the tasks whose current status a ledger import gave them (moved in "
                           "with their history and not moved since; with status=signed_off, the imported sign-offs "
                           "still to be filed), false the others"))] = None,
                       ) -> ListFilters:
    """The design's list filters, shared by the list and the export (`async`: no worker thread per request)."""
    return ListFilters(status=status, responsible_org_id=responsible_org_id, supervising_org_id=supervising_org_id,
                       region_id=region_id, category=category, round_id=round_id, overdue=overdue,
                       escalated=escalated, q=q, parent_id=parent_id, roots_only=roots_only, moved_in=moved_in)


Filters = Annotated[ListFilters, Depends(list_filters)]


@router.get("/v1/issues", tags=["issues"], summary="List the issues the caller may see, by deadline", responses=READ)
async def list_issues(filters: Filters, rt: RT, who: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      cursor: str | None = None,
                      sort: Annotated[str, Query(pattern=r"^-?deadline$",
                                                 description="deadline or -deadline")] = "deadline") -> Page[IssueOut]:
    today = _today(rt)
    async with rt.read() as session:
        rows, nxt = await store.page_issues(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                            filters=filters.model_dump(), cursor=cursor, limit=limit,
                                            descending=sort.startswith("-"))
    return Page(items=[issue_out(i, today=today) for i in rows], next_cursor=nxt)


SUMMARY_LIST = 10
SUMMARY_TARGETS = 200


@router.get("/v1/issues/summary", tags=["issues"], responses=READ,
            summary="The cockpit's figures (领导驾驶舱) over the issues the caller may see, filtered like the list")
async def summarise_issues(filters: Filters, rt: RT, who: Caller) -> IssueSummaryOut:
    """Counts by status, category and district, overdue, escalated and on-time figures, and the ten tasks longest
    overdue and escalated: one request instead of reading every page of the list."""
    today = _today(rt)
    base = filters.model_dump()
    async with rt.read() as session:
        groups = await store.count_issues(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                          filters=base)
        late, _ = await store.page_issues(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                          filters={**base, "overdue": True}, cursor=None, limit=SUMMARY_LIST)
        long_late, _ = await store.page_issues(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                               filters={**base, "escalated": True}, cursor=None, limit=SUMMARY_LIST)
        targets = await store.targets_of(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                         filters=base, limit=SUMMARY_TARGETS)
    counts = domain.counts_of(groups)
    return IssueSummaryOut.model_validate({
        **counts._asdict(), "today": today, "escalate_after_days": ESCALATE_AFTER_DAYS,
        "most_overdue": [issue_out(i, today=today) for i in late],
        "most_escalated": [issue_out(i, today=today) for i in long_late], "targets": targets})


@router.get("/v1/issues/export", tags=["issues"], summary="The ledger (台账) as XLSX, filtered like the list",
            response_class=Response, responses={
                200: {"description": "台账 XLSX, 中文表头 (Chinese headers)",
                      "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **READ})
async def export_issues(filters: Filters, rt: RT, who: Caller) -> Response:
    today = _today(rt)
    async with rt.read() as session:
        rows = await store.issues_for_export(session, visible_to=who.org, sees_all=who.sees_all, today=today,
                                             filters=filters.model_dump(), limit=MAX_EXPORT_ROWS)
        names, rounds = await store.names_by_id(session)
        shown = {i.id: i.code for i in rows}
        parents = {i.parent_id for i in rows if i.parent_id and i.parent_id not in shown}
        codes = {**shown, **await store.codes_by_id(session, ids=parents)}

    def line(i: Issue) -> dict[str, Any]:
        target = i.target or {}
        return {
            "编号": i.code, "上级任务": codes.get(i.parent_id, i.parent_id) if i.parent_id else None,
            "层级": i.depth, "督察轮次": rounds.get(i.round_id, i.round_id), "类别": i.category, "问题(任务)": i.title,
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
            "子任务(未销号/总数)": f"{i.children_open}/{i.children_total}" if i.children_total else None,
            "分解进度(%)": i.derived_percent,
            "进展时间": i.last_progress_at.astimezone(SHANGHAI).replace(tzinfo=None)
            if i.last_progress_at else None,
        }

    body = ledger.write_xlsx(line(i) for i in ledger.tree_order(rows))
    name = f"台账-{today.isoformat()}.xlsx"
    return Response(body, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"ledger-{today.isoformat()}.xlsx\"; "
                               f"filename*=UTF-8''{quote(name)}"})


async def _visible_issue(session: AsyncSession, who: Principal, issue_id: str, *, lock: bool = False) -> Issue:
    issue = await store.get_issue(session, issue_id=issue_id, lock=lock)
    if issue is None or not domain.may_see(who, responsible=issue.responsible_org_id,
                                           cooperating=issue.cooperating_org_ids,
                                           supervising=issue.supervising_org_id):
        raise NotFound(f"no issue {issue_id} that you may see")
    return issue


def _as_responsible(who: Principal, issue: Issue, what: str) -> None:
    if not domain.may_act_as_responsible(who, responsible=issue.responsible_org_id):
        raise Forbidden(f"only the issue's lead responsible org may {what}")


@router.get("/v1/issues/{issue_id}", tags=["issues"], summary="One issue with its history of transitions",
            responses=READ_ONE)
async def read_issue(issue_id: str, rt: RT, who: Caller) -> IssueDetailOut:
    async with rt.read() as session:
        issue = await _visible_issue(session, who, issue_id)
        steps = await store.history(session, issue_id=issue_id)
        exts = await store.extensions(session, issue_id=issue_id)
        kids = await store.children_of(session, issue_id=issue_id, limit=domain.MAX_CHILDREN)
        marks = await milestones.of_issue(session, issue_id=issue_id)
    today = _today(rt)
    signed_off_at = next((t.at for t in reversed(steps) if t.to_status == IssueStatus.signed_off
                          and t.from_status != t.to_status), None) if issue.status in lifecycle.CLOSED else None
    history = [
        StepOut.model_validate({"action": t.action, "from": t.from_status, "to": t.to_status,
                                "by": {"user": t.actor_user, "org": t.actor_org, "role": t.actor_role},
                                "at": t.at, "reason": t.reason, "details": t.details, "event_id": t.event_id})
        for t in steps
    ]
    children = [{"id": k.id, "code": k.code, "title": k.title, "responsible_org_id": k.responsible_org_id,
                 "deadline": k.deadline, "status": k.status,
                 "overdue": is_overdue(deadline=k.deadline, status=k.status, today=today),
                 "percent": domain.child_percent(status=k.status, children_total=k.children_total,
                                                 derived=k.derived_percent, reported=k.last_progress_percent),
                 "children_total": k.children_total} for k in kids]
    now = rt.clock.now()
    return IssueDetailOut.model_validate({
        **issue_fields(issue, today=today), "history": history, "extensions": [extension_out(e) for e in exts],
        "children": children, "milestones": [milestone_out(m, now=now, signed_off_at=signed_off_at) for m in marks]})


@router.patch("/v1/issues/{issue_id}", tags=["issues"], summary="Reassign orgs or leader, edit text (admin)",
              responses=ACT)
async def patch_issue(issue_id: str, body: IssuePatch, rt: RT, who: AdminP) -> IssueOut:
    given = body.model_fields_set - {"reason"}
    for required in ("responsible_org_id", "supervising_org_id", "category", "title", "cooperating_org_ids"):
        if required in given and getattr(body, required) is None:
            raise Invalid(f"{required} cannot be cleared", details=[{"field": required, "message": "cannot be null"}])
    changes = body.model_dump(mode="json", include=given)
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        issue = await handlers.update_issue(uow, issue=issue, changes=changes, reason=body.reason)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/start", tags=["issues"], summary="registered → in_progress (responsible)",
             responses=ACT)
async def start(issue_id: str, rt: RT, who: ResponsibleP, body: StartIn | None = None) -> IssueOut:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "start it")
        issue = await handlers.start_issue(uow, issue=issue, note=body.note if body else None)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/progress", status_code=201, tags=["issues"],
             summary="Report progress: note, percent, evidence ids (responsible)", responses=ACT)
async def progress(issue_id: str, body: ProgressIn, rt: RT, who: ResponsibleP) -> IssueOut:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "report its progress")
        issue = await handlers.report_progress(uow, issue=issue, note=body.note, percent=body.percent,
                                               evidence_ids=body.evidence_ids)
    return issue_out(issue, today=_today(rt))


@router.post("/v1/issues/{issue_id}/extensions", status_code=201, tags=["issues"],
             summary="Ask for a later deadline (responsible)", responses=ACT)
async def request_extension(issue_id: str, body: ExtensionIn, rt: RT, who: ResponsibleP) -> ExtensionOut:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "ask for an extension")
        ext = await handlers.request_extension(uow, issue=issue, requested_deadline=body.requested_deadline,
                                               reason=body.reason)
    return extension_out(ext)


@router.post("/v1/issues/{issue_id}/extensions/{extension_id}/decision", tags=["issues"],
             summary="Approve or refuse an extension request (admin)", responses=ACT)
async def decide_extension(issue_id: str, extension_id: str, body: DecisionIn, rt: RT, who: AdminP) -> ExtensionOut:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        ext = await store.get_extension(uow.session, extension_id=extension_id)
        if ext is None or ext.issue_id != issue.id:
            raise NotFound(f"no extension request {extension_id} of issue {issue_id}")
        ext = await handlers.decide_extension(uow, issue=issue, ext=ext, approved=body.approved,
                                              opinion=body.opinion)
    return extension_out(ext)


# ---- milestones (重要节点) ------------------------------------------------------------------------------------

async def _milestone(session: AsyncSession, issue: Issue, milestone_id: str) -> Milestone:
    ms = await session.get(Milestone, milestone_id)
    if ms is None or ms.issue_id != issue.id:
        raise NotFound(f"任务 {issue.code} 没有重要节点 {milestone_id} (no milestone {milestone_id} of issue {issue.id})")
    return ms


@router.post("/v1/issues/{issue_id}/milestones", status_code=201, tags=["issues"],
             summary="Add a dated milestone (重要节点) to an open task (admin)", responses=ACT)
async def add_milestone(issue_id: str, body: MilestoneIn, rt: RT, who: AdminP) -> MilestoneOut:
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        ms = await milestones.add_to_issue(uow, issue=issue, due_on=body.due_on, description=body.description,
                                           target=body.target)
    return milestone_out(ms, now=rt.clock.now())


@router.post("/v1/issues/{issue_id}/milestones/{milestone_id}/report", tags=["issues"],
             summary="Report a milestone met or missed, with evidence ids and a note (responsible)", responses=ACT)
async def report_milestone(issue_id: str, milestone_id: str, body: MilestoneReportIn, rt: RT,
                           who: ResponsibleP) -> MilestoneOut:
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        _as_responsible(who, issue, "report its milestones")
        ms = await _milestone(uow.session, issue, milestone_id)
        ms = await milestones.report(uow, issue=issue, ms=ms, outcome=body.outcome, note=body.note,
                                     evidence_ids=body.evidence_ids)
    return milestone_out(ms, now=rt.clock.now())


@router.post("/v1/issues/{issue_id}/milestones/{milestone_id}/review", tags=["issues"],
             summary="Confirm or dispute a milestone report (the task's supervising unit)", responses=ACT)
async def review_milestone(issue_id: str, milestone_id: str, body: MilestoneReviewIn, rt: RT,
                           who: SupervisorP) -> MilestoneOut:
    if body.review == MilestoneReview.disputed and not body.opinion:
        raise Invalid("退回节点报告须写明意见 (opinion: required when the report is disputed)",
                      details=[{"field": "opinion", "message": "required when review is disputed"}])
    async with rt.unit_of_work(who, role="supervisor") as uow:
        issue = await _visible_issue(uow.session, who, issue_id, lock=True)
        if not domain.may_act_as_supervisor(who, supervising=issue.supervising_org_id):
            raise Forbidden("只有该任务的监管单位可以确认节点报告 (only the issue's supervising org reviews its "
                            "milestone reports)")
        ms = await _milestone(uow.session, issue, milestone_id)
        ms = await milestones.review(uow, issue=issue, ms=ms, decision=body.review, opinion=body.opinion)
    return milestone_out(ms, now=rt.clock.now())


# ---- the public view --------------------------------------------------------------------------------------

@router.get("/v1/public/issues/summary", tags=["public"], responses=error_responses(422),
            summary="The public counts (no token): findings by status, category and district")
async def public_summary(rt: RT, category: Annotated[str | None, Query(max_length=64)] = None) -> PublicSummaryOut:
    today = _today(rt)
    async with rt.read() as session:
        groups = await store.count_issues(session, visible_to=None, sees_all=True, today=today,
                                          filters={"category": category})
        names, _ = await store.names_by_id(session)
    counts = domain.counts_of(groups)
    closed = domain.closed_by_region(groups)
    return PublicSummaryOut.model_validate({
        "total": counts.total, "closed": counts.closed, "by_status": counts.by_status,
        "by_category": counts.by_category,
        "by_region": [{"region_id": r["region_id"], "region": names.get(r["region_id"]), "total": r["total"],
                       "closed": closed.get(r["region_id"], 0)} for r in counts.by_region]})


@router.get("/v1/public/issues", tags=["public"], summary="The public view (no token): what was found, how far it got",
            responses=error_responses(422))
async def public_issues(rt: RT, limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
                        q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                        status: IssueStatus | None = None, category: str | None = None,
                        region_id: str | None = None) -> Page[PublicIssueOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_public_issues(session, today=_today(rt), status=status, category=category,
                                                   region_id=region_id, q=q, cursor=cursor, limit=limit)
    return Page(items=[PublicIssueOut.model_validate({k: v for k, v in r.items() if k != "id"}) for r in rows],
                next_cursor=nxt)

"""Routes of the verification service: parse, call a handler, shape the answer."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, require
from runtime.clock import new_id
from runtime.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_responses,
    field_error,
)
from runtime.pagination import Page
from services.verification import handlers, store
from services.verification.evidence_store import EvidenceStore
from services.verification.media import PhotoFacts, read_photo
from services.verification.schemas import (
    CONTENT_TYPES,
    UPLOAD_SCHEMA,
    ClosureDecidedOut,
    ClosureDetailOut,
    ClosureIn,
    ClosureOut,
    DecisionIn,
    EvidenceOut,
    ReopenedOut,
    ReopeningIn,
    ReopeningOut,
    UploadForm,
)
from services.verification.settings import VerificationSettings, settings_of
from services.verification.sniff import ALLOWED, IMAGES, ImageTooLarge, sniff_stream
from services.verification.store import Closure, DecisionRecord, Evidence, KnownIssue, known_issue
from services.verification.upload import read_form

router = APIRouter()
READERS = ("admin", "responsible", "supervisor", "leader", "auditor", "system")
RT = Annotated[Runtime, Depends(get_runtime)]
Reader = Annotated[Principal, Depends(require(*READERS))]
Uploader = Annotated[Principal, Depends(require("responsible", "supervisor"))]
Responsible = Annotated[Principal, Depends(require("responsible"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
SupervisorOrAdmin = Annotated[Principal, Depends(require("supervisor", "admin"))]
READ = error_responses(401, 403, 422)
READ_ONE = error_responses(401, 403, 404, 422)
ACT = error_responses(400, 401, 403, 404, 409, 422)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
              "text/csv": "csv"}


def config(rt: Runtime) -> VerificationSettings:
    """The service's own settings (upload limit, distances): those the runtime was built with."""
    return settings_of(rt)


def may_see(who: Principal, issue: KnownIssue) -> bool:
    """Admins, leaders, auditors and services see all; an org sees the issues it is responsible for, helps or supervises."""
    return who.sees_issue(responsible=issue.responsible_org_id, supervising=issue.supervising_org_id,
                          cooperating=issue.cooperating_org_ids)


def evidence_out(ev: Evidence) -> EvidenceOut:
    """Evidence as shown: what the client said and what the file says, side by side, and the flags."""
    out = ev.model_dump(exclude={"phash"})
    out["capture"] = {
        "client": {"captured_at": ev.captured_at, "latitude": ev.latitude, "longitude": ev.longitude},
        "exif": {"captured_at": out.pop("exif_captured_at"), "latitude": out.pop("exif_latitude"),
                 "longitude": out.pop("exif_longitude")},
    }
    return EvidenceOut.model_validate(out)


def closure_fields(c: Closure) -> dict[str, Any]:
    """An application's fields and its number of resubmissions."""
    return {**c.model_dump(), "resubmissions": c.attempt - 1}


def decision_fields(d: DecisionRecord) -> dict[str, Any]:
    """A decision as shown inside its application."""
    return d.model_dump(exclude={"id", "closure_id"})


async def _issue_for(rt: Runtime, who: Principal, issue_id: str) -> KnownIssue:
    async with rt.read() as session:
        issue = await known_issue(session, issue_id=issue_id)
    if issue is None or not may_see(who, issue):
        raise NotFound(f"no issue {issue_id} that you may see (a new issue takes a moment to reach verification)",
                       details=[{"field": "issue_id", "message": "unknown or not yours"}])
    return issue


def _check_file(upload_fh: Any, size: int, path: Any, max_pixels: int) -> tuple[str | None, PhotoFacts]:
    """The sniffed type, and for images what the photo says about itself (runs in a worker thread)."""
    try:
        media_type = sniff_stream(upload_fh, size, max_pixels=max_pixels)
        facts = read_photo(path, max_pixels=max_pixels) if media_type in IMAGES else PhotoFacts()
    except ImageTooLarge as exc:
        size_text = f"{exc.width}×{exc.height} " if exc.width else ""
        raise PayloadTooLarge(
            f"图片像素过多 {size_text}(上限 {max_pixels} 像素),请缩小图片后重新上传 "
            f"(the image declares more than {max_pixels} pixels; scale it down and upload again)",
            details=[{"field": "file", "message": f"more than {max_pixels} pixels",
                      "max_pixels": max_pixels}]) from None
    return media_type, facts


@router.post("/v1/evidence", status_code=201, tags=["evidence"], openapi_extra=UPLOAD_SCHEMA,
             summary="Upload evidence (multipart; type decided by content; JPEG, PNG, WebP, PDF, XLSX, DOCX, CSV)",
             responses=error_responses(401, 403, 404, 413, 415, 422))
async def upload_evidence(request: Request, rt: RT, who: Uploader) -> EvidenceOut:
    cfg = config(rt)
    store = EvidenceStore(rt.settings.evidence_path())
    upload = store.incoming(limit=cfg.max_upload_bytes)
    try:
        form = await read_form(request, upload)
        try:
            fields = UploadForm.model_validate(form.fields)
        except ValidationError as exc:
            details = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                       for e in exc.errors()]
            raise Invalid(f"invalid input: {', '.join(d['field'] for d in details)}", details=details) from None
        issue = await _issue_for(rt, who, fields.issue_id)
        as_responsible = who.has("responsible") and who.org in {issue.responsible_org_id,
                                                                  *issue.cooperating_org_ids}
        as_supervisor = who.has("supervisor") and who.org == issue.supervising_org_id
        if not (as_responsible or as_supervisor):
            raise Forbidden("只有本任务的责任(或协办)单位以责任角色、监管单位以监管角色可以上传证据 "
                            "(only the issue's responsible or cooperating org as responsible, or its supervising "
                            "org as supervisor, may add evidence)")
        if upload.size == 0:
            raise field_error("file", "the file is empty")
        if fields.sha256 is not None and fields.sha256 != upload.sha256:
            raise field_error("sha256", f"the file received has SHA-256 {upload.sha256}, not the one given")
        upload.fh.flush()
        media_type, facts = await asyncio.to_thread(_check_file, upload.fh, upload.size, upload.path,
                                                     cfg.max_image_pixels)
        if media_type is None:
            raise UnsupportedMediaType("file type not allowed: the content is none of JPEG, PNG, WebP, PDF, XLSX, "
                                       "DOCX, CSV (the name and the declared type are not trusted)",
                                       details=[{"field": "file", "message": "content is not an allowed type",
                                                 "allowed": list(ALLOWED)}])
        size = upload.size
        digest = await asyncio.to_thread(store.keep, upload)
    except BaseException:
        upload.discard()
        raise
    acting_as = "supervisor" if who.org == issue.supervising_org_id and who.has("supervisor") else "responsible"
    async with rt.unit_of_work(who, role=acting_as) as uow:
        issue_now = await known_issue(uow.session, issue_id=issue.id)
        assert issue_now is not None
        if who.org not in {issue_now.responsible_org_id, issue_now.supervising_org_id,
                           *issue_now.cooperating_org_ids}:
            raise Forbidden("the issue was reassigned while the file was uploading; you may no longer add to it")
        ev = Evidence(
            id=new_id(), issue_id=issue.id, kind=fields.kind, sha256=digest, size=size,
            media_type=media_type, filename=form.filename,
            captured_at=fields.captured_at.astimezone(UTC) if fields.captured_at else None,
            latitude=fields.latitude, longitude=fields.longitude, note=fields.note, flags=[], flag_details=[],
            uploaded_by=who.sub, org_id=who.org, created_at=rt.clock.now(),
        )
        await handlers.submit_evidence(uow, issue=issue_now, evidence=ev, facts=facts,
                                       far_metres=cfg.far_from_site_metres,
                                       max_phash_distance=cfg.reuse_phash_distance)
    return evidence_out(ev)


async def _evidence_visible(rt: Runtime, who: Principal, evidence_id: str) -> Evidence:
    async with rt.read() as session:
        ev = await store.get_evidence(session, evidence_id=evidence_id)
        issue = await known_issue(session, issue_id=ev.issue_id) if ev else None
    if ev is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no evidence {evidence_id} that you may see")
    return ev


@router.get("/v1/evidence", tags=["evidence"], summary="An issue's evidence, with flags (scoped)", responses=READ_ONE)
async def list_evidence(rt: RT, who: Reader, issue_id: Annotated[str, Query(min_length=1)],
                        limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        cursor: str | None = None) -> Page[EvidenceOut]:
    await _issue_for(rt, who, issue_id)
    async with rt.read() as session:
        rows, nxt = await store.page_evidence(session, issue_id=issue_id, cursor=cursor, limit=limit)
    return Page(items=[evidence_out(e) for e in rows], next_cursor=nxt)


@router.get("/v1/evidence/{evidence_id}", tags=["evidence"], summary="Evidence metadata, capture data and flags",
            responses=READ_ONE)
async def read_evidence(evidence_id: str, rt: RT, who: Reader) -> EvidenceOut:
    return evidence_out(await _evidence_visible(rt, who, evidence_id))


@router.get("/v1/evidence/{evidence_id}/content", tags=["evidence"], summary="Evidence file, only as a download",
            response_class=FileResponse, responses={
                200: {"description": "证据文件,仅供下载 (the stored file, as an attachment, with its sniffed type)",
                      "content": CONTENT_TYPES}, **READ_ONE})
async def read_evidence_content(evidence_id: str, rt: RT, who: Reader) -> FileResponse:
    ev = await _evidence_visible(rt, who, evidence_id)
    path = EvidenceStore(rt.settings.evidence_path()).path_for(ev.sha256)
    ext = EXTENSIONS.get(ev.media_type) or ("xlsx" if "sheet" in ev.media_type else "docx")
    return FileResponse(path, media_type=ev.media_type, headers={
        "Content-Disposition": f'attachment; filename="{ev.id}.{ext}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })


@router.post("/v1/closures", status_code=201, tags=["closures"], summary="Apply for sign-off (responsible org)",
             responses=ACT)
async def create_closure(body: ClosureIn, rt: RT, who: Responsible) -> ClosureOut:
    await _issue_for(rt, who, body.issue_id)
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        if who.org != issue.responsible_org_id:
            raise Forbidden("only the issue's responsible org may apply for sign-off")
        closure = await handlers.apply_for_closure(uow, issue=issue, summary=body.summary,
                                                   evidence_ids=body.evidence_ids)
    return ClosureOut.model_validate(closure_fields(closure))


@router.get("/v1/closures", tags=["closures"], summary="Applications you may see (scoped), oldest first",
            responses=READ)
async def list_closures(
    rt: RT,
    who: Reader,
    issue_id: str | None = None,
    state: Literal["open", "accepted", "rejected", "filed"] | None = None,
    responsible_org_id: str | None = None,
    supervising_org_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> Page[ClosureOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_closures(session, visible_to=who.org, sees_all=who.sees_all, issue_id=issue_id,
                                              state=state, responsible_org_id=responsible_org_id,
                                              supervising_org_id=supervising_org_id, cursor=cursor, limit=limit)
    return Page(items=[ClosureOut.model_validate(closure_fields(c)) for c in rows], next_cursor=nxt)


async def _closure_visible(rt: Runtime, who: Principal, closure_id: str) -> tuple[Closure, KnownIssue]:
    async with rt.read() as session:
        closure = await store.get_closure(session, closure_id=closure_id)
        issue = await known_issue(session, issue_id=closure.issue_id) if closure else None
    if closure is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no closure application {closure_id} that you may see")
    return closure, issue


@router.get("/v1/closures/{closure_id}", tags=["closures"], summary="An application with its decisions",
            responses=READ_ONE)
async def read_closure(closure_id: str, rt: RT, who: Reader) -> ClosureDetailOut:
    closure, _ = await _closure_visible(rt, who, closure_id)
    async with rt.read() as session:
        decisions = await store.decisions_of(session, closure_id=closure_id)
    return ClosureDetailOut.model_validate({**closure_fields(closure),
                                            "decisions": [decision_fields(d) for d in decisions]})


async def _lock_closure(session: AsyncSession, closure_id: str) -> tuple[Closure, KnownIssue]:
    """A closure seen by `_closure_visible`, and its issue, both locked for the decision or filing."""
    closure = await store.get_closure(session, closure_id=closure_id, lock=True)
    assert closure is not None
    issue = await known_issue(session, issue_id=closure.issue_id, lock=True)
    assert issue is not None
    return closure, issue


@router.post("/v1/closures/{closure_id}/decision", tags=["closures"],
             summary="Accept (signs off) or reject (back to in_progress): the supervising org", responses=ACT)
async def decide(closure_id: str, body: DecisionIn, rt: RT, who: Supervisor) -> ClosureDecidedOut:
    await _closure_visible(rt, who, closure_id)
    async with rt.unit_of_work(who, role="supervisor") as uow:
        closure, issue = await _lock_closure(uow.session, closure_id)
        if who.org != issue.supervising_org_id:
            raise Forbidden("only the issue's supervising org may decide on its sign-off")
        record = await handlers.decide(uow, closure=closure, issue=issue, decision=body.decision,
                                       opinion=body.opinion,
                                       reason_code=body.reason_code.value if body.reason_code else None,
                                       inspected_on=body.inspected_on, evidence_ids=body.evidence_ids)
    return ClosureDecidedOut.model_validate({**closure_fields(closure), "decision": decision_fields(record)})


@router.post("/v1/closures/{closure_id}/file", tags=["closures"], summary="File (备案) a signed-off closure (admin)",
             responses=ACT)
async def file_closure(closure_id: str, rt: RT, who: Admin) -> ClosureOut:
    await _closure_visible(rt, who, closure_id)
    async with rt.unit_of_work(who, role="admin") as uow:
        closure, issue = await _lock_closure(uow.session, closure_id)
        await handlers.file_closure(uow, closure=closure, issue=issue)
    return ClosureOut.model_validate(closure_fields(closure))


@router.post("/v1/reopenings", status_code=201, tags=["reopenings"],
             summary="Reopen (反弹) a signed-off or filed issue: its supervising org or the admin", responses=ACT)
async def create_reopening(body: ReopeningIn, rt: RT, who: SupervisorOrAdmin) -> ReopenedOut:
    await _issue_for(rt, who, body.issue_id)
    role = "admin" if who.has("admin") else "supervisor"
    async with rt.unit_of_work(who, role=role) as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        if role != "admin" and who.org != issue.supervising_org_id:
            raise Forbidden("only the issue's supervising org or the admin may reopen it")
        record = await handlers.reopen(uow, issue=issue, reason=body.reason, evidence_ids=body.evidence_ids)
        count = issue.reopenings
    return ReopenedOut.model_validate({**record.model_dump(), "reopenings": count})


@router.get("/v1/reopenings", tags=["reopenings"], summary="An issue's rebounds (scoped)", responses=READ_ONE)
async def list_reopenings(issue_id: Annotated[str, Query(min_length=1)], rt: RT, who: Reader,
                          limit: Annotated[int, Query(ge=1, le=500)] = 100,
                          cursor: str | None = None) -> Page[ReopeningOut]:
    await _issue_for(rt, who, issue_id)
    async with rt.read() as session:
        rows, nxt = await store.page_reopenings(session, issue_id=issue_id, cursor=cursor, limit=limit)
    return Page(items=[ReopeningOut.model_validate(r.model_dump()) for r in rows], next_cursor=nxt)

"""Routes of the verification service: parse, call a handler, shape the answer."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.enums import EvidenceKind, RejectReason
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, require
from runtime.clock import new_id
from runtime.errors import Forbidden, Invalid, NotFound, UnsupportedMediaType, field_error
from services.verification import handlers
from services.verification.evidence_store import EvidenceStore
from services.verification.media import PhotoFacts, read_photo
from services.verification.settings import VerificationSettings, settings_of
from services.verification.sniff import ALLOWED, IMAGES, sniff_stream
from services.verification.store import (
    Closure,
    DecisionRecord,
    Evidence,
    KnownIssue,
    Reopening,
    decisions_of,
    known_issue,
    visible_issue_ids,
)
from services.verification.upload import is_sha256, read_form

router = APIRouter()
READERS = ("admin", "responsible", "supervisor", "leader", "auditor", "system")
RT = Annotated[Runtime, Depends(get_runtime)]
Reader = Annotated[Principal, Depends(require(*READERS))]
Uploader = Annotated[Principal, Depends(require("responsible", "supervisor"))]
Responsible = Annotated[Principal, Depends(require("responsible"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
SupervisorOrAdmin = Annotated[Principal, Depends(require("supervisor", "admin"))]
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
              "text/csv": "csv"}


def config(rt: Runtime) -> VerificationSettings:
    """The service's own settings (upload limit, distances), built once per runtime."""
    cfg = rt.extras.get("verification_settings")
    if cfg is None:
        cfg = rt.extras["verification_settings"] = settings_of(rt.settings)
    return cfg


class UploadForm(BaseModel):
    """The text fields of an evidence upload."""

    model_config = ConfigDict(extra="ignore")
    issue_id: str = Field(min_length=1, max_length=36)
    kind: EvidenceKind
    captured_at: datetime | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=2000)
    sha256: str | None = None

    @field_validator("captured_at", "latitude", "longitude", "note", "sha256", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("captured_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2020-06-01T10:00:00+08:00")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not is_sha256(v):
            raise ValueError("must be the file's SHA-256 as 64 hex digits")
        return v.lower() if v else v

    @model_validator(mode="after")
    def _both_or_neither(self) -> UploadForm:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give latitude and longitude together")
        return self


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_id: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=20000)
    evidence_ids: list[str] = Field(min_length=1)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject"]
    opinion: str | None = Field(default=None, max_length=20000)
    reason_code: RejectReason | None = None
    inspected_on: date | None = None
    evidence_ids: list[str] = []

    @model_validator(mode="after")
    def _reject_needs_reason(self) -> DecisionIn:
        if self.decision == "reject":
            problems = []
            if not (self.opinion or "").strip():
                problems.append({"field": "opinion", "message": "required when rejecting"})
            if self.reason_code is None:
                problems.append({"field": "reason_code", "message": "required when rejecting"})
            if problems:
                raise Invalid("a rejection needs an opinion and a reason_code", details=problems)
        return self


class ReopeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=20000)
    evidence_ids: list[str] = []


def may_see(who: Principal, issue: KnownIssue) -> bool:
    """Admins, leaders, auditors and services see all; an org sees the issues it is responsible for, helps or supervises."""
    return who.sees_issue(responsible=issue.responsible_org_id, supervising=issue.supervising_org_id,
                          cooperating=issue.cooperating_org_ids)


def evidence_out(ev: Evidence) -> dict[str, Any]:
    """Evidence as shown: what the client said and what the file says, side by side, and the flags."""
    out = ev.model_dump(mode="json", exclude={"phash"})
    out["capture"] = {
        "client": {"captured_at": out["captured_at"], "latitude": ev.latitude, "longitude": ev.longitude},
        "exif": {"captured_at": out.pop("exif_captured_at"), "latitude": out.pop("exif_latitude"),
                 "longitude": out.pop("exif_longitude")},
    }
    return out


def closure_out(c: Closure, decisions: list[DecisionRecord] | None = None) -> dict[str, Any]:
    """An application, its number of resubmissions, and (on a single read) its decisions."""
    out = c.model_dump(mode="json")
    out["resubmissions"] = c.attempt - 1
    if decisions is not None:
        out["decisions"] = [d.model_dump(mode="json", exclude={"id", "closure_id"}) for d in decisions]
    return out


async def _issue_for(rt: Runtime, who: Principal, issue_id: str) -> KnownIssue:
    async with rt.read() as session:
        issue = await known_issue(session, issue_id=issue_id)
    if issue is None or not may_see(who, issue):
        raise NotFound(f"no issue {issue_id} that you may see (a new issue takes a moment to reach verification)",
                       details=[{"field": "issue_id", "message": "unknown or not yours"}])
    return issue


def _check_file(upload_fh: Any, size: int, path: Any) -> tuple[str | None, PhotoFacts]:
    """The sniffed type, and for images what the photo says about itself (runs in a worker thread)."""
    media_type = sniff_stream(upload_fh, size)
    facts = read_photo(path) if media_type in IMAGES else PhotoFacts()
    return media_type, facts


UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "issue_id", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary"}, "issue_id": {"type": "string"},
        "kind": {"type": "string", "enum": [k.value for k in EvidenceKind]},
        "captured_at": {"type": "string", "format": "date-time"}, "latitude": {"type": "number"},
        "longitude": {"type": "number"}, "note": {"type": "string"},
        "sha256": {"type": "string", "description": "the client's SHA-256 of the file; a mismatch is refused"},
    }}}}}}


@router.post("/v1/evidence", status_code=201, tags=["evidence"], openapi_extra=UPLOAD_SCHEMA,
             summary="Upload evidence (multipart; type decided by content; JPEG, PNG, WebP, PDF, XLSX, DOCX, CSV)")
async def upload_evidence(request: Request, rt: RT,
                          who: Uploader) -> dict[str, Any]:
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
        if who.org not in {issue.responsible_org_id, issue.supervising_org_id, *issue.cooperating_org_ids}:
            raise Forbidden("only the issue's responsible, cooperating or supervising org may add evidence")
        if upload.size == 0:
            raise field_error("file", "the file is empty")
        if fields.sha256 is not None and fields.sha256 != upload.sha256:
            raise field_error("sha256", f"the file received has SHA-256 {upload.sha256}, not the one given")
        upload.fh.flush()
        media_type, facts = await asyncio.to_thread(_check_file, upload.fh, upload.size, upload.path)
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
        ev = await session.get(Evidence, evidence_id)
        issue = await known_issue(session, issue_id=ev.issue_id) if ev else None
    if ev is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no evidence {evidence_id} that you may see")
    return ev


@router.get("/v1/evidence", tags=["evidence"], summary="An issue's evidence, with flags (scoped)")
async def list_evidence(rt: RT, who: Reader, issue_id: Annotated[str, Query(min_length=1)],
                        limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        cursor: str | None = None) -> dict[str, Any]:
    await _issue_for(rt, who, issue_id)
    stmt = select(Evidence).where(col(Evidence.issue_id) == issue_id)
    stmt = _after_cursor(stmt, Evidence, cursor)
    async with rt.read() as session:
        rows = list((await session.execute(
            stmt.order_by(col(Evidence.created_at), col(Evidence.id)).limit(limit))).scalars().all())
    return {"items": [evidence_out(e) for e in rows], "next_cursor": _cursor_of(rows, limit)}


@router.get("/v1/evidence/{evidence_id}", tags=["evidence"], summary="Evidence metadata, capture data and flags")
async def read_evidence(evidence_id: str, rt: RT,
                        who: Reader) -> dict[str, Any]:
    return evidence_out(await _evidence_visible(rt, who, evidence_id))


@router.get("/v1/evidence/{evidence_id}/content", tags=["evidence"], summary="Evidence file, only as a download")
async def read_evidence_content(evidence_id: str, rt: RT,
                                who: Reader) -> FileResponse:
    ev = await _evidence_visible(rt, who, evidence_id)
    path = EvidenceStore(rt.settings.evidence_path()).path_for(ev.sha256)
    ext = EXTENSIONS.get(ev.media_type) or ("xlsx" if "sheet" in ev.media_type else "docx")
    return FileResponse(path, media_type=ev.media_type, headers={
        "Content-Disposition": f'attachment; filename="{ev.id}.{ext}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    })


@router.post("/v1/closures", status_code=201, tags=["closures"], summary="Apply for sign-off (responsible org)")
async def create_closure(body: ClosureIn, rt: RT,
                         who: Responsible) -> dict[str, Any]:
    await _issue_for(rt, who, body.issue_id)
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        if who.org != issue.responsible_org_id:
            raise Forbidden("only the issue's responsible org may apply for sign-off")
        closure = await handlers.apply_for_closure(uow, issue=issue, summary=body.summary,
                                                   evidence_ids=body.evidence_ids)
    return closure_out(closure)


def _cursor_of(rows: list[Any], limit: int) -> str | None:
    if len(rows) < limit or not rows:
        return None
    last = rows[-1]
    return base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode()).decode()


def _after_cursor(stmt: Any, model: Any, cursor: str | None) -> Any:
    if not cursor:
        return stmt
    try:
        at, _, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error("cursor", "not a cursor this list gave out") from None
    return stmt.where(or_(model.created_at > when, and_(model.created_at == when, model.id > last_id)))


@router.get("/v1/closures", tags=["closures"], summary="Applications you may see (scoped), oldest first")
async def list_closures(
    rt: RT,
    who: Reader,
    issue_id: str | None = None,
    state: Literal["open", "accepted", "rejected", "filed"] | None = None,
    responsible_org_id: str | None = None,
    supervising_org_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    stmt = select(Closure)
    async with rt.read() as session:
        if not who.sees_all:
            ids = await visible_issue_ids(session, org=who.org) if who.org else []
            stmt = stmt.where(col(Closure.issue_id).in_(ids))
        for column, value in ((col(Closure.issue_id), issue_id), (col(Closure.state), state),
                              (col(Closure.responsible_org_id), responsible_org_id),
                              (col(Closure.supervising_org_id), supervising_org_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        stmt = _after_cursor(stmt, Closure, cursor)
        rows = list((await session.execute(
            stmt.order_by(col(Closure.created_at), col(Closure.id)).limit(limit))).scalars().all())
    return {"items": [closure_out(c) for c in rows], "next_cursor": _cursor_of(rows, limit)}


async def _closure_visible(rt: Runtime, who: Principal, closure_id: str) -> tuple[Closure, KnownIssue]:
    async with rt.read() as session:
        closure = await session.get(Closure, closure_id)
        issue = await known_issue(session, issue_id=closure.issue_id) if closure else None
    if closure is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no closure application {closure_id} that you may see")
    return closure, issue


@router.get("/v1/closures/{closure_id}", tags=["closures"], summary="An application with its decisions")
async def read_closure(closure_id: str, rt: RT,
                       who: Reader) -> dict[str, Any]:
    closure, _ = await _closure_visible(rt, who, closure_id)
    async with rt.read() as session:
        decisions = await decisions_of(session, closure_id=closure_id)
    return closure_out(closure, decisions)


async def _lock_closure(session: AsyncSession, closure_id: str) -> tuple[Closure, KnownIssue]:
    """A closure seen by `_closure_visible`, and its issue, both locked for the decision or filing."""
    closure = await session.get(Closure, closure_id, with_for_update=True)
    assert closure is not None
    issue = await known_issue(session, issue_id=closure.issue_id, lock=True)
    assert issue is not None
    return closure, issue


@router.post("/v1/closures/{closure_id}/decision", tags=["closures"],
             summary="Accept (signs off) or reject (back to in_progress): the supervising org")
async def decide(closure_id: str, body: DecisionIn, rt: RT,
                 who: Supervisor) -> dict[str, Any]:
    await _closure_visible(rt, who, closure_id)
    async with rt.unit_of_work(who, role="supervisor") as uow:
        closure, issue = await _lock_closure(uow.session, closure_id)
        if who.org != issue.supervising_org_id:
            raise Forbidden("only the issue's supervising org may decide on its sign-off")
        record = await handlers.decide(uow, closure=closure, issue=issue, decision=body.decision,
                                       opinion=body.opinion,
                                       reason_code=body.reason_code.value if body.reason_code else None,
                                       inspected_on=body.inspected_on, evidence_ids=body.evidence_ids)
    out = closure_out(closure)
    out["decision"] = record.model_dump(mode="json", exclude={"id", "closure_id"})
    return out


@router.post("/v1/closures/{closure_id}/file", tags=["closures"], summary="File (备案) a signed-off closure (admin)")
async def file_closure(closure_id: str, rt: RT,
                       who: Admin) -> dict[str, Any]:
    await _closure_visible(rt, who, closure_id)
    async with rt.unit_of_work(who, role="admin") as uow:
        closure, issue = await _lock_closure(uow.session, closure_id)
        await handlers.file_closure(uow, closure=closure, issue=issue)
    return closure_out(closure)


@router.post("/v1/reopenings", status_code=201, tags=["reopenings"],
             summary="Reopen (反弹) a signed-off or filed issue: its supervising org or the admin")
async def create_reopening(body: ReopeningIn, rt: RT,
                           who: SupervisorOrAdmin) -> dict[str, Any]:
    await _issue_for(rt, who, body.issue_id)
    role = "admin" if who.has("admin") else "supervisor"
    async with rt.unit_of_work(who, role=role) as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        if role != "admin" and who.org != issue.supervising_org_id:
            raise Forbidden("only the issue's supervising org or the admin may reopen it")
        record = await handlers.reopen(uow, issue=issue, reason=body.reason, evidence_ids=body.evidence_ids)
        count = issue.reopenings
    out = record.model_dump(mode="json")
    out["reopenings"] = count
    return out


@router.get("/v1/reopenings", tags=["reopenings"], summary="An issue's rebounds (scoped)")
async def list_reopenings(issue_id: Annotated[str, Query(min_length=1)], rt: RT,
                          who: Reader) -> dict[str, Any]:
    await _issue_for(rt, who, issue_id)
    async with rt.read() as session:
        rows = (await session.execute(select(Reopening).where(col(Reopening.issue_id) == issue_id)
                                      .order_by(col(Reopening.number)))).scalars().all()
    return {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": None}

"""Routes of the verification service: parse, call a handler, shape the answer."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import EvidenceKind, RejectReason
from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import Forbidden, Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType, field_error
from services.verification import handlers
from services.verification.evidence_store import EvidenceStore
from services.verification.sniff import sniff
from services.verification.store import Closure, DecisionRecord, Evidence, KnownIssue, known_issue

router = APIRouter()
MAX_UPLOAD = 20 * 1024 * 1024


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
    def _reject_needs_reason(self) -> "DecisionIn":
        if self.decision == "reject":
            if not (self.opinion or "").strip():
                raise ValueError("opinion is required when rejecting")
            if self.reason_code is None:
                raise ValueError("reason_code is required when rejecting")
        return self


def may_see(who: Principal, issue: KnownIssue) -> bool:
    if who.sees_all:
        return True
    return who.org is not None and who.org in {issue.responsible_org_id, issue.supervising_org_id,
                                               *issue.cooperating_org_ids}


def evidence_out(ev: Evidence) -> dict[str, Any]:
    return ev.model_dump(mode="json")


def closure_out(c: Closure, decisions: list[DecisionRecord] | None = None) -> dict[str, Any]:
    out = c.model_dump(mode="json")
    if decisions is not None:
        out["decisions"] = [d.model_dump(mode="json", exclude={"id", "closure_id"}) for d in decisions]
    return out


async def _issue_for(rt: Runtime, who: Principal, issue_id: str) -> KnownIssue:
    async with rt.read() as session:
        issue = await known_issue(session, issue_id=issue_id)
    if issue is None or not may_see(who, issue):
        raise NotFound(f"no issue {issue_id} that you may see (a new issue takes a moment to reach verification)")
    return issue


@router.post("/v1/evidence", status_code=201, tags=["evidence"], summary="Upload evidence (multipart)")
async def upload_evidence(
    request: Request,
    file: UploadFile = File(...),
    issue_id: str = Form(...),
    kind: EvidenceKind = Form(...),
    captured_at: datetime | None = Form(None),
    latitude: float | None = Form(None, ge=-90, le=90),
    longitude: float | None = Form(None, ge=-180, le=180),
    note: str | None = Form(None, max_length=2000),
    rt: Runtime = Depends(get_runtime),
    who: Principal = Depends(require("responsible", "supervisor")),
) -> dict[str, Any]:
    issue = await _issue_for(rt, who, issue_id)
    if who.org not in {issue.responsible_org_id, issue.supervising_org_id, *issue.cooperating_org_ids}:
        raise Forbidden("only the issue's responsible, cooperating or supervising org may add evidence")
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise PayloadTooLarge(f"file larger than {MAX_UPLOAD} bytes",
                              details=[{"field": "file", "message": "too large"}])
    if not content:
        raise field_error("file", "the file is empty")
    media_type = sniff(content)
    if media_type is None:
        raise UnsupportedMediaType("file type not allowed (JPEG, PNG, WebP, PDF, XLSX, DOCX, CSV)",
                                   details=[{"field": "file", "message": "content is not an allowed type"}])
    if captured_at is not None and captured_at.tzinfo is None:
        raise field_error("captured_at", "must carry a timezone, e.g. 2020-06-01T10:00:00+08:00")
    store = EvidenceStore(rt.settings.evidence_path())
    digest = store.put(content)
    assert digest == hashlib.sha256(content).hexdigest()
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or None
    async with rt.unit_of_work(who) as uow:
        ev = Evidence(
            id=str(uuid.uuid4()), issue_id=issue.id, kind=kind, sha256=digest, size=len(content),
            media_type=media_type, filename=name, captured_at=captured_at, latitude=latitude, longitude=longitude,
            note=note, flags=[], uploaded_by=who.sub, org_id=who.org, created_at=rt.clock.now(),
        )
        await handlers.submit_evidence(uow, issue=issue, evidence=ev)
    return evidence_out(ev)


async def _evidence_visible(rt: Runtime, who: Principal, evidence_id: str) -> Evidence:
    async with rt.read() as session:
        ev = await session.get(Evidence, evidence_id)
        issue = await known_issue(session, issue_id=ev.issue_id) if ev else None
    if ev is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no evidence {evidence_id} that you may see")
    return ev


@router.get("/v1/evidence/{evidence_id}", tags=["evidence"], summary="Evidence metadata")
async def read_evidence(evidence_id: str, rt: Runtime = Depends(get_runtime),
                        who: Principal = Depends(current_principal)) -> dict[str, Any]:
    return evidence_out(await _evidence_visible(rt, who, evidence_id))


@router.get("/v1/evidence/{evidence_id}/content", tags=["evidence"], summary="Evidence file, as a download")
async def read_evidence_content(evidence_id: str, rt: Runtime = Depends(get_runtime),
                                who: Principal = Depends(current_principal)) -> Response:
    ev = await _evidence_visible(rt, who, evidence_id)
    content = EvidenceStore(rt.settings.evidence_path()).get(ev.sha256)
    return Response(content, media_type=ev.media_type, headers={
        "Content-Disposition": f'attachment; filename="{ev.id}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


@router.post("/v1/closures", status_code=201, tags=["closures"], summary="Apply for sign-off (responsible)")
async def create_closure(body: ClosureIn, rt: Runtime = Depends(get_runtime),
                         who: Principal = Depends(require("responsible"))) -> dict[str, Any]:
    await _issue_for(rt, who, body.issue_id)
    async with rt.unit_of_work(who, role="responsible") as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        if who.org != issue.responsible_org_id:
            raise Forbidden("only the issue's responsible org may apply for sign-off")
        closure = await handlers.apply_for_closure(uow, issue=issue, summary=body.summary,
                                                   evidence_ids=body.evidence_ids)
    return closure_out(closure)


async def _closure_visible(rt: Runtime, who: Principal, closure_id: str) -> tuple[Closure, KnownIssue]:
    async with rt.read() as session:
        closure = await session.get(Closure, closure_id)
        issue = await known_issue(session, issue_id=closure.issue_id) if closure else None
    if closure is None or issue is None or not may_see(who, issue):
        raise NotFound(f"no closure application {closure_id} that you may see")
    return closure, issue


@router.get("/v1/closures/{closure_id}", tags=["closures"], summary="An application with its decisions")
async def read_closure(closure_id: str, rt: Runtime = Depends(get_runtime),
                       who: Principal = Depends(current_principal)) -> dict[str, Any]:
    from sqlalchemy import select

    closure, _ = await _closure_visible(rt, who, closure_id)
    async with rt.read() as session:
        decisions = list((await session.execute(
            select(DecisionRecord).where(DecisionRecord.closure_id == closure_id).order_by(DecisionRecord.id)
        )).scalars().all())
    return closure_out(closure, decisions)


@router.post("/v1/closures/{closure_id}/decision", tags=["closures"], summary="Accept or reject (supervisor)")
async def decide(closure_id: str, body: DecisionIn, rt: Runtime = Depends(get_runtime),
                 who: Principal = Depends(require("supervisor"))) -> dict[str, Any]:
    await _closure_visible(rt, who, closure_id)
    async with rt.unit_of_work(who, role="supervisor") as uow:
        closure = await uow.session.get(Closure, closure_id, with_for_update=True)
        assert closure is not None
        issue = await known_issue(uow.session, issue_id=closure.issue_id, lock=True)
        assert issue is not None
        if who.org != issue.supervising_org_id:
            raise Forbidden("only the issue's supervising org may decide on its sign-off")
        record = await handlers.decide(uow, closure=closure, issue=issue, decision=body.decision,
                                       opinion=body.opinion,
                                       reason_code=body.reason_code.value if body.reason_code else None,
                                       inspected_on=body.inspected_on, evidence_ids=body.evidence_ids)
    out = closure_out(closure)
    out["decision"] = record.model_dump(mode="json", exclude={"id", "closure_id"})
    return out

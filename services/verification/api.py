"""Routes of the verification service: parse, call a handler, shape the answer."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.sampling import ALGORITHM
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
from services.verification import domain, handlers, samples, store
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
    FilingIn,
    FilingOut,
    ReinspectionIn,
    ReopenedOut,
    ReopeningIn,
    ReopeningOut,
    SampleIn,
    SampleItemOut,
    SampleOut,
    SampleSummaryOut,
    UploadForm,
)
from services.verification.settings import VerificationSettings, settings_of
from services.verification.sniff import ALLOWED, IMAGES, ImageTooLarge, sniff_stream
from services.verification.store import (
    Closure,
    DecisionRecord,
    Evidence,
    KnownIssue,
    Sample,
    SampleItem,
    known_issue,
)
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


async def _reinspection_of(rt: Runtime, who: Principal, issue_id: str) -> KnownIssue | None:
    """The issue, when the caller is a supervisor who may re-inspect it in a draw still waiting for it (抽查复核:
    the re-inspector's evidence of a rebound goes onto the task like any other evidence)."""
    if not who.has("supervisor"):
        return None
    async with rt.read() as session:
        issue = await known_issue(session, issue_id=issue_id)
        pending = await store.pending_items_of(session, issue_id=issue_id) if issue else []
    if issue is None or (issue.supervising_org_id == who.org):
        return None
    for item in pending:
        if domain.reinspector_refusal(
                org=who.org, user=who.sub, accepted_by_org_id=item.accepted_by_org_id, accepted_by=item.accepted_by,
                responsible_org_id=issue.responsible_org_id, cooperating_org_ids=list(issue.cooperating_org_ids),
                supervising_org_id=issue.supervising_org_id) is None:
            return issue
    return None


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
        reinspecting = await _reinspection_of(rt, who, fields.issue_id)
        issue = reinspecting or await _issue_for(rt, who, fields.issue_id)
        as_responsible = who.has("responsible") and who.org in {issue.responsible_org_id,
                                                                  *issue.cooperating_org_ids}
        as_supervisor = who.has("supervisor") and (who.org == issue.supervising_org_id or reinspecting is not None)
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
    acting_as = ("supervisor" if who.has("supervisor") and (who.org == issue.supervising_org_id or reinspecting)
                 else "responsible")
    async with rt.unit_of_work(who, role=acting_as) as uow:
        issue_now = await known_issue(uow.session, issue_id=issue.id)
        assert issue_now is not None
        if reinspecting is None and who.org not in {issue_now.responsible_org_id, issue_now.supervising_org_id,
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


@router.post("/v1/closures/filings", tags=["closures"],
             summary="File (备案) a signed-off issue by its id, also one signed off in a ledger moved in (admin)",
             description="Files the issue's accepted application when it has one (as `/v1/closures/{closure_id}/file`"
                         "); a sign-off moved in with a ledger kept elsewhere (台账迁入) has no application here, "
                         "and is filed without one (`closure_id` null, closure.filed without `closure_id`). 409 when "
                         "the issue is not signed off.",
             responses=ACT)
async def file_issue(body: FilingIn, rt: RT, who: Admin) -> FilingOut:
    await _issue_for(rt, who, body.issue_id)
    async with rt.unit_of_work(who, role="admin") as uow:
        issue = await known_issue(uow.session, issue_id=body.issue_id, lock=True)
        assert issue is not None
        closure = await handlers.file_issue(uow, issue=issue)
        filed_at, filed_by = uow.clock.now(), uow.actor.user
    return FilingOut(issue_id=issue.id, closure_id=closure.id if closure else None, status="filed",
                     filed_at=filed_at, filed_by=filed_by)


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


# ---- re-inspection (抽查) -----------------------------------------------------------------------------------

SampleReader = Annotated[Principal, Depends(require("admin", "leader", "auditor", "supervisor", "system"))]
SampleId = Annotated[str, FastPath(min_length=1, max_length=36)]
IssueId = Annotated[str, FastPath(min_length=1, max_length=36)]


def sample_out(sample: Sample, items: list[SampleItem], *, with_items: bool) -> dict[str, Any]:
    """A draw as the API shows it, with the tally of its re-inspections (and its tasks when asked)."""
    out: dict[str, Any] = {**sample.model_dump(), "algorithm": ALGORITHM, "drawn": len(items),
                           "pending": sum(i.outcome is None for i in items),
                           "confirmed": sum(i.outcome == "confirmed" for i in items),
                           "rebound": sum(i.outcome == "rebound" for i in items)}
    if with_items:
        out["items"] = [i.model_dump() for i in items]
    return out


@router.post("/v1/samples", status_code=201, tags=["samples"],
             summary="Draw a random re-inspection sample (抽查) of signed-off or filed tasks (admin)",
             description="The seed is SHA-256 of the period, the share or count, the stratification, the sorted "
                         "candidates and the newest signed checkpoint of this log (contracts/sampling.py); every "
                         "input is recorded in sample.drawn, so `closeloop audit draws` recomputes the draw from an "
                         "export alone. A share takes ceil(share × size) of each stratum, a count that many per "
                         "stratum (in all when unstratified).",
             responses=ACT)
async def create_sample(body: SampleIn, rt: RT, who: Admin) -> SampleOut:
    share = body.share_text
    async with rt.unit_of_work(who, role="admin") as uow:
        sample, items = await samples.draw_sample(uow, period=body.period, scope=body.scope, basis=body.basis,
                                                  share=share, count=body.count, stratify_by=body.stratify_by)
    return SampleOut.model_validate(sample_out(sample, items, with_items=True))


@router.get("/v1/samples", tags=["samples"], summary="Re-inspection draws, newest first (not responsible units)",
            responses=READ)
async def list_samples(rt: RT, who: SampleReader,
                       period: Annotated[str | None, Query(min_length=4, max_length=7)] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       cursor: Annotated[str | None, Query(max_length=2048)] = None) -> Page[SampleSummaryOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_samples(session, period=period, cursor=cursor, limit=limit)
        tallies = [await store.sample_items(session, sample_id=s.id) for s in rows]
    return Page(items=[SampleSummaryOut.model_validate(sample_out(s, items, with_items=False))
                       for s, items in zip(rows, tallies, strict=True)], next_cursor=nxt)


@router.get("/v1/samples/{sample_id}", tags=["samples"], summary="A re-inspection draw with its tasks and outcomes",
            responses=READ_ONE)
async def read_sample(sample_id: SampleId, rt: RT, who: SampleReader) -> SampleOut:
    async with rt.read() as session:
        sample = await store.get_sample(session, sample_id=sample_id)
        items = await store.sample_items(session, sample_id=sample_id) if sample else []
    if sample is None:
        raise NotFound(f"没有抽查批次 {sample_id} (no draw {sample_id})",
                       details=[{"field": "sample_id", "message": "unknown draw"}])
    return SampleOut.model_validate(sample_out(sample, items, with_items=True))


@router.post("/v1/samples/{sample_id}/items/{issue_id}/reinspection", tags=["samples"],
             summary="Re-inspect a drawn task: confirm it, or find a rebound and reopen it with evidence "
                     "(a supervisor of another org than the one that signed it off)",
             responses=ACT)
async def reinspect_item(sample_id: SampleId, issue_id: IssueId, body: ReinspectionIn, rt: RT,
                         who: Supervisor) -> SampleItemOut:
    async with rt.unit_of_work(who, role="supervisor") as uow:
        sample = await store.get_sample(uow.session, sample_id=sample_id)
        item = await store.get_sample_item(uow.session, sample_id=sample_id, issue_id=issue_id, lock=True)
        issue = await known_issue(uow.session, issue_id=issue_id, lock=True)
        if sample is None or item is None or issue is None:
            raise NotFound(f"抽查批次 {sample_id} 中没有任务 {issue_id} (draw {sample_id} did not draw {issue_id})",
                           details=[{"field": "issue_id", "message": "not drawn in this sample"}])
        samples.check_reinspector(org=who.org, user=who.sub, item=item, issue=issue)
        done = await samples.reinspect(uow, sample=sample, item=item, issue=issue, outcome=body.outcome,
                                       opinion=body.opinion, inspected_on=body.inspected_on,
                                       evidence_ids=body.evidence_ids)
    return SampleItemOut.model_validate(done.model_dump())

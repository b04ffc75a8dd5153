"""Routes of the notify service: inbox, recipients and address book, webhooks, deliveries, digests, bulletins."""

from __future__ import annotations

import re
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import Conflict, Forbidden, NotFound, error_responses, field_error
from runtime.pagination import Page
from services.notify import domain, store, targets
from services.notify.digests import run_half_year, run_weekly
from services.notify.documents import document_of, documents_root
from services.notify.documents import read as read_document
from services.notify.schemas import (
    AddressesIn,
    AddressesOut,
    BulletinOut,
    DeliveryOut,
    DigestOut,
    DigestRunOut,
    DocumentOut,
    HalfYearIn,
    HalfYearRunOut,
    InboxItemOut,
    LeaderIn,
    LeaderOut,
    UnreadCountOut,
    WebhookIn,
    WebhookOut,
    WeeklyIn,
)
from services.notify.settings import settings_of
from services.notify.store import Bulletin, Delivery, DocumentRecord, InboxItem, Webhook

router = APIRouter()
RtDep = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READ = error_responses(401, 422)
READ_ONE = error_responses(401, 404, 422)
ADMIN_READ = error_responses(401, 403, 422)
WRITE = error_responses(401, 403, 404, 422)
BODY = error_responses(400, 401, 403, 422)
Limit = Annotated[int, Query(ge=1, le=500)]


def _emails(values: list[str]) -> list[str]:
    for i, v in enumerate(values):
        if not EMAIL.match(v):
            raise field_error(f"emails.{i}", f"{v!r} is not an e-mail address")
    return sorted(set(values))


# --- inbox ---------------------------------------------------------------------------------------------------

def item_out(item: InboxItem) -> InboxItemOut:
    """An inbox item as clients see it."""
    return InboxItemOut.model_validate(item.model_dump(include={"id", "type", "subject", "title", "body",
                                                                "created_at", "read_at", "recipient"}))


@router.get("/v1/inbox", tags=["inbox"], summary="The caller's org's notifications, newest first",
            responses=ADMIN_READ)
async def inbox(*, limit: Limit = 50, cursor: str | None = None, unread: bool = False,
                type: str | None = Query(None, max_length=100, description="only this trigger"),
                leader: str | None = Query(None, max_length=200,
                                           description="a leader's title: that leader's notices"),
                rt: RtDep, who: Caller) -> Page[InboxItemOut]:
    if leader is not None and not who.has("leader", "admin"):
        raise Forbidden("only leaders and admins read a leader's inbox")
    async with rt.read() as session:
        rows, nxt = await store.page_inbox(session, org_id=who.org, leader=leader, unread=unread, type=type,
                                           cursor=cursor, limit=limit)
    return Page(items=[item_out(i) for i in rows], next_cursor=nxt)


@router.get("/v1/inbox/unread-count", tags=["inbox"], summary="How many of the caller's org's notifications are unread",
            responses=READ)
async def unread_count(rt: RtDep, who: Caller) -> UnreadCountOut:
    # the same scope as GET /v1/inbox: the caller's org (an org-less caller's inbox is empty)
    async with rt.read() as session:
        return UnreadCountOut(unread=await store.count_unread(session, org_id=who.org))


@router.post("/v1/inbox/{item_id}/read", tags=["inbox"], summary="Mark a notification read",
             responses=error_responses(401, 403, 404, 422))
async def mark_read(item_id: str, rt: RtDep, who: Caller) -> InboxItemOut:
    async with rt.sessions() as session, session.begin():
        item = await store.get_inbox_item(session, item_id=item_id)
        mine = item is not None and ((item.org_id == who.org and who.org is not None)
                                     or (item.recipient.startswith("leader:") and who.has("leader", "admin")))
        if item is None or not mine:
            raise NotFound(f"no notification {item_id} in your inbox")
        if not item.recipient.startswith("leader:") and not who.has(*ORG_WRITERS):
            raise Forbidden("只有本单位的责任、监管角色或管理员可以标记已读 (auditor, leader and role-less tokens "
                            "read only)")
        store.mark_read(session, item=item, now=rt.clock.now())
    return item_out(item)


# --- recipients: org addresses and the leaders' address book -------------------------------------------------

@router.put("/v1/recipients/{org_id}", tags=["recipients"], summary="Set an org's e-mail addresses (admin)",
            responses=BODY)
async def put_addresses(org_id: Annotated[str, Path(min_length=1, max_length=64)], body: AddressesIn, rt: RtDep,
                        _: Annotated[Principal, Depends(require("admin"))]) -> AddressesOut:
    emails = _emails(body.emails)
    async with rt.sessions() as session, session.begin():
        row = await store.put_addresses(session, org_id=org_id, emails=emails, now=rt.clock.now())
    return AddressesOut.model_validate(row.model_dump())


@router.get("/v1/recipients", tags=["recipients"], summary="Every org's e-mail addresses (admin)",
            responses=ADMIN_READ)
async def list_addresses(rt: RtDep, _: Annotated[Principal, Depends(require("admin", "auditor"))],
                         limit: Limit = 100, cursor: str | None = None) -> Page[AddressesOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_addresses(session, cursor=cursor, limit=limit)
    return Page(items=[AddressesOut.model_validate(r.model_dump()) for r in rows], next_cursor=nxt)


@router.put("/v1/address-book/{title}", tags=["recipients"],
            summary="Map a leader's title, as written in the ledger, to an office inbox and e-mails (admin)",
            responses=BODY)
async def put_leader(title: str, body: LeaderIn, rt: RtDep,
                     _: Annotated[Principal, Depends(require("admin"))]) -> LeaderOut:
    title = title.strip()
    if not title or len(title) > 200:
        raise field_error("title", "a leader's title, 1 to 200 characters")
    emails = _emails(body.emails)
    async with rt.sessions() as session, session.begin():
        row = await store.put_leader(session, title=title, name=body.name, org_id=body.org_id, emails=emails,
                                     now=rt.clock.now())
    return LeaderOut.model_validate(row.model_dump())


@router.get("/v1/address-book", tags=["recipients"], summary="The leaders' address book", responses=ADMIN_READ)
async def list_leaders(rt: RtDep, _: Annotated[Principal, Depends(require("admin", "leader", "auditor"))],
                       limit: Limit = 100, cursor: str | None = None) -> Page[LeaderOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_leaders(session, cursor=cursor, limit=limit)
    return Page(items=[LeaderOut.model_validate(r.model_dump()) for r in rows], next_cursor=nxt)


@router.delete("/v1/address-book/{title}", tags=["recipients"], status_code=204, summary="Remove a leader (admin)",
               response_class=Response, responses=WRITE)
async def delete_leader(title: str, rt: RtDep, _: Annotated[Principal, Depends(require("admin"))]) -> Response:
    async with rt.sessions() as session, session.begin():
        if not await store.delete_leader(session, title=title):
            raise NotFound(f"no leader {title} in the address book")
    return Response(status_code=204)


# --- webhooks and deliveries ---------------------------------------------------------------------------------

def webhook_out(h: Webhook) -> WebhookOut:
    """A subscription without its secret."""
    return WebhookOut.model_validate(h.model_dump(exclude={"secret"}))


# Auditors and leaders read; only the roles an org acts in (or the admin) change what notify holds for it.
ORG_WRITERS = ("admin", "responsible", "supervisor")


def _own_org(who: Principal, org_id: str) -> None:
    if not who.has(*ORG_WRITERS):
        raise Forbidden("只有管理员或本单位的责任、监管角色可以管理 Webhook (auditor, leader and role-less tokens "
                        "read only)")
    if not who.has("admin") and who.org != org_id:
        raise Forbidden("an org manages only its own webhooks")


@router.post("/v1/webhooks", tags=["webhooks"], status_code=201,
             summary="Subscribe a URL to an org's notices; bodies are signed with HMAC-SHA256 (admin, the org)",
             responses=BODY)
async def create_webhook(body: WebhookIn, rt: RtDep, who: Caller) -> WebhookOut:
    _own_org(who, body.org_id)
    try:
        targets.check_form(body.url, allow=settings_of(rt).notify_webhook_allow)
    except targets.TargetRefused as exc:
        raise field_error("url", str(exc)) from None
    types = domain.check_triggers(body.event_types)
    hook = Webhook(id=str(uuid.uuid4()), org_id=body.org_id, url=body.url, secret=body.secret, event_types=types,
                   created_at=rt.clock.now())
    async with rt.sessions() as session, session.begin():
        store.add_webhook(session, hook=hook)
    return webhook_out(hook)


@router.get("/v1/webhooks", tags=["webhooks"], summary="Webhook subscriptions (admin: all; an org: its own)",
            responses=READ)
async def list_webhooks(rt: RtDep, who: Caller, limit: Limit = 100,
                        cursor: str | None = None) -> Page[WebhookOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_webhooks(session, org_id=who.org, everyone=who.has("admin", "auditor"),
                                              cursor=cursor, limit=limit)
    return Page(items=[webhook_out(h) for h in rows], next_cursor=nxt)


@router.delete("/v1/webhooks/{hook_id}", tags=["webhooks"], status_code=204, summary="Unsubscribe",
               response_class=Response, responses=WRITE)
async def delete_webhook(hook_id: str, rt: RtDep, who: Caller) -> Response:
    async with rt.sessions() as session, session.begin():
        hook = await store.get_webhook(session, hook_id=hook_id)
        if hook is None:
            raise NotFound(f"no webhook {hook_id}")
        _own_org(who, hook.org_id)
        store.deactivate_webhook(session, hook=hook)
    return Response(status_code=204)


def delivery_out(d: Delivery) -> DeliveryOut:
    """A delivery record with its attempts and last error."""
    return DeliveryOut.model_validate(d.model_dump(exclude={"claim", "lease_until", "body", "dedupe_key"}))


@router.get("/v1/deliveries", tags=["webhooks"], summary="Delivery records, newest first (admin: all; an org: its own)",
            responses=READ)
async def list_deliveries(*, status: str | None = Query(None, pattern="^(pending|sending|delivered|failed)$"),
                          channel: str | None = Query(None, pattern="^(email|webhook)$"),
                          limit: Limit = 50, cursor: str | None = None,
                          rt: RtDep, who: Caller) -> Page[DeliveryOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_deliveries(session, org_id=who.org, everyone=who.has("admin", "auditor"),
                                                status=status, channel=channel, cursor=cursor, limit=limit)
    return Page(items=[delivery_out(d) for d in rows], next_cursor=nxt)


# --- digests and bulletins ------------------------------------------------------------------------------------

@router.post("/v1/digests/weekly", tags=["digests"], status_code=201, summary="Send the weekly dispatch now (admin)",
             responses=BODY)
async def weekly_now(*, body: WeeklyIn | None = None, rt: RtDep,
                     who: Annotated[Principal, Depends(require("admin"))]) -> DigestRunOut:
    now = rt.clock.now()
    async with rt.unit_of_work(who, role="admin") as uow:
        result = await run_weekly(uow, now=now, run_key=f"weekly:manual:{uuid.uuid4()}", origin="manual",
                                  org_id=body.org_id if body else None)
    assert result is not None
    return DigestRunOut.model_validate(result)


@router.post("/v1/digests/half-year", tags=["digests"], status_code=201,
             summary="Send the half-year account (半年交账) now (admin)", responses=BODY)
async def half_year_now(*, body: HalfYearIn | None = None, rt: RtDep,
                        who: Annotated[Principal, Depends(require("admin"))]) -> HalfYearRunOut:
    now = rt.clock.now()
    period = (body.period if body else None) or domain.last_closed_half(now)
    domain.half_bounds(period)
    async with rt.unit_of_work(who, role="admin") as uow:
        result = await run_half_year(uow, period=period, now=now, run_key=f"half_year:manual:{uuid.uuid4()}",
                                     origin="manual")
    assert result is not None
    return HalfYearRunOut.model_validate(result)


@router.get("/v1/digests", tags=["digests"], summary="Digest runs, newest first", responses=READ)
async def list_digests(*, kind: str | None = Query(None, pattern="^(weekly|monthly|half_year)$"),
                       limit: Limit = 50, cursor: str | None = None, rt: RtDep, _: Caller) -> Page[DigestOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_digests(session, kind=kind, cursor=cursor, limit=limit)
        docs = await store.documents_of(session, owners=[r.id for r in rows])
    return Page(items=[DigestOut.model_validate({**r.model_dump(),
                                                 "document": document_out(docs.get(r.id), f"/v1/digests/{r.id}")})
                       for r in rows], next_cursor=nxt)


def document_out(d: DocumentRecord | None, base: str) -> DocumentOut | None:
    """A document's record and where to download its files."""
    if d is None:
        return None
    shown = d.model_dump(include={"number", "title", "docx_sha256", "pdf_sha256", "rendered_at", "error"})
    return DocumentOut.model_validate({**shown, "docx_url": f"{base}/docx", "pdf_url": f"{base}/pdf"})


def bulletin_out(b: Bulletin, doc: DocumentRecord | None = None) -> BulletinOut:
    """A bulletin's record and where to download it."""
    return BulletinOut.model_validate({**b.model_dump(exclude={"html", "xlsx"}),
                                       "html_url": f"/v1/bulletins/{b.id}/html",
                                       "xlsx_url": f"/v1/bulletins/{b.id}/xlsx",
                                       "document": document_out(doc, f"/v1/bulletins/{b.id}")})


@router.get("/v1/bulletins", tags=["digests"], summary="Monthly bulletins (月通报), newest first", responses=READ)
async def list_bulletins(*, period: str | None = None, limit: Limit = 50, cursor: str | None = None,
                         rt: RtDep, _: Caller) -> Page[BulletinOut]:
    async with rt.read() as session:
        rows, nxt = await store.page_bulletins(session, period=period, cursor=cursor, limit=limit)
        docs = await store.documents_of(session, owners=[r["id"] for r in rows])
    return Page(items=[bulletin_out(Bulletin.model_validate({**r, "html": "", "xlsx": b""}), docs.get(r["id"]))
                       for r in rows], next_cursor=nxt)


async def _bulletin(rt: Runtime, bulletin_id: str) -> Bulletin:
    async with rt.read() as session:
        b = await store.get_bulletin(session, bulletin_id=bulletin_id)
    if b is None:
        raise NotFound(f"no bulletin {bulletin_id}")
    return b


@router.get("/v1/bulletins/{bulletin_id}", tags=["digests"], summary="One bulletin's record", responses=READ_ONE)
async def get_bulletin(bulletin_id: str, rt: RtDep, _: Caller) -> BulletinOut:
    b = await _bulletin(rt, bulletin_id)
    async with rt.read() as session:
        doc = await document_of(session, b.id)
    return bulletin_out(b, doc)


def _download(name: str) -> str:
    return f"attachment; filename=\"bulletin\"; filename*=UTF-8''{quote(name)}"


@router.get("/v1/bulletins/{bulletin_id}/html", tags=["digests"], summary="The bulletin as HTML",
            response_class=Response, responses={
                200: {"description": "通报 HTML (as an attachment)",
                      "content": {"text/html": {"schema": {"type": "string"}}}}, **READ_ONE})
async def bulletin_html(bulletin_id: str, rt: RtDep, _: Caller) -> HTMLResponse:
    b = await _bulletin(rt, bulletin_id)
    return HTMLResponse(b.html, headers={"Content-Disposition": _download(f"{b.title}.html"),
                                         "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/v1/bulletins/{bulletin_id}/xlsx", tags=["digests"], summary="The bulletin as XLSX (Chinese headers)",
            response_class=Response, responses={
                200: {"description": "通报 XLSX, 中文表头 (Chinese headers)",
                      "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **READ_ONE})
async def bulletin_xlsx(bulletin_id: str, rt: RtDep, _: Caller) -> Response:
    b = await _bulletin(rt, bulletin_id)
    return Response(b.xlsx, media_type=XLSX, headers={"Content-Disposition": _download(f"{b.title}.xlsx")})


# --- official documents (公文) of bulletins and digests --------------------------------------------------------------

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOC_READ = error_responses(401, 404, 409, 422)


async def _document_file(rt: Runtime, owner: str, fmt: str) -> Response:
    async with rt.read() as session:
        doc = await document_of(session, owner)
    if doc is None:
        raise NotFound(f"{owner} has no official document")
    sha = doc.docx_sha256 if fmt == "docx" else doc.pdf_sha256
    if sha is None:
        raise Conflict(f"公文 {doc.number} 尚未生成,稍后重试 (not rendered yet)"
                       + (f": {doc.error}" if doc.error else ""))
    content = read_document(documents_root(rt), sha)
    return Response(content, media_type=DOCX if fmt == "docx" else "application/pdf",
                    headers={"Content-Disposition": _download(f"{doc.number} {doc.title}.{fmt}"),
                             "X-Content-SHA256": sha})


def _file_responses(what: str, media: str) -> dict[int | str, dict[str, object]]:
    return {200: {"description": what, "content": {media: {"schema": {"type": "string", "format": "binary"}}}},
            **DOC_READ}


@router.get("/v1/bulletins/{bulletin_id}/docx", tags=["digests"], summary="The bulletin as an official document (.docx)",
            response_class=Response, responses=_file_responses("通报公文 Word", DOCX))
async def bulletin_docx(bulletin_id: str, rt: RtDep, _: Caller) -> Response:
    return await _document_file(rt, (await _bulletin(rt, bulletin_id)).id, "docx")


@router.get("/v1/bulletins/{bulletin_id}/pdf", tags=["digests"], summary="The bulletin as an official document (.pdf)",
            response_class=Response, responses=_file_responses("通报公文 PDF", "application/pdf"))
async def bulletin_pdf(bulletin_id: str, rt: RtDep, _: Caller) -> Response:
    return await _document_file(rt, (await _bulletin(rt, bulletin_id)).id, "pdf")


@router.get("/v1/digests/{digest_id}/docx", tags=["digests"], summary="A digest as an official document (.docx)",
            response_class=Response, responses=_file_responses("周调度/半年交账公文 Word", DOCX))
async def digest_docx(digest_id: str, rt: RtDep, _: Caller) -> Response:
    return await _document_file(rt, digest_id, "docx")


@router.get("/v1/digests/{digest_id}/pdf", tags=["digests"], summary="A digest as an official document (.pdf)",
            response_class=Response, responses=_file_responses("周调度/半年交账公文 PDF", "application/pdf"))
async def digest_pdf(digest_id: str, rt: RtDep, _: Caller) -> Response:
    return await _document_file(rt, digest_id, "pdf")

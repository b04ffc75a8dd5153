"""Routes of the notify service: inbox, recipients and address book, webhooks, deliveries, digests, bulletins."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlmodel import col

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal, require
from runtime.errors import Forbidden, NotFound, field_error
from services.notify import domain
from services.notify.digests import run_half_year, run_weekly
from services.notify.store import Bulletin, Delivery, Digest, InboxItem, Leader, OrgAddresses, Webhook

router = APIRouter()
RtDep = Annotated[Runtime, Depends(get_runtime)]
Caller = Annotated[Principal, Depends(current_principal)]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise field_error("cursor", "not a cursor this list gave out")
    return int(cursor)


def _page(items: list[dict[str, Any]], *, start: int, limit: int, more: bool) -> dict[str, Any]:
    return {"items": items, "next_cursor": str(start + limit) if more else None}


def _emails(values: list[str]) -> list[str]:
    for i, v in enumerate(values):
        if not EMAIL.match(v):
            raise field_error(f"emails.{i}", f"{v!r} is not an e-mail address")
    return sorted(set(values))


# --- inbox ---------------------------------------------------------------------------------------------------

def item_out(item: InboxItem) -> dict[str, Any]:
    """An inbox item as clients see it."""
    return item.model_dump(mode="json", include={"id", "type", "subject", "title", "body", "created_at", "read_at",
                                                 "recipient"})


def _inbox_owner(who: Principal, leader: str | None) -> Any:
    if leader is None:
        return InboxItem.org_id == (who.org or "")
    if not who.has("leader", "admin"):
        raise Forbidden("only leaders and admins read a leader's inbox")
    return InboxItem.recipient == f"leader:{leader}"


@router.get("/v1/inbox", tags=["inbox"], summary="The caller's org's notifications, newest first")
async def inbox(*, limit: int = Query(50, ge=1, le=500), cursor: str | None = None, unread: bool = False,
                type: str | None = Query(None, description="only this trigger"),
                leader: str | None = Query(None, description="a leader's title: that leader's notices"),
                rt: RtDep, who: Caller) -> dict[str, Any]:
    start = _offset(cursor)
    async with rt.read() as session:
        stmt = select(InboxItem).where(_inbox_owner(who, leader)).order_by(
            col(InboxItem.created_at).desc(), col(InboxItem.id).desc())
        if unread:
            stmt = stmt.where(col(InboxItem.read_at).is_(None))
        if type:
            stmt = stmt.where(col(InboxItem.type) == type)
        rows = list((await session.execute(stmt.offset(start).limit(limit + 1))).scalars().all())
    return _page([item_out(i) for i in rows[:limit]], start=start, limit=limit, more=len(rows) > limit)


@router.post("/v1/inbox/{item_id}/read", tags=["inbox"], summary="Mark a notification read")
async def mark_read(item_id: str, rt: RtDep,
                    who: Caller) -> dict[str, Any]:
    async with rt.sessions() as session, session.begin():
        item = await session.get(InboxItem, item_id)
        mine = item is not None and ((item.org_id == who.org and who.org is not None)
                                     or (item.recipient.startswith("leader:") and who.has("leader", "admin")))
        if item is None or not mine:
            raise NotFound(f"no notification {item_id} in your inbox")
        if item.read_at is None:
            item.read_at = rt.clock.now()
            session.add(item)
    return item_out(item)


# --- recipients: org addresses and the leaders' address book -------------------------------------------------

class AddressesIn(BaseModel):
    emails: list[str] = Field(default_factory=list, max_length=50)


@router.put("/v1/recipients/{org_id}", tags=["recipients"], summary="Set an org's e-mail addresses (admin)")
async def put_addresses(org_id: str, body: AddressesIn, rt: RtDep,
                        _: Annotated[Principal, Depends(require("admin"))]) -> dict[str, Any]:
    emails = _emails(body.emails)
    async with rt.sessions() as session, session.begin():
        row = await session.get(OrgAddresses, org_id) or OrgAddresses(org_id=org_id, updated_at=rt.clock.now())
        row.emails, row.updated_at = emails, rt.clock.now()
        session.add(row)
    return row.model_dump(mode="json")


@router.get("/v1/recipients", tags=["recipients"], summary="Every org's e-mail addresses (admin)")
async def list_addresses(rt: RtDep,
                         _: Annotated[Principal, Depends(require("admin", "auditor"))]) -> dict[str, Any]:
    async with rt.read() as session:
        rows = (await session.execute(select(OrgAddresses).order_by(OrgAddresses.org_id))).scalars().all()
    return {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": None}


class LeaderIn(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    org_id: str | None = Field(default=None, max_length=64, description="the office whose inbox shows the notices")
    emails: list[str] = Field(default_factory=list, max_length=50)


@router.put("/v1/address-book/{title}", tags=["recipients"],
            summary="Map a leader's title, as written in the ledger, to an office inbox and e-mails (admin)")
async def put_leader(title: str, body: LeaderIn, rt: RtDep,
                     _: Annotated[Principal, Depends(require("admin"))]) -> dict[str, Any]:
    title = title.strip()
    if not title or len(title) > 200:
        raise field_error("title", "a leader's title, 1 to 200 characters")
    emails = _emails(body.emails)
    async with rt.sessions() as session, session.begin():
        row = await session.get(Leader, title) or Leader(title=title, updated_at=rt.clock.now())
        row.name, row.org_id, row.emails, row.updated_at = body.name, body.org_id, emails, rt.clock.now()
        session.add(row)
        # notices already in this leader's inbox move to the office named now
        for item in (await session.execute(select(InboxItem).where(col(InboxItem.recipient) == f"leader:{title}"))
                     ).scalars():
            item.org_id = body.org_id
            session.add(item)
    return row.model_dump(mode="json")


@router.get("/v1/address-book", tags=["recipients"], summary="The leaders' address book")
async def list_leaders(rt: RtDep,
                       _: Annotated[Principal, Depends(require("admin", "leader", "auditor"))]) -> dict[str, Any]:
    async with rt.read() as session:
        rows = (await session.execute(select(Leader).order_by(Leader.title))).scalars().all()
    return {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": None}


@router.delete("/v1/address-book/{title}", tags=["recipients"], status_code=204, summary="Remove a leader (admin)")
async def delete_leader(title: str, rt: RtDep,
                        _: Annotated[Principal, Depends(require("admin"))]) -> Response:
    async with rt.sessions() as session, session.begin():
        row = await session.get(Leader, title)
        if row is None:
            raise NotFound(f"no leader {title} in the address book")
        await session.delete(row)
    return Response(status_code=204)


# --- webhooks and deliveries ---------------------------------------------------------------------------------

class WebhookIn(BaseModel):
    org_id: str = Field(min_length=1, max_length=64)
    url: str = Field(max_length=2000)
    secret: str = Field(min_length=16, max_length=500)
    event_types: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("an http(s) URL")
        return v


def webhook_out(h: Webhook) -> dict[str, Any]:
    """A subscription without its secret."""
    return h.model_dump(mode="json", exclude={"secret"})


def _own_org(who: Principal, org_id: str) -> None:
    if not who.has("admin") and who.org != org_id:
        raise Forbidden("an org manages only its own webhooks")


@router.post("/v1/webhooks", tags=["webhooks"], status_code=201,
             summary="Subscribe a URL to an org's notices; bodies are signed with HMAC-SHA256 (admin, the org)")
async def create_webhook(body: WebhookIn, rt: RtDep,
                         who: Caller) -> dict[str, Any]:
    _own_org(who, body.org_id)
    types = domain.check_triggers(body.event_types)
    hook = Webhook(id=str(uuid.uuid4()), org_id=body.org_id, url=body.url, secret=body.secret, event_types=types,
                   created_at=rt.clock.now())
    async with rt.sessions() as session, session.begin():
        session.add(hook)
    return webhook_out(hook)


@router.get("/v1/webhooks", tags=["webhooks"], summary="Webhook subscriptions (admin: all; an org: its own)")
async def list_webhooks(rt: RtDep,
                        who: Caller) -> dict[str, Any]:
    async with rt.read() as session:
        stmt = select(Webhook).order_by(col(Webhook.created_at))
        if not who.has("admin", "auditor"):
            stmt = stmt.where(col(Webhook.org_id) == (who.org or ""))
        rows = (await session.execute(stmt)).scalars().all()
    return {"items": [webhook_out(h) for h in rows], "next_cursor": None}


@router.delete("/v1/webhooks/{hook_id}", tags=["webhooks"], status_code=204, summary="Unsubscribe")
async def delete_webhook(hook_id: str, rt: RtDep,
                         who: Caller) -> Response:
    async with rt.sessions() as session, session.begin():
        hook = await session.get(Webhook, hook_id)
        if hook is None:
            raise NotFound(f"no webhook {hook_id}")
        _own_org(who, hook.org_id)
        hook.active = False  # kept, so its delivery records still say where they went
        session.add(hook)
    return Response(status_code=204)


def delivery_out(d: Delivery) -> dict[str, Any]:
    """A delivery record with its attempts and last error."""
    return d.model_dump(mode="json", exclude={"claim", "lease_until", "body", "dedupe_key"})


@router.get("/v1/deliveries", tags=["webhooks"], summary="Delivery records, newest first (admin: all; an org: its own)")
async def list_deliveries(*, status: str | None = Query(None, pattern="^(pending|sending|delivered|failed)$"),
                          channel: str | None = Query(None, pattern="^(email|webhook)$"),
                          limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
                          rt: RtDep,
                          who: Caller) -> dict[str, Any]:
    start = _offset(cursor)
    stmt = select(Delivery).order_by(col(Delivery.created_at).desc(), col(Delivery.id))
    if not who.has("admin", "auditor"):
        stmt = stmt.where(col(Delivery.org_id) == (who.org or ""))
    if status:
        stmt = stmt.where(col(Delivery.status) == status)
    if channel:
        stmt = stmt.where(col(Delivery.channel) == channel)
    async with rt.read() as session:
        rows = list((await session.execute(stmt.offset(start).limit(limit + 1))).scalars().all())
    return _page([delivery_out(d) for d in rows[:limit]], start=start, limit=limit, more=len(rows) > limit)


# --- digests and bulletins ------------------------------------------------------------------------------------

class WeeklyIn(BaseModel):
    org_id: str | None = Field(default=None, description="only this org (default: every org with open issues)")


class HalfYearIn(BaseModel):
    period: str | None = Field(default=None, description="e.g. 2020-H1; default: the last half year that ended")


@router.post("/v1/digests/weekly", tags=["digests"], status_code=201, summary="Send the weekly dispatch now (admin)")
async def weekly_now(*, body: WeeklyIn | None = None, rt: RtDep,
                     who: Annotated[Principal, Depends(require("admin"))]) -> dict[str, Any]:
    now = rt.clock.now()
    async with rt.unit_of_work(who, role="admin") as uow:
        result = await run_weekly(uow, now=now, run_key=f"weekly:manual:{uuid.uuid4()}", origin="manual",
                                  org_id=body.org_id if body else None)
    assert result is not None
    return result


@router.post("/v1/digests/half-year", tags=["digests"], status_code=201,
             summary="Send the half-year account (半年交账) now (admin)")
async def half_year_now(*, body: HalfYearIn | None = None, rt: RtDep,
                        who: Annotated[Principal, Depends(require("admin"))]) -> dict[str, Any]:
    now = rt.clock.now()
    period = (body.period if body else None) or domain.last_closed_half(now)
    domain.half_bounds(period)
    async with rt.unit_of_work(who, role="admin") as uow:
        result = await run_half_year(uow, period=period, now=now, run_key=f"half_year:manual:{uuid.uuid4()}",
                                     origin="manual")
    assert result is not None
    return result


@router.get("/v1/digests", tags=["digests"], summary="Digest runs, newest first")
async def list_digests(*, kind: str | None = Query(None, pattern="^(weekly|monthly|half_year)$"),
                       limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
                       rt: RtDep, _: Caller) -> dict[str, Any]:
    start = _offset(cursor)
    stmt = select(Digest).order_by(col(Digest.created_at).desc(), col(Digest.id))
    if kind:
        stmt = stmt.where(col(Digest.kind) == kind)
    async with rt.read() as session:
        rows = list((await session.execute(stmt.offset(start).limit(limit + 1))).scalars().all())
    return _page([r.model_dump(mode="json") for r in rows[:limit]], start=start, limit=limit, more=len(rows) > limit)


def bulletin_out(b: Bulletin) -> dict[str, Any]:
    """A bulletin's record and where to download it."""
    out = b.model_dump(mode="json", exclude={"html", "xlsx"})
    out["html_url"] = f"/v1/bulletins/{b.id}/html"
    out["xlsx_url"] = f"/v1/bulletins/{b.id}/xlsx"
    return out


@router.get("/v1/bulletins", tags=["digests"], summary="Monthly bulletins (月通报), newest first")
async def list_bulletins(*, period: str | None = None, limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
                         rt: RtDep,
                         _: Caller) -> dict[str, Any]:
    start = _offset(cursor)
    cols = [c for c in Bulletin.__table__.columns  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
            if c.name not in ("html", "xlsx")]
    stmt = select(*cols).order_by(col(Bulletin.published_at).desc(), col(Bulletin.id))
    if period:
        stmt = stmt.where(col(Bulletin.period) == period)
    async with rt.read() as session:
        rows = (await session.execute(stmt.offset(start).limit(limit + 1))).mappings().all()
    items = [bulletin_out(Bulletin.model_validate({**r, "html": "", "xlsx": b""})) for r in rows[:limit]]
    return _page(items, start=start, limit=limit, more=len(rows) > limit)


async def _bulletin(rt: Runtime, bulletin_id: str) -> Bulletin:
    async with rt.read() as session:
        b = await session.get(Bulletin, bulletin_id)
    if b is None:
        raise NotFound(f"no bulletin {bulletin_id}")
    return b


@router.get("/v1/bulletins/{bulletin_id}", tags=["digests"], summary="One bulletin's record")
async def get_bulletin(bulletin_id: str, rt: RtDep,
                       _: Caller) -> dict[str, Any]:
    return bulletin_out(await _bulletin(rt, bulletin_id))


def _download(name: str) -> str:
    return f"attachment; filename=\"bulletin\"; filename*=UTF-8''{quote(name)}"


@router.get("/v1/bulletins/{bulletin_id}/html", tags=["digests"], summary="The bulletin as HTML")
async def bulletin_html(bulletin_id: str, rt: RtDep,
                        _: Caller) -> HTMLResponse:
    b = await _bulletin(rt, bulletin_id)
    return HTMLResponse(b.html, headers={"Content-Disposition": _download(f"{b.title}.html"),
                                         "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/v1/bulletins/{bulletin_id}/xlsx", tags=["digests"], summary="The bulletin as XLSX (Chinese headers)")
async def bulletin_xlsx(bulletin_id: str, rt: RtDep,
                        _: Caller) -> Response:
    b = await _bulletin(rt, bulletin_id)
    return Response(b.xlsx, media_type=XLSX, headers={"Content-Disposition": _download(f"{b.title}.xlsx")})


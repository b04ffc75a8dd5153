"""Routes of the notify service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal
from runtime.errors import NotFound
from services.notify.store import InboxItem

router = APIRouter()


def item_out(item: InboxItem) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude={"dedupe_key", "org_id"})


@router.get("/v1/inbox", tags=["inbox"], summary="The caller's org's notifications, newest first")
async def inbox(limit: int = Query(50, ge=1, le=500), cursor: str | None = None, unread: bool = False,
                rt: Runtime = Depends(get_runtime), who: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        stmt = select(InboxItem).where(InboxItem.org_id == (who.org or "")).order_by(
            InboxItem.created_at.desc(), InboxItem.id.desc())  # type: ignore[union-attr]
        if unread:
            stmt = stmt.where(InboxItem.read_at.is_(None))  # type: ignore[union-attr]
        rows = list((await session.execute(stmt)).scalars().all())
    start = 0
    if cursor:
        ids = [r.id for r in rows]
        start = ids.index(cursor) + 1 if cursor in ids else len(rows)
    chunk = rows[start:start + limit]
    more = start + limit < len(rows)
    return {"items": [item_out(i) for i in chunk], "next_cursor": chunk[-1].id if chunk and more else None}


@router.post("/v1/inbox/{item_id}/read", tags=["inbox"], summary="Mark a notification read")
async def mark_read(item_id: str, rt: Runtime = Depends(get_runtime),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.sessions() as session, session.begin():
        item = await session.get(InboxItem, item_id)
        if item is None or item.org_id != who.org:
            raise NotFound(f"no notification {item_id} in your inbox")
        if item.read_at is None:
            item.read_at = rt.clock.now()
            session.add(item)
    return item_out(item)

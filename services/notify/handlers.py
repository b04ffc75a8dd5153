"""Event handlers of the notify service and the table that maps them."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select

from contracts import Envelope
from contracts.events.issues import IssueRegistered
from contracts.events.verification import ClosureAccepted
from runtime.outbox import UnitOfWork
from services.notify.store import InboxItem


async def deliver_inbox(uow: UnitOfWork, *, org_id: str, trigger: str, subject: str, title: str, body: str,
                        dedupe_key: str) -> InboxItem | None:
    """Put a notice in an org's inbox once; a second call with the same key adds nothing."""
    existing = await uow.session.execute(
        select(InboxItem.id).where(InboxItem.dedupe_key == dedupe_key, InboxItem.org_id == org_id))
    if existing.first() is not None:
        return None
    item = InboxItem(id=str(uuid.uuid4()), org_id=org_id, type=trigger, subject=subject, title=title, body=body,
                     dedupe_key=dedupe_key, created_at=uow.clock.now())
    uow.session.add(item)
    return item


async def on_issue_registered(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Tell the responsible org (cooperating orgs in copy) that an issue was assigned to it."""
    assert isinstance(payload, IssueRegistered)
    title = f"新交办整改任务:{payload.code} {payload.title}"
    body = f"整改任务 {payload.code}「{payload.title}」已交办贵单位牵头办理,整改时限 {payload.deadline.isoformat()}。"
    for org in [payload.responsible_org_id, *payload.cooperating_org_ids]:
        await deliver_inbox(uow, org_id=org, trigger="issue.assigned", subject=payload.issue_id, title=title,
                            body=body, dedupe_key=f"assigned:{envelope.id}")


async def on_closure_accepted(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Tell the responsible org its issue was accepted and signed off."""
    assert isinstance(payload, ClosureAccepted)
    opinion = f"核查意见:{payload.opinion}" if payload.opinion else ""
    await deliver_inbox(uow, org_id=payload.responsible_org_id, trigger="closure.accepted",
                        subject=payload.issue_id, title="整改任务已通过验收并销号",
                        body=f"贵单位申请销号的整改任务已通过监管单位核查验收,予以销号。{opinion}",
                        dedupe_key=f"accepted:{envelope.id}")


HANDLERS = {
    "issue.registered": on_issue_registered,
    "closure.accepted": on_closure_accepted,
}

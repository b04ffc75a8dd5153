"""Issuing a notice: who receives it over which channels, written once (unique keys), queued for delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.events.notify import NotificationCreated
from runtime.clock import new_id
from runtime.outbox import UnitOfWork
from services.notify.store import Delivery, InboxItem, Leader, OrgAddresses, Webhook, insert_for


@dataclass(frozen=True)
class Recipient:
    """Where a notice goes: an inbox key, the org whose inbox shows it, e-mail addresses, webhooks."""

    key: str  # an org id, or leader:<title>
    org_id: str | None
    emails: tuple[str, ...] = ()
    webhooks: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())  # (subscription id, event types)


class Directory:
    """Resolves orgs and leaders to recipients, caching within one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.cache: dict[str, Recipient] = {}

    async def org(self, org_id: str) -> Recipient:
        """An org: its inbox, its addresses, its active webhook subscriptions."""
        if org_id not in self.cache:
            addresses = await self.session.get(OrgAddresses, org_id)
            hooks = (await self.session.execute(
                select(col(Webhook.id), col(Webhook.event_types))
                .where(col(Webhook.org_id) == org_id, col(Webhook.active).is_(True))
            )).all()
            self.cache[org_id] = Recipient(
                key=org_id, org_id=org_id, emails=tuple(addresses.emails) if addresses else (),
                webhooks=tuple((h_id, tuple(types or ())) for h_id, types in hooks))
        return self.cache[org_id]

    async def leader(self, title: str) -> Recipient:
        """A leader in charge, by the title in the ledger: the address book's office inbox and e-mails."""
        key = f"leader:{title}"
        if key not in self.cache:
            entry = await self.session.get(Leader, title)
            self.cache[key] = Recipient(key=key, org_id=entry.org_id if entry else None,
                                        emails=tuple(entry.emails) if entry else ())
        return self.cache[key]

    async def all_leaders(self, extra_titles: Sequence[str] = ()) -> list[Recipient]:
        """Every leader in the address book, and any other titles given (e.g. from the ledger)."""
        titles = set((await self.session.execute(select(col(Leader.title)))).scalars().all()) | set(extra_titles)
        return [await self.leader(t) for t in sorted(titles)]


async def notify(uow: UnitOfWork, *, trigger: str, key: str, subject: str, title: str, body: str,
                 recipients: list[Recipient]) -> list[str]:
    """Issue one notice to each recipient: inbox item + queued deliveries, each at most once; returns new item ids.

    `key` names the notice (e.g. `overdue:<issue>:<deadline>`); the unique constraints on (key, recipient)
    and (key, recipient, channel, target) make redelivered events, restarts and replicas add nothing.
    """
    session = uow.session
    ins = insert_for(session)
    now = uow.clock.now()
    created: list[str] = []
    seen: set[str] = set()
    for r in recipients:
        if r.key in seen:
            continue
        seen.add(r.key)
        item_id = new_id()
        inserted = (await session.execute(
            ins(InboxItem).values(id=item_id, recipient=r.key, org_id=r.org_id, type=trigger, subject=subject,
                                  title=title, body=body, dedupe_key=key, created_at=now)
            .on_conflict_do_nothing().returning(InboxItem.id)
        )).scalar_one_or_none()
        if inserted is None:
            continue  # this recipient already has this notice, and its deliveries were queued with it
        created.append(item_id)
        await uow.emit(item_id, NotificationCreated(
            notification_id=item_id, trigger=trigger, org_id=r.org_id, recipient=r.key, subject=subject, title=title))
        targets = [("email", address) for address in r.emails]
        targets += [("webhook", hook_id) for hook_id, types in r.webhooks if not types or trigger in types]
        for channel, target in targets:
            await session.execute(
                ins(Delivery).values(id=new_id(), dedupe_key=key, notification_id=item_id, trigger=trigger,
                                     recipient=r.key, org_id=r.org_id, channel=channel, target=target,
                                     subject=subject, title=title, body=body, status="pending", attempts=0,
                                     next_attempt_at=now, created_at=now)
                .on_conflict_do_nothing()
            )
    return created


async def leader_or_fallback(directory: Directory, *, leader: str | None, fallback_org: str) -> Recipient:
    """The leader in charge; when the ledger names none, the supervising org is told instead."""
    if leader:
        return await directory.leader(leader)
    return await directory.org(fallback_org)

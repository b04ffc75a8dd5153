"""Issuing a notice: who receives it over which channels, written once (unique keys), queued for delivery.

Notices are written set-based: `Notices` collects any number of them (of one unit of work, or of every event of a
handled batch, each with its own unit of work) and writes them with a few statements whatever their number (what
is there already, the inbox rows, their notification.created events, the deliveries), drawing their ids in the order
one `notify` after another would, so the state and the log are those of one notice at a time. `notify` is one notice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.events.notify import NotificationCreated
from runtime.clock import new_id, new_uuid
from runtime.outbox import UnitOfWork, emit_new_across
from services.notify.store import Delivery, InboxItem, Leader, OrgAddresses, Webhook, insert_for

CHUNK = 500  # ids per IN (…) and rows per multi-row INSERT: within every driver's parameter limit


@dataclass(frozen=True)
class Recipient:
    """Where a notice goes: an inbox key, the org whose inbox shows it, e-mail addresses, webhooks."""

    key: str  # an org id, or leader:<title>
    org_id: str | None
    emails: tuple[str, ...] = ()
    webhooks: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())  # (subscription id, event types)


@dataclass(frozen=True)
class Org:
    """An org named as a recipient, looked up when the notices are written (with every other one at once)."""

    org_id: str


@dataclass(frozen=True)
class LeaderTitle:
    """A leader in charge named by the title in the ledger, looked up when the notices are written."""

    title: str


Addressee = Recipient | Org | LeaderTitle


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


class Directory:
    """Resolves orgs and leaders to recipients, caching within one unit of work (or one handled batch); `orgs` and
    `leaders` look many up with one query each."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.cache: dict[str, Recipient] = {}

    async def orgs(self, org_ids: Sequence[str]) -> list[Recipient]:
        """Orgs, in the order given: each one's inbox, addresses and active webhook subscriptions."""
        missing = sorted({o for o in org_ids if o not in self.cache})
        for chunk in _chunks(missing):
            emails = dict((await self.session.execute(
                select(col(OrgAddresses.org_id), col(OrgAddresses.emails)).where(col(OrgAddresses.org_id).in_(chunk))
            )).all())
            hooks: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
            for org_id, hook_id, types in (await self.session.execute(
                    select(col(Webhook.org_id), col(Webhook.id), col(Webhook.event_types))
                    .where(col(Webhook.org_id).in_(chunk), col(Webhook.active).is_(True))
                    .order_by(col(Webhook.created_at), col(Webhook.id)))).all():
                hooks.setdefault(org_id, []).append((hook_id, tuple(types or ())))
            for org_id in chunk:
                self.cache[org_id] = Recipient(key=org_id, org_id=org_id, emails=tuple(emails.get(org_id) or ()),
                                               webhooks=tuple(hooks.get(org_id, ())))
        return [self.cache[o] for o in org_ids]

    async def org(self, org_id: str) -> Recipient:
        """An org: its inbox, its addresses, its active webhook subscriptions."""
        return (await self.orgs([org_id]))[0]

    async def leaders(self, titles: Sequence[str]) -> list[Recipient]:
        """Leaders in charge by their titles in the ledger, in the order given: the address book's office inbox
        and e-mails (a title the address book lacks has its own inbox and no e-mail)."""
        missing = sorted({t for t in titles if f"leader:{t}" not in self.cache})
        for chunk in _chunks(missing):
            found = {title: (org_id, emails) for title, org_id, emails in (await self.session.execute(
                select(col(Leader.title), col(Leader.org_id), col(Leader.emails)).where(col(Leader.title).in_(chunk))
            )).all()}
            for title in chunk:
                org_id, emails = found.get(title, (None, ()))
                self.cache[f"leader:{title}"] = Recipient(key=f"leader:{title}", org_id=org_id,
                                                          emails=tuple(emails or ()))
        return [self.cache[f"leader:{t}"] for t in titles]

    async def leader(self, title: str) -> Recipient:
        """A leader in charge, by the title in the ledger: the address book's office inbox and e-mails."""
        return (await self.leaders([title]))[0]

    async def all_leaders(self, extra_titles: Sequence[str] = ()) -> list[Recipient]:
        """Every leader in the address book, and any other titles given (e.g. from the ledger)."""
        titles = set((await self.session.execute(select(col(Leader.title)))).scalars().all()) | set(extra_titles)
        return await self.leaders(sorted(titles))

    async def resolve(self, addressees: Sequence[Addressee]) -> list[Recipient]:
        """Recipients for addressees, the orgs and leaders named looked up together."""
        await self.orgs([a.org_id for a in addressees if isinstance(a, Org)])
        await self.leaders([a.title for a in addressees if isinstance(a, LeaderTitle)])
        return [a if isinstance(a, Recipient) else self.cache[a.org_id] if isinstance(a, Org)
                else self.cache[f"leader:{a.title}"] for a in addressees]


@dataclass
class _Notice:
    uow: UnitOfWork
    trigger: str
    key: str
    subject: str
    title: str
    body: str
    to: list[Addressee]
    now: datetime


class Notices:
    """Notices to write together (`add`, then `write`): the same rows, events and ids as `notify` for each, in the
    order added, in a handful of statements. Every unit of work added must be on one session."""

    def __init__(self, session: AsyncSession, directory: Directory | None = None) -> None:
        self.session = session
        self.directory = directory or Directory(session)
        self._notices: list[_Notice] = []

    def add(self, uow: UnitOfWork, *, trigger: str, key: str, subject: str, title: str, body: str,
            recipients: Sequence[Addressee]) -> None:
        """One notice to each recipient (orgs and leaders may be named by id and title: they are looked up with
        the others when written). Its time is the clock's now, as `notify` takes it."""
        self._notices.append(_Notice(uow=uow, trigger=trigger, key=key, subject=subject, title=title, body=body,
                                     to=list(recipients), now=uow.clock.now()))

    async def write(self) -> list[list[str]]:
        """Write what was added; for each notice, the ids of the inbox items it created (none for a recipient that
        had it already: a redelivered event, a replica that was first)."""
        notices, self._notices = self._notices, []
        if not notices:
            return []
        session = self.session
        everyone = [a for n in notices for a in n.to]
        await self.directory.resolve(everyone)  # every org and leader named, looked up together
        recipients = [await self.directory.resolve(n.to) for n in notices]
        keys = sorted({n.key for n in notices})
        had: set[tuple[str, str]] = set()
        for chunk in _chunks(keys):
            had.update((k, r) for k, r in (await session.execute(
                select(col(InboxItem.dedupe_key), col(InboxItem.recipient)).where(col(InboxItem.dedupe_key).in_(chunk))
            )).all())
        # What one `notify` after another draws, in that order: an item id for each recipient not named twice in
        # its notice, then, for a new item, its event's id and its deliveries' ids.
        items: list[dict[str, Any]] = []
        planned: list[tuple[int, str, uuid.UUID, Recipient]] = []  # (notice, item id, event id, recipient)
        deliveries: dict[str, list[dict[str, Any]]] = {}
        for n, (notice, rs) in enumerate(zip(notices, recipients, strict=True)):
            seen: set[str] = set()
            for r in rs:
                if r.key in seen:
                    continue
                seen.add(r.key)
                item_id = new_id()
                if (notice.key, r.key) in had:
                    continue
                had.add((notice.key, r.key))
                items.append({"id": item_id, "recipient": r.key, "org_id": r.org_id, "type": notice.trigger,
                              "subject": notice.subject, "title": notice.title, "body": notice.body,
                              "dedupe_key": notice.key, "created_at": notice.now})
                planned.append((n, item_id, new_uuid(), r))
                targets = [("email", address) for address in r.emails]
                targets += [("webhook", hook_id) for hook_id, types in r.webhooks if not types or notice.trigger in types]
                deliveries[item_id] = [
                    {"id": new_id(), "dedupe_key": notice.key, "notification_id": item_id, "trigger": notice.trigger,
                     "recipient": r.key, "org_id": r.org_id, "channel": channel, "target": target,
                     "subject": notice.subject, "title": notice.title, "body": notice.body, "status": "pending",
                     "attempts": 0, "next_attempt_at": notice.now, "created_at": notice.now}
                    for channel, target in targets]
        # pending ORM changes first (the handlers' own writes), then the items; a (key, recipient) written since
        # the look-up above (a replica, at the same moment) is left to it: no event, no delivery for it here
        await session.flush()
        ins = insert_for(session)
        inserted: set[str] = set()
        table: Any = InboxItem.__table__  # type: ignore[attr-defined]
        for chunk in _chunks(items):
            inserted.update((await session.execute(
                ins(table).values(list(chunk)).on_conflict_do_nothing().returning(table.c.id))).scalars().all())
        created: list[list[str]] = [[] for _ in notices]
        events = []
        for n, item_id, event_id, r in planned:
            if item_id not in inserted:
                continue
            notice = notices[n]
            created[n].append(item_id)
            events.append((notice.uow, item_id, NotificationCreated(
                notification_id=item_id, trigger=notice.trigger, org_id=r.org_id, recipient=r.key,
                subject=notice.subject, title=notice.title), event_id))
        await emit_new_across(events)
        queued = [d for _, item_id, _, _ in planned if item_id in inserted for d in deliveries[item_id]]
        delivery: Any = Delivery.__table__  # type: ignore[attr-defined]
        for chunk in _chunks(queued):
            await session.execute(ins(delivery).values(list(chunk)).on_conflict_do_nothing())
        return created


async def notify(uow: UnitOfWork, *, trigger: str, key: str, subject: str, title: str, body: str,
                 recipients: Sequence[Addressee], directory: Directory | None = None) -> list[str]:
    """Issue one notice to each recipient: inbox item + queued deliveries, each at most once; returns new item ids.

    `key` names the notice (e.g. `overdue:<issue>:<deadline>`); the unique constraints on (key, recipient)
    and (key, recipient, channel, target) make redelivered events, restarts and replicas add nothing.
    """
    notices = Notices(uow.session, directory)
    notices.add(uow, trigger=trigger, key=key, subject=subject, title=title, body=body, recipients=recipients)
    return (await notices.write())[0]


async def leader_or_fallback(directory: Directory, *, leader: str | None, fallback_org: str) -> Recipient:
    """The leader in charge; when the ledger names none, the supervising org is told instead."""
    if leader:
        return await directory.leader(leader)
    return await directory.org(fallback_org)

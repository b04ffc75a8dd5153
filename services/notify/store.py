"""Tables of the notify service: projections it needs, recipients, inbox, delivery queue, schedule state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, LargeBinary, RowMapping, Text, UniqueConstraint, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from contracts.calendar import WorkCalendar, YearCalendar
from runtime.db import UTCDateTime
from runtime.pagination import Key, fetch_page

OWN = {"service": "notify"}


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT (for ON CONFLICT DO NOTHING)."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


# --- what notify knows of other services (projections of their events) -----------------------------------

class OrgView(SQLModel, table=True):
    """An org as registered in the issues service (its name is what digests print)."""

    __tablename__ = "notify_org"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)


class IssueView(SQLModel, table=True):
    """What reminders and digests need of an issue: parties, leader, deadline, status, last progress."""

    __tablename__ = "notify_issue"
    __table_args__ = (
        Index("ix_notify_issue_open_deadline", "status", "deadline"),
        Index("ix_notify_issue_responsible", "responsible_org_id"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=64)
    code: str = Field(max_length=64)
    title: str = Field(sa_column=Column(Text, nullable=False))
    responsible_org_id: str = Field(max_length=64)
    cooperating_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supervising_org_id: str = Field(max_length=64)
    leader: str | None = Field(default=None, max_length=200)
    deadline: date
    status: str = Field(max_length=40)
    registered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # status moves of a moved-in row not seen yet (issue.registered's moves_following): until they are, the status
    # here is not the issue's, and no reminder, overdue notice or digest line is made of it
    moves_pending: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    progress_note: str | None = Field(default=None, sa_column=Column(Text))
    progress_percent: int | None = None
    progress_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class MilestoneView(SQLModel, table=True):
    """A milestone (重要节点) of an issue as its reminders and the weekly dispatch need it."""

    __tablename__ = "notify_milestone"
    __table_args__ = (Index("ix_notify_milestone_state_due", "state", "due_on"),
                      Index("ix_notify_milestone_issue", "issue_id"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(max_length=64)
    due_on: date
    description: str = Field(sa_column=Column(Text, nullable=False))
    target: str | None = Field(default=None, max_length=200)
    state: str = Field(max_length=20)  # pending (nothing stands reported), reported, confirmed
    outcome: str | None = Field(default=None, max_length=20)
    # when the standing report of "met" was made (None when none stands): met on time by the end of due_on
    met_reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Reinspection(SQLModel, table=True):
    """A task drawn for re-inspection (抽查, sample.drawn) and what its re-inspection found (sample.reinspected):
    the monthly bulletin of the draw's period lists them."""

    __tablename__ = "notify_reinspection"
    __table_args__ = ({"info": OWN},)

    sample_id: str = Field(primary_key=True, max_length=36)
    issue_id: str = Field(primary_key=True, max_length=36)
    period: str = Field(max_length=10, index=True)
    position: int
    stratum: str = Field(default="", max_length=100)
    code: str | None = Field(default=None, max_length=64)
    responsible_org_id: str = Field(max_length=64)
    outcome: str | None = Field(default=None, max_length=20)
    reinspector_org_id: str | None = Field(default=None, max_length=64)
    reinspected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Fact(SQLModel, table=True):
    """A countable event for the half-year account: signed_off, rejected, reopened, penalized (one per event)."""

    __tablename__ = "notify_fact"
    __table_args__ = (
        UniqueConstraint("event_id", "org_id", "kind", name="uq_notify_fact_once"),
        Index("ix_notify_fact_at", "at"),
        {"info": OWN},
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36)
    org_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    issue_id: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(Text))


# --- recipients --------------------------------------------------------------------------------------------

class OrgAddresses(SQLModel, table=True):
    """The e-mail addresses of an org (managed by the admin)."""

    __tablename__ = "notify_org_addresses"
    __table_args__ = ({"info": OWN},)

    org_id: str = Field(primary_key=True, max_length=64)
    emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Leader(SQLModel, table=True):
    """The address book: a leader's title as written in the ledger → the office inbox and e-mail addresses."""

    __tablename__ = "notify_leader"
    __table_args__ = ({"info": OWN},)

    title: str = Field(primary_key=True, max_length=200)
    name: str | None = Field(default=None, max_length=100)
    org_id: str | None = Field(default=None, max_length=64)
    emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Webhook(SQLModel, table=True):
    """A webhook subscription of an org: its URL, signing secret and the triggers it wants (empty = all)."""

    __tablename__ = "notify_webhook"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    org_id: str = Field(max_length=64, index=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# --- notices and their deliveries ----------------------------------------------------------------------------

class InboxItem(SQLModel, table=True):
    """One notice in a recipient's in-app inbox; unique per (notice key, recipient) so nothing arrives twice."""

    __tablename__ = "notify_inbox"
    __table_args__ = (UniqueConstraint("dedupe_key", "recipient", name="uq_notify_inbox_once"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    recipient: str = Field(max_length=220)  # an org id, or leader:<title>
    org_id: str | None = Field(default=None, max_length=64, index=True)  # whose inbox shows it
    type: str = Field(max_length=60)
    subject: str = Field(max_length=200)
    title: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str = Field(max_length=300)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Delivery(SQLModel, table=True):
    """One notice to one recipient over one channel and target: the persisted delivery queue."""

    __tablename__ = "notify_delivery"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "recipient", "channel", "target", name="uq_notify_delivery_once"),
        Index("ix_notify_delivery_due", "status", "next_attempt_at"),
        {"info": OWN},
    )

    id: str = Field(primary_key=True, max_length=36)
    dedupe_key: str = Field(max_length=300)
    notification_id: str | None = Field(default=None, max_length=36)
    trigger: str = Field(max_length=60)
    recipient: str = Field(max_length=220)
    org_id: str | None = Field(default=None, max_length=64, index=True)
    channel: str = Field(max_length=20)  # email, webhook
    target: str = Field(max_length=2000)  # the address, or the webhook subscription id
    subject: str = Field(max_length=200)
    title: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=20)  # pending, sending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claim: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# --- cadence -------------------------------------------------------------------------------------------------

class ReminderSent(SQLModel, table=True):
    """A reminder of an issue already issued, for the deadline it was about (an extension starts afresh)."""

    __tablename__ = "notify_reminder"
    __table_args__ = ({"info": OWN},)

    issue_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=20)
    deadline: date = Field(primary_key=True)
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ScheduleState(SQLModel, table=True):
    """A recurring schedule: when it started and the last occurrence it ran (survives restarts)."""

    __tablename__ = "notify_schedule"
    __table_args__ = ({"info": OWN},)

    name: str = Field(primary_key=True, max_length=40)
    anchor_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_occurrence: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Digest(SQLModel, table=True):
    """One run of a digest (weekly, monthly, half-year); a scheduled occurrence runs once (unique key)."""

    __tablename__ = "notify_digest"
    __table_args__ = (UniqueConstraint("run_key", name="uq_notify_digest_run"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    run_key: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # weekly, monthly, half_year
    period: str = Field(max_length=40)
    origin: str = Field(max_length=20)  # schedule, manual, ranking
    recipients: int = 0
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Bulletin(SQLModel, table=True):
    """A monthly bulletin (月通报) built from a published ranking: HTML and XLSX, kept as issued."""

    __tablename__ = "notify_bulletin"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=64)  # the ranking id
    period: str = Field(max_length=40)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=300)
    supersedes: str | None = Field(default=None, max_length=64)
    bottom_named: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    penalized: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    overdue_count: int = 0
    html: str = Field(sa_column=Column(Text, nullable=False))
    xlsx: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # a correction bulletin (更正通报) of a ranking published on an appeal's decision; None for a monthly bulletin
    appeal_id: str | None = Field(default=None, max_length=36)


class AppealView(SQLModel, table=True):
    """An appeal against a ranking as scoring's appeal.* events told it: for notices and the next bulletin."""

    __tablename__ = "notify_appeal"
    __table_args__ = ({"info": OWN},)

    id: str = Field(primary_key=True, max_length=36)
    ranking_id: str = Field(max_length=36)
    period: str = Field(max_length=10)
    kind: str = Field(max_length=20, index=True)
    org_id: str = Field(max_length=64)
    org_name: str | None = Field(default=None, max_length=200)
    component: str = Field(max_length=40)
    disputed_value: float
    reason: str = Field(sa_column=Column(Text, nullable=False))
    filed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    appeal_due: date
    decision_due: date
    status: str = Field(default="pending", max_length=20)
    reasons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    correction: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    corrected_ranking_id: str | None = Field(default=None, max_length=36)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    late: bool = False


# --- queries of the API ----------------------------------------------------------------------------------------

def _newest_first(created: Any, ident: Any, *, id_descending: bool) -> list[Key]:
    return [Key(created, created.key, datetime.fromisoformat, descending=True),
            Key(ident, "id", str, descending=id_descending)]


async def page_inbox(session: AsyncSession, *, org_id: str | None, leader: str | None, unread: bool,
                     type: str | None, cursor: str | None, limit: int) -> tuple[list[InboxItem], str | None]:
    """A page of an org's inbox, or of a leader's notices (`leader` given), newest first."""
    stmt = select(InboxItem).where(col(InboxItem.org_id) == (org_id or "") if leader is None
                                   else col(InboxItem.recipient) == f"leader:{leader}")
    if unread:
        stmt = stmt.where(col(InboxItem.read_at).is_(None))
    if type:
        stmt = stmt.where(col(InboxItem.type) == type)
    keys = _newest_first(col(InboxItem.created_at), col(InboxItem.id), id_descending=True)
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def count_unread(session: AsyncSession, *, org_id: str | None) -> int:
    """How many of an org's inbox items are unread: one COUNT over the org's rows (index ix_notify_inbox_org_id)."""
    stmt = (select(func.count()).select_from(InboxItem)
            .where(col(InboxItem.org_id) == (org_id or ""), col(InboxItem.read_at).is_(None)))
    return int((await session.execute(stmt)).scalar_one())


async def get_inbox_item(session: AsyncSession, *, item_id: str) -> InboxItem | None:
    """One inbox item by id."""
    return await session.get(InboxItem, item_id)


def mark_read(session: AsyncSession, *, item: InboxItem, now: datetime) -> None:
    """Mark an inbox item read, once (the first reading time stays)."""
    if item.read_at is None:
        item.read_at = now
        session.add(item)


async def put_addresses(session: AsyncSession, *, org_id: str, emails: list[str], now: datetime) -> OrgAddresses:
    """Set an org's e-mail addresses."""
    row = await session.get(OrgAddresses, org_id) or OrgAddresses(org_id=org_id, updated_at=now)
    row.emails, row.updated_at = emails, now
    session.add(row)
    return row


async def page_addresses(session: AsyncSession, *, cursor: str | None,
                         limit: int) -> tuple[list[OrgAddresses], str | None]:
    """A page of every org's addresses, by org id."""
    keys = [Key(col(OrgAddresses.org_id), "org_id")]
    return await fetch_page(session, select(OrgAddresses), keys, cursor=cursor, limit=limit)


async def put_leader(session: AsyncSession, *, title: str, name: str | None, org_id: str | None,
                     emails: list[str], now: datetime) -> Leader:
    """Map a leader's title to an office inbox and e-mails; notices already in that leader's inbox move along."""
    row = await session.get(Leader, title) or Leader(title=title, updated_at=now)
    row.name, row.org_id, row.emails, row.updated_at = name, org_id, emails, now
    session.add(row)
    for item in (await session.execute(select(InboxItem).where(col(InboxItem.recipient) == f"leader:{title}"))
                 ).scalars():
        item.org_id = org_id
        session.add(item)
    return row


async def page_leaders(session: AsyncSession, *, cursor: str | None, limit: int) -> tuple[list[Leader], str | None]:
    """A page of the address book, by title."""
    return await fetch_page(session, select(Leader), [Key(col(Leader.title), "title")], cursor=cursor, limit=limit)


async def delete_leader(session: AsyncSession, *, title: str) -> bool:
    """Remove a leader from the address book; False when there was none."""
    row = await session.get(Leader, title)
    if row is None:
        return False
    await session.delete(row)
    return True


def add_webhook(session: AsyncSession, *, hook: Webhook) -> None:
    """Store a new subscription."""
    session.add(hook)


async def get_webhook(session: AsyncSession, *, hook_id: str) -> Webhook | None:
    """One subscription by id."""
    return await session.get(Webhook, hook_id)


def deactivate_webhook(session: AsyncSession, *, hook: Webhook) -> None:
    """Stop a subscription; it is kept, so its delivery records still say where they went."""
    hook.active = False
    session.add(hook)


async def page_webhooks(session: AsyncSession, *, org_id: str | None, everyone: bool, cursor: str | None,
                        limit: int) -> tuple[list[Webhook], str | None]:
    """A page of subscriptions (all of them, or one org's), oldest first."""
    stmt = select(Webhook)
    if not everyone:
        stmt = stmt.where(col(Webhook.org_id) == (org_id or ""))
    keys = [Key(col(Webhook.created_at), "created_at", datetime.fromisoformat), Key(col(Webhook.id), "id")]
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def page_deliveries(session: AsyncSession, *, org_id: str | None, everyone: bool, status: str | None,
                          channel: str | None, cursor: str | None, limit: int) -> tuple[list[Delivery], str | None]:
    """A page of delivery records (all of them, or one org's), newest first."""
    stmt = select(Delivery)
    if not everyone:
        stmt = stmt.where(col(Delivery.org_id) == (org_id or ""))
    if status:
        stmt = stmt.where(col(Delivery.status) == status)
    if channel:
        stmt = stmt.where(col(Delivery.channel) == channel)
    keys = _newest_first(col(Delivery.created_at), col(Delivery.id), id_descending=False)
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def page_digests(session: AsyncSession, *, kind: str | None, cursor: str | None,
                       limit: int) -> tuple[list[Digest], str | None]:
    """A page of digest runs, newest first."""
    stmt = select(Digest)
    if kind:
        stmt = stmt.where(col(Digest.kind) == kind)
    keys = _newest_first(col(Digest.created_at), col(Digest.id), id_descending=False)
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit)


async def page_bulletins(session: AsyncSession, *, period: str | None, cursor: str | None,
                         limit: int) -> tuple[list[RowMapping], str | None]:
    """A page of bulletin records without their documents, newest first."""
    cols = [c for c in Bulletin.__table__.columns  # type: ignore[attr-defined]  # __table__ is untyped in SQLModel
            if c.name not in ("html", "xlsx")]
    stmt = select(*cols)
    if period:
        stmt = stmt.where(col(Bulletin.period) == period)
    keys = _newest_first(col(Bulletin.published_at), col(Bulletin.id), id_descending=False)
    return await fetch_page(session, stmt, keys, cursor=cursor, limit=limit, rows="mappings")


async def get_bulletin(session: AsyncSession, *, bulletin_id: str) -> Bulletin | None:
    """One bulletin with its documents."""
    return await session.get(Bulletin, bulletin_id)


# --- the working-day calendar (a copy of scoring's, kept by calendar.year_published) ------------------------------

class CalendarYear(SQLModel, table=True):
    """One year's holidays and make-up working days; seeded from chinese-calendar, replaced by scoring's events."""

    __tablename__ = "notify_calendar_year"
    __table_args__ = ({"info": OWN},)

    year: int = Field(primary_key=True)
    holidays: list[str] = Field(sa_column=Column(JSON, nullable=False))  # ISO dates
    workdays: list[str] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


async def work_calendar(session: AsyncSession) -> WorkCalendar:
    """Every year notify has a table for."""
    rows = (await session.execute(select(CalendarYear))).scalars().all()
    return WorkCalendar.of(YearCalendar(year=r.year, holidays=frozenset(date.fromisoformat(d) for d in r.holidays),
                                        workdays=frozenset(date.fromisoformat(d) for d in r.workdays)) for r in rows)


# --- official documents (公文) -----------------------------------------------------------------------------------

class DocumentCounter(SQLModel, table=True):
    """The last document number (文号) issued per kind and year."""

    __tablename__ = "notify_document_counter"
    __table_args__ = ({"info": OWN},)

    kind: str = Field(primary_key=True, max_length=20)
    year: int = Field(primary_key=True)
    last: int = 0


class DocumentRecord(SQLModel, table=True):
    """A bulletin's or digest's official document: its number, its content, and the hashes of its files."""

    __tablename__ = "notify_document"
    __table_args__ = (UniqueConstraint("kind", "year", "seq"), {"info": OWN})

    id: str = Field(primary_key=True, max_length=36)
    owner: str = Field(max_length=64, unique=True, index=True)  # the bulletin id or the digest id
    kind: str = Field(max_length=20)
    year: int
    seq: int
    number: str = Field(max_length=60)
    title: str = Field(max_length=300)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    docx_sha256: str | None = Field(default=None, max_length=64)
    pdf_sha256: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=500)
    rendered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


async def documents_of(session: AsyncSession, *, owners: list[str]) -> dict[str, DocumentRecord]:
    """The documents of some bulletins or digests, by owner."""
    if not owners:
        return {}
    rows = (await session.execute(select(DocumentRecord).where(col(DocumentRecord.owner).in_(owners)))).scalars()
    return {r.owner: r for r in rows}

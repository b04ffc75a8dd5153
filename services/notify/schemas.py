"""What the notify API reads (`*In`) and answers (`*Out`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, field_validator

from runtime.answers import Out

# ---- requests -----------------------------------------------------------------------------------------------


class AddressesIn(BaseModel):
    emails: list[str] = Field(default_factory=list, max_length=50)


class LeaderIn(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    org_id: str | None = Field(default=None, max_length=64, description="the office whose inbox shows the notices")
    emails: list[str] = Field(default_factory=list, max_length=50)


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


class WeeklyIn(BaseModel):
    org_id: str | None = Field(default=None, min_length=1, max_length=64,
                               description="only this org (default: every org with open issues)")


class HalfYearIn(BaseModel):
    period: str | None = Field(default=None, description="e.g. 2020-H1; default: the last half year that ended")


# ---- answers ------------------------------------------------------------------------------------------------


class InboxItemOut(Out):
    """One notice in an inbox."""

    id: str
    type: str = Field(description="触发类型 (the trigger)")
    subject: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    recipient: str = Field(description="an org id, or leader:<title>")


class UnreadCountOut(Out):
    """How many of the caller's org's notices are unread."""

    unread: int = Field(ge=0, description="未读消息数 (the org's unread notices, exact)")


class AddressesOut(Out):
    org_id: str
    emails: list[str]
    updated_at: datetime


class LeaderOut(Out):
    """An address-book entry: a leader's title as written in the ledger → office inbox and e-mails."""

    title: str
    name: str | None
    org_id: str | None
    emails: list[str]
    updated_at: datetime


class WebhookOut(Out):
    """A subscription (its secret is never shown)."""

    id: str
    org_id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class DeliveryOut(Out):
    """One notice to one recipient over one channel, with its attempts and last error."""

    id: str
    notification_id: str | None
    trigger: str
    recipient: str
    org_id: str | None
    channel: Literal["email", "webhook"]
    target: str
    subject: str
    title: str
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DigestRunOut(Out):
    """A digest just run."""

    digest_id: str
    kind: Literal["weekly", "monthly", "half_year"]
    period: str
    origin: str
    recipients: int


class HalfYearRowOut(Out):
    org_id: str
    org_name: str
    assigned: int
    completed: int
    overdue: int
    signed_off: int
    rejected: int
    reopened: int
    penalized: int


class HalfYearRunOut(DigestRunOut):
    """The half-year account (半年交账) just sent, with its table."""

    table: list[HalfYearRowOut]


class DigestOut(Out):
    """One recorded digest run."""

    id: str
    run_key: str
    kind: Literal["weekly", "monthly", "half_year", "correction"] = Field(
        description="correction: 更正通报 after an upheld appeal")
    period: str
    origin: str = Field(description="schedule, manual or ranking")
    recipients: int
    created_at: datetime
    document: DocumentOut | None = None


class DocumentOut(Out):
    """The official document (公文) of a bulletin or digest: its number and, once rendered, its files' hashes."""

    number: str = Field(description="文号, e.g. 呼环督改通〔2020〕3号")
    title: str
    docx_sha256: str | None
    pdf_sha256: str | None
    rendered_at: datetime | None
    error: str | None = Field(description="the last rendering error (it is retried)")
    docx_url: str
    pdf_url: str


class BulletinOut(Out):
    """A monthly bulletin's record and where to download it."""

    id: str
    period: str
    kind: str
    title: str
    supersedes: str | None
    bottom_named: list[str]
    penalized: list[str]
    overdue_count: int
    published_at: datetime
    created_at: datetime
    html_url: str
    xlsx_url: str
    document: DocumentOut | None = None
    appeal_id: str | None = Field(default=None, description="更正通报:所依据的申诉 (a correction bulletin: its appeal)")

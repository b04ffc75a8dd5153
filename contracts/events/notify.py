"""Events published by the notify service: notification.*, digest.*."""

from __future__ import annotations

from contracts.registry import Payload, event


@event("notification.created", 1)
class NotificationCreated(Payload):
    notification_id: str
    trigger: str
    org_id: str | None = None
    recipient: str
    subject: str
    title: str


@event("digest.published", 1)
class DigestPublished(Payload):
    """A digest went out: the weekly dispatch (周调度), a monthly bulletin (月通报) or a half-year account (半年交账)."""

    digest_id: str
    kind: str  # weekly, monthly, half_year
    period: str  # 2020-W23, 2020-06, 2020-H1
    origin: str  # schedule, manual, ranking
    recipients: int
    bulletin_id: str | None = None

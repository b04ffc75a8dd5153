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

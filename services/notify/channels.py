"""Delivering queued notices: webhooks (HMAC-SHA256 signed) and e-mail (SMTP), retried with backoff.

The queue is the `notify_delivery` table. A worker claims a due row with a conditional UPDATE (a lease and a
claim token), sends outside any transaction, then records the outcome only if its claim still holds. A worker
that dies mid-send leaves the row claimed until its lease runs out; then it is sent again with the same
delivery id (header `X-Closeloop-Delivery`, e-mail `Message-ID`), so a receiver can drop the repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, cast
from urllib.parse import urlsplit

import aiosmtplib
import httpx
import structlog
from sqlalchemy import CursorResult, or_, select, update
from sqlmodel import col

from runtime.bootstrap import Runtime
from runtime.clock import SHANGHAI
from services.notify import targets
from services.notify.settings import settings_of
from services.notify.store import Delivery, Webhook

log = structlog.get_logger("closeloop.notify.delivery")

SIGNATURE_HEADER = "X-Closeloop-Signature"
TIMESTAMP_HEADER = "X-Closeloop-Timestamp"
DELIVERY_HEADER = "X-Closeloop-Delivery"


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=` and the hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_body(d: Delivery) -> bytes:
    """The JSON a webhook receives (UTF-8, Chinese kept as is); the same bytes on every attempt."""
    return json.dumps({"delivery_id": d.id, "notification_id": d.notification_id, "type": d.trigger,
                       "recipient": d.recipient, "org_id": d.org_id, "subject": d.subject, "title": d.title,
                       "body": d.body, "created_at": d.created_at.isoformat()},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def email_message(d: Delivery, *, sender: str) -> EmailMessage:
    """The e-mail of a delivery; the Message-ID is the delivery's, so a resend is recognisable."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = d.target
    msg["Subject"] = d.title
    msg["Message-ID"] = f"<{d.id}@closeloop>"
    msg["Date"] = format_datetime(d.created_at.astimezone(SHANGHAI))
    msg.set_content(f"{d.body}\n\n(闭环 Closed Loop 系统通知,{d.subject})", charset="utf-8")
    return msg


class Sender:
    """Sends one delivery over its channel; raises with a readable error when it fails."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, d: Delivery, now: datetime) -> None:
        if d.channel == "webhook":
            await self.webhook(d, now)
        elif d.channel == "email":
            await self.email(d)
        else:
            raise ValueError(f"unknown channel {d.channel}")

    async def webhook(self, d: Delivery, now: datetime) -> None:
        async with self.rt.read() as session:
            hook = await session.get(Webhook, d.target)
        if hook is None or not hook.active:
            raise RuntimeError(f"webhook subscription {d.target} no longer exists")
        body = webhook_body(d)
        headers = {"Content-Type": "application/json; charset=utf-8", SIGNATURE_HEADER: sign(hook.secret, body),
                   TIMESTAMP_HEADER: str(int(now.timestamp())), DELIVERY_HEADER: d.id,
                   "X-Closeloop-Event": d.trigger}
        cfg = settings_of(self.rt)
        target = await asyncio.to_thread(targets.check_url, hook.url, allow=cfg.notify_webhook_allow)
        where = _origin(hook.url)
        # Connect to the address just checked (the name is not resolved again); Host and TLS name stay the URL's.
        async with httpx.AsyncClient(timeout=cfg.notify_delivery_timeout, follow_redirects=False) as client:
            response = await client.post(target.url, content=body, headers={**headers, "Host": target.host},
                                         extensions={"sni_hostname": urlsplit(hook.url).hostname or ""})
        if response.status_code >= 300:
            # Only the status line is kept: the answer body is the receiver's and the org may read this record.
            raise RuntimeError(f"HTTP {response.status_code} from {where}")

    async def email(self, d: Delivery) -> None:
        s = self.rt.settings
        if not s.smtp_host:
            raise RuntimeError("no SMTP server configured (CLOSELOOP_SMTP_HOST)")
        await aiosmtplib.send(email_message(d, sender=s.smtp_from), hostname=s.smtp_host, port=s.smtp_port,
                              timeout=settings_of(self.rt).notify_delivery_timeout, start_tls=False, use_tls=False)


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: what a delivery record may say about where it went (no path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def backoff(attempts: int, base: float) -> timedelta:
    """Delay before the next attempt: base, 2×base, 4×base, …"""
    return timedelta(seconds=base * (2 ** max(0, attempts - 1)))


async def claim_due(rt: Runtime, *, limit: int) -> list[Delivery]:
    """Take up to `limit` deliveries that are due (or whose worker's lease ran out), each for this worker only."""
    cfg = settings_of(rt)
    now = rt.clock.now()
    due = or_(and_pending(now), and_expired(now))
    async with rt.read() as session:
        ids = (await session.execute(
            select(col(Delivery.id)).where(due).order_by(col(Delivery.next_attempt_at)).limit(limit))).scalars().all()
    claimed: list[Delivery] = []
    for delivery_id in ids:
        token = str(uuid.uuid4())
        async with rt.sessions() as session, session.begin():
            result = await session.execute(
                update(Delivery).where(col(Delivery.id) == delivery_id, due)
                .values(status="sending", claim=token, lease_until=now + timedelta(seconds=cfg.notify_delivery_lease),
                        attempts=col(Delivery.attempts) + 1))
            if cast(CursorResult[Any], result).rowcount != 1:
                continue  # another worker took it
            row = await session.get(Delivery, delivery_id, populate_existing=True)
            assert row is not None
            claimed.append(row)
    return claimed


def and_pending(now: datetime) -> Any:
    return (Delivery.status == "pending") & (Delivery.next_attempt_at <= now)


def and_expired(now: datetime) -> Any:
    return (col(Delivery.status) == "sending") & (col(Delivery.lease_until) <= now)


async def _record(rt: Runtime, d: Delivery, error: str | None) -> None:
    cfg = settings_of(rt)
    now = rt.clock.now()
    if error is None:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
    elif d.attempts >= cfg.notify_delivery_attempts:
        values = {"status": "failed", "last_error": error}
    else:
        values = {"status": "pending", "last_error": error,
                  "next_attempt_at": now + backoff(d.attempts, cfg.notify_delivery_backoff)}
    async with rt.sessions() as session, session.begin():
        await session.execute(update(Delivery).where(col(Delivery.id) == d.id, col(Delivery.claim) == d.claim)
                              .values(claim=None, lease_until=None, **values))


async def deliver_due(rt: Runtime, *, limit: int | None = None) -> int:
    """Send what is due now; returns how many were attempted."""
    cfg = settings_of(rt)
    batch = await claim_due(rt, limit=limit or cfg.notify_delivery_batch)
    send = Sender(rt)
    now = rt.clock.now()

    async def one(d: Delivery) -> None:
        try:
            await send(d, now)
            error = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the delivery and retried
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("delivery_failed", delivery_id=d.id, channel=d.channel, attempt=d.attempts, error=error)
        await _record(rt, d, error)

    await asyncio.gather(*(one(d) for d in batch))
    return len(batch)


async def delivery_worker(rt: Runtime) -> None:
    """Background task: work the delivery queue until cancelled."""
    while True:
        try:
            busy = await deliver_due(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the rows stay queued; the next pass takes them
            log.warning("delivery_worker_failed", error=repr(exc))
            busy = 0
        if not busy:
            await asyncio.sleep(settings_of(rt).notify_worker_interval)

"""Two notify replicas on one real PostgreSQL database: events, ticks and deliveries race, each notice once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from runtime.clock import SettableClock
from services.notify.channels import deliver_due
from services.notify.digests import tick
from services.notify.store import Delivery, InboxItem
from tests.notify.helpers import Receiver, registered, settle, sh
from tests.support import running

pytestmark = pytest.mark.postgres


async def test_two_replicas_on_postgres_issue_and_deliver_each_notice_once(tmp_path: Path, pg_url: str) -> None:
    clock = SettableClock(sh("2020-06-07T12:00"))
    receiver = await Receiver("pg-replica-secret-0123456789").start()
    try:
        async with (running("notify", tmp_path / "a", clock=clock, database_url=pg_url,
                            notify_webhook_allow=["127.0.0.1/32"]) as a,
                    running("notify", tmp_path / "b", clock=clock, database_url=pg_url,
                            notify_webhook_allow=["127.0.0.1/32"]) as b):
            r = await a.client.post("/v1/webhooks", headers=a.auth(org="city-eeb", roles="supervisor"), json={
                "org_id": "city-eeb", "url": receiver.url, "secret": "pg-replica-secret-0123456789"})
            assert r.status_code == 201, r.text
            events = [registered(str(uuid.uuid4()), deadline="2020-06-10") for _ in range(8)]
            outcomes = await asyncio.gather(*(rep.deliver(e) for e in events for rep in (a, b)))
            assert sorted(outcomes).count("handled") == 8
            await asyncio.gather(tick(a.rt), tick(b.rt))  # the 7-day reminders fell due on 3 June
            # Let in-flight sends finish before jumping the clock 8 days: a jump past their leases would
            # (rightly) let the other replica take them over and send again, at least once by design.
            await settle(a)
            clock.set(sh("2020-06-15T09:30"))
            await asyncio.gather(tick(a.rt), tick(b.rt), tick(a.rt), tick(b.rt))
            await asyncio.gather(deliver_due(a.rt), deliver_due(b.rt), deliver_due(a.rt))
            await settle(a)
            async with a.rt.read() as session:
                per_type = dict((await session.execute(
                    select(InboxItem.type, func.count()).where(InboxItem.recipient == "city-eeb")
                    .group_by(InboxItem.type))).all())
                statuses = dict((await session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status))).all())
        assert per_type == {"issue.assigned": 8, "deadline.near": 8, "issue.overdue": 8,
                            "digest.weekly": 1}
        assert statuses == {"delivered": 25}
        ids = [r["headers"]["x-closeloop-delivery"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 25 and all(r["valid"] for r in receiver.received)
    finally:
        await receiver.stop()

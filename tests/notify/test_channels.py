"""Channels: webhooks to a real local HTTP receiver (signature checked, retried), e-mail to a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from runtime.clock import SettableClock
from services.notify import channels
from services.notify.channels import claim_due, deliver_due
from tests.notify.helpers import Receiver, deliveries, registered, settle, sh
from tests.support import running

SECRET = "s3cret-webhook-key-0123456789"
LOCAL = ["127.0.0.1/32"]  # the test receiver listens on loopback: allowed explicitly, as an intranet receiver


def new_id() -> str:
    return str(uuid.uuid4())


async def subscribe(s, url: str, *, secret: str = SECRET, types: list[str] | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await s.client.post("/v1/webhooks", headers=s.auth(org="city-eeb", roles="responsible"),
                            json={"org_id": "city-eeb", "url": url, "secret": secret, "event_types": types or []})
    assert r.status_code == 201, r.text
    assert "secret" not in r.json()
    return r.json()  # type: ignore[no-any-return]


async def test_webhook_is_signed_and_retried_with_backoff_until_it_succeeds(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    receiver = await Receiver(SECRET, fail=2).start()
    try:
        async with running("notify", tmp_path, notify_webhook_allow=LOCAL, clock=clock, notify_delivery_backoff=60,
                           notify_delivery_attempts=5) as s:
            await subscribe(s, receiver.url)
            issue = new_id()
            await s.deliver(registered(issue))
            await settle(s)
            assert len(receiver.received) == 1
            [d] = await deliveries(s)
            assert (d["status"], d["attempts"], d["channel"]) == ("pending", 1, "webhook")
            assert "HTTP 500" in d["last_error"]
            clock.advance(timedelta(seconds=59))
            await settle(s)
            assert len(receiver.received) == 1  # not before its backoff
            clock.advance(timedelta(seconds=1))
            await settle(s)
            assert len(receiver.received) == 2
            clock.advance(timedelta(seconds=119))
            await settle(s)
            assert len(receiver.received) == 2  # the second wait is twice the first
            clock.advance(timedelta(seconds=1))
            await settle(s)
            [d] = await deliveries(s)
            assert (d["status"], d["attempts"], d["last_error"]) == ("delivered", 3, None)
        assert all(r["valid"] for r in receiver.received)
        assert {r["headers"]["x-closeloop-delivery"] for r in receiver.received} == {d["id"]}
        assert all(r["headers"]["x-closeloop-timestamp"].isdigit() for r in receiver.received)
        body = receiver.received[-1]["body"]
        assert (body["type"], body["subject"], body["recipient"]) == ("issue.assigned", issue, "city-eeb")
        assert "全市细颗粒物(PM2.5)年均浓度实现达标" in body["title"]
    finally:
        await receiver.stop()


async def test_webhook_that_keeps_failing_is_marked_failed_with_the_last_error(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    receiver = await Receiver("a-different-secret-than-ours!!").start()  # every signature is wrong for it
    try:
        async with running("notify", tmp_path, notify_webhook_allow=LOCAL, clock=clock, notify_delivery_backoff=10,
                           notify_delivery_attempts=3) as s:
            await subscribe(s, receiver.url)
            await s.deliver(registered(new_id()))
            for _ in range(4):
                await settle(s)
                clock.advance(timedelta(minutes=5))
            [d] = await deliveries(s)
            assert (d["status"], d["attempts"]) == ("failed", 3)
            assert "HTTP 401" in d["last_error"]
            r = await s.client.get("/v1/deliveries", params={"status": "failed"},
                                   headers=s.auth(org="city-eeb", roles="responsible"))
            assert [x["id"] for x in r.json()["items"]] == [d["id"]]
            r = await s.client.get("/v1/deliveries", headers=s.auth(org="city-water", roles="responsible"))
            assert r.json()["items"] == []
        assert len(receiver.received) == 3 and not any(r["valid"] for r in receiver.received)
    finally:
        await receiver.stop()


async def test_webhook_receives_only_the_triggers_it_subscribed_to(tmp_path: Path) -> None:
    receiver = await Receiver(SECRET).start()
    try:
        async with running("notify", tmp_path, notify_webhook_allow=LOCAL, clock=SettableClock(sh("2020-06-01T10:00"))) as s:
            await subscribe(s, receiver.url, types=["closure.rejected"])
            issue = new_id()
            await s.deliver(registered(issue))
            from tests.notify.helpers import VERIFICATION
            await s.deliver(VERIFICATION.make("closure.rejected", issue, {
                "closure_id": new_id(), "issue_id": issue, "responsible_org_id": "city-eeb",
                "supervising_org_id": "inspection-office", "opinion": "材料不全", "reason_code": "other"}))
            await settle(s)
        assert [r["body"]["type"] for r in receiver.received] == ["closure.rejected"]
        assert "材料不全" in receiver.received[0]["body"]["body"]
    finally:
        await receiver.stop()


async def test_a_worker_crash_after_claiming_loses_nothing_and_sends_once_after_the_lease(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    receiver = await Receiver(SECRET).start()
    # The first instance's own background worker must not take the delivery before the "dying" worker does.
    async def idle_worker(rt: object) -> int:
        return 0

    monkeypatch.setattr(channels, "deliver_due", idle_worker)
    try:
        async with running("notify", tmp_path, notify_webhook_allow=LOCAL, clock=clock) as s:
            await subscribe(s, receiver.url)
            await s.deliver(registered(new_id()))
            claimed = await claim_due(s.rt, limit=10)  # ... and the worker dies before sending
            assert len(claimed) == 1
        monkeypatch.undo()
        async with running("notify", tmp_path, notify_webhook_allow=LOCAL, clock=clock, notify_delivery_lease=120) as s:
            assert await deliver_due(s.rt) == 0
            assert receiver.received == []  # still leased to the dead worker
            clock.advance(timedelta(seconds=121))
            await settle(s)
            await settle(s)
            [d] = await deliveries(s)
            assert d["status"] == "delivered"
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


async def test_email_reaches_a_real_smtp_server_with_chinese_subject_and_body_intact(tmp_path: Path) -> None:
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        clock = SettableClock(sh("2020-06-01T10:00"))
        async with running("notify", tmp_path, clock=clock, smtp_host="127.0.0.1", smtp_port=port,
                           smtp_from="closeloop@hohhot.gov.cn") as s:
            r = await s.client.put("/v1/recipients/city-eeb", headers=s.auth(org="inspection-office", roles="admin"),
                                   json={"emails": ["eeb@hohhot.gov.cn", "duty@hohhot.gov.cn"]})
            assert r.status_code == 200, r.text
            await s.deliver(registered(new_id(), code="HH-2020-004"))
            await settle(s)
            assert {d["status"] for d in await deliveries(s)} == {"delivered"}
    finally:
        await asyncio.to_thread(controller.stop)
    assert sorted(rcpt for rcpts, _ in handler.messages for rcpt in rcpts) == ["duty@hohhot.gov.cn",
                                                                            "eeb@hohhot.gov.cn"]
    msg = email.message_from_bytes(handler.messages[0][1], policy=email.policy.default)
    assert msg["Subject"] == "整改任务交办:HH-2020-004 全市细颗粒物(PM2.5)年均浓度实现达标"
    assert msg["From"] == "closeloop@hohhot.gov.cn"
    text = msg.get_content()
    assert "整改任务 HH-2020-004「全市细颗粒物(PM2.5)年均浓度实现达标」已交办贵单位牵头办理" in text


async def test_email_without_an_smtp_server_is_recorded_as_failed_not_lost(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    async with running("notify", tmp_path, clock=clock, notify_delivery_attempts=1) as s:
        await s.client.put("/v1/recipients/city-eeb", headers=s.auth(org="inspection-office", roles="admin"),
                           json={"emails": ["eeb@hohhot.gov.cn"]})
        await s.deliver(registered(new_id()))
        await settle(s)
        [d] = await deliveries(s)
        assert d["status"] == "failed" and "CLOSELOOP_SMTP_HOST" in d["last_error"]

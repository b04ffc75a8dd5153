"""Webhooks reach only public receivers, or intranet ones the operator allowed by name or CIDR."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from runtime.clock import SettableClock
from services.notify.targets import TargetRefused, check_address, check_url
from tests.notify.helpers import Receiver, deliveries, registered, settle, sh
from tests.support import running

SECRET = "s3cret-webhook-key-0123456789"
HOSTILE = ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/", "http://localhost/",
           "http://LOCALHOST./x", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/",
           "http://[::ffff:169.254.169.254]/", "http://[::1]:8080/", "http://[fe80::1]/", "http://224.0.0.1/",
           "http://0.0.0.0/", "http://100.64.0.1/", "http://240.0.0.1/", "http://metadata.google.internal/",
           "https://user:pass@hooks.example.com/", "https://token@hooks.example.com/"]


@pytest.mark.parametrize("url", HOSTILE)
async def test_a_subscription_to_a_private_loopback_link_local_or_metadata_target_is_422_naming_url(
        tmp_path: Path, url: str) -> None:
    async with running("notify", tmp_path) as s:
        eeb = s.auth(org="city-eeb", roles="responsible")
        r = await s.client.post("/v1/webhooks", headers=eeb,
                                json={"org_id": "city-eeb", "url": url, "secret": SECRET})
        assert r.status_code == 422, (url, r.text)
        assert [d["field"] for d in r.json()["error"]["details"]] == ["url"]
        assert (await s.client.get("/v1/webhooks", headers=eeb)).json()["items"] == []


def test_every_resolved_address_is_checked_with_ipaddress_not_by_string() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "::ffff:127.0.0.1", "::ffff:a9fe:a9fe", "fd00::1", "::", "ff02::1",
                    "2002:7f00:1::1"):
        with pytest.raises(TargetRefused):
            check_address(address, allow=())
    check_address("93.184.216.34", allow=())
    check_address("10.1.2.3", allow=("10.0.0.0/8",))
    check_address("::ffff:10.1.2.3", allow=("10.0.0.0/8",))
    with pytest.raises(TargetRefused):
        check_url("http://receiver.intranet/x", allow=(), resolve=lambda host: ["8.8.8.8", "10.0.0.7"])
    check_url("http://receiver.intranet/x", allow=("receiver.intranet",), resolve=lambda host: ["10.0.0.7"])
    check_url("https://hooks.example.com/x", allow=(), resolve=lambda host: ["93.184.216.34"])


async def test_an_allowed_subscription_is_refused_at_delivery_when_its_name_resolves_to_a_private_address(
        tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    receiver = await Receiver(SECRET).start()
    try:
        # Subscribed while allowed by name, e.g. before the name was pointed elsewhere; delivery checks again.
        async with running("notify", tmp_path, clock=clock, notify_webhook_allow=["127.0.0.1/32"]) as s:
            r = await s.client.post("/v1/webhooks", headers=s.auth(org="city-eeb", roles="responsible"),
                                    json={"org_id": "city-eeb", "url": receiver.url.replace("127.0.0.1", "localhost"),
                                          "secret": SECRET})
            assert r.status_code == 422  # localhost by name is not in the CIDR allow-list
            r = await s.client.post("/v1/webhooks", headers=s.auth(org="city-eeb", roles="responsible"),
                                    json={"org_id": "city-eeb", "url": receiver.url, "secret": SECRET})
            assert r.status_code == 201, r.text
        async with running("notify", tmp_path, clock=clock) as s:  # the allow-list withdrawn
            await s.deliver(registered(str(uuid.uuid4())))
            await settle(s)
            [d] = await deliveries(s)
            assert d["status"] in {"pending", "failed"} and "127.0.0.1" in d["last_error"]
        assert receiver.received == []
    finally:
        await receiver.stop()


async def test_a_failed_delivery_keeps_only_the_status_line_never_the_answer_body(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-06-01T10:00"))
    receiver = await Receiver("a-different-secret-than-ours!!").start()
    try:
        async with running("notify", tmp_path, clock=clock, notify_webhook_allow=["127.0.0.1"]) as s:
            r = await s.client.post("/v1/webhooks", headers=s.auth(org="city-eeb", roles="responsible"),
                                    json={"org_id": "city-eeb", "url": receiver.url + "?token=abc",
                                          "secret": SECRET})
            assert r.status_code == 201, r.text
            await s.deliver(registered(str(uuid.uuid4())))
            await settle(s)
            [d] = await deliveries(s)
            assert re.fullmatch(r"RuntimeError: HTTP 401 from http://127\.0\.0\.1:\d+", d["last_error"]), d
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()

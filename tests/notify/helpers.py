"""Helpers of the notify tests: events as the peers publish them, inbox reads, draining the delivery queue."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from runtime.clock import SHANGHAI, SettableClock
from services.notify.channels import deliver_due
from services.notify.store import Delivery
from tests.support import EventFactory, Running

ISSUES = EventFactory("issues")
VERIFICATION = EventFactory("verification")
SCORING = EventFactory("scoring")
LEADER = "分管副市长(生态环境)"


def sh(iso: str) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime.fromisoformat(iso).replace(tzinfo=SHANGHAI)


def registered(issue_id: str, *, deadline: str = "2020-06-20", responsible: str = "city-eeb",
               supervising: str = "inspection-office", cooperating: list[str] | None = None,
               leader: str | None = LEADER, code: str | None = None, at: datetime | None = None) -> Any:
    return ISSUES.make("issue.registered", issue_id, time=at, data={
        "issue_id": issue_id, "code": code or f"HH-{issue_id}", "round_id": "nm-2019-inspection",
        "category": "air", "title": "全市细颗粒物(PM2.5)年均浓度实现达标", "responsible_org_id": responsible,
        "cooperating_org_ids": cooperating or [], "supervising_org_id": supervising, "leader": leader,
        "deadline": date.fromisoformat(deadline).isoformat()})


def moved(decision: Any) -> Any:
    """The issue.status_changed the issues service emits for a verification event (to the action's status)."""
    from contracts import lifecycle

    action = lifecycle.EVENT_ACTIONS[decision.type]
    target = lifecycle.target_of(action)
    source = lifecycle.sources_of(action)[0]
    issue_id = decision.data["issue_id"]
    return ISSUES.make("issue.status_changed", issue_id, time=decision.time, data={
        "issue_id": issue_id, "from_status": source.value, "to_status": target.value, "action": action.value,
        "cause_event_id": str(decision.id), "at": decision.time.isoformat()})


def org(org_id: str, name: str, kind: str = "department") -> Any:
    return ISSUES.make("org.registered", org_id, {"org_id": org_id, "name": name, "kind": kind})


async def inbox(s: Running, org_id: str | None, **params: Any) -> list[dict[str, Any]]:
    roles = "leader" if "leader" in params else "responsible"
    r = await s.client.get("/v1/inbox", params={"limit": 500, **params},
                           headers=s.auth(org=org_id, roles=roles))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def deliveries(s: Running) -> list[dict[str, Any]]:
    r = await s.client.get("/v1/deliveries", params={"limit": 500}, headers=s.auth(org="inspection-office",
                                                                                  roles="admin"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def settle(s: Running) -> None:
    """Work the delivery queue until nothing is due or in flight (the background worker may hold some)."""
    rt = s.rt
    for _ in range(500):
        await deliver_due(rt)
        async with rt.read() as session:
            busy = (await session.execute(select(func.count()).select_from(Delivery).where(or_(
                Delivery.status == "sending",
                (Delivery.status == "pending") & (Delivery.next_attempt_at <= rt.clock.now()))))).scalar_one()
        if not busy:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("delivery queue did not settle")


@dataclass
class Receiver:
    """A real local HTTP server that checks the webhook signature; answers `fail` times with 500 first."""

    secret: str
    fail: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    server: asyncio.AbstractServer | None = None

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, headers.get("x-closeloop-signature", ""))
        self.received.append({"headers": headers, "body": json.loads(body.decode("utf-8")), "valid": valid})
        if not valid:
            status = "401 Unauthorized"
        elif self.fail > 0:
            self.fail -= 1
            status = "500 Internal Server Error"
        else:
            status = "204 No Content"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


def early() -> SettableClock:
    """A clock on 2020-06-01 10:00 in Shanghai, well before the test deadlines."""
    return SettableClock(sh("2020-06-01T10:00"))

"""Helpers for the verification tests: issues learned from events, photos with and without EXIF, uploads."""

from __future__ import annotations

import functools
import io
import random
import uuid
from typing import Any

import httpx
from PIL import Image, ImageDraw

from tests.support import EventFactory, Running

ROUND = "nm-2019-inspection"
FEEDBACK_ON = "2020-05-17"
SITE = {"latitude": 40.8424, "longitude": 111.7490}  # 呼和浩特, a site of the ledger
RESP, SUPER, OTHER = "city-eeb", "inspection-office", "saihan-district"


@functools.lru_cache(maxsize=64)
def photo(seed: int = 1, *, quality: int = 90, taken: str | None = None,
          gps: tuple[float, float] | None = None, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG with real structure (so its perceptual hash means something), optionally with EXIF time and GPS."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(img)
    for _ in range(24):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        x1, y1 = x0 + rnd.randrange(20, 160), y0 + rnd.randrange(20, 120)
        draw.rectangle((x0, y0, x1, y1), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    if gps:
        def dms(v: float) -> tuple[float, float, float]:
            d = int(abs(v))
            m = int((abs(v) - d) * 60)
            return (float(d), float(m), round((abs(v) - d - m / 60) * 3600, 4))
        exif.get_ifd(0x8825).update({1: "N" if gps[0] >= 0 else "S", 2: dms(gps[0]),
                                     3: "E" if gps[1] >= 0 else "W", 4: dms(gps[1])})
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def reencode(content: bytes, *, quality: int) -> bytes:
    """The same picture saved again at another JPEG quality (different bytes, same look)."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(content)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class World:
    """A verification service fed with issues events by hand, with tokens for every kind of caller."""

    def __init__(self, ver: Running) -> None:
        self.ver = ver
        self.events = EventFactory("issues")
        self.round_sent = False

    @property
    def client(self) -> httpx.AsyncClient:
        return self.ver.client

    def who(self, role: str, org: str | None) -> dict[str, str]:
        roles: list[str] = [] if role == "none" else [role]
        return self.ver.auth(sub=f"{role}@{org}", org=org, roles=roles)

    @property
    def resp(self) -> dict[str, str]:
        return self.who("responsible", RESP)

    @property
    def sup(self) -> dict[str, str]:
        return self.who("supervisor", SUPER)

    @property
    def admin(self) -> dict[str, str]:
        return self.who("admin", SUPER)

    async def issue(self, *, location: dict[str, float] | None = SITE, status: str = "registered",
                    responsible: str = RESP, supervising: str = SUPER, cooperating: list[str] | None = None) -> str:
        """Deliver round.registered (once) and issue.registered (and the start) as the issues service would."""
        if not self.round_sent:
            env = self.events.make("round.registered", ROUND, {"round_id": ROUND, "name": "自治区第一生态环境保护督察组",
                                                               "level": "regional", "feedback_on": FEEDBACK_ON})
            assert await self.ver.deliver(env) == "handled"
            self.round_sent = True
        issue_id = str(uuid.uuid4())
        data: dict[str, Any] = {
            "issue_id": issue_id, "code": f"HH-{issue_id[:6]}", "round_id": ROUND, "category": "air",
            "title": "扬尘污染治理不到位", "responsible_org_id": responsible, "supervising_org_id": supervising,
            "cooperating_org_ids": cooperating or [], "deadline": "2020-12-31", "location": location,
        }
        assert await self.ver.deliver(self.events.make("issue.registered", issue_id, data)) == "handled"
        if status == "in_progress":
            env = self.events.make("issue.started", issue_id, {"issue_id": issue_id, "responsible_org_id": responsible})
            assert await self.ver.deliver(env) == "ignored"  # status comes from issue.status_changed only
            moved = self.events.make("issue.status_changed", issue_id, {
                "issue_id": issue_id, "from_status": "registered", "to_status": "in_progress", "action": "start",
                "cause_event_id": str(env.id), "at": env.time.isoformat()})
            assert await self.ver.deliver(moved) == "handled"
        return issue_id

    async def upload(self, issue_id: str, content: bytes | None = None, *, headers: dict[str, str] | None = None,
                     name: str = "site.jpg", kind: str = "photo", **fields: Any) -> httpx.Response:
        data = {"issue_id": issue_id, "kind": kind, **{k: str(v) for k, v in fields.items()}}
        body = photo() if content is None else content
        return await self.client.post("/v1/evidence", headers=headers or self.resp, data=data,
                                      files={"file": (name, body, "image/jpeg")})

    async def evidence(self, issue_id: str, content: bytes | None = None, **kw: Any) -> str:
        r = await self.upload(issue_id, content, **kw)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def apply(self, issue_id: str, evidence_ids: list[str], *, headers: dict[str, str] | None = None
                    ) -> httpx.Response:
        return await self.client.post("/v1/closures", headers=headers or self.resp, json={
            "issue_id": issue_id, "summary": "已完成整改,道路硬化并设置围挡", "evidence_ids": evidence_ids})

    async def open_closure(self, issue_id: str, *, org: str = RESP) -> str:
        who = self.who("responsible", org)
        ev = await self.evidence(issue_id, headers=who)
        r = await self.apply(issue_id, [ev], headers=who)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def decide(self, closure_id: str, decision: str = "accept", *, headers: dict[str, str] | None = None,
                     **body: Any) -> httpx.Response:
        payload = {"decision": decision, **body}
        if decision == "reject":
            payload.setdefault("opinion", "围挡不完整,仍有裸土")
            payload.setdefault("reason_code", "superficial")
        return await self.client.post(f"/v1/closures/{closure_id}/decision", headers=headers or self.sup,
                                      json=payload)

    async def signed_off(self, issue_id: str) -> str:
        closure_id = await self.open_closure(issue_id)
        r = await self.decide(closure_id)
        assert r.status_code == 200, r.text
        return closure_id

    async def filed(self, issue_id: str) -> str:
        closure_id = await self.signed_off(issue_id)
        r = await self.client.post(f"/v1/closures/{closure_id}/file", headers=self.admin)
        assert r.status_code == 200, r.text
        return closure_id

"""A ledger with a known history across the four services, made on a settable clock, for the audit tests."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image

from runtime.clock import SettableClock
from tests.support import Running, running

SERVICES = ("issues", "verification", "scoring", "notify")


def jpeg_bytes(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class World:
    """The four services on one clock, with the log positions already carried to each peer."""

    clock: SettableClock
    services: dict[str, Running]
    carried: dict[str, int] = field(default_factory=dict)
    issue_ids: dict[str, str] = field(default_factory=dict)

    def at(self, iso: str) -> None:
        """Move the clock forward to a Shanghai-local time like '2020-06-01 10:00'."""
        self.clock.set(datetime.fromisoformat(iso + "+08:00").astimezone(UTC))

    async def sync(self) -> None:
        """Carry every new event of every log to the services that follow it, until nothing moves."""

        moved = True
        while moved:
            moved = False
            for name, source in self.services.items():
                events = await source.events(self.carried.get(name, 0))
                if not events:
                    continue
                moved = True
                self.carried[name] = self.carried.get(name, 0) + len(events)
                for target_name, target in self.services.items():
                    spec = target.app.state.spec
                    if name in spec.follows and target_name != name:
                        for ev in events:
                            await target.deliver(ev)

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        """In-process transports to each service, for export and compare."""
        return {name: httpx.ASGITransport(app=s.app) for name, s in self.services.items()}

    def urls(self) -> dict[str, str]:
        return {name: f"http://{name}" for name in self.services}

    def auditor_token(self) -> str:
        return self.services["issues"].auth(sub="auditor", roles="auditor")["Authorization"].split(" ", 1)[1]


@asynccontextmanager
async def world(tmp: Path) -> AsyncIterator[World]:
    """The four services in-process on a clock that starts 2020-06-01 09:00 Asia/Shanghai."""
    clock = SettableClock(datetime(2020, 6, 1, 1, 0, tzinfo=UTC))
    async with AsyncExitStack() as stack:
        services = {name: await stack.enter_async_context(running(name, tmp, clock=clock)) for name in SERVICES}
        yield World(clock=clock, services=services)


async def history(w: World) -> None:
    """Two issues with a known history (dates in Asia/Shanghai).

    HH-A: registered 06-01, started 06-10, applied 07-15, rejected 08-01, applied 09-01, accepted 09-20.
    HH-B: registered 06-01, started 06-10, still in progress; its deadline extended 2020-09-30 → 2020-12-31 on 09-25.
    A PM2.5 reading for 新城区 on 09-28; the 2020-09 ranking of regions published on 10-01.
    """
    issues, ver = w.services["issues"], w.services["verification"]
    admin = issues.auth(org="inspection-office", roles="admin")
    w.at("2020-06-01 09:00")
    for org in [
        {"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
        {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department", "zone_type": "department"},
        {"id": "xincheng", "name": "新城区", "kind": "region", "zone_type": "urban_core"},
    ]:
        r = await issues.client.post("/v1/orgs", json=org, headers=admin)
        assert r.status_code == 201, r.text
    r = await issues.client.post("/v1/rounds", headers=admin, json={
        "id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组", "level": "regional",
        "feedback_on": "2020-05-17"})
    assert r.status_code == 201, r.text
    for code, org, deadline in (("HH-A", "city-eeb", "2020-12-31"), ("HH-B", "xincheng", "2020-09-30")):
        r = await issues.client.post("/v1/issues", headers=admin, json={
            "code": code, "round_id": "nm-2019-inspection", "category": "air",
            "title": f"{code} 细颗粒物(PM2.5)浓度达标", "responsible_org_id": org, "region_id": "xincheng",
            "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)", "deadline": deadline,
            "target": {"indicator": "pm25_annual_mean", "op": "<=", "value": 35, "unit": "ug/m3"}})
        assert r.status_code == 201, r.text
        w.issue_ids[code] = r.json()["id"]
    await w.sync()

    w.at("2020-06-10 10:00")
    for code, org in (("HH-A", "city-eeb"), ("HH-B", "xincheng")):
        r = await issues.client.post(f"/v1/issues/{w.issue_ids[code]}/start",
                                     headers=issues.auth(org=org, roles="responsible"), json={})
        assert r.status_code == 200, r.text
    await w.sync()

    a = w.issue_ids["HH-A"]
    eeb = ver.auth(org="city-eeb", roles="responsible")
    office = ver.auth(org="inspection-office", roles="supervisor")

    async def apply(color: tuple[int, int, int]) -> str:
        r = await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": a, "kind": "photo"},
                                  files={"file": ("site.jpg", jpeg_bytes(color), "image/jpeg")})
        assert r.status_code == 201, r.text
        r = await ver.client.post("/v1/closures", headers=eeb, json={
            "issue_id": a, "summary": "已完成整改", "evidence_ids": [r.json()["id"]]})
        assert r.status_code == 201, r.text
        closure_id: str = r.json()["id"]
        return closure_id

    w.at("2020-07-15 11:00")
    first = await apply((10, 120, 30))
    await w.sync()
    w.at("2020-08-01 15:00")
    r = await ver.client.post(f"/v1/closures/{first}/decision", headers=office, json={
        "decision": "reject", "opinion": "证据不足", "reason_code": "insufficient_evidence"})
    assert r.status_code == 200, r.text
    await w.sync()
    w.at("2020-09-01 11:00")
    second = await apply((200, 30, 90))
    await w.sync()
    w.at("2020-09-20 16:00")
    r = await ver.client.post(f"/v1/closures/{second}/decision", headers=office,
                              json={"decision": "accept", "opinion": "现场核查属实"})
    assert r.status_code == 200, r.text
    await w.sync()

    b = w.issue_ids["HH-B"]
    w.at("2020-09-25 09:30")
    xc = issues.auth(org="xincheng", roles="responsible")
    r = await issues.client.post(f"/v1/issues/{b}/extensions", headers=xc, json={
        "requested_deadline": "2020-12-31", "reason": "冬季施工条件受限"})
    assert r.status_code == 201, r.text
    extension_id = r.json()["id"]
    r = await issues.client.post(f"/v1/issues/{b}/extensions/{extension_id}/decision", headers=admin,
                                 json={"approved": True, "opinion": "同意延期"})
    assert r.status_code == 200, r.text
    await w.sync()

    scoring = w.services["scoring"]
    w.at("2020-09-28 10:00")
    r = await scoring.client.post("/v1/readings", headers=scoring.auth(org="inspection-office", roles="admin"),
                                  json={"org_id": "xincheng", "indicator": "pm25_annual_mean", "value": 38.0,
                                        "observed_at": "2020-09-27T00:00:00+08:00"})
    assert r.status_code == 201, r.text
    await w.sync()
    w.at("2020-10-01 10:00")
    r = await scoring.client.post("/v1/rankings", headers=scoring.auth(org="inspection-office", roles="admin"),
                                  json={"period": "2020-09", "kind": "region"})
    assert r.status_code == 201, r.text
    await w.sync()


async def appeals_history(w: World) -> None:
    """After `history`: 新城区 appeals the environment score of the 2020-09 ranking, partly upheld; and 2027's calendar.

    The ranking was published on 10-01, a holiday: its window is 5 working days after it, 10-09 (1), Saturday 10-10
    worked (2), 10-12 (3), 10-13 (4), 10-14 (5). Filed on 10-09, due to be decided 10 working days after: 10-22.
    """
    scoring = w.services["scoring"]
    admin = scoring.auth(org="inspection-office", roles="admin")
    [ranking] = (await scoring.client.get("/v1/rankings", headers=admin)).json()["items"]
    w.at("2020-10-09 10:00")
    r = await scoring.client.post(f"/v1/rankings/{ranking['id']}/appeals",
                                  headers=scoring.auth(sub="xc", org="xincheng", roles="responsible"),
                                  json={"component": "environment", "reason": "9月27日读数受沙尘天气影响,应予剔除"})
    assert r.status_code == 201, r.text
    assert (r.json()["appeal_due"], r.json()["decision_due"]) == ("2020-10-14", "2020-10-22")
    await w.sync()
    w.at("2020-10-23 10:00")  # one working day late
    r = await scoring.client.post(f"/v1/appeals/{r.json()['id']}/decision", headers=admin, json={
        "outcome": "partly_upheld", "reasons": "沙尘影响属实,按剔除当日后的月均值折算", "correction": {"environment": 95}})
    assert r.status_code == 200 and r.json()["late"], r.text
    await w.sync()
    w.at("2020-11-20 10:00")
    r = await scoring.client.put("/v1/calendar/2027", headers=admin, json={
        "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": [], "source": "国办发明电〔2026〕示例号"})
    assert r.status_code == 200, r.text
    await w.sync()

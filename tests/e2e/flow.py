"""The thin path by REST only, shared by the end-to-end tests and the latency benchmark."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
from PIL import Image

from tests.e2e.cluster import Cluster, eventually


def photo(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), ((seed * 37) % 256, (seed * 91) % 256, 120)).save(buf, "JPEG")
    return buf.getvalue()


async def setup_orgs(c: Cluster, client: httpx.AsyncClient) -> None:
    admin = c.auth(org="inspection-office", roles="admin")
    for body in [
        {"id": "inspection-office", "name": "呼和浩特市生态环境保护督察整改办公室", "kind": "inspection_office"},
        {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department", "zone_type": "department"},
        {"id": "city-water", "name": "呼和浩特市水务局", "kind": "department", "zone_type": "department"},
    ]:
        r = await client.post(f"{c.url('issues')}/v1/orgs", json=body, headers=admin)
        assert r.status_code in (201, 409), r.text
    r = await client.post(f"{c.url('issues')}/v1/rounds", headers=admin, json={
        "id": "nm-2019-inspection", "name": "自治区第一生态环境保护督察组", "level": "regional",
        "started_on": "2019-11-15", "ended_on": "2019-12-09", "feedback_on": "2020-05-17"})
    assert r.status_code in (201, 409), r.text


async def register_issue(c: Cluster, client: httpx.AsyncClient, code: str | None = None) -> str:
    r = await client.post(f"{c.url('issues')}/v1/issues", headers=c.auth(org="inspection-office", roles="admin"), json={
        "code": code or f"HH-{uuid.uuid4().hex[:8]}", "round_id": "nm-2019-inspection", "category": "water",
        "title": "城市黑臭水体整治", "responsible_org_id": "city-eeb", "cooperating_org_ids": ["city-water"],
        "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)", "deadline": "2020-12-31"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def sign_off(c: Cluster, client: httpx.AsyncClient, issue_id: str, seed: int = 0) -> dict[str, Any]:
    """Upload evidence, apply, accept: returns the timings' anchor objects."""
    eeb = c.auth(org="city-eeb", roles="responsible")

    async def known() -> bool:
        r = await client.post(f"{c.url('verification')}/v1/evidence", headers=eeb,
                              data={"issue_id": issue_id, "kind": "photo"},
                              files={"file": ("现场.jpg", photo(seed), "image/jpeg")})
        if r.status_code == 201:
            known.evidence = r.json()  # type: ignore[attr-defined]
            return True
        assert r.status_code == 404, r.text
        return False

    await eventually(known)
    evidence = known.evidence  # type: ignore[attr-defined]
    r = await client.post(f"{c.url('verification')}/v1/closures", headers=eeb,
                          json={"issue_id": issue_id, "summary": "已完成整改", "evidence_ids": [evidence["id"]]})
    assert r.status_code == 201, r.text
    closure = r.json()
    r = await client.post(f"{c.url('verification')}/v1/closures/{closure['id']}/decision",
                          headers=c.auth(org="inspection-office", roles="supervisor"),
                          json={"decision": "accept", "opinion": "现场核查属实"})
    assert r.status_code == 200, r.text
    return {"evidence": evidence, "closure": closure}


async def signed_off_everywhere(c: Cluster, client: httpx.AsyncClient, issue_id: str) -> None:
    admin = c.auth(org="inspection-office", roles="admin")

    async def issues_done() -> bool:
        r = await client.get(f"{c.url('issues')}/v1/issues/{issue_id}", headers=admin)
        return r.status_code == 200 and r.json()["status"] == "signed_off"

    async def scoring_done() -> bool:
        r = await client.get(f"{c.url('scoring')}/v1/facts/issues/{issue_id}", headers=admin)
        return r.status_code == 200 and r.json()["status"] == "signed_off"

    async def notify_done() -> bool:
        r = await client.get(f"{c.url('notify')}/v1/inbox", headers=c.auth(org="city-eeb", roles="responsible"),
                             params={"limit": 500})
        return any(i["type"] == "closure.accepted" and i["subject"] == issue_id for i in r.json()["items"])

    await eventually(issues_done)
    await eventually(scoring_done)
    await eventually(notify_done)

"""Bad input gets a clear error (status, field, why) and changes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from runtime.auth import signing_secret
from tests.support import Running, running

ORGS = [
    {"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
    {"id": "city-eeb", "name": "生态环境局", "kind": "department", "zone_type": "department"},
    {"id": "city-water", "name": "水务局", "kind": "department", "zone_type": "department"},
]
ISSUE = {"code": "HH-1", "round_id": "nm-2019-inspection", "category": "water", "title": "黑臭水体整治",
         "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2020-12-31"}


async def seeded(svc: Running) -> str:
    admin = svc.auth(org="inspection-office", roles="admin")
    for org in ORGS:
        assert (await svc.client.post("/v1/orgs", json=org, headers=admin)).status_code == 201
    r = await svc.client.post("/v1/rounds", headers=admin,
                              json={"id": "nm-2019-inspection", "name": "督察组", "level": "regional"})
    assert r.status_code == 201
    r = await svc.client.post("/v1/issues", json=ISSUE, headers=admin)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def snapshot(svc: Running, issue_id: str) -> tuple[int, dict[str, object]]:
    r = await svc.client.get(f"/v1/issues/{issue_id}", headers=svc.auth(roles="admin"))
    return len(await svc.events()), r.json()


async def test_malformed_body_is_422_naming_the_field_and_changes_nothing(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        issue_id = await seeded(svc)
        before = await snapshot(svc, issue_id)
        r = await svc.client.post("/v1/issues", headers=svc.auth(roles="admin"),
                                  json={**ISSUE, "code": "HH-2", "deadline": "2020-13-45"})
        assert r.status_code == 422
        assert [d["field"] for d in r.json()["error"]["details"]] == ["deadline"]
        r = await svc.client.post("/v1/issues", headers=svc.auth(roles="admin"),
                                  content=b"{not json", )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
        assert await snapshot(svc, issue_id) == before


async def test_illegal_transition_is_409_and_changes_nothing(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        issue_id = await seeded(svc)
        eeb = svc.auth(org="city-eeb", roles="responsible")
        assert (await svc.client.post(f"/v1/issues/{issue_id}/start", headers=eeb)).status_code == 200
        before = await snapshot(svc, issue_id)
        r = await svc.client.post(f"/v1/issues/{issue_id}/start", headers=eeb)
        assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
        assert await snapshot(svc, issue_id) == before


async def test_missing_expired_or_forged_token_is_401_and_changes_nothing(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        issue_id = await seeded(svc)
        before = await snapshot(svc, issue_id)
        now = int(time.time())
        claims = {"sub": "x", "org": "inspection-office", "roles": ["admin"], "aud": "closeloop"}
        expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, signing_secret(svc.settings))
        forged = jwt.encode({**claims, "iat": now, "exp": now + 3600}, "not-the-key-of-this-deployment-0123456789")
        wrong_aud = jwt.encode({**claims, "aud": "other", "iat": now, "exp": now + 3600}, signing_secret(svc.settings))
        for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"},
                        {"Authorization": f"Bearer {wrong_aud}"}, {"Authorization": "Basic abc"}):
            r = await svc.client.post("/v1/issues", json={**ISSUE, "code": "HH-3"}, headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "unauthorized"
        assert await snapshot(svc, issue_id) == before


async def test_another_orgs_issue_is_hidden_and_its_actions_refused(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        issue_id = await seeded(svc)
        before = await snapshot(svc, issue_id)
        water = svc.auth(org="city-water", roles="responsible")
        assert (await svc.client.get(f"/v1/issues/{issue_id}", headers=water)).status_code == 404
        r = await svc.client.post(f"/v1/issues/{issue_id}/start", headers=water)
        assert r.status_code in (403, 404)
        assert await snapshot(svc, issue_id) == before


async def test_errors_use_the_design_shape_for_unknown_routes(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        r = await svc.client.get("/v1/nothing-here")
        assert r.status_code == 404
        assert set(r.json()["error"]) == {"code", "message", "details"}

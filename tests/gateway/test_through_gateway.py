"""Through the one address: JSON, uploads and downloads reach the right service; sign-in in development."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.e2e.cluster import eventually
from tests.e2e.flow import photo
from tests.gateway.stack import Stack

pytestmark = pytest.mark.e2e


def admin(stack: Stack) -> dict[str, str]:
    return stack.cluster.auth(org="inspection-office", roles="admin")


async def test_json_answers_are_the_services_own(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        via = await client.get(f"{stack.url}/v1/public/issues", params={"limit": 5})
        direct = await client.get(f"{stack.cluster.url('issues')}/v1/public/issues", params={"limit": 5})
        assert via.status_code == 200 and via.json() == direct.json() and len(via.json()["items"]) == 5
        ranking = await client.get(f"{stack.url}/v1/schemes", headers=admin(stack))
        assert ranking.status_code == 200 and ranking.json() == (
            await client.get(f"{stack.cluster.url('scoring')}/v1/schemes", headers=admin(stack))).json()
        created = await client.post(f"{stack.url}/v1/orgs", headers=admin(stack), json={
            "id": "gw-test-bureau", "name": "网关测试局", "kind": "department", "zone_type": "department"})
        assert created.status_code in (201, 409), created.text
        read = await client.get(f"{stack.cluster.url('issues')}/v1/orgs/gw-test-bureau", headers=admin(stack))
        assert read.json()["name"] == "网关测试局"


async def test_the_correlation_id_goes_through_and_comes_back(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.get(f"{stack.url}/v1/public/issues", headers={"X-Correlation-ID": "gw-cid-42"})
        assert r.headers["x-correlation-id"] == "gw-cid-42"
        r = await client.get(f"{stack.url}/v1/public/issues")
        assert len(r.headers["x-correlation-id"]) >= 32
    assert "gw-cid-42" in (stack.data_dir / "issues.log").read_text()


async def test_errors_of_a_service_pass_unchanged(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.get(f"{stack.url}/v1/issues")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        r = await client.get(f"{stack.url}/v1/ops/verification/dead-letters", headers=admin(stack))
        assert r.status_code == 200 and r.json()["items"] == []
        r = await client.get(f"{stack.url}/v1/no-such-thing")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_a_large_evidence_upload_and_its_download_pass_whole(stack: Stack) -> None:
    unit = stack.cluster.auth(org="city-eeb", roles="responsible")
    async with httpx.AsyncClient(trust_env=False, timeout=120) as client:
        # One of the unit's own tasks: the list shows every task a responsible unit may see, some of them other units'.
        page = await client.get(f"{stack.url}/v1/issues", headers=unit,
                                params={"limit": 1, "responsible_org_id": "city-eeb", "status": "registered"})
        issue_id = page.json()["items"][0]["id"]
        # A photo with 18 MiB after its end marker: near the 20 MiB limit, still a valid JPEG.
        content = photo(7) + os.urandom(18 * 1024 * 1024)

        async def uploaded() -> httpx.Response | None:
            r = await client.post(f"{stack.url}/v1/evidence", headers=unit, data={"issue_id": issue_id, "kind": "photo"},
                                  files={"file": ("现场.jpg", content, "image/jpeg")})
            if r.status_code == 404:  # verification has not heard of the issue yet
                return None
            return r

        r = await eventually(uploaded, timeout=30, interval=0.2)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == hashlib.sha256(content).hexdigest()
        async with client.stream("GET", f"{stack.url}/v1/evidence/{r.json()['id']}/content", headers=unit) as down:
            assert down.status_code == 200
            assert down.headers["content-disposition"].startswith("attachment")
            assert int(down.headers["content-length"]) == len(content)
            got = b"".join([chunk async for chunk in down.aiter_raw()])
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()


async def test_the_ledger_export_downloads_as_the_service_writes_it(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        via = await client.get(f"{stack.url}/v1/issues/export", headers=admin(stack))
        direct = await client.get(f"{stack.cluster.url('issues')}/v1/issues/export", headers=admin(stack))
    assert via.status_code == 200 and via.content[:2] == b"PK" and len(via.content) > 5000
    assert via.headers["content-type"] == direct.headers["content-type"]
    assert via.headers["content-disposition"] == direct.headers["content-disposition"]


async def test_the_development_picker_lists_every_org_and_mints_a_working_token(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        config = (await client.get(f"{stack.url}/auth/config")).json()
        assert config == {"mode": "dev", "issuer": None, "client_id": None, "demo": False}
        orgs = (await client.get(f"{stack.url}/auth/dev/orgs")).json()
        direct = (await client.get(f"{stack.cluster.url('issues')}/v1/orgs", params={"limit": 1000},
                                   headers=admin(stack))).json()["items"]
        assert [o["id"] for o in orgs] == [o["id"] for o in direct] and len(orgs) > 10
        assert set(orgs[0]) == {"id", "name", "kind"}
        r = await client.post(f"{stack.url}/auth/dev/token",
                              json={"org": "city-eeb", "roles": ["responsible"], "sub": "张三"})
        assert r.status_code == 200, r.text
        assert r.json()["expires_at"].endswith("Z")
        mine = await client.get(f"{stack.url}/v1/issues", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert mine.status_code == 200
        assert mine.json()["items"] and all(
            "city-eeb" in {i["responsible_org_id"], i["supervising_org_id"], *i.get("cooperating_org_ids", [])}
            for i in mine.json()["items"])


@pytest.mark.parametrize(("body", "field"), [
    ({"org": "no-such-org", "roles": ["responsible"], "sub": "a"}, "org"),
    ({"org": "city-eeb", "roles": ["mayor"], "sub": "a"}, "roles.0"),
    ({"org": "city-eeb", "roles": ["system"], "sub": "a"}, "roles"),
    ({"org": "city-eeb", "roles": [], "sub": "a"}, "roles"),
    ({"org": "city-eeb", "roles": ["admin"], "sub": "x" * 65}, "sub"),
    ({"org": "city-eeb", "roles": ["admin"], "sub": ""}, "sub"),
    ({"org": "city-eeb", "roles": ["admin"], "sub": "a\nb"}, "sub"),
    ({"org": "x" * 65, "roles": ["admin"], "sub": "a"}, "org"),
])
async def test_a_bad_sign_in_is_a_422_naming_the_field(stack: Stack, body: dict[str, object], field: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        r = await client.post(f"{stack.url}/auth/dev/token", json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]], r.json()


async def test_the_picker_pages_through_every_org(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway import signin
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    monkeypatch.setattr(signin, "ORGS_PAGE", 4)  # the reference data has 23 orgs: six pages
    urls = {f"{n}_url": stack.cluster.url(n) for n in ("issues", "verification", "scoring", "notify")}
    # the same install as the stack: its data dir, so its signing secret
    app = create_app(GatewaySettings(env="development", web_dist=stack.dist, data_dir=stack.data_dir, **urls))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        orgs = (await client.get("/auth/dev/orgs")).json()
    async with httpx.AsyncClient(trust_env=False) as client:
        direct = (await client.get(f"{stack.cluster.url('issues')}/v1/orgs", params={"limit": 1000},
                                   headers=admin(stack))).json()["items"]
    assert [o["id"] for o in orgs] == [o["id"] for o in direct] and len(orgs) > 8

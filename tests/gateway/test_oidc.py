"""Sign-in with OpenID Connect against a real provider: its tokens are accepted with the mapped org and roles,
tokens signed by any other key are refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from runtime.auth import oidc_provider, principal_from_claims, signing_secret
from runtime.errors import Forbidden
from runtime.settings import get_settings
from tests.gateway.oidc import Provider, sign_in
from tests.support import Running, running

REDIRECT = "http://127.0.0.1:5173/auth/callback"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    p = Provider(workdir=tmp_path_factory.mktemp("oidc"), redirect_uri=REDIRECT)
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
async def issues(tmp_path: Path, provider: Provider) -> AsyncIterator[Running]:
    async with running("issues", tmp_path, **provider.settings()) as svc:
        yield svc


async def whoami(svc: Running, token: str) -> Any:
    """What the service makes of a token: the orgs it may list (any signed-in caller), or the error."""
    return await svc.client.get("/v1/orgs", headers={"Authorization": f"Bearer {token}"})


async def test_a_token_from_the_code_flow_with_pkce_is_accepted_with_its_org_and_roles(
        provider: Provider, issues: Running) -> None:
    answer = await sign_in(provider, username="zhang.san")
    id_token = answer["id_token"]
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] == "RS256"
    r = await whoami(issues, id_token)
    assert r.status_code == 200, r.text
    principal = await _principal(issues, id_token)
    assert (principal.sub, principal.org, principal.roles) == ("u-eeb", "city-eeb", frozenset({"responsible"}))
    # The mapped roles are enforced like any other: a responsible unit may not register an org.
    r = await issues.client.post("/v1/orgs", headers={"Authorization": f"Bearer {id_token}"},
                                 json={"id": "x", "name": "x", "kind": "department"})
    assert r.status_code == 403


async def test_an_admin_of_the_provider_acts_as_admin(provider: Provider, issues: Running) -> None:
    id_token = (await sign_in(provider, username="li.si"))["id_token"]
    r = await issues.client.post("/v1/orgs", headers={"Authorization": f"Bearer {id_token}"},
                                 json={"id": "oidc-made", "name": "由单点登录创建", "kind": "department"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "oidc-made"


async def test_a_user_without_org_and_roles_is_refused_with_a_clear_403(provider: Provider, issues: Running) -> None:
    id_token = (await sign_in(provider, username="wang.wu"))["id_token"]
    r = await whoami(issues, id_token)
    assert r.status_code == 403
    assert "closeloop_org" in r.json()["error"]["message"] and r.json()["error"]["message"][0] >= "\u4e00"


async def test_a_wrong_password_gets_no_code(provider: Provider) -> None:
    with pytest.raises(AssertionError, match="login refused"):
        await sign_in(provider, username="zhang.san", password="wrong")


async def test_a_token_signed_by_another_key_is_refused(provider: Provider, issues: Running) -> None:
    real = (await sign_in(provider, username="li.si"))["id_token"]
    claims = jwt.decode(real, options={"verify_signature": False})
    kid = jwt.get_unverified_header(real)["kid"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims |= {"closeloop_org": "inspection-office", "closeloop_roles": ["admin"], "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})
    r = await whoami(issues, forged)
    assert r.status_code == 401 and "signature" in r.json()["error"]["message"].lower()
    unknown_kid = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "not-a-provider-key"})
    r = await whoami(issues, unknown_kid)
    assert r.status_code == 401 and "not-a-provider-key" in r.json()["error"]["message"]
    # HS256 with the provider's name on it, signed with the development secret: still refused.
    hs = jwt.encode(claims, signing_secret(issues.settings), algorithm="HS256", headers={"kid": kid})
    assert (await whoami(issues, hs)).status_code == 401


async def test_a_token_for_another_audience_is_refused(provider: Provider, tmp_path: Path) -> None:
    id_token = (await sign_in(provider, username="zhang.san"))["id_token"]
    async with running("issues", tmp_path, **(provider.settings() | {"oidc_audience": "another-app"})) as svc:
        r = await whoami(svc, id_token)
        assert r.status_code == 401 and "audience" in r.json()["error"]["message"].lower()


async def test_the_development_tokens_still_work_beside_the_provider(issues: Running) -> None:
    r = await whoami(issues, issues.auth(org="city-eeb", roles="responsible")["Authorization"].split()[1])
    assert r.status_code == 200


def test_org_and_roles_come_from_claims_when_the_provider_emits_them() -> None:
    settings = get_settings(env="test", oidc_issuer="https://id.example/", oidc_audience="web",
                            oidc_org_claim="dept", oidc_roles_claim="groups")
    p = principal_from_claims(settings, {"sub": "s1", "dept": "city-eeb", "groups": "supervisor system"})
    assert (p.org, p.roles) == ("city-eeb", frozenset({"supervisor"}))  # `system` is never a person's role
    with pytest.raises(Forbidden, match="groups"):
        principal_from_claims(settings, {"sub": "s1", "dept": "city-eeb", "groups": ["system", "mayor"]})
    with pytest.raises(Forbidden, match="dept"):
        principal_from_claims(settings, {"sub": "s1", "groups": ["admin"]})


def test_an_issuer_without_an_audience_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="CLOSELOOP_OIDC_AUDIENCE"):
        get_settings(oidc_issuer="https://id.example/")


async def _principal(svc: Running, token: str) -> Any:
    from runtime.auth import authenticate

    assert oidc_provider(svc.settings).keys, "the service fetched the provider's keys"
    return await authenticate(svc.settings, token)



async def test_an_opaque_access_token_is_checked_at_the_providers_userinfo(provider: Provider, issues: Running) -> None:
    answer = await sign_in(provider, username="zhang.san")
    access = answer["access_token"]
    assert access.count(".") != 2, "the example provider issues opaque access tokens"
    r = await whoami(issues, access)
    assert r.status_code == 200, r.text
    principal = await _principal(issues, access)
    assert (principal.sub, principal.org, principal.roles) == ("u-eeb", "city-eeb", frozenset({"responsible"}))
    r = await whoami(issues, "not-a-token-the-provider-ever-issued")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_the_gateway_tells_the_app_who_the_token_is(provider: Provider, tmp_path: Path) -> None:
    import httpx

    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(env="test", web_dist=tmp_path, data_dir=tmp_path, oidc_client_id="native",
                               **provider.settings())
    app = create_app(settings)
    id_token = (await sign_in(provider, username="li.si"))["id_token"]
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        r = await client.get("/auth/me", headers={"Authorization": f"Bearer {id_token}"})
        assert r.json() == {"sub": "u-office", "org": "inspection-office", "roles": ["admin", "leader"]}
        assert (await client.get("/auth/me")).status_code == 401
        config = (await client.get("/auth/config")).json()
        assert config == {"mode": "oidc", "issuer": provider.issuer, "client_id": "native", "demo": False}

"""Sign-in with OpenID Connect in the browser: the provider's own login form, back to the gateway's callback."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from playwright.async_api import Page

from tests.gateway.oidc import CLIENT_ID, PASSWORD, Provider, pkce
from tests.gateway.stack import Stack


async def test_a_person_signs_in_at_the_provider_and_the_services_know_their_org_and_roles(
        page: Page, web_stack: Stack, screenshot: Callable[[Page, str], Awaitable[Path]]) -> None:
    provider: Provider = web_stack.provider  # type: ignore[attr-defined]
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        discovery = (await client.get(provider.issuer + ".well-known/openid-configuration")).json()
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    await page.goto(discovery["authorization_endpoint"] + "?" + urlencode({
        "client_id": CLIENT_ID, "redirect_uri": provider.redirect_uri, "response_type": "code",
        "scope": "openid profile", "state": state, "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge, "code_challenge_method": "S256"}))
    await page.get_by_label("Username:").fill("zhang.san")
    await page.get_by_label("Password:").fill(PASSWORD)
    await screenshot(page, "provider-login")
    async with page.expect_navigation(url=f"{web_stack.url}/auth/callback**"):
        await page.get_by_role("button", name="Login").click()
    # Back on the one address: the web app's own page answers the callback path.
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == [state] and query["code"]
    await screenshot(page, "callback")
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        tokens = (await client.post(discovery["token_endpoint"], data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": provider.redirect_uri,
            "client_id": CLIENT_ID, "code_verifier": verifier})).json()
        # Through the gateway to the services, which verify the token themselves (JWKS, or userinfo when opaque).
        for token in (tokens["id_token"], tokens["access_token"]):
            bearer = {"Authorization": f"Bearer {token}"}
            mine = await client.get(f"{web_stack.url}/v1/issues", headers=bearer, params={"limit": 5})
            assert mine.status_code == 200 and mine.json()["items"]
            assert all("city-eeb" in {i["responsible_org_id"], i["supervising_org_id"], *i["cooperating_org_ids"]}
                       for i in mine.json()["items"])
            refused = await client.post(f"{web_stack.url}/v1/orgs", headers=bearer,
                                        json={"id": "x", "name": "x", "kind": "department"})
            assert refused.status_code == 403  # a responsible unit, not the inspection office
        assert (await client.get(f"{web_stack.url}/auth/config")).json()["mode"] == "dev"

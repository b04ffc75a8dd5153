"""A real OpenID provider for the sign-in tests: the example server of zitadel/oidc, built by scripts/oidc-provider.sh.

The example's user file has no place for extra claims, so its users are mapped to org and roles by their
`sub` through CLOSELOOP_OIDC_USER_MAP (the same table a deployment uses for a provider that cannot emit
`closeloop_org` / `closeloop_roles`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from tests.e2e.cluster import ROOT, free_port

CLIENT_ID = "native"  # the example's public client: no secret, PKCE
PASSWORD = "verysecure-测试"
USERS = {
    "u-eeb": {"Username": "zhang.san", "FirstName": "三", "LastName": "张", "Email": "zhangsan@eeb.example"},
    "u-office": {"Username": "li.si", "FirstName": "四", "LastName": "李", "Email": "lisi@office.example"},
    "u-nobody": {"Username": "wang.wu", "FirstName": "五", "LastName": "王", "Email": "wangwu@example"},
}
USER_MAP = {
    "u-eeb": {"org": "city-eeb", "roles": ["responsible"]},
    "u-office": {"org": "inspection-office", "roles": ["admin", "leader"]},
}


def provider_binary() -> Path:
    """The provider's binary, built once into ~/.cache/closeloop (fails, never skips, when it cannot be built)."""
    out = subprocess.run([str(ROOT / "scripts" / "oidc-provider.sh")], capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, f"scripts/oidc-provider.sh failed:\n{out.stderr}"
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class Provider:
    """A running provider: its issuer, the redirect URI it accepts, its process."""

    workdir: Path
    redirect_uri: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        """As the provider writes it into `iss` (with the trailing slash)."""
        return f"http://localhost:{self.port}/"

    def start(self) -> None:
        """Write the users file and start the provider; wait for its discovery document."""
        users = {uid: {"ID": uid, "Password": PASSWORD, "EmailVerified": True, "PreferredLanguage": "zh-CN",
                       "Phone": "", "PhoneVerified": False, "IsAdmin": False, **u} for uid, u in USERS.items()}
        users_file = self.workdir / "users.json"
        users_file.write_text(json.dumps(users, ensure_ascii=False), encoding="utf-8")
        log = (self.workdir / "oidc-provider.log").open("ab")
        self.proc = subprocess.Popen(
            [str(provider_binary())], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            env={"PORT": str(self.port), "REDIRECT_URI": self.redirect_uri, "USERS_FILE": str(users_file),
                 "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, f"the OIDC provider exited:\n{self.log_tail()}"
            try:
                if httpx.get(self.issuer + ".well-known/openid-configuration", timeout=1,
                             trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the OIDC provider did not start:\n{self.log_tail()}"
            time.sleep(0.1)

    def log_tail(self) -> str:
        """The end of the provider's log."""
        path = self.workdir / "oidc-provider.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""

    def stop(self) -> None:
        """Stop the provider."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def settings(self) -> dict[str, Any]:
        """The CLOSELOOP_* settings (as keyword overrides) that make a service trust this provider."""
        return {"oidc_issuer": self.issuer, "oidc_audience": CLIENT_ID, "oidc_user_map": USER_MAP}

    def env(self) -> dict[str, str]:
        """The same settings as environment variables."""
        return {"CLOSELOOP_OIDC_ISSUER": self.issuer, "CLOSELOOP_OIDC_AUDIENCE": CLIENT_ID,
                "CLOSELOOP_OIDC_CLIENT_ID": CLIENT_ID, "CLOSELOOP_OIDC_USER_MAP": json.dumps(USER_MAP)}


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def sign_in(provider: Provider, *, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """The authorization code flow with PKCE, the login form posted as a browser would; returns the token answer."""
    async with httpx.AsyncClient(trust_env=False, timeout=10, follow_redirects=False) as client:
        discovery = (await client.get(provider.issuer + ".well-known/openid-configuration")).json()
        assert "S256" in discovery["code_challenge_methods_supported"]
        verifier, challenge = pkce()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        r = await client.get(discovery["authorization_endpoint"], params={
            "client_id": CLIENT_ID, "redirect_uri": provider.redirect_uri, "response_type": "code",
            "scope": "openid profile", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256"})
        assert r.status_code in (302, 303), r.text
        login_url = urljoin(provider.issuer, r.headers["location"])
        page = await client.get(login_url)
        assert page.status_code == 200 and "password" in page.text
        request_id = re.search(r'name="id"\s+value="([^"]+)"', page.text)
        assert request_id, page.text
        r = await client.post(urljoin(login_url, "/login/username"),
                              data={"id": request_id.group(1), "username": username, "password": password})
        hops = 0
        while r.status_code in (302, 303) and not r.headers["location"].startswith(provider.redirect_uri):
            r = await client.get(urljoin(provider.issuer, r.headers["location"]))
            hops += 1
            assert hops < 5
        assert r.status_code in (302, 303), f"login refused: {r.status_code} {r.text[:300]}"
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["state"] == [state]
        token = await client.post(discovery["token_endpoint"], data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": provider.redirect_uri,
            "client_id": CLIENT_ID, "code_verifier": verifier})
        assert token.status_code == 200, token.text
        answer: dict[str, Any] = token.json()
        return answer

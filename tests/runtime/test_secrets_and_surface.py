"""Secrets and surface: a per-install signing secret (0600) instead of one in the repository, bounded token
lifetimes, owner-only database files, /docs without a CDN, /metrics for operators only."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from closeloop.cli import app as cli
from runtime.auth import MAX_TOKEN_TTL, issue_token, signing_secret
from runtime.settings import DEV_JWT_SECRET, Settings
from tests.support import running


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_install_makes_its_own_secret_once_and_keeps_it_owner_only(tmp_path: Path) -> None:
    first = Settings(service="issues", env="development", data_dir=tmp_path / "a")
    again = Settings(service="scoring", env="development", data_dir=tmp_path / "a")
    other = Settings(service="issues", env="development", data_dir=tmp_path / "b")
    secret = signing_secret(first)
    assert len(secret) >= 48 and secret != DEV_JWT_SECRET
    assert signing_secret(again) == secret  # every service of the install agrees
    assert signing_secret(other) != secret
    assert mode(first.dev_secret_path()) == 0o600


def test_the_secret_once_in_the_repository_is_refused_everywhere() -> None:
    for env in ("development", "test", "production"):
        with pytest.raises(ValueError, match="published in the repository"):
            Settings(env=env, jwt_secret=DEV_JWT_SECRET, checkpoint_key="k", database_url="postgresql+asyncpg://x")
    with pytest.raises(ValueError, match="CLOSELOOP_JWT_SECRET or CLOSELOOP_JWT_PUBLIC_KEY"):
        Settings(env="production", checkpoint_key="k", database_url="postgresql+asyncpg://x")


async def test_tokens_of_the_old_default_secret_and_of_long_lifetimes_are_refused(tmp_path: Path) -> None:
    async with running("issues", tmp_path, jwt_secret="") as s:
        now = int(time.time())
        claims = {"sub": "x", "org": "inspection-office", "roles": ["admin"], "aud": "closeloop", "iat": now}
        old = jwt.encode({**claims, "exp": now + 600}, DEV_JWT_SECRET, algorithm="HS256")
        century = jwt.encode({**claims, "exp": now + 100 * 365 * 86400}, signing_secret(s.settings), algorithm="HS256")
        month = jwt.encode({**claims, "exp": now + MAX_TOKEN_TTL}, signing_secret(s.settings), algorithm="HS256")
        for token, want in ((old, 401), (century, 401), (month, 200)):
            r = await s.client.get("/v1/orgs", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == want, r.text
        assert "30" in (await s.client.get("/v1/orgs", headers={"Authorization": f"Bearer {century}"})).text
    with pytest.raises(ValueError, match="30 days"):
        issue_token(s.settings, sub="x", org="inspection-office", roles=["admin"], ttl=MAX_TOKEN_TTL + 1)


async def test_closeloop_token_signs_with_the_install_secret_the_services_and_the_gateway_check(
        tmp_path: Path) -> None:
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    env = {"CLOSELOOP_DATA_DIR": str(tmp_path), "CLOSELOOP_JWT_SECRET": "", "CLOSELOOP_JWT_SECRET_FILE": ""}
    result = CliRunner().invoke(cli, ["token", "--sub", "ops", "--org", "inspection-office", "--roles", "admin"],
                                env=env)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    secret_file = tmp_path / "jwt-development.secret"
    assert mode(secret_file) == 0o600  # made by the first to need it, owner-only
    made = secret_file.read_text()
    # a service of the same install (its data dir) accepts it, and signs with the same file
    async with running("issues", tmp_path, jwt_secret="", jwt_secret_file=None) as s:
        assert s.settings.dev_secret_path() == secret_file.resolve()
        r = await s.client.get("/v1/orgs", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    # and so does the gateway of that install
    gateway = create_app(GatewaySettings(env="development", data_dir=tmp_path, web_dist=tmp_path, jwt_secret=""))
    async with gateway.router.lifespan_context(gateway), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway") as client:
        me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["sub"] == "ops", me.text
    assert secret_file.read_text() == made  # generated once, then only read
    # another install's service refuses it
    async with running("issues", tmp_path / "other", jwt_secret="", jwt_secret_file=None) as s:
        r = await s.client.get("/v1/orgs", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
    long = CliRunner().invoke(cli, ["token", "--sub", "ops", "--org", "inspection-office", "--roles", "admin",
                                    "--ttl", str(365 * 86400)], env=env)
    assert long.exit_code != 0 and "30 days" in long.output


def test_a_secret_file_set_by_name_is_shared_whatever_the_data_dirs(tmp_path: Path) -> None:
    shared = tmp_path / "secrets" / "jwt.secret"
    a = Settings(service="issues", data_dir=tmp_path / "a", jwt_secret_file=shared)
    b = Settings(service="notify", data_dir=tmp_path / "b", jwt_secret_file=shared)
    assert signing_secret(a) == signing_secret(b) == shared.read_text().strip()
    assert mode(shared) == 0o600


PRODUCTION = {"CLOSELOOP_ENV": "production", "CLOSELOOP_CHECKPOINT_KEY": "", "CLOSELOOP_DATABASE_URL": "",
              "CLOSELOOP_JWT_SECRET_FILE": "", "CLOSELOOP_JWT_PUBLIC_KEY": ""}


def test_closeloop_token_in_production_needs_the_signing_secret_and_not_the_checkpoint_key(tmp_path: Path) -> None:
    secret = "p" * 40
    ok = CliRunner().invoke(cli, ["token", "--sub", "ops", "--org", "inspection-office", "--roles", "admin"],
                            env={**PRODUCTION, "CLOSELOOP_JWT_SECRET": secret, "CLOSELOOP_DATA_DIR": str(tmp_path)})
    assert ok.exit_code == 0, ok.output
    claims = jwt.decode(ok.output.strip().splitlines()[-1], secret, algorithms=["HS256"], audience="closeloop")
    assert claims["roles"] == ["admin"]
    assert not list(tmp_path.iterdir())  # no per-install secret made in production
    without = CliRunner().invoke(cli, ["token", "--sub", "ops", "--org", "inspection-office", "--roles", "admin"],
                                 env={**PRODUCTION, "CLOSELOOP_JWT_SECRET": "", "CLOSELOOP_DATA_DIR": str(tmp_path)})
    assert without.exit_code == 1 and "CLOSELOOP_JWT_SECRET" in without.output, without.output
    assert not list(tmp_path.iterdir())


def test_audit_export_in_production_needs_no_key_at_all(tmp_path: Path) -> None:
    # Nothing listens on port 9 (discard): the command gets past its settings and fails only at reaching the
    # service, saying so.
    out = CliRunner().invoke(cli, ["audit", "export", "--out", str(tmp_path / "out"), "--token", "t",
                                   "--service", "issues", "--issues-url", "http://127.0.0.1:9"],
                             env={**PRODUCTION, "CLOSELOOP_JWT_SECRET": ""})
    assert out.exit_code != 0
    assert "CHECKPOINT_KEY" not in out.output and "JWT_SECRET" not in out.output and "settings" not in out.output
    assert out.exit_code == 2 and "check the URLs" in out.output, out.output


async def test_database_files_and_keys_are_owner_only(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        r = await s.client.post("/v1/orgs", headers=s.auth(roles="admin"),
                                json={"id": "xincheng", "name": "新城区", "kind": "region"})
        assert r.status_code == 201, r.text
        await s.events()  # sequenced and signed: the checkpoint key exists
        files = [tmp_path / "issues.db", tmp_path / "issues.db-wal", tmp_path / "issues.checkpoint.key"]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


async def test_docs_serve_swagger_ui_from_the_service_itself(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        page = await s.client.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        urls += re.findall(r"""url: ['"]([^'"]+)['"]""", page.text)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert "cdn" not in page.text.lower()
        for url in urls:
            r = await s.client.get(url)
            assert r.status_code == 200 and r.content, url
        assert (await s.client.get("/redoc")).status_code == 404


async def test_metrics_are_for_operators_only(tmp_path: Path) -> None:
    async with running("issues", tmp_path / "local") as s:
        assert (await s.client.get("/metrics")).status_code == 200  # this machine may read them by default
    async with running("issues", tmp_path / "ops", metrics_allow=[], metrics_token="ops-" + "x" * 28) as s:
        refused = await s.client.get("/metrics")
        assert refused.status_code == 403 and "CLOSELOOP_METRICS_ALLOW" in refused.json()["error"]["message"]
        wrong = await s.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        ok = await s.client.get("/metrics", headers={"Authorization": "Bearer ops-" + "x" * 28})
        assert ok.status_code == 200 and "closeloop_http_requests" in ok.text
    async with running("issues", tmp_path / "net", metrics_allow=["10.0.0.0/8"]) as s:
        assert (await s.client.get("/metrics")).status_code == 403  # the test client asks from 127.0.0.1
    with pytest.raises(ValueError, match="CLOSELOOP_METRICS_ALLOW"):
        Settings(metrics_allow=["not-a-network"])

"""docker-compose.yml is valid and sets every setting each service reads (its own Settings class); unsafe production
values are refused."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from runtime.settings import DEV_JWT_SECRET, Settings
from services.issues.settings import IssuesSettings
from services.notify.settings import NotifySettings
from services.scoring.settings import ScoringSettings
from services.verification.settings import VerificationSettings

ROOT = Path(__file__).resolve().parent.parent
# Settings that have a sound default in every deployment and need not be spelled out in compose.
OPTIONAL = {"host", "port", "system_token", "jwt_public_key", "jwt_algorithm", "poll_interval", "handler_attempts",
            "retry_backoff", "log_level", "log_json", "kafka_prefix",
            # service settings whose defaults suit every deployment (upload limits, schedule, delivery retries)
            "max_upload_bytes", "max_image_pixels", "far_from_site_metres", "reuse_phash_distance",
            *(name for name in NotifySettings.model_fields if name.startswith("notify_")),
            # discovered from the issuer; cached for 10 minutes; only for providers that cannot emit the claims
            "oidc_jwks_url", "oidc_jwks_ttl", "oidc_user_map", "oidc_user_map_claim"}
# Each service reads its own Settings subclass; compose must configure every field of that class.
SERVICE_SETTINGS: dict[str, type[Settings]] = {"issues": IssuesSettings, "verification": VerificationSettings,
                                               "scoring": ScoringSettings, "notify": NotifySettings}
OIDC = {"CLOSELOOP_OIDC_ISSUER": "https://id.example.gov.cn/realms/city", "CLOSELOOP_OIDC_CLIENT_ID": "closeloop-web"}


def compose_exe() -> str:
    """Debian's docker-compose (validation only); make test installs it, so there it must exist."""
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("CLOSELOOP_REQUIRE_SERVERS") == "1":
            pytest.fail("docker-compose is not installed: scripts/test.sh installs it (apt-get install docker-compose)")
        pytest.skip("docker-compose not installed")
    return exe


def rendered() -> dict[str, object]:
    exe = compose_exe()
    env = {**os.environ, "POSTGRES_PASSWORD": "pw", "CLOSELOOP_JWT_SECRET": "s" * 40, "CLOSELOOP_CHECKPOINT_KEY": "k",
           **OIDC}
    out = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config"], check=False, env=env,
                         capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


def test_compose_file_validates_and_configures_every_setting_of_every_service() -> None:
    config = rendered()
    services = config["services"]  # type: ignore[index]
    for name, settings_class in SERVICE_SETTINGS.items():
        fields = {field.upper() for field in settings_class.model_fields if field not in OPTIONAL}
        env = services[name]["environment"]
        missing = sorted(f"CLOSELOOP_{f}" for f in fields if f"CLOSELOOP_{f}" not in env)
        assert missing == [], f"{name} lacks {missing}"
        assert env["CLOSELOOP_SERVICE"] == name
        assert env["CLOSELOOP_BUS"] == "kafka" and env["CLOSELOOP_ENV"] == "production"
        assert env["CLOSELOOP_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "healthcheck" in services[name]
        parsed = settings_class(**{k.removeprefix("CLOSELOOP_").lower(): v for k, v in env.items()})  # they parse
        assert parsed.service == name
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"


def test_compose_puts_nginx_in_front_with_the_generated_route_table() -> None:
    web = rendered()["services"]["web"]  # type: ignore[index]
    # docker-compose 1.29 renders short volume syntax as "source:target:mode".
    mounts = {v.split(":")[1]: v.split(":")[0] for v in web["volumes"]}
    assert mounts["/etc/nginx/templates/default.conf.template"].endswith("deploy/nginx.conf")
    assert mounts["/etc/nginx/closeloop-proxy.conf"].endswith("deploy/nginx-proxy.conf")
    assert web["environment"]["CLOSELOOP_OIDC_ISSUER"] == OIDC["CLOSELOOP_OIDC_ISSUER"]
    assert set(web["depends_on"]) == {"gateway", "issues", "verification", "scoring", "notify"}
    gateway = rendered()["services"]["gateway"]  # type: ignore[index]
    assert gateway["command"][:3] == ["python", "-m", "gateway"]
    assert gateway["environment"]["CLOSELOOP_OIDC_CLIENT_ID"] == OIDC["CLOSELOOP_OIDC_CLIENT_ID"]
    assert "healthcheck" in web and web["build"]["dockerfile"] == "deploy/web.Dockerfile"


def test_compose_refuses_to_render_without_the_secrets() -> None:
    exe = compose_exe()
    env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_PASSWORD", "CLOSELOOP_JWT_SECRET")}
    out = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config"], check=False, env=env,
                         capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert "set POSTGRES_PASSWORD" in out.stderr or "set CLOSELOOP_JWT_SECRET" in out.stderr, out.stderr


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="CLOSELOOP_JWT_SECRET"):
        Settings(env="production", jwt_secret=DEV_JWT_SECRET, checkpoint_key="k", database_url="postgresql+asyncpg://x")
    with pytest.raises(ValueError, match="CLOSELOOP_CHECKPOINT_KEY"):
        Settings(env="production", jwt_secret="s" * 40, database_url="postgresql+asyncpg://x")
    assert Settings(env="production", jwt_secret="s" * 40, checkpoint_key="k", database_url="postgresql+asyncpg://x")


def test_the_gateway_keeps_no_log_so_production_asks_it_for_no_checkpoint_key_and_no_database() -> None:
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(env="production", jwt_secret="s" * 40, oidc_issuer=OIDC["CLOSELOOP_OIDC_ISSUER"],
                               oidc_audience="closeloop-web")
    assert settings.checkpoint_key == "" and settings.database_url == ""
    with pytest.raises(ValueError, match="CLOSELOOP_JWT_SECRET or CLOSELOOP_JWT_PUBLIC_KEY"):
        GatewaySettings(env="production")  # it checks tokens: that key it does need
    gateway = rendered()["services"]["gateway"]["environment"]  # type: ignore[index]
    assert gateway["CLOSELOOP_CHECKPOINT_KEY"] == "", "the services' private checkpoint key is handed to the gateway"
    assert "CLOSELOOP_DATABASE_URL" not in gateway
    assert GatewaySettings(**{k.removeprefix("CLOSELOOP_").lower(): v for k, v in gateway.items()}).env == "production"


def test_every_service_reads_its_settings_from_the_same_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSELOOP_MAX_UPLOAD_BYTES", "4096")
    monkeypatch.setenv("CLOSELOOP_NOTIFY_DELIVERY_ATTEMPTS", "2")
    monkeypatch.setenv("CLOSELOOP_NOTIFY_SCHEDULER_INTERVAL", "7.5")
    monkeypatch.setenv("CLOSELOOP_POLL_INTERVAL", "0.5")
    from services.notify.settings import get_settings as notify_settings
    from services.verification.settings import get_settings as verification_settings

    verification, notify = verification_settings(), notify_settings()
    assert (verification.service, verification.max_upload_bytes, verification.poll_interval) == ("verification", 4096, 0.5)
    assert (notify.service, notify.notify_delivery_attempts, notify.notify_scheduler_interval) == ("notify", 2, 7.5)
    assert notify.poll_interval == 0.5

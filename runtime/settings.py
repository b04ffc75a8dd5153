"""Settings of every service, read from CLOSELOOP_* environment variables."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The secret the repository once shipped as the default: refused wherever it is configured.
DEV_JWT_SECRET = "closeloop-development-secret-do-not-use-in-production"
# Outside production, with no CLOSELOOP_JWT_SECRET, tokens are signed with a random secret made on first use and
# kept in this file of the data folder (0600), or in CLOSELOOP_JWT_SECRET_FILE: one file per install, read by the
# four services, the gateway (its development sign-in), `closeloop token` and `closeloop dev`.
DEV_SECRET_FILE = "jwt-development.secret"
SERVICE_NAMES = ("issues", "verification", "scoring", "notify")


class OidcUser(BaseModel):
    """The org and roles of one provider user, for providers that cannot emit them as claims."""

    org: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1, max_length=6)


class Settings(BaseSettings):
    """One service's configuration; `get_settings()` builds it, nothing reads it at import."""

    model_config = SettingsConfigDict(env_prefix="CLOSELOOP_", extra="ignore")
    # Whether these settings run a server that checks tokens (a service, the gateway), as opposed to a command line
    # tool that only talks to the services (ToolSettings).
    SERVES: ClassVar[bool] = True
    # Whether that server keeps an event log: its own database and the private key its checkpoints are signed with
    # (the four services; not the gateway, which keeps nothing).
    KEEPS_LOG: ClassVar[bool] = True

    env: Literal["development", "test", "production"] = "development"
    service: Literal["issues", "verification", "scoring", "notify"] = "issues"
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path = Path("var")
    database_url: str = ""
    bus: Literal["embedded", "kafka"] = "embedded"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_prefix: str = ""
    jwt_secret: str = ""
    # The per-install secret's file when CLOSELOOP_JWT_SECRET is unset (default <data dir>/jwt-development.secret).
    jwt_secret_file: Path | None = None
    jwt_public_key: str = ""
    jwt_audience: str = "closeloop"
    jwt_algorithm: str = "HS256"
    system_token: str = ""
    # The org whose admins run the campaign (督察整改办): an `admin` token of any other org, or of none, is refused.
    inspection_office_org: str = Field(default="inspection-office", min_length=1, max_length=64)
    checkpoint_key: str = ""
    # Who may read /metrics: a bearer token operators send, or addresses (CIDRs); by default this machine only.
    metrics_token: str = ""
    metrics_allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    evidence_dir: Path | None = None
    issues_url: str = "http://127.0.0.1:8001"
    verification_url: str = "http://127.0.0.1:8002"
    scoring_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    poll_interval: float = Field(default=0.2, gt=0)
    handler_attempts: int = Field(default=4, ge=1)
    retry_backoff: float = Field(default=0.1, ge=0)
    log_level: str = "INFO"
    log_json: bool = True
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "closeloop@localhost"
    # OpenID Connect: tokens whose `iss` is this issuer are verified against its JWKS (RS256).
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_jwks_ttl: float = Field(default=600, gt=0)
    oidc_org_claim: str = "closeloop_org"
    oidc_roles_claim: str = "closeloop_roles"
    # For providers that cannot emit those claims: {"<value of oidc_user_map_claim>": {"org": …, "roles": […]}}.
    oidc_user_map: dict[str, OidcUser] = Field(default_factory=dict)
    oidc_user_map_claim: str = "sub"

    @field_validator("jwt_secret_file", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value  # CLOSELOOP_JWT_SECRET_FILE= (empty) means the default

    @field_validator("metrics_allow", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # from the environment pydantic-settings decodes the JSON; given as a value (compose, tests) it is text
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f'CLOSELOOP_METRICS_ALLOW is a JSON list of CIDRs, e.g. ["10.0.0.0/8"], not '
                                 f"{value!r}") from exc
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(f"CLOSELOOP_METRICS_ALLOW: {net!r} is not an address or CIDR, e.g. 10.0.0.0/8") from exc
        return value

    @model_validator(mode="after")
    def _safe(self) -> Settings:
        if self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("CLOSELOOP_JWT_SECRET is the value once published in the repository: anyone can sign "
                             "tokens with it; unset it (a random one is made per install) or set a secret of your own")
        if self.jwt_secret and len(self.jwt_secret) < 32:
            raise ValueError("CLOSELOOP_JWT_SECRET must have at least 32 characters (e.g. `openssl rand -hex 32`)")
        if self.env == "production" and self.SERVES:
            if not self.jwt_secret and not self.jwt_public_key:
                raise ValueError(
                    "set CLOSELOOP_JWT_SECRET or CLOSELOOP_JWT_PUBLIC_KEY in production (the per-install "
                    "development secret is for development and tests only)"
                )
            if self.KEEPS_LOG and not self.checkpoint_key:
                raise ValueError("CLOSELOOP_CHECKPOINT_KEY must be set in production")
            if self.KEEPS_LOG and not self.database_url:
                raise ValueError("CLOSELOOP_DATABASE_URL must be set in production")
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("CLOSELOOP_OIDC_AUDIENCE must be set with CLOSELOOP_OIDC_ISSUER (the client id the "
                             "provider writes into `aud`)")
        return self

    @classmethod
    def build(cls, service: str, /, **overrides: Any) -> Self:
        """This class of settings for `service`, from the environment, explicit overrides winning."""
        return cls(**{"service": service, **overrides})

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """`settings` as this class: what a service's runtime was built with (start_runtime refuses others)."""
        if not isinstance(settings, cls):
            raise TypeError(f"{cls.__name__} expected, got {type(settings).__name__}")
        return settings

    def db_url(self) -> str:
        """The database URL; a SQLite file in the data folder when none is configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service}.db').resolve()}"

    def peer_url(self, service: str) -> str:
        """Base URL of a peer service (embedded feeds, CLI)."""
        return str(getattr(self, f"{service}_url")).rstrip("/")

    def dev_secret_path(self) -> Path:
        """Where the per-install signing secret is kept: CLOSELOOP_JWT_SECRET_FILE, else in the data folder."""
        return (self.jwt_secret_file or (self.data_dir / DEV_SECRET_FILE)).resolve()

    def evidence_path(self) -> Path:
        """Folder of the content-addressed evidence store."""
        return self.evidence_dir or (self.data_dir / "evidence")


class ToolSettings(Settings):
    """What a command line tool reads (`closeloop token`, `closeloop seed`, `closeloop audit`): the same
    CLOSELOOP_* names, without what only a running service needs (the private checkpoint key, the database, a key
    to check tokens with). Whatever a tool does need it checks itself: signing a token needs the signing secret."""

    SERVES: ClassVar[bool] = False


def tool_settings(**overrides: Any) -> ToolSettings:
    """A tool's settings from the environment, with explicit overrides winning."""
    return ToolSettings(**overrides)


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)

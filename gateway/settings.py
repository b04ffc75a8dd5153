"""The gateway's settings: the services' settings (peers, keys, OIDC) and its own, read from CLOSELOOP_*."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class GatewaySettings(Settings):
    """The gateway's configuration; `get_gateway_settings()` builds it. It checks tokens (`/auth/me`) but keeps no
    log: production asks it for no database and no checkpoint key (it would hold a private key it never uses)."""

    KEEPS_LOG: ClassVar[bool] = False

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    # The built web app (`npm run build` in web/); served at `/`.
    web_dist: Path = ROOT / "web" / "dist"
    # The OpenID client the web app signs in with (public client, authorization code + PKCE).
    oidc_client_id: str = ""
    # Whether the data is the demo campaign (the web app says so on every page).
    demo: bool = False
    # Bounds of what passes through: request bodies (evidence is at most 20 MiB plus the form around it)
    # and how long an answer may take between two chunks.
    gateway_max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    gateway_timeout: float = Field(default=120, gt=0)


def get_gateway_settings(**overrides: Any) -> GatewaySettings:
    """Build the gateway's settings from the environment, with explicit overrides winning."""
    return GatewaySettings(**overrides)

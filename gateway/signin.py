"""How the web app signs people in: `/auth/config`, and in development only the org-and-role picker."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
import jwt
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator

from contracts.enums import Role
from gateway.settings import GatewaySettings
from runtime.auth import PERSON_ROLES, Principal, current_principal, issue_token, system_token
from runtime.errors import Unavailable, field_error

ORGS_PAGE = 1000
# The org list changes rarely (the inspection office registers orgs); a short cache spares the issues service.
# An empty list is never kept: right after `make run` starts, the reference orgs are still being loaded.
ORGS_TTL = 10.0
MAX_ORGS = 100_000


class AuthConfig(BaseModel):
    """What the web app needs to know to sign a person in."""

    mode: Literal["dev", "oidc"]
    issuer: str | None = None
    client_id: str | None = None
    demo: bool


class DevOrg(BaseModel):
    """An org a developer may sign in as."""

    id: str
    name: str
    kind: str


class DevTokenIn(BaseModel):
    """Who to sign in as, in development."""

    org: str = Field(min_length=1, max_length=64, description="org id, one of GET /auth/dev/orgs")
    roles: list[Role] = Field(min_length=1, max_length=len(PERSON_ROLES))
    sub: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="user name")

    @field_validator("roles")
    @classmethod
    def _people_only(cls, roles: list[Role]) -> list[Role]:
        if Role.system in roles:
            raise ValueError("system 是服务之间使用的角色，不能用于登录 / system is the services' own role")
        return roles


class DevTokenOut(BaseModel):
    """A development token, exactly as `closeloop token` mints it."""

    token: str
    expires_at: str


class Me(BaseModel):
    """The caller as the services see it (org and roles mapped from the provider's claims)."""

    sub: str
    org: str | None
    roles: list[str]


def config_router() -> APIRouter:
    """`GET /auth/config` and `GET /auth/me`, in every environment."""
    router = APIRouter(tags=["sign-in"])

    @router.get("/auth/me", summary="Who the bearer token is, with the org and roles the services give it")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
        return Me(sub=principal.sub, org=principal.org, roles=sorted(principal.roles))

    @router.get("/auth/config", summary="How to sign in (development picker or OpenID Connect)")
    async def auth_config(request: Request) -> AuthConfig:
        settings: GatewaySettings = request.app.state.settings
        if settings.oidc_issuer:
            return AuthConfig(mode="oidc", issuer=settings.oidc_issuer, client_id=settings.oidc_client_id or None,
                              demo=settings.demo)
        return AuthConfig(mode="dev", demo=settings.demo)

    return router


class OrgDirectory:
    """The orgs of the issues service, read page by page to the end and kept for a few seconds."""

    def __init__(self, settings: GatewaySettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.orgs: list[DevOrg] = []
        self.fetched_at = -1e9

    async def all(self) -> list[DevOrg]:
        """Every org, in id order."""
        if self.orgs and time.monotonic() - self.fetched_at < ORGS_TTL:
            return self.orgs
        headers = {"Authorization": f"Bearer {system_token(self.settings)}"}
        url = self.settings.peer_url("issues") + "/v1/orgs"
        orgs: list[DevOrg] = []
        cursor: str | None = None
        try:
            while len(orgs) < MAX_ORGS:
                params: dict[str, Any] = {"limit": ORGS_PAGE} | ({"cursor": cursor} if cursor else {})
                response = await self.client.get(url, params=params, headers=headers)
                response.raise_for_status()
                page = response.json()
                orgs += [DevOrg(id=o["id"], name=o["name"], kind=o["kind"]) for o in page["items"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except httpx.HTTPError as exc:
            raise Unavailable(f"issues 服务暂时无法访问，单位列表取不到 / cannot read the orgs: {exc}",
                              details=[{"service": "issues"}]) from exc
        self.orgs, self.fetched_at = orgs, time.monotonic()
        return orgs


def dev_router() -> APIRouter:
    """`GET /auth/dev/orgs` and `POST /auth/dev/token`: only mounted in development."""
    router = APIRouter(tags=["sign-in"])

    def directory(request: Request) -> OrgDirectory:
        orgs: OrgDirectory = request.app.state.orgs
        return orgs

    @router.get("/auth/dev/orgs", summary="Orgs to sign in as (development only)")
    async def dev_orgs(request: Request) -> list[DevOrg]:
        return await directory(request).all()

    @router.post("/auth/dev/token", summary="Sign in as an org and roles (development only)")
    async def dev_token(body: DevTokenIn, request: Request) -> DevTokenOut:
        settings: GatewaySettings = request.app.state.settings
        known = {o.id for o in await directory(request).all()}
        if body.org not in known:
            raise field_error("org", f"未知的单位 {body.org!r}，请从单位列表中选择 / unknown org")
        roles = sorted({r.value for r in body.roles})
        try:
            token = issue_token(settings, sub=body.sub, org=body.org, roles=roles)
        except ValueError as exc:
            raise field_error("roles", f"管理员角色只属于督察整改办 / {exc}") from exc
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        return DevTokenOut(token=token, expires_at=datetime.fromtimestamp(exp, UTC).isoformat().replace("+00:00", "Z"))

    return router


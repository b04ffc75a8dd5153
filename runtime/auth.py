"""Bearer JWTs: issuing (development), verifying signature, expiry and audience, roles and org scoping."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import jwt
from fastapi import Depends, Request

from contracts import Actor
from contracts.enums import Role
from runtime.errors import Forbidden, Unauthorized
from runtime.settings import Settings

ROLES = {r.value for r in Role}


@dataclass(frozen=True)
class Principal:
    """Who is calling: user, org and roles from a verified token."""

    sub: str
    org: str | None
    roles: frozenset[str] = field(default_factory=frozenset)

    def has(self, *roles: str) -> bool:
        """Whether the caller holds any of the roles."""
        return bool(self.roles.intersection(roles))

    @property
    def sees_all(self) -> bool:
        """Admins, leaders, auditors and services read everything."""
        return self.has("admin", "leader", "auditor", "system")

    def sees_issue(self, *, responsible: str, supervising: str, cooperating: Iterable[str] = ()) -> bool:
        """The design's read rule for an issue and all that hangs off it (history, evidence, closures): those who
        see all see it; an org sees the issues it is responsible for, cooperates on or supervises."""
        if self.sees_all:
            return True
        return self.org is not None and self.org in {responsible, supervising, *cooperating}

    def actor(self, acting_as: str | None = None) -> Actor:
        """The actor written into events."""
        role = acting_as or (min(self.roles) if self.roles else "none")
        return Actor(org=self.org, user=self.sub, role=role)


def issue_token(settings: Settings, *, sub: str, org: str | None, roles: list[str], ttl: int = 12 * 3600) -> str:
    """A signed token (development key, or the configured private key)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(sorted(ROLES))}")
    now = int(time.time())
    claims = {"sub": sub, "org": org, "roles": roles, "aud": settings.jwt_audience, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def system_token(settings: Settings) -> str:
    """The token a service uses to read its peers' feeds."""
    if settings.system_token:
        return settings.system_token
    return issue_token(settings, sub=f"service:{settings.service}", org=None, roles=["system"], ttl=10 * 365 * 86400)


def verify_token(settings: Settings, token: str) -> Principal:
    """Check signature, expiry and audience; refuse anything else with 401."""
    key = settings.jwt_public_key or settings.jwt_secret
    try:
        claims = jwt.decode(
            token, key, algorithms=[settings.jwt_algorithm], audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired; get a new one") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("invalid token: roles must be a list of strings")
    return Principal(sub=str(claims["sub"]), org=claims.get("org"), roles=frozenset(r for r in roles if r in ROLES))


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <jwt>' (see `closeloop token`)")
    principal = verify_token(request.app.state.settings, token.strip())
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[[Principal], Principal]:
    """FastAPI dependency: the caller must hold one of the roles, else 403."""

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.has(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return dependency

"""Bearer JWTs: issuing (development), verifying signature, expiry and audience, roles and org scoping.

Two kinds of token are accepted. Tokens signed with the configured key (the development secret, or
CLOSELOOP_JWT_SECRET / CLOSELOOP_JWT_PUBLIC_KEY: `closeloop token`, machine and system tokens), and,
when CLOSELOOP_OIDC_ISSUER is set, tokens of that OpenID provider, verified against its JWKS (RS256)
with org and roles taken from configurable claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi import Depends, Request

from contracts import Actor
from contracts.enums import Role
from runtime.errors import Forbidden, Unauthorized, Unavailable
from runtime.keyfiles import read_or_create
from runtime.settings import Settings

ROLES = {r.value for r in Role}
# Roles a person may hold; `system` belongs to the services' own tokens only.
PERSON_ROLES = ROLES - {"system"}
OIDC_ALGORITHMS = ["RS256"]
# An unknown key id makes the cache refetch the JWKS (the provider rotated keys), at most this often.
JWKS_MIN_REFRESH = 10.0
# Opaque access tokens are checked at the provider's userinfo endpoint; the answer is kept this long.
OPAQUE_TTL = 60.0
OPAQUE_CACHE_SIZE = 10_000


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


# The longest a token may live, from its `iat` (or from now when it has none) to its `exp`.
MAX_TOKEN_TTL = 30 * 86400
# A service's own token for its peers' feeds is minted afresh this often.
SYSTEM_TOKEN_RENEW = 86400

_DEV_SECRETS: dict[Path, str] = {}


def signing_secret(settings: Settings) -> str:
    """The HS256 secret: CLOSELOOP_JWT_SECRET, else (outside production) the install's random secret, made once on
    first use in `settings.dev_secret_path()` (0600) like the checkpoint keys; every process of the install reads
    that one file."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.env == "production":
        raise ValueError("生产环境没有配置签名密钥，无法签发令牌：请设置 CLOSELOOP_JWT_SECRET / no CLOSELOOP_JWT_SECRET in "
                         "production: set it to sign tokens (with only CLOSELOOP_JWT_PUBLIC_KEY, tokens come from "
                         "your identity provider)")
    path = settings.dev_secret_path()
    if path not in _DEV_SECRETS or not path.exists():
        _DEV_SECRETS[path] = read_or_create(path, lambda: secrets.token_urlsafe(48))
    return _DEV_SECRETS[path]


def issue_token(settings: Settings, *, sub: str, org: str | None, roles: list[str], ttl: int = 12 * 3600) -> str:
    """A signed token (development key, or the configured private key), living at most MAX_TOKEN_TTL seconds."""
    if not 0 < ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"a token lives 1 s to {MAX_TOKEN_TTL // 86400} days ({MAX_TOKEN_TTL} s), not {ttl} s")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(sorted(ROLES))}")
    if "admin" in roles and org != settings.inspection_office_org:
        raise ValueError(f"the admin role belongs to the inspection office: pass --org {settings.inspection_office_org}")
    now = int(time.time())
    claims = {"sub": sub, "org": org, "roles": roles, "aud": settings.jwt_audience, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, signing_secret(settings), algorithm=settings.jwt_algorithm)


_SYSTEM_TOKENS: dict[tuple[str, str, str], tuple[float, str]] = {}


def system_token(settings: Settings) -> str:
    """The token a service uses to read its peers' feeds: minted for the longest lifetime and renewed daily."""
    if settings.system_token:
        return settings.system_token
    ident = (settings.service, str(settings.dev_secret_path()), settings.jwt_secret)
    minted = _SYSTEM_TOKENS.get(ident)
    if minted is None or time.time() - minted[0] > SYSTEM_TOKEN_RENEW:
        token = issue_token(settings, sub=f"service:{settings.service}", org=None, roles=["system"],
                            ttl=MAX_TOKEN_TTL)
        minted = _SYSTEM_TOKENS[ident] = (time.time(), token)
    return minted[1]


def verify_token(settings: Settings, token: str) -> Principal:
    """Check signature, expiry and audience; refuse anything else with 401."""
    key = settings.jwt_public_key or signing_secret(settings)
    try:
        claims = jwt.decode(
            token, key, algorithms=[settings.jwt_algorithm], audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired; get a new one") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    iat = claims.get("iat")
    start = float(iat) if isinstance(iat, int | float) else time.time()
    if float(claims["exp"]) - start > MAX_TOKEN_TTL + 60:
        raise Unauthorized(f"令牌有效期超过 {MAX_TOKEN_TTL // 86400} 天，不予接受，请申请新的令牌 / the token lives longer "
                           f"than {MAX_TOKEN_TTL // 86400} days: get one of at most that")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("invalid token: roles must be a list of strings")
    return Principal(sub=str(claims["sub"]), org=claims.get("org"), roles=frozenset(r for r in roles if r in ROLES))


class OidcProvider:
    """One OpenID provider as the services see it: its signing keys (JWKS, kept `ttl` seconds) and userinfo."""

    def __init__(self, *, issuer: str, jwks_url: str = "", ttl: float = 600) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.ttl = ttl
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = -1e9
        self.document: dict[str, Any] = {}
        self.opaque: dict[str, tuple[float, Principal]] = {}
        self._lock = asyncio.Lock()

    async def discovery(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if not self.document:
            response = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            response.raise_for_status()
            self.document = dict(response.json())
        return self.document

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            if not self.jwks_url:
                self.jwks_url = str((await self.discovery(client))["jwks_uri"])
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            keyset = jwt.PyJWKSet.from_dict(response.json())
        self.keys = {str(k.key_id): k for k in keyset.keys if k.key_id}
        self.fetched_at = time.monotonic()

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key with this id; refetches once when the cache is stale or does not know it."""
        age = time.monotonic() - self.fetched_at
        if kid in self.keys and age < self.ttl:
            return self.keys[kid]
        async with self._lock:
            age = time.monotonic() - self.fetched_at
            if age >= self.ttl or (kid not in self.keys and age >= JWKS_MIN_REFRESH):
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKSetError) as exc:
                    raise Unavailable(
                        f"身份提供方的签名密钥暂时取不到，请稍后重试 / cannot fetch the identity provider's keys: {exc}"
                    ) from exc
        if kid not in self.keys:
            raise Unauthorized(f"invalid token: key {kid!r} is not one of the identity provider's signing keys")
        return self.keys[kid]


    async def userinfo(self, settings: Settings, token: str) -> Principal:
        """The caller of an opaque access token, as the provider's userinfo endpoint tells it (kept a minute)."""
        ident = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self.opaque.get(ident)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
                endpoint = str((await self.discovery(client))["userinfo_endpoint"])
                response = await client.get(endpoint, headers={"Authorization": f"Bearer {token}"})
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise Unavailable(f"身份提供方暂时无法访问，请稍后重试 / cannot reach the identity provider: {exc}") from exc
        if response.status_code in (400, 401, 403):
            raise Unauthorized("登录已失效，请重新登录 / the identity provider does not accept this access token")
        if response.status_code != 200:
            raise Unavailable(f"身份提供方答复 {response.status_code}，请稍后重试 / the identity provider failed")
        principal = principal_from_claims(settings, dict(response.json()))
        if len(self.opaque) >= OPAQUE_CACHE_SIZE:
            self.opaque.clear()
        self.opaque[ident] = (now + OPAQUE_TTL, principal)
        return principal


_JWKS: dict[tuple[str, str], OidcProvider] = {}


def oidc_provider(settings: Settings) -> OidcProvider:
    """The configured provider, one per process (its keys are cached)."""
    ident = (settings.oidc_issuer, settings.oidc_jwks_url)
    if ident not in _JWKS:
        _JWKS[ident] = OidcProvider(issuer=settings.oidc_issuer, jwks_url=settings.oidc_jwks_url,
                                 ttl=settings.oidc_jwks_ttl)
    return _JWKS[ident]


def _roles_of(value: Any) -> list[str] | None:
    # Providers write roles as a JSON list or as one space- or comma-separated string.
    if isinstance(value, str):
        return [r for r in value.replace(",", " ").split() if r]
    if isinstance(value, list) and all(isinstance(r, str) for r in value):
        return list(value)
    return None


def principal_from_claims(settings: Settings, claims: dict[str, Any]) -> Principal:
    """Org and roles from the provider's claims (or the configured user map); 403 when they are missing."""
    org: Any = claims.get(settings.oidc_org_claim)
    roles = _roles_of(claims.get(settings.oidc_roles_claim))
    if org is None and roles is None and settings.oidc_user_map:
        mapped = settings.oidc_user_map.get(str(claims.get(settings.oidc_user_map_claim, "")))
        if mapped is not None:
            org, roles = mapped.org, list(mapped.roles)
    if not isinstance(org, str) or not org:
        raise Forbidden(
            f"令牌中没有所属单位（声明 {settings.oidc_org_claim}），请联系管理员在身份提供方配置 / "
            f"the token carries no org claim {settings.oidc_org_claim!r}",
            details=[{"field": settings.oidc_org_claim, "message": "missing"}],
        )
    granted = frozenset(r for r in roles or [] if r in PERSON_ROLES)
    if not granted:
        raise Forbidden(
            f"令牌中没有闭环的角色（声明 {settings.oidc_roles_claim}），请联系管理员分配角色 / the token carries no "
            f"role of {', '.join(sorted(PERSON_ROLES))} in claim {settings.oidc_roles_claim!r}",
            details=[{"field": settings.oidc_roles_claim, "message": "missing or no known role"}],
        )
    return Principal(sub=str(claims["sub"]), org=org, roles=granted)


async def verify_oidc_token(settings: Settings, token: str) -> Principal:
    """Check an OpenID provider's token: RS256 signature by a key of its JWKS, issuer, audience, expiry."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    if header.get("alg") not in OIDC_ALGORITHMS:
        raise Unauthorized(f"invalid token: algorithm {header.get('alg')!r}; the provider's tokens must be RS256")
    key = await oidc_provider(settings).key(str(header.get("kid", "")))
    try:
        claims = jwt.decode(
            token, key.key, algorithms=OIDC_ALGORITHMS, audience=settings.oidc_audience,
            issuer=settings.oidc_issuer, leeway=30, options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("登录已过期，请重新登录 / the token has expired; sign in again") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    return principal_from_claims(settings, claims)


def _issuer_of(token: str) -> Any:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        return None


def _is_jwt(token: str) -> bool:
    return token.count(".") == 2


async def authenticate(settings: Settings, token: str) -> Principal:
    """The caller of a bearer token: the OpenID provider's when it issued it, else the configured key's.

    A provider's JWT (ID token, or a JWT access token) is verified against its JWKS; an opaque access token
    (some providers issue only those) is checked at its userinfo endpoint.
    """
    if settings.oidc_issuer:
        if not _is_jwt(token):
            return await oidc_provider(settings).userinfo(settings, token)
        if _issuer_of(token) == settings.oidc_issuer:
            return await verify_oidc_token(settings, token)
    return verify_token(settings, token)


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <jwt>' (see `closeloop token`)")
    settings: Settings = request.app.state.settings
    principal = admitted(settings, await authenticate(settings, token.strip()))
    request.state.principal = principal
    return principal


def admitted(settings: Settings, principal: Principal) -> Principal:
    """A verified caller the services accept: one with a role (a token without any reads nothing but the public
    pages), and `admin` only for the inspection office's own org."""
    if not principal.roles:
        raise Forbidden(
            f"令牌没有任何闭环角色，只能查看公开页面；请联系管理员分配角色 / the token carries no role of "
            f"{', '.join(sorted(ROLES))}: it may read the public pages only",
            details=[{"field": "roles", "message": "no known role"}])
    if principal.has("admin") and principal.org != settings.inspection_office_org:
        raise Forbidden(
            f"管理员角色只属于督察整改办（{settings.inspection_office_org}），该令牌的单位是 {principal.org!r} / "
            f"the admin role belongs to the inspection office org {settings.inspection_office_org!r} only",
            details=[{"field": "org", "message": "admin tokens must be of the inspection office"}])
    return principal


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency: the caller must hold one of the roles, else 403."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        # async: a plain check, not worth a worker thread per request
        if not principal.has(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
        return principal

    return dependency

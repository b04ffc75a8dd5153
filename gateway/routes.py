"""The one route table: which service answers which path prefix, at the gateway and in nginx.

Every service's own paths start with prefixes no other service uses. The paths every service has
(its log, its checkpoints) carry the service's name; the operational ones that do not
(`/v1/dead-letters`) are reached at `/v1/ops/<service>/…`. tests/gateway/test_routes.py checks this
table against the services' real routes, so it cannot drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("issues", "verification", "scoring", "notify")

# The prefixes of the paths each service owns (a prefix matches itself and what follows a "/").
OWN_PREFIXES: dict[str, tuple[str, ...]] = {
    "issues": ("/v1/orgs", "/v1/rounds", "/v1/issues", "/v1/public"),
    "verification": ("/v1/evidence", "/v1/closures", "/v1/reopenings", "/v1/samples"),
    "scoring": ("/v1/schemes", "/v1/readings", "/v1/scores", "/v1/rankings", "/v1/facts", "/v1/calendar",
                "/v1/accountability", "/v1/appeals"),
    "notify": ("/v1/inbox", "/v1/recipients", "/v1/address-book", "/v1/webhooks", "/v1/deliveries",
               "/v1/digests", "/v1/bulletins"),
}

# Paths the gateway answers itself, never the web app's index page.
GATEWAY_API_PREFIXES = ("/v1", "/auth/config", "/auth/me", "/auth/dev", "/healthz", "/readyz")


@dataclass(frozen=True)
class Route:
    """A path prefix and the service behind it; `upstream` replaces the prefix when it is set."""

    prefix: str
    service: str
    upstream: str | None = None

    def matches(self, path: str) -> bool:
        """Whether the path is the prefix itself or lies below it."""
        return path == self.prefix or path.startswith(self.prefix + "/")

    def upstream_path(self, path: str) -> str:
        """The path as the service knows it."""
        if self.upstream is None:
            return path
        return self.upstream + path[len(self.prefix):]


def _table() -> tuple[Route, ...]:
    routes: list[Route] = []
    for service in SERVICES:
        routes += [Route(prefix, service) for prefix in OWN_PREFIXES[service]]
        routes += [Route(f"/v1/logs/{service}", service), Route(f"/v1/checkpoints/{service}", service),
                   Route(f"/v1/ops/{service}", service, upstream="/v1")]
    # Longest first, so a more specific prefix wins (as nginx's longest-prefix match does).
    return tuple(sorted(routes, key=lambda r: (-len(r.prefix), r.prefix)))


ROUTES: tuple[Route, ...] = _table()


def resolve(path: str) -> Route | None:
    """The route a request path goes to, or None when no service owns it."""
    for route in ROUTES:
        if route.matches(path):
            return route
    return None


def is_api_path(path: str) -> bool:
    """Whether a path belongs to the APIs (so it never falls back to the web app's index page)."""
    return any(path == p or path.startswith(p + "/") for p in GATEWAY_API_PREFIXES)

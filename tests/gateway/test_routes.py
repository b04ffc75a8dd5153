"""The gateway's one route table agrees with the services' real routes, so it cannot drift from them."""

from __future__ import annotations

import importlib
import re

import pytest

from gateway.routes import GATEWAY_API_PREFIXES, ROUTES, SERVICES, is_api_path, resolve
from runtime.settings import get_settings

# Paths every service has under the same name; the gateway reaches them by the service's name instead.
SHARED = {"/healthz", "/readyz", "/metrics", "/v1/dead-letters"}


def service_paths(service: str) -> list[str]:
    """Every path the service's app routes (its OpenAPI document), parameters filled in."""
    app = importlib.import_module(f"services.{service}.app").create_app(get_settings(service=service, env="test"))
    paths = list(app.openapi()["paths"])
    return [re.sub(r"\{name\}", service, re.sub(r"\{(?!name\})[^}]+\}", "x1", p)) for p in paths]


@pytest.mark.parametrize("service", SERVICES)
def test_every_path_of_a_service_routes_to_that_service_unchanged(service: str) -> None:
    wrong = {}
    for path in service_paths(service):
        if path in SHARED or path.startswith("/v1/dead-letters/"):  # the redrive routes, beside the list
            continue
        route = resolve(path)
        if route is None or route.service != service or route.upstream_path(path) != path:
            wrong[path] = route
    assert wrong == {}, f"add these paths of {service} to gateway/routes.py (OWN_PREFIXES): {wrong}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_of_the_table_reaches_a_real_path_of_its_service(service: str) -> None:
    real = set(service_paths(service))
    for route in (r for r in ROUTES if r.service == service):
        base = route.upstream_path(route.prefix)
        assert any(p == base or p.startswith(base + "/") for p in real), (
            f"{route.prefix} → {service} reaches no route of {service}: remove it from gateway/routes.py")


def test_shared_operational_paths_are_reached_by_the_services_name() -> None:
    for service in SERVICES:
        route = resolve(f"/v1/ops/{service}/dead-letters")
        assert route is not None and route.service == service
        assert route.upstream_path(f"/v1/ops/{service}/dead-letters") == "/v1/dead-letters"
        assert resolve(f"/v1/logs/{service}").service == service  # type: ignore[union-attr]
        assert resolve(f"/v1/checkpoints/{service}/public-key").service == service  # type: ignore[union-attr]


def test_prefixes_are_unique_and_match_only_at_a_segment_boundary() -> None:
    prefixes = [r.prefix for r in ROUTES]
    assert len(prefixes) == len(set(prefixes))
    assert resolve("/v1/issuesx") is None
    assert resolve("/v1/issues").service == "issues"  # type: ignore[union-attr]
    assert resolve("/v1/logs/issues-copy") is None


def test_api_paths_never_fall_back_to_the_web_app_but_the_apps_own_paths_do() -> None:
    assert all(is_api_path(p) for p in GATEWAY_API_PREFIXES)
    assert is_api_path("/v1/nothing-here") and is_api_path("/auth/dev/token")
    assert not is_api_path("/auth/callback") and not is_api_path("/issues/HH-01") and not is_api_path("/")

"""The published OpenAPI says what every route answers, and every answer matches it.

Two judges: a walk over each service's `app.openapi()` (every 2xx answer typed, every refusal in the design's
error shape, no FastAPI `HTTPValidationError`), and schemathesis run in-process against each service with a
token that holds every role, checking that no answer is a 500, has an undocumented status, or departs from
its schema.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from closeloop.cli import REFERENCE_ROUND
from closeloop.seed import seed_reference
from runtime.app import build_app
from tests.support import DATA, running, settings_for, token

SERVICES = ("issues", "verification", "scoring", "notify")
ALL_ROLES = ["admin", "responsible", "supervisor", "leader", "auditor", "system"]
# Examples per operation and generation mode; small so the four services take well under a minute or two.
EXAMPLES = int(os.environ.get("CLOSELOOP_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _spec(service: str, tmp: Path) -> dict[str, Any]:
    module = importlib.import_module(f"services.{service}.app")
    return build_app(module.SPEC, settings_for(service, tmp), follow=False).openapi()


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return _resolve(spec["components"]["schemas"][ref.rsplit("/", 1)[-1]], spec) if ref else schema


def typed(schema: dict[str, Any] | None, spec: dict[str, Any]) -> bool:
    """Whether a response schema says something: not missing, not `{}`, not a bare open object."""
    if not schema:
        return False
    schema = _resolve(schema, spec)
    if schema.get("type") == "object":
        return bool(schema.get("properties")) or schema.get("additionalProperties") not in (None, True, {})
    return bool(schema.get("type") or schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf"))


def operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (`METHOD path`, operation) of a spec."""
    return [(f"{method.upper()} {path}", op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def untyped_answers(spec: dict[str, Any]) -> list[str]:
    """Operations with a 2xx answer (other than 204) whose content has no typed schema."""
    bad = []
    for label, op in operations(spec):
        for status, response in op["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = response.get("content") or {}
            if not content or not all(typed(c.get("schema"), spec) for c in content.values()):
                bad.append(f"{label} {status}")
    return bad


@pytest.mark.parametrize("service", SERVICES)
def test_every_success_answer_has_a_typed_schema(service: str, tmp_path: Path) -> None:
    spec = _spec(service, tmp_path)
    assert operations(spec), "no operations at all"
    assert untyped_answers(spec) == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_refusal_is_documented_in_the_design_error_shape(service: str, tmp_path: Path) -> None:
    spec = _spec(service, tmp_path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["ErrorOut"]["properties"]) == {"error"}
    problems = []
    for label, op in operations(spec):
        has_params = bool(op.get("parameters") or op.get("requestBody"))
        if has_params and "422" not in op["responses"]:
            problems.append(f"{label}: 422 not documented")
        for status, response in op["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": "#/components/schemas/ErrorOut"}:
                    problems.append(f"{label} {status}: {schema}")
    assert problems == []


def test_the_untyped_answer_check_catches_an_open_object() -> None:
    spec = {"paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True}}}}}}}}, "components": {"schemas": {}}}
    assert untyped_answers(spec) == ["GET /x 200"]


def test_file_answers_and_uploads_say_their_content_types(tmp_path: Path) -> None:
    issues, verification = _spec("issues", tmp_path / "i"), _spec("verification", tmp_path / "v")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    export = issues["paths"]["/v1/issues/export"]["get"]["responses"]["200"]["content"]
    assert export == {xlsx: {"schema": {"type": "string", "format": "binary"}}}
    ledger = issues["paths"]["/v1/issues/import"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "text/csv", xlsx} <= set(ledger)
    upload = verification["paths"]["/v1/evidence"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["file"] == {
        "type": "string", "format": "binary", "description": upload["schema"]["properties"]["file"]["description"]}
    content = verification["paths"]["/v1/evidence/{evidence_id}/content"]["get"]["responses"]["200"]["content"]
    assert {"image/jpeg", "image/png", "application/pdf"} <= set(content)


async def test_a_full_last_page_has_no_next_cursor_and_a_bad_cursor_is_refused_naming_it(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        admin = s.auth(roles="admin")
        for n in range(4):
            r = await s.client.post("/v1/orgs", json={"id": f"org-{n}", "name": f"单位{n}", "kind": "department"},
                                    headers=admin)
            assert r.status_code == 201, r.text
        first = (await s.client.get("/v1/orgs", params={"limit": 2}, headers=admin)).json()
        assert [o["id"] for o in first["items"]] == ["org-0", "org-1"] and first["next_cursor"]
        last = (await s.client.get("/v1/orgs", params={"limit": 2, "cursor": first["next_cursor"]},
                                   headers=admin)).json()
        assert [o["id"] for o in last["items"]] == ["org-2", "org-3"]
        assert last["next_cursor"] is None
        r = await s.client.get("/v1/orgs", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=admin)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "cursor"


# ---- schemathesis ------------------------------------------------------------------------------------------


def _strategy(operation: Any) -> Any:
    """Valid and invalid requests for one operation."""
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


async def _seed(service: str, tmp: Path) -> None:
    """Give a service the reference world before it is fuzzed, so that lists and reads have rows to answer.

    The issues service gets the reference orgs, round and ledger; the others consume the events it emitted.
    """
    world = tmp / "world"
    async with running("issues", world if service != "issues" else tmp, log_level="WARNING") as issues:
        issues.client.headers.update(issues.auth(sub="seed", org="inspection-office", roles="admin"))
        await seed_reference(issues.client, data=DATA, round_=REFERENCE_ROUND, echo=lambda _: None)
        events = await issues.events()
    if service == "issues":
        return
    async with running(service, tmp, log_level="WARNING") as target:
        for event in events:
            await target.deliver(event)


def fuzz(service: str, tmp: Path, *, examples: int = EXAMPLES) -> list[str]:
    """Run schemathesis against one in-process service (seeded in `tmp` first); the failures, one per operation.

    The app runs in schemathesis' own event-loop thread; a request that does not answer within a minute fails.
    """
    module = importlib.import_module(f"services.{service}.app")
    settings = settings_for(service, tmp, log_level="WARNING")
    app = build_app(module.SPEC, settings, follow=False)
    headers = token(settings, sub="fuzzer", org="inspection-office", roles=ALL_ROLES)
    failures: list[str] = []
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()

            @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=_strategy(operation))
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)

            try:
                check()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 — schemathesis raises groups; every failure is reported
                failures.append(f"{operation.label}: {str(exc).strip()[:1500]}")
    finally:
        asgi.shutdown_lifespans()
    return failures


@pytest.mark.parametrize("service", SERVICES)
async def test_schemathesis_finds_no_server_error_no_undocumented_status_and_no_schema_violation(
        service: str, tmp_path: Path) -> None:
    await asyncio.wait_for(_seed(service, tmp_path), timeout=300)
    failures = fuzz(service, tmp_path)
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)

"""Who may do what: every endpoint × every role × the caller's own org or another org, in one table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from runtime.models import OutboxRow
from tests.support import running
from tests.verification.helpers import OTHER, RESP, SUPER, World

ROLES = ("admin", "responsible", "supervisor", "leader", "auditor", "system", "none")
SEES_ALL = {"admin", "leader", "auditor", "system"}
OWN_ORG = {"responsible": RESP, "none": RESP}  # everyone else's "own" org is the supervising office


@dataclass
class Endpoint:
    name: str
    method: str
    needs: str  # the state the issue must be in for the call to succeed
    writes: bool


ENDPOINTS = [
    Endpoint("upload evidence", "POST /v1/evidence", "registered", True),
    Endpoint("list evidence", "GET /v1/evidence", "evidence", False),
    Endpoint("read evidence", "GET /v1/evidence/{evidence}", "evidence", False),
    Endpoint("download evidence", "GET /v1/evidence/{evidence}/content", "evidence", False),
    Endpoint("apply", "POST /v1/closures", "evidence", True),
    Endpoint("list closures", "GET /v1/closures", "open", False),
    Endpoint("read closure", "GET /v1/closures/{closure}", "open", False),
    Endpoint("decide", "POST /v1/closures/{closure}/decision", "open", True),
    Endpoint("file", "POST /v1/closures/{closure}/file", "signed_off", True),
    Endpoint("reopen", "POST /v1/reopenings", "signed_off", True),
    Endpoint("list reopenings", "GET /v1/reopenings", "evidence", False),
]

ALLOWED_TO_WRITE = {
    "upload evidence": {"responsible", "supervisor"},
    "apply": {"responsible"},
    "decide": {"supervisor"},
    "file": {"admin"},
    "reopen": {"admin", "supervisor"},
}
OK = {"POST": 201, "GET": 200}


def expected(ep: Endpoint, role: str, own: bool) -> int:
    """The status the design promises for this caller."""
    ok = 200 if ep.name in ("decide", "file") else OK[ep.method.split()[0]]
    if role == "none":
        return 403
    if role == "admin" and not own:
        return 403  # admin belongs to the inspection office only: another org's admin token is refused
    if not ep.writes:
        if ep.name == "list closures":
            return 200  # scoped: another org gets an empty list
        return ok if role in SEES_ALL or own else 404
    if role not in ALLOWED_TO_WRITE[ep.name]:
        return 403
    return ok if own else 404


CASES = [(ep, role, own) for ep in ENDPOINTS for role in ROLES for own in (True, False)]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running("verification", tmp_path_factory.mktemp("authz")) as ver:
        yield World(ver)


async def prepare(w: World, needs: str) -> dict[str, str]:
    """A fresh issue in the state the endpoint needs; ids to fill the path and body with."""
    issue = await w.issue()
    ids = {"issue": issue}
    if needs == "registered":
        return ids
    ids["evidence"] = await w.evidence(issue)
    if needs == "evidence":
        return ids
    r = await w.apply(issue, [ids["evidence"]])
    ids["closure"] = r.json()["id"]
    if needs == "signed_off":
        assert (await w.decide(ids["closure"])).status_code == 200
    return ids


async def log_size(w: World) -> int:
    """How many events the service has written (committed to its outbox)."""
    async with w.ver.rt.read() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxRow))).scalar_one())


async def call(w: World, ep: Endpoint, ids: dict[str, str], headers: dict[str, str]) -> Any:
    method, path = ep.method.split()
    url = path.format(**ids)
    if ep.name == "upload evidence":
        return await w.upload(ids["issue"], headers=headers)
    if ep.name in ("list evidence", "list reopenings"):
        return await w.client.get(url, params={"issue_id": ids["issue"]}, headers=headers)
    if ep.name == "apply":
        return await w.apply(ids["issue"], [ids["evidence"]], headers=headers)
    if ep.name == "decide":
        return await w.decide(ids["closure"], headers=headers)
    if ep.name == "reopen":
        return await w.client.post(url, headers=headers, json={"issue_id": ids["issue"], "reason": "反弹"})
    return await w.client.request(method, url, headers=headers)


@pytest.mark.parametrize(("ep", "role", "own"), CASES,
                         ids=[f"{ep.name}-{role}-{'own' if own else 'other'}" for ep, role, own in CASES])
async def test_authorization_table(shared: World, ep: Endpoint, role: str, own: bool) -> None:
    ids = await prepare(shared, ep.needs)
    org = (OWN_ORG.get(role, SUPER)) if own else OTHER
    before = await log_size(shared)
    r = await call(shared, ep, ids, shared.who(role, org))
    want = expected(ep, role, own)
    assert r.status_code == want, f"{ep.method} as {role}@{org}: {r.status_code} {r.text}"
    if want >= 400:
        assert "error" in r.json()
        assert await log_size(shared) == before
    if ep.name == "list closures" and want == 200:
        listed = {c["issue_id"] for c in r.json()["items"]}
        assert (ids["issue"] in listed) == (role in SEES_ALL or own)

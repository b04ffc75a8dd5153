"""The authorization matrix: one table of endpoint × caller (role, own or other org) → expected status.

Two parts generate the tests from it:
- TABLE: every mutating endpoint of scoring and notify, each caller in its own org and another org
  (issues and verification keep their own full tables in tests/issues and tests/verification, whose
  stateful set-up those endpoints need);
- CROSS_CUTTING: every route of all four services (mutating or reading, public ones excepted) refuses a token
  without roles (403), an `admin` token of an org other than the inspection office (403), and no token (401).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import jwt
import pytest
import pytest_asyncio

from runtime.auth import signing_secret
from tests.scoring.test_api import deliver_all, streams
from tests.support import Running, running

OFFICE, OWN, OTHER = "inspection-office", "xincheng", "wuchuan"

# caller -> (roles, org when "own", org when "other"); each row of TABLE gives one status per caller
CALLERS: dict[str, tuple[list[str], str | None]] = {
    "admin": (["admin"], OFFICE),
    "admin@other": (["admin"], OTHER),
    "responsible@own": (["responsible"], OWN),
    "responsible@other": (["responsible"], OTHER),
    "supervisor@own": (["supervisor"], OWN),
    "supervisor@other": (["supervisor"], OTHER),
    "leader": (["leader"], None),
    "auditor": (["auditor"], None),
    "system": (["system"], None),
    "no-role@own": ([], OWN),
    "nobody": ([], None),
}
ORDER = list(CALLERS)


def row(*codes: int) -> dict[str, int]:
    assert len(codes) == len(ORDER)
    return dict(zip(ORDER, codes, strict=True))


TABLE: dict[str, dict[str, int]] = {
    #                                          adm  adm@o r@own r@oth s@own s@oth lead  aud   sys  norole none
    "scoring PUT /v1/schemes/{scheme_id}": row(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "scoring POST /v1/readings":           row(201, 403, 403, 403, 403, 403, 403, 403, 201, 403, 401),
    "scoring POST /v1/rankings":           row(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "scoring PUT /v1/calendar/{year}":     row(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    # on a ranking and an appeal that do not exist: the role is checked first (the rules behind the role, with a
    # real ranking, are tests/scoring/test_appeals.py's)
    "scoring POST /v1/rankings/{ranking_id}/appeals": row(403, 403, 404, 404, 403, 403, 403, 403, 403, 403, 401),
    "scoring POST /v1/appeals/{appeal_id}/decision": row(404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "notify POST /v1/inbox/{item_id}/read": row(404, 403, 200, 404, 200, 404, 404, 404, 404, 403, 401),
    "notify PUT /v1/recipients/{org_id}":  row(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "notify PUT /v1/address-book/{title}": row(200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "notify DELETE /v1/address-book/{title}": row(204, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "notify POST /v1/webhooks":            row(201, 403, 201, 403, 201, 403, 403, 403, 403, 403, 401),
    "notify DELETE /v1/webhooks/{hook_id}": row(204, 403, 204, 403, 204, 403, 403, 403, 403, 403, 401),
    "notify POST /v1/digests/weekly":      row(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "notify POST /v1/digests/half-year":   row(201, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    # redriving dead letters: the office's admin and the system only (none exist here: all → 200, one → 404)
    **{f"{name} POST /v1/dead-letters/redrive": row(200, 403, 403, 403, 403, 403, 403, 403, 200, 403, 401)
       for name in ("scoring", "notify")},
    **{f"{name} POST /v1/dead-letters/{{dead_letter_id}}/redrive":
       row(404, 403, 403, 403, 403, 403, 403, 403, 404, 403, 401) for name in ("scoring", "notify")},
}

# reading endpoints whose answer depends on the caller beyond CROSS_CUTTING: same callers, same columns
READS: dict[str, dict[str, int]] = {
    #                                          adm  adm@o r@own r@oth s@own s@oth lead  aud   sys  norole none
    # the caller's own org's inbox, as GET /v1/inbox scopes it (an org-less caller counts an empty inbox)
    "notify GET /v1/inbox/unread-count":   row(200, 403, 200, 200, 200, 200, 200, 200, 200, 403, 401),
}

counter = itertools.count(1)


def headers_of(s: Running, caller: str) -> dict[str, str]:
    roles, org = CALLERS[caller]
    if caller == "nobody":
        return {}
    # minted by hand: the token helpers refuse to sign an admin token of another org
    now = int(time.time())
    claims = {"sub": f"u-{caller}", "org": org, "roles": roles, "aud": s.settings.jwt_audience, "iat": now,
              "exp": now + 600}
    return {"Authorization": "Bearer " + jwt.encode(claims, signing_secret(s.settings), algorithm="HS256")}


Call = Callable[[Running, dict[str, str]], Awaitable[int]]


def redrive_calls(name: str) -> dict[str, Call]:
    async def redrive_all(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/dead-letters/redrive", headers=h)).status_code

    async def redrive_one(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/dead-letters/987654/redrive", headers=h)).status_code

    return {f"{name} POST /v1/dead-letters/redrive": redrive_all,
            f"{name} POST /v1/dead-letters/{{dead_letter_id}}/redrive": redrive_one}


def scoring_calls() -> dict[str, Call]:
    async def scheme(s: Running, h: dict[str, str]) -> int:
        body = {"weights": {z: {"on_time_closure": 0.4, "completion": 0.3, "quality": 0.2, "environment": 0.1}
                            for z in ("urban_core", "ecological", "industrial", "agricultural", "department")}}
        return (await s.client.put(f"/v1/schemes/s-{next(counter)}", headers=h, json=body)).status_code

    async def readings(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/readings", headers=h, json={
            "org_id": OWN, "indicator": "pm25", "value": 30, "observed_at": "2020-06-15T08:00:00+08:00"})).status_code

    async def ranking(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/rankings", headers=h, json={"period": "2020-06", "kind": "region"})).status_code

    async def calendar(s: Running, h: dict[str, str]) -> int:
        return (await s.client.put(f"/v1/calendar/{2100 + next(counter) % 90}", headers=h, json={
            "holidays": [], "workdays": [], "source": "测试"})).status_code

    async def appeal(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/rankings/no-such-ranking/appeals", headers=h, json={
            "component": "quality", "reason": "整改质量分值有误"})).status_code

    async def decision(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/appeals/no-such-appeal/decision", headers=h, json={
            "outcome": "refused", "reasons": "申诉不成立"})).status_code

    return {"scoring PUT /v1/schemes/{scheme_id}": scheme, "scoring POST /v1/readings": readings,
            "scoring POST /v1/rankings": ranking, "scoring PUT /v1/calendar/{year}": calendar,
            "scoring POST /v1/rankings/{ranking_id}/appeals": appeal,
            "scoring POST /v1/appeals/{appeal_id}/decision": decision, **redrive_calls("scoring")}


def notify_calls() -> dict[str, Call]:
    from services.notify import store

    async def inbox_read(s: Running, h: dict[str, str]) -> int:
        n = next(counter)
        async with s.rt.sessions() as session, session.begin():
            session.add(store.InboxItem(id=f"item-{n}", recipient=OWN, org_id=OWN, type="assigned", subject="i1",
                                        title="新任务", body="正文", dedupe_key=f"k-{n}", created_at=s.rt.clock.now()))
        return (await s.client.post(f"/v1/inbox/item-{n}/read", headers=h)).status_code

    async def recipients(s: Running, h: dict[str, str]) -> int:
        return (await s.client.put(f"/v1/recipients/{OWN}", headers=h, json={"emails": ["a@example.com"]})).status_code

    async def leader_put(s: Running, h: dict[str, str]) -> int:
        return (await s.client.put(f"/v1/address-book/书记{next(counter)}", headers=h,
                                   json={"name": "张三", "emails": ["z@example.com"]})).status_code

    async def leader_delete(s: Running, h: dict[str, str]) -> int:
        title = f"市长{next(counter)}"
        admin = headers_of(s, "admin")
        r = await s.client.put(f"/v1/address-book/{title}", headers=admin,
                               json={"name": "李四", "emails": ["l@example.com"]})
        assert r.status_code == 200, r.text
        return (await s.client.delete(f"/v1/address-book/{title}", headers=h)).status_code

    async def hook_create(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/webhooks", headers=h, json={
            "org_id": OWN, "url": "https://receiver.example.com/hook", "secret": "s" * 20})).status_code

    async def hook_delete(s: Running, h: dict[str, str]) -> int:
        r = await s.client.post("/v1/webhooks", headers=headers_of(s, "admin"), json={
            "org_id": OWN, "url": "https://receiver.example.com/hook", "secret": "s" * 20})
        assert r.status_code == 201, r.text
        return (await s.client.delete(f"/v1/webhooks/{r.json()['id']}", headers=h)).status_code

    async def weekly(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/digests/weekly", headers=h)).status_code

    async def half_year(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/digests/half-year", headers=h)).status_code

    return {"notify POST /v1/inbox/{item_id}/read": inbox_read, "notify PUT /v1/recipients/{org_id}": recipients,
            "notify PUT /v1/address-book/{title}": leader_put, "notify DELETE /v1/address-book/{title}": leader_delete,
            "notify POST /v1/webhooks": hook_create, "notify DELETE /v1/webhooks/{hook_id}": hook_delete,
            "notify POST /v1/digests/weekly": weekly, "notify POST /v1/digests/half-year": half_year,
            **redrive_calls("notify")}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def services(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Running]]:
    tmp = tmp_path_factory.mktemp("authz-matrix")
    issues_events, verification_events = streams()
    async with (running("issues", tmp / "issues") as iss, running("verification", tmp / "verification") as ver,
                running("scoring", tmp / "scoring") as sco, running("notify", tmp / "notify") as ntf):
        await deliver_all(sco, verification_events + issues_events)
        yield {"issues": iss, "verification": ver, "scoring": sco, "notify": ntf}


CASES = [(endpoint, caller) for endpoint in TABLE for caller in ORDER]


@pytest.mark.parametrize(("endpoint", "caller"), CASES, ids=[f"{e}-{c}" for e, c in CASES])
async def test_the_matrix(services: dict[str, Running], endpoint: str, caller: str) -> None:
    service = endpoint.split()[0]
    s = services[service]
    calls = scoring_calls() if service == "scoring" else notify_calls()
    got = await calls[endpoint](s, headers_of(s, caller))
    assert got == TABLE[endpoint][caller], f"{endpoint} as {caller}: {got}, expected {TABLE[endpoint][caller]}"


def _routes(s: Running) -> list[tuple[str, str]]:
    spec: dict[str, Any] = s.app.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def test_every_mutating_endpoint_of_scoring_and_notify_has_a_row(services: dict[str, Running]) -> None:
    mutating = {f"{name} {m} {p}" for name in ("scoring", "notify") for m, p in _routes(services[name])
                if m != "GET"}
    assert mutating == set(TABLE), f"rows missing: {mutating - set(TABLE)}; rows of no route: {set(TABLE) - mutating}"


PUBLIC = ("/v1/public/", "/healthz", "/readyz", "/metrics", "/v1/checkpoints/{name}/public-key")
CROSS_CUTTING = {"no-role@own": 403, "admin@other": 403, "nobody": 401}


@pytest.mark.parametrize("service", ["issues", "verification", "scoring", "notify"])
async def test_no_role_another_orgs_admin_and_no_token_reach_nothing_but_the_public_pages(
        services: dict[str, Running], service: str) -> None:
    s = services[service]
    wrong = []
    for method, path in _routes(s):
        if path.startswith(PUBLIC):
            continue
        url = path.replace("{name}", service)
        for part in [p for p in url.split("/") if p.startswith("{")]:
            url = url.replace(part, "2030" if part == "{year}" else "x1")
        for caller, want in CROSS_CUTTING.items():
            r = await s.client.request(method, url, headers=headers_of(s, caller))
            if r.status_code != want or "error" not in r.json():
                wrong.append(f"{method} {path} as {caller}: {r.status_code}, expected {want}")
    assert not wrong, "\n".join(wrong)


READ_CASES = [(endpoint, caller) for endpoint in READS for caller in ORDER]


@pytest.mark.parametrize(("endpoint", "caller"), READ_CASES, ids=[f"{e}-{c}" for e, c in READ_CASES])
async def test_the_reads(services: dict[str, Running], endpoint: str, caller: str) -> None:
    service, method, path = endpoint.split()
    s = services[service]
    r = await s.client.request(method, path, headers=headers_of(s, caller))
    assert r.status_code == READS[endpoint][caller], f"{endpoint} as {caller}: {r.status_code} {r.text}"
    if r.status_code == 200:
        assert isinstance(r.json()["unread"], int)


async def test_scoring_facts_of_an_issue_are_shown_to_its_responsible_org_and_those_who_see_all(
        services: dict[str, Running]) -> None:
    s = services["scoring"]
    for caller, want in (("responsible@own", 200), ("responsible@other", 404), ("supervisor@other", 404),
                         ("leader", 200), ("auditor", 200), ("admin", 200), ("no-role@own", 403)):
        r = await s.client.get("/v1/facts/issues/i1", headers=headers_of(s, caller))
        assert r.status_code == want, (caller, r.text)
        if want == 200:
            assert r.json()["responsible_org_id"] == OWN

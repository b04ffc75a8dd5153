"""Who may call what: every endpoint of the issues service for every role, own org and another org.

The issue under test is assigned to city-water (responsible), city-ndrc (cooperating) and city-eeb
(supervising); "other" callers belong to orgs with no part in it. Each case gets a fresh issue in the
state the endpoint needs, so the cases do not depend on each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.issues.helpers import ROUND, load_orgs_and_round
from tests.support import Running, running

CALLERS: dict[str, dict[str, Any] | None] = {
    "admin": {"org": "inspection-office", "roles": "admin"},
    "responsible_own": {"org": "city-water", "roles": "responsible"},
    "responsible_other": {"org": "city-forestry", "roles": "responsible"},
    "cooperating": {"org": "city-ndrc", "roles": "responsible"},
    "supervisor_own": {"org": "city-eeb", "roles": "supervisor"},
    "supervisor_other": {"org": "city-agri", "roles": "supervisor"},
    "leader": {"org": None, "roles": "leader"},
    "auditor": {"org": None, "roles": "auditor"},
    "system": {"org": None, "roles": "system"},
    "nobody": None,
}
ORDER = list(CALLERS)

# endpoint -> expected status per caller, in ORDER
A, R, RO, C, S, SO, L, AU, SY, N = range(10)


def row(*codes: int) -> list[int]:
    assert len(codes) == len(ORDER)
    return list(codes)


TABLE: dict[str, list[int]] = {
    #                                 adm  r_own r_oth coop s_own s_oth lead  aud   sys  none
    "POST /v1/orgs":              row(201, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "GET /v1/orgs":               row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1/orgs/{org}":         row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "POST /v1/rounds":            row(201, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "GET /v1/rounds":             row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1/rounds/{round}":     row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "POST /v1/issues":            row(201, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/import":     row(201, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "GET /v1/issues":             row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1/issues/export":      row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1/issues/summary":     row(200, 200, 200, 200, 200, 200, 200, 200, 200, 401),
    "GET /v1/issues/{id}":        row(200, 200, 404, 200, 200, 404, 200, 200, 200, 401),
    "PATCH /v1/issues/{id}":      row(200, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/start": row(403, 200, 404, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/progress": row(403, 201, 404, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/extensions": row(403, 201, 404, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/extensions/{eid}/decision": row(200, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/milestones": row(201, 403, 403, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/milestones/{mid}/report": row(403, 200, 404, 403, 403, 403, 403, 403, 403, 401),
    "POST /v1/issues/{id}/milestones/{mid}/review": row(403, 403, 403, 403, 200, 404, 403, 403, 403, 401),
    "GET /v1/public/issues":      row(200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /v1/public/issues/summary": row(200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /v1/logs/issues":        row(403, 403, 403, 403, 403, 403, 403, 200, 200, 401),
    "GET /v1/dead-letters":       row(200, 403, 403, 403, 403, 403, 403, 200, 200, 401),
}

counter = itertools.count(1)


async def fresh_issue(s: Running, *, started: bool = False) -> str:
    n = next(counter)
    admin = s.auth(org="inspection-office", roles="admin")
    r = await s.client.post("/v1/issues", headers=admin, json={
        "code": f"AUTH-{n:04d}", "round_id": ROUND, "category": "water", "title": f"授权测试 {n}",
        "responsible_org_id": "city-water", "cooperating_org_ids": ["city-ndrc"], "supervising_org_id": "city-eeb",
        "deadline": "2030-12-31"})
    assert r.status_code == 201, r.text
    if started:
        r = await s.client.post(f"/v1/issues/{r.json()['id']}/start",
                                headers=s.auth(org="city-water", roles="responsible"))
        assert r.status_code == 200, r.text
    return str(r.json()["id"])


def csv_one(code: str) -> bytes:
    return (f"code,round,category,title,region,responsible_org,cooperating_orgs,supervising_org,leader,deadline,"
            f"target_indicator,target_op,target_value,target_unit,measures\n"
            f"{code},{ROUND},water,导入授权测试,,city-water,,city-eeb,,2030-12-31,,,,,\n").encode()


Call = Callable[[Running, dict[str, str]], Awaitable[int]]


def calls() -> dict[str, Call]:
    async def post_org(s: Running, h: dict[str, str]) -> int:
        n = next(counter)
        return (await s.client.post("/v1/orgs", headers=h, json={"id": f"org-{n}", "name": f"单位{n}",
                                                                  "kind": "department"})).status_code

    async def post_round(s: Running, h: dict[str, str]) -> int:
        n = next(counter)
        return (await s.client.post("/v1/rounds", headers=h, json={"id": f"round-{n}", "name": f"轮次{n}",
                                                                    "level": "central"})).status_code

    async def post_issue(s: Running, h: dict[str, str]) -> int:
        n = next(counter)
        return (await s.client.post("/v1/issues", headers=h, json={
            "code": f"P-{n}", "round_id": ROUND, "category": "air", "title": "标题", "responsible_org_id": "city-eeb",
            "supervising_org_id": "inspection-office", "deadline": "2030-01-01"})).status_code

    async def post_import(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post("/v1/issues/import", headers=h, content=csv_one(f"I-{next(counter)}"))).status_code

    def get(path: str) -> Call:
        async def call(s: Running, h: dict[str, str]) -> int:
            return (await s.client.get(path, headers=h)).status_code
        return call

    async def get_issue(s: Running, h: dict[str, str]) -> int:
        return (await s.client.get(f"/v1/issues/{await fresh_issue(s)}", headers=h)).status_code

    async def patch(s: Running, h: dict[str, str]) -> int:
        return (await s.client.patch(f"/v1/issues/{await fresh_issue(s)}", headers=h,
                                     json={"leader": "分管副市长"})).status_code

    async def start(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post(f"/v1/issues/{await fresh_issue(s)}/start", headers=h)).status_code

    async def progress(s: Running, h: dict[str, str]) -> int:
        iid = await fresh_issue(s, started=True)
        return (await s.client.post(f"/v1/issues/{iid}/progress", headers=h,
                                    json={"note": "进展", "percent": 10})).status_code

    async def extension(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post(f"/v1/issues/{await fresh_issue(s)}/extensions", headers=h,
                                    json={"requested_deadline": "2031-06-30", "reason": "理由"})).status_code

    async def decision(s: Running, h: dict[str, str]) -> int:
        iid = await fresh_issue(s)
        r = await s.client.post(f"/v1/issues/{iid}/extensions", headers=s.auth(org="city-water", roles="responsible"),
                                json={"requested_deadline": "2031-06-30", "reason": "理由"})
        return (await s.client.post(f"/v1/issues/{iid}/extensions/{r.json()['id']}/decision", headers=h,
                                    json={"approved": True})).status_code

    async def milestone(s: Running, *, reported: bool = False) -> tuple[str, str]:
        iid = await fresh_issue(s, started=True)
        r = await s.client.post(f"/v1/issues/{iid}/milestones", headers=s.auth(org="inspection-office", roles="admin"),
                                json={"due_on": "2030-06-30", "description": "完成 60%"})
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        if reported:
            r = await s.client.post(f"/v1/issues/{iid}/milestones/{mid}/report",
                                    headers=s.auth(org="city-water", roles="responsible"),
                                    json={"outcome": "met", "note": "已完成"})
            assert r.status_code == 200, r.text
        return iid, mid

    async def add_milestone(s: Running, h: dict[str, str]) -> int:
        return (await s.client.post(f"/v1/issues/{await fresh_issue(s)}/milestones", headers=h,
                                    json={"due_on": "2030-06-30", "description": "完成 60%"})).status_code

    async def report_milestone(s: Running, h: dict[str, str]) -> int:
        iid, mid = await milestone(s)
        return (await s.client.post(f"/v1/issues/{iid}/milestones/{mid}/report", headers=h,
                                    json={"outcome": "met", "note": "已完成"})).status_code

    async def review_milestone(s: Running, h: dict[str, str]) -> int:
        iid, mid = await milestone(s, reported=True)
        return (await s.client.post(f"/v1/issues/{iid}/milestones/{mid}/review", headers=h,
                                    json={"review": "confirmed"})).status_code

    return {
        "POST /v1/issues/{id}/milestones": add_milestone,
        "POST /v1/issues/{id}/milestones/{mid}/report": report_milestone,
        "POST /v1/issues/{id}/milestones/{mid}/review": review_milestone,
        "POST /v1/orgs": post_org, "GET /v1/orgs": get("/v1/orgs"), "GET /v1/orgs/{org}": get("/v1/orgs/city-eeb"),
        "POST /v1/rounds": post_round, "GET /v1/rounds": get("/v1/rounds"),
        "GET /v1/rounds/{round}": get(f"/v1/rounds/{ROUND}"),
        "POST /v1/issues": post_issue, "POST /v1/issues/import": post_import,
        "GET /v1/issues": get("/v1/issues"), "GET /v1/issues/export": get("/v1/issues/export"),
        "GET /v1/issues/summary": get("/v1/issues/summary"),
        "GET /v1/public/issues/summary": get("/v1/public/issues/summary"),
        "GET /v1/issues/{id}": get_issue, "PATCH /v1/issues/{id}": patch,
        "POST /v1/issues/{id}/start": start, "POST /v1/issues/{id}/progress": progress,
        "POST /v1/issues/{id}/extensions": extension,
        "POST /v1/issues/{id}/extensions/{eid}/decision": decision,
        "GET /v1/public/issues": get("/v1/public/issues"), "GET /v1/logs/issues": get("/v1/logs/issues"),
        "GET /v1/dead-letters": get("/v1/dead-letters"),
    }


async def test_every_endpoint_answers_every_role_as_the_table_says(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        table = calls()
        from services.issues.api import router

        routes = {f"{m} {r.path}" for r in router.routes for m in r.methods}  # type: ignore[attr-defined]
        covered = {k.replace("{org}", "{org_id}").replace("{round}", "{round_id}").replace("{id}", "{issue_id}")
                   .replace("{eid}", "{extension_id}").replace("{mid}", "{milestone_id}")
                   .replace("/v1/logs/issues", "/v1/logs/{name}") for k in TABLE}
        assert routes <= covered, f"endpoints of the service without a row: {routes - covered}"
        wrong = []
        for endpoint, expected in TABLE.items():
            for caller, want in zip(ORDER, expected, strict=True):
                who = CALLERS[caller]
                headers = {} if who is None else s.auth(sub=f"u-{caller}", **who)
                got = await table[endpoint](s, headers)
                if got != want:
                    wrong.append(f"{endpoint} as {caller}: {got}, expected {want}")
        assert not wrong, "\n".join(wrong)


async def test_lists_and_export_show_only_what_the_caller_may_see(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        mine = {await fresh_issue(s) for _ in range(3)}
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.post("/v1/issues", headers=admin, json={
            "code": "OTHER-1", "round_id": ROUND, "category": "air", "title": "别人的问题",
            "responsible_org_id": "city-agri", "supervising_org_id": "inspection-office", "deadline": "2030-01-01"})
        other = r.json()["id"]
        for caller in ("responsible_own", "cooperating", "supervisor_own"):
            h = s.auth(**CALLERS[caller])  # type: ignore[arg-type]
            ids = {i["id"] for i in (await s.client.get("/v1/issues", headers=h)).json()["items"]}
            assert ids == mine, caller
        h = s.auth(**CALLERS["responsible_other"])  # type: ignore[arg-type]
        assert (await s.client.get("/v1/issues", headers=h)).json()["items"] == []
        for caller in ("leader", "auditor", "system"):
            h = s.auth(**CALLERS[caller])  # type: ignore[arg-type]
            ids = {i["id"] for i in (await s.client.get("/v1/issues", headers=h)).json()["items"]}
            assert ids == mine | {other}, caller
        from io import BytesIO

        from openpyxl import load_workbook

        h = s.auth(**CALLERS["supervisor_own"])  # type: ignore[arg-type]
        sheet = load_workbook(BytesIO((await s.client.get("/v1/issues/export", headers=h)).content)).active
        listed = sorted(i["code"] for i in (await s.client.get("/v1/issues", headers=h)).json()["items"])
        assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == listed
        assert len(listed) == 3 and "OTHER-1" not in listed

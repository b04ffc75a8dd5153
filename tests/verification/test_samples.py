"""Random re-inspection (抽查): a reproducible draw from public inputs, and re-inspection by another org."""

from __future__ import annotations

import uuid
from datetime import datetime
from fractions import Fraction
from typing import Any

import pytest

from contracts import sampling as rules
from runtime.clock import SHANGHAI
from tests.verification.helpers import RESP, ROUND, SUPER, World

OTHER_SUPER = "city-water"  # a supervising org that signed none of these tasks off


async def closed_task(w: World, *, region: str | None, category: str = "air", filed: bool = False) -> str:
    """A task registered with a region and category, signed off (or filed) through this service."""
    if not w.round_sent:
        await w.issue()  # sends the round once
    issue_id = str(uuid.uuid4())
    assert await w.ver.deliver(w.events.make("issue.registered", issue_id, {
        "issue_id": issue_id, "code": f"HH-{issue_id[:6]}", "round_id": ROUND, "category": category,
        "title": "散乱污企业整治", "region_id": region, "responsible_org_id": RESP, "supervising_org_id": SUPER,
        "deadline": "2020-12-31"})) == "handled"
    await (w.filed(issue_id) if filed else w.signed_off(issue_id))
    return issue_id


async def draw(w: World, **body: Any) -> dict[str, Any]:
    await w.ver.events()  # sequence the log, so a checkpoint is signed before the draw
    this_month = datetime.now(SHANGHAI).strftime("%Y-%m")
    r = await w.client.post("/v1/samples", headers=w.admin, json={"scope": "all", "period": this_month, **body})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_the_same_inputs_draw_the_same_tasks_whatever_the_order_of_the_candidates() -> None:
    pool = [rules.Candidate(f"issue-{n:02d}", "") for n in range(20)]
    inputs: dict[str, Any] = {"period": "2020-09", "basis": "count", "share": None, "count": 5, "stratify_by": "none",
                              "checkpoint_service": "verification", "checkpoint_size": 1000,
                              "checkpoint_root": "ab" * 32}
    first = rules.draw(**inputs, candidates=pool)
    again = rules.draw(**inputs, candidates=list(reversed(pool)))
    assert first == again and len(first.items) == 5
    other_checkpoint = rules.draw(**{**inputs, "checkpoint_root": "cd" * 32}, candidates=pool)
    assert other_checkpoint.seed != first.seed  # the randomness is the checkpoint's, not the office's


def test_a_share_takes_at_least_that_share_of_each_stratum_rounded_up_exactly() -> None:
    # strata of 5, 3 and 1 tasks: 30% is 1.5, 0.9 and 0.3 tasks, so 2, 1 and 1 are drawn
    pool = ([rules.Candidate(f"s-{n}", "saihan") for n in range(5)] + [rules.Candidate(f"x-{n}", "xincheng")
            for n in range(3)] + [rules.Candidate("h-0", "huimin")])
    args: dict[str, Any] = {"period": "2020-09", "stratify_by": "region", "checkpoint_service": "verification",
                            "checkpoint_size": 7, "checkpoint_root": "ef" * 32, "candidates": pool}
    by_share = rules.draw(basis="share", share="0.3", count=None, **args)
    assert [(s.stratum, s.candidates, s.drawn) for s in by_share.strata] == [
        ("huimin", 1, 1), ("saihan", 5, 2), ("xincheng", 3, 1)]
    assert [c.stratum for c in by_share.items] == ["huimin", "saihan", "saihan", "xincheng"]
    by_count = rules.draw(basis="count", share=None, count=2, **args)  # 2 per stratum, never more than it holds
    assert [s.drawn for s in by_count.strata] == [1, 2, 2]
    # 10% of 30 is exactly 3: decimal text, not a float (0.1 × 30 = 3.0000000000000004 would round up to 4)
    thirty = [rules.Candidate(f"t-{n:02d}") for n in range(30)]
    assert len(rules.draw(**{**args, "stratify_by": "none", "candidates": thirty}, basis="share", share="0.1",
                          count=None).items) == 3
    assert rules.share_fraction("0.1") == Fraction(1, 10)


async def test_a_stratified_draw_by_region_has_the_hand_checked_counts_and_records_its_inputs(world: World) -> None:
    w = world
    regions = ["saihan", "saihan", "saihan", "xincheng", "xincheng", "huimin"]
    ids = [await closed_task(w, region=r, filed=(n == 0)) for n, r in enumerate(regions)]
    sample = await draw(w, share=0.5, stratify_by="region")
    # ceil(0.5 × 3) = 2 of 赛罕区, ceil(0.5 × 2) = 1 of 新城区, ceil(0.5 × 1) = 1 of 回民区
    assert [(s["stratum"], s["candidates"], s["drawn"]) for s in sample["strata"]] == [
        ("huimin", 1, 1), ("saihan", 3, 2), ("xincheng", 2, 1)]
    assert sample["candidates"] == 6 and sample["drawn"] == 4 and sample["pending"] == 4
    assert {i["issue_id"] for i in sample["items"]} <= set(ids)
    assert all(i["accepted_by_org_id"] == SUPER and i["accepted_by"] == f"supervisor@{SUPER}"
               for i in sample["items"])
    assert sample["checkpoint"]["size"] > 0 and sample["checkpoint"]["signature"]
    events = [e for e in await w.ver.events() if e["type"] == "sample.drawn"]
    assert len(events) == 1 and events[0]["subject"] == sample["id"]
    data = events[0]["data"]
    assert sorted(c["issue_id"] for c in data["candidates"]) == sorted(ids)
    again = rules.draw(period=data["period"], basis="share", share="0.5", count=None, stratify_by="region",
                       checkpoint_service="verification", checkpoint_size=data["checkpoint"]["size"],
                       checkpoint_root=data["checkpoint"]["root"],
                       candidates=[rules.Candidate(i, r) for i, r in zip(ids, regions, strict=True)])
    assert again.seed == data["seed"] == sample["seed"]
    assert [c.issue_id for c in again.items] == [i["issue_id"] for i in sample["items"]]
    r = await w.client.get("/v1/samples", headers=w.who("leader", None))
    assert r.status_code == 200 and [s["id"] for s in r.json()["items"]] == [sample["id"]]
    assert "items" not in r.json()["items"][0]


async def test_a_count_draw_per_category_and_a_period_with_nothing_signed_off(world: World) -> None:
    w = world
    for category in ("air", "air", "water"):
        await closed_task(w, region=None, category=category)
    sample = await draw(w, count=1, stratify_by="category")
    assert [(s["stratum"], s["drawn"]) for s in sample["strata"]] == [("air", 1), ("water", 1)]
    in_period = await draw(w, scope="period", count=5)  # every task here was signed off this month
    assert in_period["candidates"] == 3 and in_period["scope"] == "period"
    r = await w.client.post("/v1/samples", headers=w.admin, json={"period": "2020-09", "count": 1})
    assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "period"


@pytest.mark.parametrize(("body", "field"), [
    ({"period": "2020-09"}, "share"),
    ({"period": "2020-09", "share": 0.1, "count": 2}, "share"),
    ({"period": "2020-13", "count": 2}, "period"),
    ({"period": "2020-09", "share": 0.12345}, "share"),
    ({"period": "2020-09", "share": 1.5}, "share"),
    ({"period": "2020-09", "count": 0}, "count"),
    ({"period": "2020-09", "count": 5, "stratify_by": "street"}, "stratify_by"),
    ({"period": "2020-09-01-02", "count": 5}, "period"),
])
async def test_a_bad_draw_is_refused_422_naming_the_field(world: World, body: dict[str, Any], field: str) -> None:
    r = await world.client.post("/v1/samples", headers=world.admin, json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["error"]["details"]]
    assert [e for e in await world.ver.events() if e["type"] == "sample.drawn"] == []


async def test_the_supervisor_who_signed_it_off_may_not_reinspect_another_org_confirms_and_one_reopens(
        world: World) -> None:
    w = world
    for _ in range(2):
        await closed_task(w, region="saihan")
    sample = await draw(w, count=2)
    first, second = (i["issue_id"] for i in sample["items"])
    url = f"/v1/samples/{sample['id']}/items/{{}}/reinspection"
    confirm = {"outcome": "confirmed", "opinion": "复核属实,整改到位", "inspected_on": "2020-10-12"}
    r = await w.client.post(url.format(first), headers=w.sup, json=confirm)  # the org that signed it off
    assert r.status_code == 403, r.text
    other = w.who("supervisor", OTHER_SUPER)
    r = await w.client.post(url.format(first), headers=other, json=confirm)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "confirmed" and r.json()["reinspector_org_id"] == OTHER_SUPER
    r = await w.client.post(url.format(first), headers=w.who("supervisor", "city-forestry"), json=confirm)
    assert r.status_code == 409  # re-inspected once

    rebound = {"outcome": "rebound", "opinion": "围挡拆除,裸土未覆盖", "inspected_on": "2020-10-13"}
    r = await w.client.post(url.format(second), headers=other, json=rebound)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "evidence_ids"
    evidence = await w.evidence(second, headers=other)  # the re-inspector may add evidence to a drawn task
    r = await w.client.post(url.format(second), headers=other, json={**rebound, "evidence_ids": [evidence]})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "rebound" and r.json()["reopening_id"]
    r = await w.client.get("/v1/reopenings", headers=w.admin, params={"issue_id": second})
    assert [x["id"] for x in r.json()["items"]] == [r.json()["items"][0]["id"]]
    assert r.json()["items"][0]["reason"].startswith("抽查复核发现反弹")
    log = await w.ver.events()
    reopened = [e for e in log if e["type"] == "issue.reopened"]
    assert [e["data"]["sample_id"] for e in reopened] == [sample["id"]]
    assert [e["data"]["outcome"] for e in log if e["type"] == "sample.reinspected"] == ["confirmed", "rebound"]
    r = await w.client.get(f"/v1/samples/{sample['id']}", headers=w.who("auditor", None))
    assert (r.json()["pending"], r.json()["confirmed"], r.json()["rebound"]) == (0, 1, 1)
    r = await w.client.post("/v1/evidence", headers=other, data={"issue_id": first, "kind": "photo"},
                            files={"file": ("a.jpg", b"x", "image/jpeg")})
    assert r.status_code == 404  # re-inspected: that org's supervisor no longer adds to it


async def test_the_unit_responsible_for_the_task_may_not_reinspect_it_even_as_a_supervisor(world: World) -> None:
    w = world
    await closed_task(w, region="saihan")
    sample = await draw(w, count=1)
    issue_id = sample["items"][0]["issue_id"]
    r = await w.client.post(f"/v1/samples/{sample['id']}/items/{issue_id}/reinspection",
                            headers=w.who("supervisor", RESP), json={"outcome": "confirmed", "opinion": "好"})
    assert r.status_code == 403
    r = await w.client.post(f"/v1/samples/{sample['id']}/items/{'0' * 36}/reinspection",
                            headers=w.who("supervisor", OTHER_SUPER), json={"outcome": "confirmed", "opinion": "好"})
    assert r.status_code == 404


ROLES = ("admin", "leader", "auditor", "responsible", "supervisor-own", "supervisor-other", "system", "none",
         "no-token")


def caller(w: World, role: str) -> dict[str, str]:
    """Headers of each kind of caller; `supervisor-own` is the org that signed the tasks off."""
    if role == "no-token":
        return {}
    if role == "supervisor-own":
        return w.sup
    if role == "supervisor-other":
        return w.who("supervisor", OTHER_SUPER)
    return w.who(role, RESP if role in ("responsible", "none") else SUPER)


DRAW = {"admin": 201, "no-token": 401}
READ = {"admin": 200, "leader": 200, "auditor": 200, "supervisor-own": 200, "supervisor-other": 200,
        "system": 200, "no-token": 401}
REINSPECT = {"supervisor-other": 200, "no-token": 401}


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_draw_read_and_reinspect(world: World, role: str) -> None:
    w = world
    await closed_task(w, region="saihan")
    sample = await draw(w, count=1)
    issue_id = sample["items"][0]["issue_id"]
    headers = caller(w, role)
    r = await w.client.post("/v1/samples", headers=headers, json={"period": "2020", "scope": "all", "count": 1})
    assert r.status_code == DRAW.get(role, 403), (role, r.text)
    for path in ("/v1/samples", f"/v1/samples/{sample['id']}"):
        r = await w.client.get(path, headers=headers)
        assert r.status_code == READ.get(role, 403), (role, path, r.text)
    r = await w.client.post(f"/v1/samples/{sample['id']}/items/{issue_id}/reinspection", headers=headers,
                            json={"outcome": "confirmed", "opinion": "复核属实"})
    assert r.status_code == REINSPECT.get(role, 403), (role, r.text)
    reinspected = [e for e in await w.ver.events() if e["type"] == "sample.reinspected"]
    assert len(reinspected) == (1 if role == "supervisor-other" else 0)


async def test_a_drawn_task_reopened_since_the_draw_is_no_longer_re_inspected_409(world: World) -> None:
    w = world
    await closed_task(w, region="saihan")
    sample = await draw(w, count=1)
    issue_id = sample["items"][0]["issue_id"]
    r = await w.client.post("/v1/reopenings", headers=w.sup, json={"issue_id": issue_id, "reason": "群众举报反弹"})
    assert r.status_code == 201, r.text
    r = await w.client.post(f"/v1/samples/{sample['id']}/items/{issue_id}/reinspection",
                            headers=w.who("supervisor", OTHER_SUPER), json={"outcome": "confirmed", "opinion": "属实"})
    assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "issue_id"

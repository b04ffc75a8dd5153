"""任务分解 and 重要节点 in the issues service alone: the bounds, the refusals (each a 4xx naming its field), the
milestone states, and the ledger's parent_code column."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from services.issues.domain import MAX_CHILDREN, MAX_DEPTH, MAX_MILESTONES, child_percent, derived_percent
from tests.issues.helpers import ROUND, load_orgs_and_round
from tests.support import Running, running

ADMIN = {"org": "inspection-office", "roles": "admin"}
HEAD = ("code,round,category,title,region,responsible_org,cooperating_orgs,supervising_org,leader,deadline,"
        "target_indicator,target_op,target_value,target_unit,measures")


def task(code: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "round_id": ROUND, "category": "air", "title": f"任务 {code}",
            "responsible_org_id": "city-eeb", "supervising_org_id": "inspection-office", "deadline": "2030-12-31",
            **extra}


async def post(s: Running, body: dict[str, Any]) -> Any:
    return await s.client.post("/v1/issues", headers=s.auth(**ADMIN), json=body)


def ledger(rows: list[dict[str, str]], *, extra: tuple[str, ...] = ("parent_code", "status", "signed_off_on",
                                                                    "assigned_on")) -> bytes:
    buf = io.StringIO(newline="")
    fields = [*HEAD.split(","), *extra]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"round": ROUND, "category": "air", "title": f"任务 {r['code']}", "responsible_org": "city-eeb",
                    "supervising_org": "inspection-office", "deadline": "2030-12-31", **r})
    return buf.getvalue().encode("utf-8")


async def imported(s: Running, content: bytes) -> Any:
    return await s.client.post("/v1/issues/import", headers=s.auth(**ADMIN), content=content)


def test_derived_progress_is_the_mean_of_the_sub_tasks_rounded_half_up() -> None:
    # signed off 100, open with sub-tasks of its own: their derived 50, open without: last report 33, none yet: 0
    parts = [child_percent(status="signed_off", children_total=0, derived=None, reported=20),
             child_percent(status="in_progress", children_total=2, derived=50, reported=90),
             child_percent(status="in_progress", children_total=0, derived=None, reported=33),
             child_percent(status="registered", children_total=0, derived=None, reported=None)]
    assert parts == [100, 50, 33, 0]
    assert derived_percent(parts) == 46  # 183 / 4 = 45.75 → 46
    assert derived_percent([1, 2]) == 2  # 1.5 rounds half up
    assert derived_percent([]) is None


async def test_a_sub_task_is_refused_under_an_unknown_parent_another_round_a_later_deadline(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        parent = (await post(s, task("P", deadline="2030-06-30"))).json()
        r = await post(s, task("C1", parent_id="no-such-task"))
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "parent_id"
        r = await post(s, task("C2", parent_id=parent["id"]))
        assert r.status_code == 422
        assert [d["field"] for d in r.json()["error"]["details"]] == ["deadline"]
        assert "子任务时限不能晚于上级任务时限" in r.json()["error"]["message"]
        admin = s.auth(**ADMIN)
        assert (await s.client.post("/v1/rounds", headers=admin, json={
            "id": "other-round", "name": "另一轮", "level": "central"})).status_code == 201
        r = await post(s, {**task("C3", parent_id=parent["id"], deadline="2030-06-30"), "round_id": "other-round"})
        assert r.status_code == 422 and [d["field"] for d in r.json()["error"]["details"]] == ["round_id"]
        r = await post(s, task("C4", parent_id="x" * 37))
        assert r.status_code == 422  # parent_id longer than an id


async def test_a_tree_is_at_most_five_levels_deep(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        parent = None
        for level in range(1, MAX_DEPTH + 1):
            r = await post(s, task(f"L{level}", **({"parent_id": parent} if parent else {})))
            assert r.status_code == 201, r.text
            assert r.json()["depth"] == level
            parent = r.json()["id"]
        r = await post(s, task("L6", parent_id=parent))
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"field": "parent_id", "message": (
            f"任务分解最多 {MAX_DEPTH} 级 (at most {MAX_DEPTH} levels: the parent is already at level {MAX_DEPTH})")}]


async def test_a_task_has_at_most_a_hundred_sub_tasks(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        rows = [{"code": "WIDE"}] + [{"code": f"WIDE-{n:03d}", "parent_code": "WIDE"} for n in range(MAX_CHILDREN)]
        r = await imported(s, ledger(rows))
        assert r.status_code == 201, r.text
        wide = next(i for i in r.json()["items"] if i["code"] == "WIDE")
        detail = (await s.client.get(f"/v1/issues/{wide['id']}", headers=s.auth(**ADMIN))).json()
        assert (detail["children_total"], detail["children_open"], len(detail["children"])) == (100, 100, 100)
        r = await post(s, task("WIDE-100", parent_id=wide["id"]))
        assert r.status_code == 422 and "最多分解为 100 个子任务" in r.json()["error"]["message"]
        r = await imported(s, ledger([{"code": "WIDE-101", "parent_code": "WIDE"}]))
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"row": 2, "column": "parent_code", "message": (
            "上级任务 WIDE 的子任务超过 100 个 (at most 100 sub-tasks per task)")}]


async def test_no_sub_task_goes_under_a_closed_task(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        r = await imported(s, ledger([{"code": "DONE", "status": "signed_off", "signed_off_on": "2020-09-01",
                                       "assigned_on": "2020-05-17"}]))
        assert r.status_code == 201, r.text
        done = r.json()["items"][0]["id"]
        r = await post(s, task("UNDER", parent_id=done))
        assert r.status_code == 409
        assert r.json()["error"]["details"][0]["field"] == "parent_id"
        assert r.json()["error"]["message"].startswith("上级任务状态为「已销号」,不能再分解")
        r = await imported(s, ledger([{"code": "UNDER-2", "parent_code": "DONE"}]))
        assert r.status_code == 422
        [d] = r.json()["error"]["details"]
        assert (d["row"], d["column"]) == (2, "parent_code") and "DONE" in d["message"]


async def test_the_ledger_links_parents_earlier_later_and_registered_and_refuses_broken_trees(
        tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        registered = (await post(s, task("CITY"))).json()
        # a child before its parent, a parent before its child, and a child of a task already registered
        r = await imported(s, ledger([
            {"code": "D-2", "parent_code": "D", "responsible_org": "saihan", "supervising_org": "city-eeb"},
            {"code": "D", "parent_code": "CITY"},
            {"code": "D-1", "parent_code": "D", "responsible_org": "xincheng", "supervising_org": "city-eeb"},
            {"code": "D-1-a", "parent_code": "D-1", "responsible_org": "xincheng", "supervising_org": "city-eeb"},
        ]))
        assert r.status_code == 201, r.text
        admin = s.auth(**ADMIN)
        items = {i["code"]: i for i in (await s.client.get("/v1/issues", headers=admin)).json()["items"]}
        assert {c: (i["depth"], i["parent_id"]) for c, i in items.items()} == {
            "CITY": (1, None), "D": (2, registered["id"]), "D-1": (3, items["D"]["id"]), "D-2": (3, items["D"]["id"]),
            "D-1-a": (4, items["D-1"]["id"])}
        assert (items["D"]["children_total"], items["CITY"]["children_total"]) == (2, 1)
        events = [e for e in await s.events() if e["type"] == "issue.registered"]
        order = [e["data"]["code"] for e in events]
        assert order.index("D") < order.index("D-2") and order.index("D-1") < order.index("D-1-a")  # parents first

        bad = await imported(s, ledger([
            {"code": "X-1", "parent_code": "X-2"}, {"code": "X-2", "parent_code": "X-1"},
            {"code": "X-3", "parent_code": "X-3"}, {"code": "X-4", "parent_code": "NOWHERE"},
            {"code": "X-5", "parent_code": "D", "deadline": "2031-01-01"},
            {"code": "X-6", "parent_code": "D-1-a"}, {"code": "X-7", "parent_code": "X-6"},
        ]))
        assert bad.status_code == 422
        details = [(d["row"], d["column"], d["message"]) for d in bad.json()["error"]["details"]]
        # the cycle is named on the row that closes it
        assert (3, "parent_code", "上级任务编号成环 (the parent codes form a cycle: X-1 → X-2 → X-1)") in details
        assert (4, "parent_code", "X-3: 不能以本行为上级任务 (a task cannot be its own parent)") in details
        assert any(row == 5 and "NOWHERE" in m for row, _, m in details)
        assert any(row == 6 and col == "deadline" for row, col, _ in details)
        assert any(row == 8 and "最多 5 级" in m for row, _, m in details)  # X-7 would be level 6
        assert (await s.client.get("/v1/issues", params={"q": "X-"}, headers=admin)).json()["items"] == []


async def test_milestones_are_bounded_dated_by_the_deadline_and_set_on_open_tasks(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        one = {"due_on": "2030-06-30", "description": "完成 60%"}
        r = await post(s, task("M-many", milestones=[one] * (MAX_MILESTONES + 1)))
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].startswith("milestones")
        r = await post(s, task("M-late", milestones=[one, {"due_on": "2031-01-01", "description": "太晚"}]))
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"field": "milestones.1.due_on",
                                                 "message": "after the task's deadline 2030-12-31"}]
        r = await post(s, task("M-long", milestones=[{"due_on": "2030-06-30", "description": "长" * 501}]))
        assert r.status_code == 422
        r = await post(s, task("M-ok", milestones=[one] * MAX_MILESTONES))
        assert r.status_code == 201, r.text
        iid = r.json()["id"]
        r = await s.client.post(f"/v1/issues/{iid}/milestones", headers=s.auth(**ADMIN), json=one)
        assert r.status_code == 409 and r.json()["error"]["details"] == [
            {"field": "milestones", "message": f"at most {MAX_MILESTONES}"}]
        r = await s.client.post(f"/v1/issues/{(await post(s, task('M-2'))).json()['id']}/milestones",
                                headers=s.auth(**ADMIN), json={"due_on": "2030-06-30", "description": ""})
        assert r.status_code == 422
        done = (await imported(s, ledger([{"code": "M-done", "status": "signed_off", "signed_off_on": "2020-09-01",
                                           "assigned_on": "2020-05-17"}]))).json()["items"][0]["id"]
        r = await s.client.post(f"/v1/issues/{done}/milestones", headers=s.auth(**ADMIN), json=one)
        assert r.status_code == 409 and r.json()["error"]["details"][0]["field"] == "status"


async def test_a_milestone_moves_reported_then_confirmed_or_disputed_and_nothing_else(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        iid = (await post(s, task("MS", milestones=[{"due_on": "2030-06-30", "description": "完成 60%"}]))).json()["id"]
        detail = (await s.client.get(f"/v1/issues/{iid}", headers=s.auth(**ADMIN))).json()
        [ms] = detail["milestones"]
        assert (ms["state"], ms["state_zh"], ms["outcome"], ms["overdue"], ms["missed"]) == (
            "pending", "待报告", None, False, False)
        base = f"/v1/issues/{iid}/milestones/{ms['id']}"
        resp = s.auth(org="city-eeb", roles="responsible")
        sup = s.auth(org="inspection-office", roles="supervisor")

        async def report(outcome: str) -> Any:
            return await s.client.post(f"{base}/report", headers=resp, json={"outcome": outcome, "note": "说明"})

        async def review(decision: str, opinion: str | None = None) -> Any:
            return await s.client.post(f"{base}/review", headers=sup,
                                       json={"review": decision, **({"opinion": opinion} if opinion else {})})

        assert (await review("confirmed")).status_code == 409  # nothing reported yet
        assert (await s.client.post(f"{base}/report", headers=resp, json={"outcome": "late", "note": "x"})
                ).status_code == 422
        assert (await s.client.post(f"{base}/report", headers=resp, json={
            "outcome": "met", "note": "x", "evidence_ids": ["e"] * 101})).status_code == 422
        assert (await report("missed")).json()["state"] == "reported"
        assert (await report("met")).status_code == 409  # the last report awaits its review
        r = await review("disputed")
        assert r.status_code == 422 and r.json()["error"]["details"] == [
            {"field": "opinion", "message": "required when review is disputed"}]
        r = await review("disputed", "情况不实")
        assert (r.json()["state"], r.json()["state_zh"], r.json()["disputed"]) == ("pending", "被退回待重报", True)
        assert (await report("missed")).status_code == 200
        assert (await review("confirmed")).json()["state"] == "confirmed"
        assert (await report("missed")).status_code == 409  # confirmed missed: only "met" may follow
        assert (await report("met")).status_code == 200
        assert (await review("confirmed")).json()["outcome"] == "met"
        r = await report("met")
        assert r.status_code == 409 and r.json()["error"]["details"] == [{"field": "outcome",
                                                                          "message": "confirmed met"}]
        unknown = await s.client.post(f"/v1/issues/{iid}/milestones/nope/report", headers=resp,
                                      json={"outcome": "met", "note": "x"})
        assert unknown.status_code == 404
        history = (await s.client.get(f"/v1/issues/{iid}", headers=s.auth(**ADMIN))).json()["history"]
        assert [h["action"] for h in history if h["action"].startswith("milestone")] == [
            "milestone_reported", "milestone_reviewed", "milestone_reported", "milestone_reviewed",
            "milestone_reported", "milestone_reviewed"]
        types = [e["type"] for e in await s.events()]
        assert (types.count("issue.milestone_added"), types.count("issue.milestone_reported"),
                types.count("issue.milestone_reviewed")) == (1, 3, 3)

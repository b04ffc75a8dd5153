"""A city task broken down to three districts, one of them late; and a task with two milestones, the first
missed then met: two known histories across the four services (dates in Asia/Shanghai), each in a world of its
own, for the breakdown, milestone, scoring and audit tests.

HH-P  散煤治理 (city-eeb, supervised by the inspection office, due 2020-10-31), broken down into:
  HH-P-XC 新城区 (due 2020-09-30): applied 08-01, accepted 08-10        — on time
  HH-P-HM 回民区 (due 2020-09-30): applied 09-01, accepted 09-15        — on time
  HH-P-SH 赛罕区 (due 2020-09-30): 40% on 07-01, applied 10-10, accepted 10-15 — late
  the districts' supervisor is city-eeb; the parent is applied for on 10-20, accepted 10-25;
  on 11-05 city-eeb reopens HH-P-SH (散煤复烧), which reopens HH-P.
HH-M  清洁取暖改造 (新城区, supervised by city-eeb, due 2020-12-31), milestones:
  M1 2020-10-31 完成 214 个村的 60%: unreported when its day passes; reported met on 11-03, confirmed 11-04
  M2 2020-11-30 完成 214 个村的 100%: reported met 11-27, disputed 11-28, reported met again 11-29, confirmed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.notify.digests import tick
from services.scoring.domain import DEFAULT_SCHEME
from tests.audit.scenario import World, jpeg_bytes

ROUND = "nm-2019-inspection"


@dataclass
class Story:
    """What the history left behind: ids by code, milestone ids, and answers the tests look at."""

    ids: dict[str, str] = field(default_factory=dict)
    milestones: dict[str, str] = field(default_factory=dict)
    refused: dict[str, Any] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)


async def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


async def setup(w: World) -> None:
    """Orgs and the round, on 2020-06-01."""
    issues = w.services["issues"]
    admin = issues.auth(org="inspection-office", roles="admin")
    w.at("2020-06-01 09:00")
    for org in [
        {"id": "inspection-office", "name": "督察整改办", "kind": "inspection_office"},
        {"id": "city-eeb", "name": "呼和浩特市生态环境局", "kind": "department", "zone_type": "department"},
        {"id": "xincheng", "name": "新城区", "kind": "region", "zone_type": "urban_core"},
        {"id": "huimin", "name": "回民区", "kind": "region", "zone_type": "urban_core"},
        {"id": "saihan", "name": "赛罕区", "kind": "region", "zone_type": "urban_core"},
    ]:
        await _ok(await issues.client.post("/v1/orgs", json=org, headers=admin), 201)
    await _ok(await issues.client.post("/v1/rounds", headers=admin, json={
        "id": ROUND, "name": "自治区第一生态环境保护督察组", "level": "regional", "feedback_on": "2020-05-17"}), 201)


async def _apply(w: World, story: Story, code: str, org: str) -> str:
    ver = w.services["verification"]
    h = ver.auth(org=org, roles="responsible")
    iid = story.ids[code]
    e = await _ok(await ver.client.post("/v1/evidence", headers=h, data={"issue_id": iid, "kind": "photo"},
                                        files={"file": ("site.jpg", jpeg_bytes((len(code) * 20, 80, 40)),
                                                        "image/jpeg")}), 201)
    c = await _ok(await ver.client.post("/v1/closures", headers=h, json={
        "issue_id": iid, "summary": f"{code} 已完成整改", "evidence_ids": [e["id"]]}), 201)
    return str(c["id"])


async def _accept(w: World, closure_id: str, supervisor: str) -> None:
    ver = w.services["verification"]
    await _ok(await ver.client.post(f"/v1/closures/{closure_id}/decision",
                                    headers=ver.auth(org=supervisor, roles="supervisor"),
                                    json={"decision": "accept", "opinion": "现场核查属实"}))


async def breakdown(w: World, story: Story) -> None:
    """HH-P and its three district sub-tasks, to the rebound of 赛罕区 on 11-05 (see the module's docstring)."""
    issues = w.services["issues"]
    admin = issues.auth(org="inspection-office", roles="admin")
    w.at("2020-06-01 10:00")
    parent = await _ok(await issues.client.post("/v1/issues", headers=admin, json={
        "code": "HH-P", "round_id": ROUND, "category": "air", "title": "散煤治理", "responsible_org_id": "city-eeb",
        "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)", "deadline": "2020-10-31"}), 201)
    story.ids["HH-P"] = parent["id"]
    for code, org, name in (("HH-P-XC", "xincheng", "新城区"), ("HH-P-HM", "huimin", "回民区"),
                            ("HH-P-SH", "saihan", "赛罕区")):
        child = await _ok(await issues.client.post("/v1/issues", headers=admin, json={
            "code": code, "round_id": ROUND, "category": "air", "title": f"散煤治理({name})",
            "responsible_org_id": org, "region_id": org, "supervising_org_id": "city-eeb",
            "deadline": "2020-09-30", "parent_id": parent["id"], "measures": f"{name}完成散煤清零"}), 201)
        story.ids[code] = child["id"]
    await w.sync()
    w.at("2020-06-10 10:00")
    for code, org in (("HH-P", "city-eeb"), ("HH-P-XC", "xincheng"), ("HH-P-HM", "huimin"), ("HH-P-SH", "saihan")):
        await _ok(await issues.client.post(f"/v1/issues/{story.ids[code]}/start",
                                           headers=issues.auth(org=org, roles="responsible"), json={}))
    await w.sync()
    w.at("2020-07-01 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{story.ids['HH-P-SH']}/progress",
                                       headers=issues.auth(org="saihan", roles="responsible"),
                                       json={"note": "已完成 40% 的散煤替代", "percent": 40}), 201)
    w.at("2020-08-01 10:00")
    xc = await _apply(w, story, "HH-P-XC", "xincheng")
    await w.sync()
    w.at("2020-08-10 10:00")
    await _accept(w, xc, "city-eeb")
    await w.sync()
    w.at("2020-09-01 10:00")
    hm = await _apply(w, story, "HH-P-HM", "huimin")
    await w.sync()
    w.at("2020-09-15 10:00")
    await _accept(w, hm, "city-eeb")
    await w.sync()

    # 2020-10-01: 赛罕区 is late; the parent cannot be applied for
    w.at("2020-10-01 10:00")
    story.seen["parent_on_10_01"] = await _ok(await issues.client.get(f"/v1/issues/{story.ids['HH-P']}",
                                                                     headers=admin))
    ver = w.services["verification"]
    eeb = ver.auth(org="city-eeb", roles="responsible")
    e = await _ok(await ver.client.post("/v1/evidence", headers=eeb, data={"issue_id": story.ids["HH-P"],
                                                                           "kind": "document"},
                                        files={"file": ("report.jpg", jpeg_bytes((5, 5, 200)), "image/jpeg")}), 201)
    story.seen["parent_evidence"] = e["id"]
    r = await ver.client.post("/v1/closures", headers=eeb, json={
        "issue_id": story.ids["HH-P"], "summary": "全市散煤治理完成", "evidence_ids": [e["id"]]})
    story.refused["apply_parent_on_10_01"] = (r.status_code, r.json())
    scoring = w.services["scoring"]
    office = scoring.auth(org="inspection-office", roles="admin")
    for kind in ("region", "department"):
        story.seen[f"scores_2020-09_{kind}"] = await _ok(await scoring.client.get(
            "/v1/scores", params={"period": "2020-09", "kind": kind}, headers=office))
    await _ok(await scoring.client.post("/v1/rankings", headers=office, json={"period": "2020-09", "kind": "region"}),
              201)
    await w.sync()

    w.at("2020-10-10 10:00")
    sh = await _apply(w, story, "HH-P-SH", "saihan")
    await w.sync()
    w.at("2020-10-15 10:00")
    await _accept(w, sh, "city-eeb")
    await w.sync()
    w.at("2020-10-20 10:00")
    p = await _ok(await ver.client.post("/v1/closures", headers=eeb, json={
        "issue_id": story.ids["HH-P"], "summary": "三个区均已销号,全市散煤治理完成",
        "evidence_ids": [story.seen["parent_evidence"]]}), 201)
    await w.sync()
    w.at("2020-10-25 10:00")
    await _accept(w, p["id"], "inspection-office")
    await w.sync()
    story.seen["parent_on_10_25"] = await _ok(await issues.client.get(f"/v1/issues/{story.ids['HH-P']}",
                                                                     headers=admin))

    w.at("2020-11-05 10:00")
    await _ok(await ver.client.post("/v1/reopenings", headers=ver.auth(org="city-eeb", roles="supervisor"), json={
        "issue_id": story.ids["HH-P-SH"], "reason": "散煤复烧"}), 201)
    await w.sync()
    story.seen["parent_on_11_05"] = await _ok(await issues.client.get(f"/v1/issues/{story.ids['HH-P']}",
                                                                     headers=admin))


async def milestones(w: World, story: Story) -> None:
    """HH-M and its two milestones (see the module's docstring); the notify scheduler ticks on the days that
    matter."""
    issues, notify = w.services["issues"], w.services["notify"]
    admin = issues.auth(org="inspection-office", roles="admin")
    xc = issues.auth(org="xincheng", roles="responsible")
    eeb = issues.auth(org="city-eeb", roles="supervisor")
    w.at("2020-06-01 11:00")
    task = await _ok(await issues.client.post("/v1/issues", headers=admin, json={
        "code": "HH-M", "round_id": ROUND, "category": "air", "title": "农村清洁取暖改造",
        "responsible_org_id": "xincheng", "region_id": "xincheng", "supervising_org_id": "city-eeb",
        "deadline": "2020-12-31",
        "milestones": [{"due_on": "2020-10-31", "description": "完成 214 个村清洁取暖改造的 60%", "target": "129 个村"}]}),
        201)
    iid = story.ids["HH-M"] = task["id"]
    w.at("2020-06-02 09:30")
    m2 = await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones", headers=admin, json={
        "due_on": "2020-11-30", "description": "完成 214 个村清洁取暖改造的 100%", "target": "214 个村"}), 201)
    detail = await _ok(await issues.client.get(f"/v1/issues/{iid}", headers=admin))
    story.milestones["M1"] = next(m["id"] for m in detail["milestones"] if m["due_on"] == "2020-10-31")
    story.milestones["M2"] = m2["id"]
    await w.sync()
    w.at("2020-06-10 11:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/start", headers=xc, json={}))
    await w.sync()

    for moment in ("2020-10-24 09:05", "2020-10-30 09:05", "2020-11-01 09:05"):
        w.at(moment)
        await tick(notify.rt)
    await w.sync()
    story.seen["m1_on_11_01"] = await _ok(await issues.client.get(f"/v1/issues/{iid}", headers=admin))
    scoring = w.services["scoring"]
    office = scoring.auth(org="inspection-office", roles="admin")
    w.at("2020-11-02 10:00")
    story.seen["scores_2020-10_before_report"] = await _ok(await scoring.client.get(
        "/v1/scores", params={"period": "2020-10", "kind": "region"}, headers=office))

    m1, m2_id = story.milestones["M1"], story.milestones["M2"]
    w.at("2020-11-03 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m1}/report", headers=xc, json={
        "outcome": "met", "note": "已完成 131 个村改造(逾期 3 天)", "evidence_ids": ["ev-m1-acceptance"]}))
    await w.sync()
    w.at("2020-11-04 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m1}/review", headers=eeb, json={
        "review": "confirmed", "opinion": "经核实已完成,但晚于节点日期"}))
    await w.sync()

    w.at("2020-11-27 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m2_id}/report", headers=xc, json={
        "outcome": "met", "note": "214 个村全部完成", "evidence_ids": ["ev-m2-a"]}))
    await w.sync()
    w.at("2020-11-28 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m2_id}/review", headers=eeb, json={
        "review": "disputed", "opinion": "抽查 3 个村尚未通暖,请核实"}))
    await w.sync()
    w.at("2020-11-29 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m2_id}/report", headers=xc, json={
        "outcome": "met", "note": "3 个村已补齐并通暖", "evidence_ids": ["ev-m2-b"]}))
    await w.sync()
    w.at("2020-12-01 10:00")
    await _ok(await issues.client.post(f"/v1/issues/{iid}/milestones/{m2_id}/review", headers=eeb, json={
        "review": "confirmed"}))
    await w.sync()
    w.at("2020-12-02 10:00")
    for period in ("2020-10", "2020-11"):
        story.seen[f"scores_{period}"] = await _ok(await scoring.client.get(
            "/v1/scores", params={"period": period, "kind": "region"}, headers=office))
    strict = {"weights": {z: dict(v) for z, v in DEFAULT_SCHEME["weights"].items()}, "milestone_missed_points": 10}
    await _ok(await scoring.client.put("/v1/schemes/strict", headers=office, json=strict))
    story.seen["scores_2020-10_strict"] = await _ok(await scoring.client.get(
        "/v1/scores", params={"period": "2020-10", "kind": "region", "scheme_id": "strict"}, headers=office))
    await _ok(await scoring.client.post("/v1/rankings", headers=office, json={"period": "2020-10", "kind": "region"}),
              201)
    await w.sync()
    story.seen["milestones_end"] = (await _ok(await issues.client.get(f"/v1/issues/{iid}", headers=admin)))["milestones"]


async def breakdown_world(w: World) -> Story:
    """The orgs, then the breakdown story."""
    story = Story()
    await setup(w)
    await breakdown(w, story)
    return story


async def milestone_world(w: World) -> Story:
    """The orgs, then the milestone story (a world of its own: both stories start in June)."""
    story = Story()
    await setup(w)
    await milestones(w, story)
    return story

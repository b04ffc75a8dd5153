"""Listing the ledger: the design's filters in SQL, keyset pages by deadline, Chinese search, derived overdue."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.issues.helpers import ROUND, issue_by_code, ledger_rows, load_orgs_and_round, load_reference
from tests.support import DATA, Running, fixed_clock, running


async def all_pages(s: Running, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = await s.client.get("/v1/issues", params=q, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


async def test_filters_match_the_reference_ledger(tmp_path: Path) -> None:
    rows = ledger_rows()
    async with running("issues", tmp_path, clock=fixed_clock("2021-03-01T04:00:00+00:00")) as s:
        await load_reference(s)
        admin = s.auth(roles="admin")
        for params, expected in (
            ({"responsible_org_id": "city-water"}, {r["code"] for r in rows if r["responsible_org"] == "city-water"}),
            ({"supervising_org_id": "city-eeb"}, {r["code"] for r in rows if r["supervising_org"] == "city-eeb"}),
            ({"category": "air"}, {r["code"] for r in rows if r["category"] == "air"}),
            ({"region_id": "saihan"}, {r["code"] for r in rows if r["region"] == "saihan"}),
            ({"round_id": ROUND}, {r["code"] for r in rows}),
            ({"round_id": "other"}, set()),
            ({"q": "黑臭水体"}, {r["code"] for r in rows if "黑臭水体" in r["title"]}),
            ({"q": "hh-2020-01"}, {r["code"] for r in rows if r["code"].startswith("HH-2020-01")}),
            ({"q": "100%"}, set()),
            ({"overdue": "true"}, {r["code"] for r in rows if r["deadline"] < "2021-03-01"}),
            ({"overdue": "false"}, {r["code"] for r in rows if r["deadline"] >= "2021-03-01"}),
            ({"status": "registered", "category": "water"}, {r["code"] for r in rows if r["category"] == "water"}),
            ({"status": "filed"}, set()),
        ):
            got = {i["code"] for i in await all_pages(s, admin, limit=7, **params)}
            assert got == expected, params
            assert expected or params in ({"round_id": "other"}, {"q": "100%"}, {"status": "filed"})
        r = await s.client.get("/v1/issues", params={"status": "closed"}, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "status"
        r = await s.client.get("/v1/issues", params={"cursor": "garbage!"}, headers=admin)
        assert r.status_code == 422


async def test_pages_follow_the_deadline_both_ways_without_gaps_or_repeats(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        admin = s.auth(roles="admin")
        up = await all_pages(s, admin, limit=5)
        down = await all_pages(s, admin, limit=4, sort="-deadline")
        assert len(up) == 34 and len({i["id"] for i in up}) == 34
        keys = [(i["deadline"], i["id"]) for i in up]
        assert keys == sorted(keys)
        assert [i["id"] for i in down] == [i["id"] for i in reversed(up)]


async def test_overdue_means_after_the_deadline_day_in_shanghai_and_not_signed_off(tmp_path: Path) -> None:
    # 2020-12-31T16:30Z is already 2021-01-01 00:30 in Shanghai: issues due 2020-12-31 are one day late.
    clock = fixed_clock("2020-12-31T15:59:00+00:00")
    async with running("issues", tmp_path, clock=clock) as s:
        await load_reference(s)
        item = await issue_by_code(s, "HH-2020-004")
        assert item["deadline"] == "2020-12-31" and item["overdue"] is False
        clock.set(fixed_clock("2020-12-31T16:30:00+00:00").now())
        item = await issue_by_code(s, "HH-2020-004")
        assert item["overdue"] is True and item["overdue_days"] == 1


async def test_public_view_needs_no_token_and_shows_only_the_public_fields(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        r = await s.client.get("/v1/public/issues", params={"q": "PM2.5"})
        assert r.status_code == 200
        [item] = r.json()["items"]
        assert item == {"code": "HH-2020-004", "title": "全市细颗粒物(PM2.5)年均浓度实现达标", "category": "air",
                        "region": None, "region_id": None, "responsible_org": "呼和浩特市生态环境局", "deadline": "2020-12-31",
                        "status": "registered"}
        seen, cursor = [], None
        while True:
            r = await s.client.get("/v1/public/issues", params={"limit": 10, **({"cursor": cursor} if cursor else {})})
            seen += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert len(seen) == 34 and all(set(i) == set(item) for i in seen)
        regional = [i for i in seen if i["region"]]
        assert {i["region"] for i in regional} <= {"赛罕区", "玉泉区", "新城区", "回民区", "土默特左旗", "托克托县",
                                                  "和林格尔县", "清水河县", "武川县", "呼和浩特经济技术开发区"}
        # the region's id beside its name, so the district filter can ask for exactly that region
        for i in regional:
            r = await s.client.get("/v1/public/issues", params={"region_id": i["region_id"], "limit": 500})
            assert i["code"] in {j["code"] for j in r.json()["items"]}
            assert {j["region"] for j in r.json()["items"]} == {i["region"]}


async def test_scoped_pages_follow_the_deadline_and_an_extended_deadline(tmp_path: Path) -> None:
    rows = ledger_rows()
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        eeb = s.auth(org="city-eeb", roles="responsible")
        mine = {r["code"] for r in rows if "city-eeb" in
                {r["responsible_org"], r["supervising_org"], *r["cooperating_orgs"].split(";")}}
        items = await all_pages(s, eeb, limit=4)
        assert {i["code"] for i in items} == mine and len(items) == len(mine)
        assert [(i["deadline"], i["id"]) for i in items] == sorted((i["deadline"], i["id"]) for i in items)
        # the earliest of its issues gets a later deadline: the scoped order follows
        first = items[0]
        r = await s.client.post(f"/v1/issues/{first['id']}/extensions", headers=eeb,
                                json={"requested_deadline": "2031-01-01", "reason": "延期"})
        if r.status_code == 403:  # city-eeb only supervises or cooperates on it: ask as its responsible org
            who = s.auth(org=first["responsible_org_id"], roles="responsible")
            r = await s.client.post(f"/v1/issues/{first['id']}/extensions", headers=who,
                                    json={"requested_deadline": "2031-01-01", "reason": "延期"})
        assert r.status_code == 201, r.text
        r = await s.client.post(f"/v1/issues/{first['id']}/extensions/{r.json()['id']}/decision",
                                headers=s.auth(roles="admin"), json={"approved": True})
        assert r.status_code == 200
        again = await all_pages(s, eeb, limit=4, sort="-deadline")
        assert again[0]["id"] == first["id"] and again[0]["deadline"] == "2031-01-01"
        assert {i["code"] for i in again} == mine


async def test_orgs_and_rounds_page_in_id_order_and_an_unknown_one_is_404(tmp_path: Path) -> None:
    with (DATA / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
        org_ids = sorted(o["id"] for o in csv.DictReader(fh))
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        reader = s.auth(org="district-x", roles="responsible")
        seen: list[str] = []
        cursor = None
        while True:
            r = await s.client.get("/v1/orgs", params={"limit": 7, **({"cursor": cursor} if cursor else {})},
                                   headers=reader)
            assert r.status_code == 200, r.text
            seen += [o["id"] for o in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert seen == org_ids
        r = await s.client.get("/v1/rounds", params={"limit": 1}, headers=reader)
        assert [x["id"] for x in r.json()["items"]] == [ROUND]
        assert (await s.client.get(f"/v1/rounds/{ROUND}", headers=reader)).json()["id"] == ROUND
        assert (await s.client.get(f"/v1/orgs/{org_ids[0]}", headers=reader)).json()["id"] == org_ids[0]
        for path, what in (("/v1/orgs/nobody", "no org nobody"), ("/v1/rounds/never", "no round never")):
            r = await s.client.get(path, headers=reader)
            assert r.status_code == 404 and what in r.text

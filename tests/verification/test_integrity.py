"""Integrity flags (紧盯表面整改): reused photos, photos older than the finding, far from the site, or bare."""

from __future__ import annotations

from typing import Any

from tests.verification.helpers import SITE, World, photo, reencode

ON_SITE = (SITE["latitude"] + 0.001, SITE["longitude"])  # about 110 m away
AFTER = "2020:06:20 09:30:00"


async def flags_of(world: World, issue: str, content: bytes, **kw: Any) -> dict[str, Any]:
    r = await world.upload(issue, content, **kw)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def flagged_events(world: World) -> list[dict[str, Any]]:
    return [e for e in await world.ver.events() if e["type"] == "evidence.flagged"]


async def test_a_clean_site_photo_carries_no_flag_and_shows_its_exif_beside_the_client_values(world: World) -> None:
    issue = await world.issue()
    ev = await flags_of(world, issue, photo(taken=AFTER, gps=ON_SITE), captured_at="2020-06-20T09:31:00+08:00",
                        latitude="40.84", longitude="111.75")
    assert ev["flags"] == []
    assert ev["capture"]["exif"]["captured_at"].startswith("2020-06-20T01:30:00")
    assert abs(ev["capture"]["exif"]["latitude"] - ON_SITE[0]) < 1e-4
    assert ev["capture"]["client"]["latitude"] == 40.84
    assert ev["capture"]["client"]["captured_at"].startswith("2020-06-20T01:31:00")
    assert await flagged_events(world) == []


async def test_the_same_photo_used_for_two_issues_is_flagged_reused_on_the_second(world: World) -> None:
    first, second = await world.issue(), await world.issue()
    content = photo(seed=11, taken=AFTER, gps=ON_SITE)
    original = await flags_of(world, first, content)
    assert original["flags"] == []
    again = await flags_of(world, second, content)
    assert again["flags"] == ["reused"]
    assert again["flag_details"][0]["match"] == "sha256"
    assert again["flag_details"][0]["evidence_id"] == original["id"]
    events = await flagged_events(world)
    assert len(events) == 1 and events[0]["subject"] == second
    assert events[0]["data"]["flags"] == ["reused"] and events[0]["data"]["supervising_org_id"]


async def test_a_re_encoded_copy_of_a_photo_is_flagged_reused_by_its_look(world: World) -> None:
    first, second = await world.issue(), await world.issue()
    content = photo(seed=12, taken=AFTER, gps=ON_SITE, quality=92)
    copy = reencode(content, quality=55)
    assert copy != content
    original = await flags_of(world, first, content)
    again = await flags_of(world, second, copy, captured_at="2020-06-21T10:00:00+08:00",
                           latitude=str(ON_SITE[0]), longitude=str(ON_SITE[1]))
    assert again["flags"] == ["reused"]
    assert again["flag_details"][0]["match"] == "phash"
    assert again["flag_details"][0]["evidence_id"] == original["id"]


async def test_different_photos_and_the_same_photo_within_one_issue_are_not_reuse(world: World) -> None:
    first, second = await world.issue(), await world.issue()
    content = photo(seed=13, taken=AFTER, gps=ON_SITE)
    await flags_of(world, first, content)
    assert (await flags_of(world, first, content))["flags"] == []
    assert (await flags_of(world, second, photo(seed=14, taken=AFTER, gps=ON_SITE)))["flags"] == []


async def test_a_photo_taken_before_the_feedback_date_is_flagged_before_issue(world: World) -> None:
    issue = await world.issue()
    ev = await flags_of(world, issue, photo(taken="2020:05:10 10:00:00", gps=ON_SITE))
    assert ev["flags"] == ["before_issue"]
    assert ev["flag_details"][0]["source"] == "exif"
    client_said = await flags_of(world, issue, photo(seed=2, gps=ON_SITE), captured_at="2019-12-01T08:00:00+08:00")
    assert client_said["flags"] == ["before_issue"] and client_said["flag_details"][0]["source"] == "client"


async def test_a_photo_far_from_the_site_is_flagged_and_none_is_raised_without_a_site(world: World) -> None:
    issue = await world.issue()
    far = (SITE["latitude"] + 0.1, SITE["longitude"])  # about 11 km north
    ev = await flags_of(world, issue, photo(taken=AFTER, gps=far))
    assert ev["flags"] == ["far_from_site"]
    assert 10_000 < ev["flag_details"][0]["distance_m"] < 12_000
    nowhere = await world.issue(location=None)
    assert (await flags_of(world, nowhere, photo(seed=5, taken=AFTER, gps=far)))["flags"] == []


async def test_a_photo_without_any_capture_metadata_is_flagged_but_a_document_is_not(world: World) -> None:
    issue = await world.issue()
    bare = await flags_of(world, issue, photo(seed=6))
    assert bare["flags"] == ["no_capture_metadata"]
    csv = "点位,PM2.5\n如意河,33\n".encode()
    assert (await flags_of(world, issue, csv, kind="monitoring", name="m.csv"))["flags"] == []
    events = await flagged_events(world)
    assert [e["data"]["flags"] for e in events] == [["no_capture_metadata"]]


async def test_flags_are_shown_to_the_supervising_org_on_read(world: World) -> None:
    issue = await world.issue()
    ev = await flags_of(world, issue, photo(seed=8, taken="2019:01:01 00:00:00", gps=ON_SITE))
    r = await world.client.get(f"/v1/evidence/{ev['id']}", headers=world.sup)
    assert r.status_code == 200 and r.json()["flags"] == ["before_issue"]
    r = await world.client.get("/v1/evidence", params={"issue_id": issue}, headers=world.sup)
    assert [e["flags"] for e in r.json()["items"]] == [["before_issue"]]

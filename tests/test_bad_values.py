"""Values that used to answer 500: out-of-range cursors, periods and dates are each a 422 naming the field."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support import Running, running


def cursor_of(*values: object) -> str:
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def field_of(r: object) -> list[str]:
    assert getattr(r, "status_code", None) == 422, getattr(r, "text", r)
    body = r.json()["error"]  # type: ignore[attr-defined]
    assert body["code"] == "invalid" and body["message"]
    return [d["field"] for d in body["details"]]


BAD_CURSORS = [cursor_of("2020-01-01T00:00:00+00:00", 2**63), cursor_of("2020-01-01T00:00:00+00:00", 2**64),
               cursor_of(2**63, 1), cursor_of("x" * 5000, 1), base64.urlsafe_b64encode(
                   b"[" + b"9" * 5000 + b",1]").decode().rstrip("="), cursor_of(1e308 * 10, 1)]


@pytest.mark.parametrize("path", ["/v1/inbox", "/v1/deliveries", "/v1/webhooks", "/v1/digests", "/v1/bulletins",
                                  "/v1/recipients", "/v1/address-book"])
async def test_notify_lists_refuse_out_of_range_cursors_422(tmp_path: Path, path: str) -> None:
    async with running("notify", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        for cursor in BAD_CURSORS:
            r = await s.client.get(path, headers=admin, params={"cursor": cursor})
            assert field_of(r) == ["cursor"], (path, cursor[:40])


BAD_PERIODS = ["0000", "9999-H2", "0001-01", "0001", "9999-12", "0000-H1"]


async def check_periods(s: Running) -> None:
    admin = s.auth(org="inspection-office", roles="admin")
    for period in BAD_PERIODS:
        r = await s.client.get("/v1/scores", headers=admin, params={"period": period, "kind": "department"})
        assert field_of(r) == ["period"], period
        r = await s.client.post("/v1/rankings", headers=admin, json={"period": period, "kind": "department"})
        assert field_of(r) == ["period"], period


async def test_scoring_refuses_periods_outside_the_calendar_it_can_compute_422(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        await check_periods(s)
        r = await s.client.get("/v1/scores", headers=s.auth(roles="admin"),
                               params={"period": "2020-06", "kind": "department"})
        assert r.status_code == 200, r.text


async def test_scoring_refuses_a_reading_dated_outside_the_calendar_422(tmp_path: Path) -> None:
    async with running("scoring", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z"):
            r = await s.client.post("/v1/readings", headers=admin, json={
                "org_id": "city-eeb", "indicator": "pm25", "value": 30, "observed_at": when})
            fields = field_of(r)
            assert any(f.endswith("observed_at") for f in fields), (when, fields)


async def test_notify_refuses_half_years_outside_the_calendar_422(tmp_path: Path) -> None:
    async with running("notify", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        for period in ("9999-H2", "0000-H1", "0001-H1"):
            r = await s.client.post("/v1/digests/half-year", headers=admin, json={"period": period})
            assert field_of(r) == ["period"], period


async def test_dates_must_be_iso_strings_and_within_the_calendar_422(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        n = len(await s.events())
        for value in (0, 1589673600, True, "0001-01-01", "9999-12-31", 20200517.0):
            r = await s.client.post("/v1/rounds", headers=admin, json={
                "id": "r-1", "name": "督察组", "level": "regional", "feedback_on": value})
            assert field_of(r) == ["feedback_on"], value
        assert len(await s.events()) == n
        r = await s.client.post("/v1/rounds", headers=admin, json={
            "id": "r-1", "name": "督察组", "level": "regional", "feedback_on": "2020-05-17"})
        assert r.status_code == 201, r.text
        assert r.json()["feedback_on"] == "2020-05-17"

"""The ledger on real PostgreSQL: the all-or-nothing import, SQL filters and scoping, Chinese search."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.issues.helpers import ledger_rows, load_orgs_and_round, load_reference
from tests.issues.test_import import csv_bytes
from tests.support import running

pytestmark = pytest.mark.postgres


async def test_import_filters_and_scoping_on_postgres(tmp_path: Path, pg_url: str) -> None:
    rows = ledger_rows()
    async with running("issues", tmp_path, database_url=pg_url) as s:
        created = await load_reference(s)
        assert created["issues"] == 34
        admin = s.auth(roles="admin")
        r = await s.client.get("/v1/issues", params={"q": "黑臭水体", "limit": 500}, headers=admin)
        assert {i["code"] for i in r.json()["items"]} == {x["code"] for x in rows if "黑臭水体" in x["title"]}
        water = s.auth(org="city-water", roles="responsible")
        r = await s.client.get("/v1/issues", params={"limit": 500}, headers=water)
        expected = {x["code"] for x in rows if "city-water" in
                    {x["responsible_org"], x["supervising_org"], *x["cooperating_orgs"].split(";")}}
        assert {i["code"] for i in r.json()["items"]} == expected
        r = await s.client.get("/v1/issues", params={"limit": 3, "sort": "-deadline"}, headers=admin)
        page2 = await s.client.get("/v1/issues", params={"limit": 3, "sort": "-deadline",
                                                          "cursor": r.json()["next_cursor"]}, headers=admin)
        last, first = r.json()["items"][-1], page2.json()["items"][0]
        assert (first["deadline"], first["id"]) < (last["deadline"], last["id"])


async def test_bad_import_leaves_postgres_untouched(tmp_path: Path, pg_url: str) -> None:
    rows = ledger_rows()
    rows[20]["deadline"] = "someday"
    async with running("issues", tmp_path, database_url=pg_url) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [{"row": 22, "column": "deadline",
                                                 "message": "not a date (YYYY-MM-DD): someday"}]
        assert len(await s.events()) == before
        r = await s.client.get("/v1/issues", headers=s.auth(roles="auditor"))
        assert r.json()["items"] == []


async def test_the_moved_in_filter_on_postgres(tmp_path: Path, pg_url: str) -> None:
    from tests.issues.test_import_history import check_moved_in_filter

    await check_moved_in_filter(tmp_path, database_url=pg_url)

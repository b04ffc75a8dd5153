"""Importing a ledger with where each task stood: the history columns, and every contradiction refused by cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.issues import ledger
from tests.issues.helpers import ROUND, issue_by_code, ledger_rows, load_orgs_and_round
from tests.issues.test_import import count_issues, csv_bytes
from tests.support import fixed_clock, running

TODAY = "2021-03-01T02:00:00+00:00"  # 2021-03-01 10:00 in Asia/Shanghai


def moved(i: int, **cells: str) -> dict[str, str]:
    """Row i of the reference ledger (deadline 2020-12-31 or earlier), with the history columns given."""
    row = {**ledger_rows()[i], **{c: "" for c in ledger.HISTORY_COLUMNS}, "assigned_on": "2020-05-17"}
    row.update(cells)
    return row


# (cells of one row, the column the 422 names)
CONTRADICTIONS = [
    ({"status": "signed_off", "signed_off_on": "2020-05-16"}, "signed_off_on"),      # before it was assigned
    ({"status": "filed", "signed_off_on": "2020-08-01", "filed_on": "2020-07-31"}, "filed_on"),  # before sign-off
    ({"status": "signed_off", "signed_off_on": "2021-03-02"}, "signed_off_on"),      # in the future
    ({"status": "filed", "signed_off_on": "2020-08-01", "filed_on": "2099-01-01"}, "filed_on"),  # in the future
    ({"status": "closure_requested"}, "status"),                                     # no application to decide on
    ({"status": "申请销号"}, "status"),                                                # the same, by its label
    ({"status": "done"}, "status"),                                                  # no such status
    ({"status": "in_progress", "signed_off_on": "2020-08-01"}, "signed_off_on"),     # sign-off of an open task
    ({"signed_off_on": "2020-08-01"}, "signed_off_on"),                              # no status: registered
    ({"status": "signed_off", "signed_off_on": "2020-08-01", "filed_on": "2020-08-02"}, "filed_on"),  # not filed
    ({"status": "signed_off"}, "signed_off_on"),                                     # signed off when?
    ({"status": "filed", "signed_off_on": "2020-08-01"}, "filed_on"),                # filed when?
    ({"status": "signed_off", "signed_off_on": "2020-08-01", "assigned_on": ""}, "assigned_on"),  # assigned when?
    ({"status": "signed_off", "signed_off_on": "2020-08-01", "signed_off_by": "ghost"}, "signed_off_by"),
    ({"status": "in_progress", "filed_by": "inspection-office"}, "filed_by"),        # a unit without its date
    ({"status": "signed_off", "signed_off_on": "2020-8-1"}, "signed_off_on"),         # not a date
]


async def test_every_contradiction_is_refused_by_row_and_column_and_nothing_is_created(tmp_path: Path) -> None:
    rows = [moved(i, **cells) for i, (cells, _) in enumerate(CONTRADICTIONS)]
    rows.append(moved(len(rows), status="signed_off", signed_off_on="2020-08-01"))  # a good row among them
    async with running("issues", tmp_path, clock=fixed_clock(TODAY)) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 422, r.text
        body = r.json()["error"]
        named = {(d["row"], d["column"]) for d in body["details"]}
        expected = {(i + 2, column) for i, (_, column) in enumerate(CONTRADICTIONS)}
        assert expected <= named
        assert {row for row, _ in named} == {row for row, _ in expected}  # the good row is not named
        assert all(d["message"] for d in body["details"])
        assert await count_issues(s) == 0
        assert len(await s.events()) == before


@pytest.mark.parametrize(("status", "label"), [("registered", "已交办"), ("in_progress", "整改中")])
async def test_status_column_takes_the_lifecycle_id_or_its_chinese_label(tmp_path: Path, status: str,
                                                                         label: str) -> None:
    rows = [moved(0, status=status), moved(1, status=label)]
    async with running("issues", tmp_path, clock=fixed_clock(TODAY)) as s:
        await load_orgs_and_round(s)
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 201, r.text
        for row in rows:
            assert (await issue_by_code(s, row["code"]))["status"] == status


async def test_a_signed_off_row_is_registered_then_moved_in_one_transaction(tmp_path: Path) -> None:
    rows = [moved(0, status="signed_off", signed_off_on="2020-12-31", signed_off_by="city-eeb")]
    async with running("issues", tmp_path, clock=fixed_clock(TODAY)) as s:
        await load_orgs_and_round(s)
        before = len(await s.events())
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 201, r.text
        new = (await s.events())[before:]
        assert [(e["type"], e["data"].get("action")) for e in new] == [
            ("issue.registered", None), ("issue.status_changed", "apply"), ("issue.status_changed", "accept")]
        assert len({e["correlation_id"] for e in new}) == 1  # one request, one transaction
        assert new[0]["data"]["moves_following"] == 2  # consumers wait for both moves before acting on its status
        accept = new[2]["data"]
        assert (accept["happened_on"], accept["recorded_by_org_id"]) == ("2020-12-31", "city-eeb")
        assert accept["at"].startswith("2020-12-30T16:00")  # the start of 2020-12-31 in Asia/Shanghai
        assert new[2]["time"].startswith("2021-03-01T02:00")  # recorded when it was moved in
        issue = await issue_by_code(s, rows[0]["code"])
        assert (issue["status"], issue["overdue"]) == ("signed_off", False)
        assert issue["round_id"] == ROUND


async def test_moved_in_lists_the_imported_sign_offs_still_to_file_and_not_those_moved_since(tmp_path: Path) -> None:
    await check_moved_in_filter(tmp_path)


async def check_moved_in_filter(tmp_path: Path, **settings: Any) -> None:
    """The moved_in filter (台账迁入) on five imported rows, three of them moved since; `settings` pick the database."""
    from tests.issues.test_lifecycle import deliver
    from tests.support import EventFactory

    rows = [moved(0, status="signed_off", signed_off_on="2020-12-31"),   # to be filed: the one wanted
            moved(1, status="signed_off", signed_off_on="2020-11-30"),   # filed here later: gone from the list
            moved(2, status="filed", signed_off_on="2020-10-01", filed_on="2020-10-09"),  # filed when moved in
            moved(3, status="in_progress"),                              # moved in open, signed off here
            moved(4)]                                                    # a plain row, never moved
    async with running("issues", tmp_path, clock=fixed_clock(TODAY), **settings) as s:
        await load_orgs_and_round(s)
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(rows))
        assert r.status_code == 201, r.text
        ids = [(await issue_by_code(s, row["code"]))["id"] for row in rows]
        ver = EventFactory("verification")
        assert await deliver(s, ver, "closure.filed", ids[1], closure_id=None) == "handled"
        for t in ("closure.requested", "closure.accepted"):
            assert await deliver(s, ver, t, ids[3], subject="c3", closure_id="c3", summary="已完成",
                                 evidence_ids=["e1"], opinion="属实") == "handled"
        admin = s.auth(roles="admin")

        async def listed(**params: str) -> set[str]:
            got = await s.client.get("/v1/issues", params={**params, "limit": 50}, headers=admin)
            assert got.status_code == 200, got.text
            return {i["id"] for i in got.json()["items"]}

        assert await listed(status="signed_off") == {ids[0], ids[3]}
        assert await listed(status="signed_off", moved_in="true") == {ids[0]}
        assert await listed(status="signed_off", moved_in="false") == {ids[3]}
        assert await listed(moved_in="true") == {ids[0], ids[2]}  # the filed one stands where the import put it
        assert await listed(moved_in="false") == {ids[1], ids[3], ids[4]}
        summary = await s.client.get("/v1/issues/summary", params={"moved_in": "true"}, headers=admin)
        assert summary.json()["total"] == 2

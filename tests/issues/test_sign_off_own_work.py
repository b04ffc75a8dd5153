"""An org cannot sign off its own work: the responsible org is never also the supervising org."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.issues.helpers import issue_by_code, ledger_rows, load_orgs_and_round, load_reference
from tests.support import running

BODY = {"code": "SELF-1", "round_id": "nm-2019-inspection", "category": "air", "title": "自己验收自己",
        "responsible_org_id": "city-eeb", "supervising_org_id": "city-eeb", "deadline": "2030-01-01"}


async def test_registering_the_same_org_responsible_and_supervising_is_refused_422(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        admin = s.auth(org="inspection-office", roles="admin")
        n = len(await s.events())
        r = await s.client.post("/v1/issues", headers=admin, json=BODY)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert [d["field"] for d in error["details"]] == ["supervising_org_id"]
        assert "监管单位" in error["message"]
        assert len(await s.events()) == n


async def test_reassigning_into_the_same_org_is_refused_422_and_changes_nothing(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_reference(s)
        admin = s.auth(org="inspection-office", roles="admin")
        issue = await issue_by_code(s, "HH-2020-004")
        n = len(await s.events())
        for change in ({"supervising_org_id": issue["responsible_org_id"]},
                       {"responsible_org_id": issue["supervising_org_id"]}):
            r = await s.client.patch(f"/v1/issues/{issue['id']}", headers=admin, json={**change, "reason": "调整"})
            assert r.status_code == 422, r.text
            assert [d["field"] for d in r.json()["error"]["details"]] == ["supervising_org_id"]
        assert len(await s.events()) == n
        again = await issue_by_code(s, "HH-2020-004")
        assert (again["responsible_org_id"], again["supervising_org_id"]) == (
            issue["responsible_org_id"], issue["supervising_org_id"])


async def test_a_ledger_row_with_the_same_org_responsible_and_supervising_is_refused(tmp_path: Path) -> None:
    rows = ledger_rows()[:2]
    rows[1]["supervising_org"] = rows[1]["responsible_org"]
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=buf.getvalue().encode())
        assert r.status_code == 422, r.text
        assert [(d["row"], d["column"]) for d in r.json()["error"]["details"]] == [(3, "supervising_org")]

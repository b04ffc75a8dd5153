"""A progress report names only evidence uploaded for that issue (known from verification's evidence.submitted)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.issues.helpers import load_orgs_and_round
from tests.issues.test_authorization import fresh_issue
from tests.support import EventFactory, running


async def test_progress_refuses_evidence_that_does_not_exist_or_belongs_to_another_issue(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        mine, other = await fresh_issue(s, started=True), await fresh_issue(s, started=True)
        ver = EventFactory("verification")
        ids = {}
        for issue_id in (mine, other):
            evidence_id = str(uuid.uuid4())
            ids[issue_id] = evidence_id
            env = ver.make("evidence.submitted", evidence_id, {
                "evidence_id": evidence_id, "issue_id": issue_id, "kind": "photo", "sha256": "a" * 64, "size": 10,
                "media_type": "image/jpeg", "org_id": "city-water"})
            assert await s.deliver(env) == "handled"
        water = s.auth(org="city-water", roles="responsible")
        ok = await s.client.post(f"/v1/issues/{mine}/progress", headers=water,
                                 json={"note": "已完成一半", "percent": 50, "evidence_ids": [ids[mine]]})
        assert ok.status_code == 201, ok.text
        for bad in (["no-such-evidence"], [ids[mine], ids[other]]):
            r = await s.client.post(f"/v1/issues/{mine}/progress", headers=water,
                                    json={"note": "进展", "percent": 60, "evidence_ids": bad})
            assert r.status_code == 422, r.text
            fields = [d["field"] for d in r.json()["error"]["details"]]
            assert fields == [f"evidence_ids.{len(bad) - 1}"], r.text
        history = (await s.client.get(f"/v1/issues/{mine}", headers=water)).json()
        assert history["last_progress"]["percent"] == 50  # nothing of the refused reports was recorded

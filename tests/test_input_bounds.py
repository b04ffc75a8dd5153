"""Unbounded inputs are bounded: org id lists, notify's org ids, and the correlation id that reaches the log."""

from __future__ import annotations

from pathlib import Path

from tests.support import running
from tests.test_bad_input import ISSUE, seeded


async def test_more_than_50_cooperating_orgs_are_refused_422_naming_the_field(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        issue_id = await seeded(s)
        admin = s.auth(org="inspection-office", roles="admin")
        n = len(await s.events())
        r = await s.client.post("/v1/issues", headers=admin,
                                json={**ISSUE, "code": "HH-2", "cooperating_org_ids": [f"o{i}" for i in range(51)]})
        assert r.status_code == 422
        assert [d["field"] for d in r.json()["error"]["details"]] == ["cooperating_org_ids"]
        r = await s.client.patch(f"/v1/issues/{issue_id}", headers=admin,
                                 json={"cooperating_org_ids": ["x" * 65]})
        assert r.status_code == 422
        assert [d["field"] for d in r.json()["error"]["details"]] == ["cooperating_org_ids.0"]
        assert len(await s.events()) == n


async def test_notify_refuses_org_ids_longer_than_64_characters(tmp_path: Path) -> None:
    async with running("notify", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.put(f"/v1/recipients/{'o' * 5000}", headers=admin, json={"emails": ["a@example.cn"]})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "org_id"
        r = await s.client.post("/v1/digests/weekly", headers=admin, json={"org_id": "o" * 65})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "org_id"
        r = await s.client.get("/v1/inbox", headers=admin, params={"leader": "l" * 5000})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "leader"


async def test_a_correlation_id_that_is_too_long_or_not_printable_is_replaced_before_it_reaches_the_log(
        tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        kept, hostile = "req-2020.06/01_ABC", ["x" * 65, "abc\x00def", "abc\r\nX-Injected: 1", "中文编号", " "]
        sent = []
        for i, cid in enumerate([kept, *hostile]):
            r = await s.client.post("/v1/orgs", headers={**admin, "X-Correlation-ID": cid.encode()},  # type: ignore[dict-item]
                                    json={"id": f"org-{i}", "name": f"单位{i}", "kind": "department",
                                   "zone_type": "department"})
            assert r.status_code == 201, r.text
            sent.append(r.headers["X-Correlation-ID"])
        assert sent[0] == kept
        for answered, cid in zip(sent[1:], hostile, strict=True):
            assert answered != cid and 1 <= len(answered) <= 64 and answered.isprintable() and answered.isascii()
        logged = [e["correlation_id"] for e in await s.events() if e["type"] == "org.registered"]
        assert logged == sent

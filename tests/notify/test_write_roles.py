"""Auditors read everything and write nothing: only the org's acting roles (or admin) manage webhooks and the inbox."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.notify.helpers import inbox, registered
from tests.support import running

HOOK = {"org_id": "city-eeb", "url": "https://eeb.example.cn/hook", "secret": "0123456789abcdef"}


@pytest.mark.parametrize(("roles", "status"), [("auditor", 403), ("leader", 403), ("", 403), ("responsible", 201),
                                               ("supervisor", 201)])
async def test_who_of_an_org_may_create_and_delete_its_webhooks(tmp_path: Path, roles: str, status: int) -> None:
    async with running("notify", tmp_path) as s:
        who = s.auth(org="city-eeb", roles=roles or [])
        r = await s.client.post("/v1/webhooks", headers=who, json=HOOK)
        assert r.status_code == status, r.text
        r = await s.client.post("/v1/webhooks", headers=s.auth(org="city-eeb", roles="responsible"), json=HOOK)
        hook_id = r.json()["id"]
        r = await s.client.delete(f"/v1/webhooks/{hook_id}", headers=who)
        assert r.status_code == (204 if status == 201 else 403), r.text


@pytest.mark.parametrize(("roles", "status"), [("auditor", 403), ("leader", 403), ("", 403), ("responsible", 200)])
async def test_who_of_an_org_may_mark_its_inbox_read(tmp_path: Path, roles: str, status: int) -> None:
    async with running("notify", tmp_path) as s:
        await s.deliver(registered(str(uuid.uuid4())))
        # the registration's notice (the scheduler may add reminders beside it while the test runs)
        item = (await inbox(s, "city-eeb"))[-1]
        r = await s.client.post(f"/v1/inbox/{item['id']}/read", headers=s.auth(org="city-eeb", roles=roles or []))
        assert r.status_code == status, r.text
        [after] = [i for i in await inbox(s, "city-eeb") if i["id"] == item["id"]]
        assert (after["read_at"] is not None) == (status == 200)

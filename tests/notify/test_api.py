"""Validation and scoping of notify's REST API: webhooks, recipients, address book."""

from __future__ import annotations

from pathlib import Path

from runtime.clock import SettableClock
from tests.notify.helpers import sh
from tests.support import running


async def test_webhook_subscription_is_validated_field_by_field_and_scoped_to_the_org(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=SettableClock(sh("2020-06-01T10:00"))) as s:
        eeb = s.auth(org="city-eeb", roles="responsible")
        good = {"org_id": "city-eeb", "url": "https://eeb.example.cn/hook", "secret": "0123456789abcdef"}
        cases = [({"url": "ftp://x"}, "url"), ({"secret": "short"}, "secret"),
                 ({"event_types": ["closure.accepted", "nonsense"]}, "event_types.1")]
        for change, field in cases:
            r = await s.client.post("/v1/webhooks", headers=eeb, json={**good, **change})
            assert r.status_code == 422, r.text
            assert r.json()["error"]["details"][0]["field"] == field
        r = await s.client.post("/v1/webhooks", headers=eeb, json={**good, "org_id": "city-water"})
        assert r.status_code == 403
        r = await s.client.get("/v1/webhooks", headers=eeb)
        assert r.json()["items"] == []  # nothing was created by the refused requests
        r = await s.client.post("/v1/webhooks", headers=eeb, json=good)
        assert r.status_code == 201 and "secret" not in r.json()
        r = await s.client.get("/v1/webhooks", headers=s.auth(org="city-water", roles="responsible"))
        assert r.json()["items"] == []
        r = await s.client.delete(f"/v1/webhooks/{(await s.client.get('/v1/webhooks', headers=eeb)).json()['items'][0]['id']}",
                                  headers=eeb)
        assert r.status_code == 204


async def test_addresses_and_address_book_are_admin_only_and_validate_emails(tmp_path: Path) -> None:
    async with running("notify", tmp_path, clock=SettableClock(sh("2020-06-01T10:00"))) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        r = await s.client.put("/v1/recipients/city-eeb", headers=s.auth(org="city-eeb", roles="responsible"),
                               json={"emails": ["a@b.cn"]})
        assert r.status_code == 403
        r = await s.client.put("/v1/recipients/city-eeb", headers=admin, json={"emails": ["a@b.cn", "不是邮箱"]})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "emails.1"
        r = await s.client.put("/v1/address-book/市委分管副书记", headers=admin,
                               json={"name": "李四", "emails": ["li@hohhot.gov.cn"]})
        assert r.status_code == 200
        r = await s.client.get("/v1/address-book", headers=s.auth(roles="leader"))
        assert [(e["title"], e["emails"]) for e in r.json()["items"]] == [("市委分管副书记", ["li@hohhot.gov.cn"])]
        r = await s.client.get("/v1/recipients", headers=admin)
        assert r.json()["items"] == []


async def test_the_unread_count_is_the_orgs_exact_count_and_drops_when_a_notice_is_read(tmp_path: Path) -> None:
    from services.notify.store import InboxItem

    async with running("notify", tmp_path, clock=SettableClock(sh("2020-06-01T10:00"))) as s:
        async with s.rt.sessions() as session, session.begin():
            # 12 for xincheng (past the old "9+" cap), 3 for wuchuan, 1 already read for xincheng
            for n, org_id in enumerate(["xincheng"] * 12 + ["wuchuan"] * 3):
                session.add(InboxItem(id=f"i{n}", recipient=org_id, org_id=org_id, type="issue.assigned",
                                      subject="s1", title="新任务", body="正文", dedupe_key=f"k{n}",
                                      created_at=s.rt.clock.now()))
            session.add(InboxItem(id="old", recipient="xincheng", org_id="xincheng", type="issue.assigned",
                                  subject="s1", title="旧任务", body="正文", dedupe_key="k-old",
                                  created_at=s.rt.clock.now(), read_at=s.rt.clock.now()))
        own = s.auth(org="xincheng", roles="responsible")

        async def count(headers: dict[str, str]) -> int:
            r = await s.client.get("/v1/inbox/unread-count", headers=headers)
            assert r.status_code == 200, r.text
            assert set(r.json()) == {"unread"}
            return int(r.json()["unread"])

        listed = await s.client.get("/v1/inbox", params={"unread": True, "limit": 500}, headers=own)
        assert await count(own) == len(listed.json()["items"]) == 12
        assert await count(s.auth(org="wuchuan", roles="supervisor")) == 3
        assert await count(s.auth(roles="auditor")) == 0  # no org: an empty inbox, as GET /v1/inbox shows it

        assert (await s.client.post("/v1/inbox/i0/read", headers=own)).status_code == 200
        assert await count(own) == 11
        assert (await s.client.post("/v1/inbox/i0/read", headers=own)).status_code == 200  # read twice: once
        assert await count(own) == 11

        # a token without a role reads nothing but the public pages; no token is unauthorized
        refused = await s.client.get("/v1/inbox/unread-count", headers=s.auth(org="xincheng", roles=[]))
        assert refused.status_code == 403 and "error" in refused.json()
        assert (await s.client.get("/v1/inbox/unread-count")).status_code == 401

"""The relay: commit order, and the newest events signed even when activity stops."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support import running


async def test_tail_of_the_log_gets_a_checkpoint_after_activity_stops(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        admin = svc.auth(org="inspection-office", roles="admin")
        for i in range(3):  # within a second: only the first is signed while they arrive
            r = await svc.client.post("/v1/orgs", headers=admin,
                                      json={"id": f"org-{i}", "name": f"单位{i}", "kind": "department"})
            assert r.status_code == 201
        auditor = svc.auth(roles="auditor")
        deadline = time.monotonic() + 10
        sizes: list[int] = []
        while time.monotonic() < deadline:
            r = await svc.client.get("/v1/checkpoints/issues", headers=auditor, params={"limit": 100})
            sizes = [cp["size"] for cp in r.json()["items"]]
            if sizes and sizes[-1] == 3:
                break
            await asyncio.sleep(0.2)
        assert sizes and sizes[-1] == 3, sizes


async def test_log_positions_follow_commit_order_without_gaps(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as svc:
        admin = svc.auth(org="inspection-office", roles="admin")
        results = await asyncio.gather(*(
            svc.client.post("/v1/orgs", headers=admin, json={"id": f"o-{i}", "name": f"单位{i}", "kind": "region"})
            for i in range(20)))
        assert all(r.status_code == 201 for r in results)
        r = await svc.client.get("/v1/logs/issues", headers=svc.auth(roles="auditor"), params={"limit": 100})
        while len(r.json()["items"]) < 20:
            await asyncio.sleep(0.05)
            r = await svc.client.get("/v1/logs/issues", headers=svc.auth(roles="auditor"), params={"limit": 100})
        positions = [item["position"] for item in r.json()["items"]]
        assert positions == list(range(1, 21))


async def test_emit_derives_the_type_from_the_payload_and_refuses_an_event_the_service_does_not_own(
        tmp_path: Path) -> None:
    from contracts import Actor
    from contracts.events.issues import OrgRegistered
    from contracts.events.verification import ClosureFiled
    from runtime.clock import Clock
    from runtime.db import make_engine, make_sessionmaker
    from runtime.migrations import migrate
    from runtime.outbox import NotOwned, UnitOfWork
    from services.issues.app import SPEC

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'issues.db'}")
    await migrate(engine, "issues", SPEC.migrations)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            uow = UnitOfWork(session=session, service="issues", actor=Actor(org="o", user="u", role="admin"),
                             correlation_id="c", causation_id=None, clock=Clock())
            env = await uow.emit("o1", OrgRegistered(org_id="o1", name="甲", kind="region"))
            assert (env.type, env.version, env.source) == ("org.registered", 1, "issues")
            with pytest.raises(NotOwned, match=r"closure\.filed"):
                await uow.emit("i1", ClosureFiled(closure_id="c", issue_id="i1", responsible_org_id="o"))
            assert len(uow.emitted) == 1
    finally:
        await engine.dispose()

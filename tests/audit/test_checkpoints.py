"""Checkpoints: signed by the relay every 1,000 events or every second, keys kept across restarts, served."""

from __future__ import annotations

import base64
import hashlib
import stat
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from runtime import checkpoints
from runtime.checkpoints import (
    key_id,
    new_key_text,
    parse_private_key,
    parse_public_key,
    signature_ok,
    signing_key,
)
from runtime.db import make_engine, make_sessionmaker
from runtime.migrations import migrate
from runtime.models import Checkpoint, OutboxRow
from runtime.outbox import Relay
from services.issues.app import SPEC
from tests.support import fixed_clock, running


async def test_relay_signs_every_thousand_events_and_the_first(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(checkpoints, "EVERY_EVENTS", 10)  # a thousand, scaled down to keep the test fast
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'issues.db'}")
    await migrate(engine, "issues", SPEC.migrations)
    sessions = make_sessionmaker(engine)
    clock = fixed_clock("2020-06-01T01:00:00+00:00")
    async with sessions() as session, session.begin():
        await session.execute(insert(OutboxRow), [
            {"event_id": f"e{i}", "type": "org.registered", "subject": f"s{i}", "seq": 1, "time": clock.now(),
             "envelope": f'{{"hash":"{hashlib.sha256(str(i).encode()).hexdigest()}"}}'} for i in range(25)])

    key = signing_key(service="issues", configured=None, db_url=engine.url)

    async def hook(session, state):  # type: ignore[no-untyped-def]
        await checkpoints.checkpoint_if_due(session, state=state, now=clock.now(), service="issues", key=key)

    relay = Relay(sessions, after_sequence=hook)
    while await relay.sequence_once(batch=7):
        pass
    async with sessions() as session:
        cps = (await session.execute(select(Checkpoint).order_by(Checkpoint.size))).scalars().all()
        roots = dict((await session.execute(select(OutboxRow.position, OutboxRow.log_hash))).all())
    assert [c.size for c in cps] == [7, 10, 20]  # the first batch, then each (scaled) thousand; same second: no tip
    assert all(c.root == roots[c.size] for c in cps)
    public = key.public_key()
    assert all(signature_ok(public, service="issues", size=c.size, root=c.root, signature=c.signature,
                            time=c.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for c in cps)
    await engine.dispose()


async def test_a_checkpoint_each_second_while_events_arrive(tmp_path: Path) -> None:
    clock = fixed_clock("2020-06-01T01:00:00+00:00")
    # No relay loop: the test sequences each event itself, so no idle-time signing of the tail races with it.
    async with running("issues", tmp_path, clock=clock, background=False) as s:
        admin = s.auth(org="inspection-office", roles="admin")
        for i in range(6):
            r = await s.client.post("/v1/orgs", json={"id": f"o{i}", "name": "甲", "kind": "region"}, headers=admin)
            assert r.status_code == 201, r.text
            await s.events()
            if i % 2:
                clock.advance(timedelta(seconds=1))
        r = await s.client.get("/v1/checkpoints/issues", headers=s.auth(roles="auditor"))
        assert r.status_code == 200
        sizes = [c["size"] for c in r.json()["items"]]
        assert sizes == [1, 3, 5]


async def test_the_development_key_is_kept_in_the_data_folder_across_restarts(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        first = (await s.client.get("/v1/checkpoints/issues/public-key")).json()
    path = tmp_path / "issues.checkpoint.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    checkpoints._KEYS.clear()
    async with running("issues", tmp_path) as s:
        again = (await s.client.get("/v1/checkpoints/issues/public-key")).json()
    assert first == again and first["algorithm"] == "Ed25519"
    assert key_id(parse_public_key(first["public_key"])) == first["key_id"]


async def test_a_configured_key_signs_and_is_served_without_a_token(tmp_path: Path) -> None:
    text = new_key_text()
    async with running("issues", tmp_path, checkpoint_key=text) as s:
        r = await s.client.get("/v1/checkpoints/issues/public-key")
        assert r.status_code == 200
        assert r.json()["public_key"] == base64.b64encode(
            parse_private_key(text).public_key().public_bytes_raw()).decode()
        assert not (tmp_path / "issues.checkpoint.key").exists()


async def test_checkpoints_are_for_auditors_only(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        assert (await s.client.get("/v1/checkpoints/issues")).status_code == 401
        r = await s.client.get("/v1/checkpoints/issues", headers=s.auth(org="city-eeb", roles="responsible"))
        assert r.status_code == 403
        r = await s.client.get("/v1/checkpoints/scoring", headers=s.auth(roles="auditor"))
        assert r.status_code == 404


def test_a_malformed_configured_key_is_refused_with_a_reason() -> None:
    for bad, why in (("not base64!", "not base64"), (base64.b64encode(b"short").decode(), "32 raw bytes")):
        try:
            parse_private_key(bad)
        except ValueError as exc:
            assert why in str(exc)
        else:
            raise AssertionError("accepted a bad key")

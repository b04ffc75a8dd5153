"""UnitOfWork.emit_new: many new subjects' first events in two statements, the same log as one emit each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from contracts import GENESIS_HASH
from contracts.envelope import Envelope
from contracts.events.issues import OrgRegistered
from contracts.events.scoring import RankingPublished
from runtime.auth import Principal
from runtime.models import OutboxRow, SubjectHead
from runtime.outbox import NotOwned, UnitOfWork, emit_each
from tests.support import running

ADMIN = Principal(sub="admin", org="inspection-office", roles=frozenset({"admin"}))


def org(n: int) -> OrgRegistered:
    return OrgRegistered(org_id=f"o-{n}", name=f"单位{n}", kind="department")


async def test_new_subjects_start_their_chains_in_emit_order_and_the_relay_sequences_them(tmp_path: Path) -> None:
    async with running("issues", tmp_path, background=False) as svc:
        async with svc.rt.unit_of_work(ADMIN) as uow:
            await uow.emit("o-0", org(0), new_subject=True)
            envelopes = await uow.emit_new([(f"o-{n}", org(n)) for n in range(1, 4)])
            await uow.emit("o-0", org(0))  # an existing subject's next event, in the same transaction
        assert [e.subject for e in uow.emitted] == ["o-0", "o-1", "o-2", "o-3", "o-0"]
        assert all(e.seq == 1 and e.prev_hash == GENESIS_HASH and e.hash_ok() for e in envelopes)
        events = await svc.events()
        assert [(e["subject"], e["seq"]) for e in events] == [("o-0", 1), ("o-1", 1), ("o-2", 1), ("o-3", 1),
                                                              ("o-0", 2)]
        async with svc.rt.read() as s:
            heads = {h.subject: (h.seq, h.hash) for h in (await s.execute(select(SubjectHead))).scalars().all()}
            rows = (await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().all()
        assert heads["o-2"] == (1, envelopes[1].hash)
        stored = [Envelope.model_validate(json.loads(r.envelope)) for r in rows[1:4]]
        assert stored == envelopes and all(e.hash_ok() for e in stored)
        assert [r.envelope for r in rows[1:4]] == [e.to_json() for e in stored], "canonical, as emit writes it"


async def test_a_subject_that_exists_already_refuses_the_transaction(tmp_path: Path) -> None:
    async with running("issues", tmp_path, background=False) as svc:
        async with svc.rt.unit_of_work(ADMIN) as uow:
            await uow.emit("o-1", org(1), new_subject=True)
        with pytest.raises(IntegrityError):
            async with svc.rt.unit_of_work(ADMIN) as uow:
                await uow.emit_new([(f"o-{n}", org(n)) for n in range(3)])
        assert [e["subject"] for e in await svc.events()] == ["o-1"], "nothing of the refused transaction stays"


async def test_an_event_another_service_publishes_is_refused(tmp_path: Path) -> None:
    async with running("issues", tmp_path, background=False) as svc:
        ranking = RankingPublished.model_construct()
        with pytest.raises(NotOwned):
            async with svc.rt.unit_of_work(ADMIN) as uow:
                await uow.emit_new([("o-1", org(1)), ("r-1", ranking)])
        assert await svc.events() == []


async def test_emit_each_chains_the_events_of_many_units_of_work_as_emitting_them_one_by_one(tmp_path: Path) -> None:
    async with running("issues", tmp_path, background=False) as svc:
        async with svc.rt.unit_of_work(ADMIN) as uow:
            await uow.emit("o-0", org(0))  # a head object in the session, moved by emit_each after
            held = uow.session.identity_map.get(identity_key(SubjectHead, "o-0"))
            assert held is not None and held.seq == 1
            other = UnitOfWork(session=uow.session, service="issues", actor=uow.actor, correlation_id="c-2",
                               causation_id="e-2", clock=uow.clock)
            envelopes = await emit_each([(uow, "o-0", org(0)), (other, "o-1", org(1)), (uow, "o-0", org(0)),
                                         (other, "o-2", org(2))])
            assert (held.seq, held.hash) == (3, envelopes[2].hash), "the session's head object follows its row"
            await uow.emit("o-0", org(0))  # and the chain goes on from where emit_each left it
        assert [e.seq for e in envelopes] == [2, 1, 3, 1] and all(e.hash_ok() for e in envelopes)
        assert [e.subject for e in other.emitted] == ["o-1", "o-2"] and uow.emitted[1:3] == envelopes[::2]
        assert other.emitted[0].causation_id == "e-2" and other.emitted[0].correlation_id == "c-2"
        events = await svc.events()
        assert [(e["subject"], e["seq"]) for e in events] == [("o-0", 1), ("o-0", 2), ("o-1", 1), ("o-0", 3),
                                                              ("o-2", 1), ("o-0", 4)]
        last: dict[str, str] = {}
        for e in events:
            assert e["prev_hash"] == last.get(e["subject"], GENESIS_HASH), "one chain per subject"
            last[e["subject"]] = e["hash"]
        async with svc.rt.read() as s:
            heads = {h.subject: h.hash for h in (await s.execute(select(SubjectHead))).scalars().all()}
            rows = (await s.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars().all()
        assert heads == last
        stored = [Envelope.model_validate(json.loads(r.envelope)) for r in rows]
        assert stored[1:5] == envelopes and all(e.hash_ok() for e in stored)
        assert [r.envelope for r in rows] == [e.to_json() for e in stored], "canonical, as emit writes it"


async def test_emit_each_refuses_an_event_another_service_publishes_before_writing(tmp_path: Path) -> None:
    async with running("issues", tmp_path, background=False) as svc:
        with pytest.raises(NotOwned):
            async with svc.rt.unit_of_work(ADMIN) as uow:
                await emit_each([(uow, "o-1", org(1)), (uow, "r-1", RankingPublished.model_construct())])
        assert await svc.events() == []

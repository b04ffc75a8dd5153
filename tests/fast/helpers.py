"""Helpers of the fast tier: deliver an event to a runtime's consumer, read what the runtime logged."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from contracts import Envelope
from runtime.auth import Principal
from runtime.bootstrap import Runtime
from runtime.models import OutboxRow

ADMIN = Principal(sub="admin", org="inspection-office", roles=frozenset({"admin"}))


async def deliver(rt: Runtime, envelope: Envelope) -> str:
    """Hand one event to the runtime's consumer as a bus would; the outcome (handled, duplicate, …)."""
    assert rt.consumer is not None, "this service consumes nothing"
    return (await rt.consumer.process(envelope.model_dump(mode="json"), origin="fast")).status


async def logged(rt: Runtime) -> list[dict[str, Any]]:
    """The runtime's own log in commit order, after the relay sequenced what is committed."""
    while await rt.relay.sequence_once():
        pass
    async with rt.read() as session:
        rows = (await session.execute(select(col(OutboxRow.envelope)).order_by(col(OutboxRow.position)))).all()
    return [json.loads(envelope) for (envelope,) in rows]

"""Signed checkpoints of a service's log (Ed25519 over size and root)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.models import LogState


async def checkpoint_if_due(session: AsyncSession, *, state: LogState, now: datetime, service: str,
                            key: object | None) -> None:
    """Called by the relay inside its sequencing transaction after new events got positions."""
    return None

"""Checkpoints served beside the log, and the key that signs them at a fixed path."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlmodel import col

from runtime.answers import CheckpointPageOut, PublicKeyOut
from runtime.auth import Principal, require
from runtime.checkpoints import ALGORITHM, checkpoint_out, key_id, public_raw, signing_key
from runtime.errors import NotFound, error_responses
from runtime.models import Checkpoint


def audit_router(service: str) -> APIRouter:
    """Routes `GET /v1/checkpoints/{service}` (auditor, system) and `.../public-key` (public)."""
    router = APIRouter(tags=["audit"])

    def _mine(name: str) -> None:
        if name != service:
            raise NotFound(f"this is the {service} service; its checkpoints are at /v1/checkpoints/{service}")

    @router.get("/v1/checkpoints/{name}", summary="Signed checkpoints of this service's log (auditor)",
                responses=error_responses(401, 403, 404, 422))
    async def read_checkpoints(
        name: str,
        request: Request,
        _: Annotated[Principal, Depends(require("auditor", "system"))],
        after: Annotated[int, Query(ge=0, description="log size of the last checkpoint already read")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> CheckpointPageOut:
        _mine(name)
        rt = request.app.state.runtime
        async with rt.read() as session:
            rows = (await session.execute(
                select(Checkpoint).where(col(Checkpoint.size) > after).order_by(col(Checkpoint.size)).limit(limit + 1)
            )).scalars().all()
        items = [checkpoint_out(service, cp) for cp in rows[:limit]]
        return CheckpointPageOut.model_validate(
            {"items": items, "next_cursor": str(items[-1]["size"]) if len(rows) > limit else None})

    @router.get("/v1/checkpoints/{name}/public-key", summary="The key checkpoints are signed with (public)",
                responses=error_responses(404, 422))
    async def public_key(name: str, request: Request) -> PublicKeyOut:
        _mine(name)
        rt = request.app.state.runtime
        key = signing_key(service=service, configured=rt.settings.checkpoint_key or None, db_url=rt.engine.url,
                          data_dir=rt.settings.data_dir)
        return PublicKeyOut(service=service, algorithm=ALGORITHM, key_id=key_id(key),
                            public_key=base64.b64encode(public_raw(key)).decode("ascii"))

    return router

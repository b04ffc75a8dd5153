"""Routes of the scoring service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from runtime.app import Runtime, get_runtime
from runtime.auth import Principal, current_principal
from runtime.errors import NotFound
from services.scoring.store import IssueFact

router = APIRouter()


@router.get("/v1/facts/issues/{issue_id}", tags=["scoring"], summary="What scoring has recorded of an issue")
async def issue_fact(issue_id: str, rt: Runtime = Depends(get_runtime),
                     _: Principal = Depends(current_principal)) -> dict[str, Any]:
    async with rt.read() as session:
        fact = await session.get(IssueFact, issue_id)
    if fact is None:
        raise NotFound(f"scoring has recorded nothing of issue {issue_id}")
    return fact.model_dump(mode="json")

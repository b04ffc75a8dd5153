"""Event handlers of the scoring service and the table that maps them."""

from __future__ import annotations

from pydantic import BaseModel

from contracts import Envelope
from contracts.events.issues import IssueRegistered
from contracts.events.verification import ClosureAccepted
from runtime.errors import NotFound
from runtime.outbox import UnitOfWork
from services.scoring.store import IssueFact


async def on_issue_registered(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Start counting an issue for its responsible org."""
    assert isinstance(payload, IssueRegistered)
    if await uow.session.get(IssueFact, payload.issue_id) is None:
        uow.session.add(IssueFact(id=payload.issue_id, responsible_org_id=payload.responsible_org_id,
                                  deadline=payload.deadline, status="registered", registered_at=envelope.time))


async def on_closure_accepted(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Record the sign-off time (it decides on-time closure and completion)."""
    assert isinstance(payload, ClosureAccepted)
    fact = await uow.session.get(IssueFact, payload.issue_id)
    if fact is None:
        raise NotFound(f"closure.accepted for issue {payload.issue_id} that scoring has not seen registered")
    fact.status = "signed_off"
    fact.signed_off_at = envelope.time
    uow.session.add(fact)


HANDLERS = {
    "issue.registered": on_issue_registered,
    "closure.accepted": on_closure_accepted,
}

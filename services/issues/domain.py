"""Rules of the ledger: the issue state machine and who may see what. No I/O."""

from __future__ import annotations

from contracts import lifecycle
from contracts.enums import IssueStatus
from runtime.auth import Principal
from runtime.errors import Conflict

S = IssueStatus

# The state machine is the contract's (contracts.lifecycle); these names stay for the callers of this module.
TRANSITIONS = lifecycle.TRANSITIONS
EVENT_ACTIONS = lifecycle.EVENT_ACTIONS


def next_status(*, action: str, current: str) -> IssueStatus:
    """The status after `action`, or Conflict when the state machine forbids it."""
    target = lifecycle.next_status(action, current)
    if target is None:
        allowed = sorted(lifecycle.allowed_actions(current))
        raise Conflict(
            f"cannot {action} an issue that is {current}",
            details=[{"field": "status", "message": f"allowed from {current}: {', '.join(allowed) or 'nothing'}"}],
            code="illegal_transition",
        )
    return target


# Statuses in which the lead responsible org may report progress, and ask for (or be granted) more time.
PROGRESS_FROM = frozenset({S.in_progress})
EXTENSIBLE = frozenset({S.registered, S.in_progress, S.closure_requested})


def require_status(*, action: str, current: str, allowed: frozenset[IssueStatus]) -> None:
    """Conflict (409) unless the issue is in one of the allowed statuses."""
    if current not in allowed:
        raise Conflict(
            f"cannot {action} an issue that is {current}",
            details=[{"field": "status", "message": f"allowed only when {', '.join(sorted(allowed))}"}],
            code="illegal_transition",
        )


def may_see(principal: Principal, *, responsible: str, cooperating: list[str], supervising: str) -> bool:
    """Admins, leaders, auditors see all; an org sees the issues it is responsible for, cooperates on or supervises."""
    return principal.sees_issue(responsible=responsible, supervising=supervising, cooperating=cooperating)


def may_act_as_responsible(principal: Principal, *, responsible: str) -> bool:
    """Only the lead responsible org acts on an issue's rectification."""
    return principal.has("responsible") and principal.org == responsible

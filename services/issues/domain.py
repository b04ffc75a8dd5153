"""Rules of the ledger: the issue state machine and who may see what. No I/O."""

from __future__ import annotations

from contracts.enums import IssueStatus
from runtime.auth import Principal
from runtime.errors import Conflict

S = IssueStatus

# (action, from) -> to. Anything absent is an illegal transition (409).
TRANSITIONS: dict[tuple[str, IssueStatus], IssueStatus] = {
    ("start", S.registered): S.in_progress,
    ("apply", S.registered): S.closure_requested,
    ("apply", S.in_progress): S.closure_requested,
    ("accept", S.closure_requested): S.signed_off,
    ("reject", S.closure_requested): S.in_progress,
    ("file", S.signed_off): S.filed,
    ("reopen", S.signed_off): S.in_progress,
    ("reopen", S.filed): S.in_progress,
}

# Which verification event moves the status, and by which action.
EVENT_ACTIONS = {
    "closure.requested": "apply",
    "closure.accepted": "accept",
    "closure.rejected": "reject",
    "closure.filed": "file",
    "issue.reopened": "reopen",
}


def next_status(*, action: str, current: str) -> IssueStatus:
    """The status after `action`, or Conflict when the state machine forbids it."""
    try:
        return TRANSITIONS[(action, IssueStatus(current))]
    except KeyError:
        allowed = sorted({a for (a, s) in TRANSITIONS if s == current})
        raise Conflict(
            f"cannot {action} an issue that is {current}",
            details=[{"field": "status", "message": f"allowed from {current}: {', '.join(allowed) or 'nothing'}"}],
            code="illegal_transition",
        ) from None


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

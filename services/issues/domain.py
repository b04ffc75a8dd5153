"""Rules of the ledger: the issue state machine and who may see what. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from contracts import lifecycle
from contracts.enums import IssueStatus
from contracts.lifecycle import Action
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


class Move(NamedTuple):
    """One status move of an issue: the lifecycle action, from (None at registration) and to."""

    action: str
    from_status: str | None
    to_status: str


class IllegalMove(ValueError):
    """One of this service's own events claims a move the lifecycle does not allow (the log is inconsistent)."""


def move_of(event_type: str, data: Mapping[str, Any], *, current: str | None,
            started_by: str | None = None) -> Move | None:
    """How one of this service's own events moves an issue's status: the fold the audit replay runs.

    None when the event moves nothing; IllegalMove when the lifecycle forbids what it says. `current` is the
    issue's status (None before registration). `started_by` is the id of the issue.started already folded: its
    issue.status_changed (cause_event_id) only announces that same move to the other services. Logs written
    before every start was announced have issue.started alone, which is why the start folds from it.
    """
    if event_type == "issue.registered":
        if current is not None:
            raise IllegalMove(f"issue {data['issue_id']} registered twice")
        return Move("register", None, lifecycle.INITIAL.value)
    if current is None:
        if event_type in ("issue.started", "issue.status_changed"):
            raise IllegalMove(f"issue {data['issue_id']} was never registered")
        return None
    if event_type == "issue.started":
        target = lifecycle.next_status(Action.start, current)
        if target is None:
            raise IllegalMove(f"start is not allowed from {current} (contracts.lifecycle)")
        return Move(Action.start.value, current, target.value)
    if event_type == "issue.status_changed":
        if started_by is not None and data.get("cause_event_id") == started_by:
            return None
        if data["from_status"] != current:
            raise IllegalMove(f"says the issue moved from {data['from_status']}, but it was {current}")
        action = data.get("action") or lifecycle.action_between(current, data["to_status"])
        if action is None or lifecycle.next_status(action, current) != data["to_status"]:
            raise IllegalMove(f"{current} → {data['to_status']} is no transition of contracts.lifecycle")
        return Move(str(action), current, str(data["to_status"]))
    return None


def path_from_initial(target: str) -> list[tuple[Action, IssueStatus, IssueStatus]] | None:
    """The shortest run of lifecycle moves from registration to `target`, as (action, from, to); None when the
    state machine cannot reach it (a ledger moved in goes through the same moves as any issue)."""
    paths: dict[IssueStatus, list[tuple[Action, IssueStatus, IssueStatus]]] = {lifecycle.INITIAL: []}
    frontier = [lifecycle.INITIAL]
    while frontier:
        nxt: list[IssueStatus] = []
        for src in frontier:
            for (action, frm), dst in TRANSITIONS.items():
                if frm == src and dst not in paths:
                    paths[dst] = [*paths[src], (action, src, dst)]
                    nxt.append(dst)
        frontier = nxt
    return paths.get(IssueStatus(target)) if target in IssueStatus.__members__ else None


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

"""Rules of the ledger: the issue state machine and who may see what. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from contracts import lifecycle
from contracts.enums import IssueStatus
from contracts.lifecycle import Action
from runtime.auth import Principal
from runtime.clock import SHANGHAI
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


class Counts(NamedTuple):
    """The cockpit's counts of a set of issues (what GET /v1/issues/summary answers besides its two lists)."""

    total: int
    closed: int
    overdue: int
    escalated: int
    due: int
    due_closed: int
    on_time_rate: float | None
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_region: list[dict[str, Any]]


def counts_of(groups: Sequence[Mapping[Any, Any]]) -> Counts:
    """Fold rows of (status, category, region_id, n, due, overdue, escalated) into the cockpit's figures.

    The on-time rate (按期办结率) is the share of the tasks whose deadline has passed that are signed off or
    filed, in per cent with one decimal, None when no deadline has passed yet."""
    total = closed = overdue = escalated = due = due_closed = 0
    by_status: dict[str, int] = {}
    by_category: dict[str, int] = {}
    regions: dict[str, list[int]] = {}
    for g in groups:
        n, g_due, g_late = int(g["n"]), int(g["due"] or 0), int(g["overdue"] or 0)
        total += n
        overdue += g_late
        escalated += int(g["escalated"] or 0)
        due += g_due
        if lifecycle.is_closed(g["status"]):
            closed += n
            due_closed += g_due
        by_status[g["status"]] = by_status.get(g["status"], 0) + n
        by_category[g["category"]] = by_category.get(g["category"], 0) + n
        if g["region_id"]:
            r = regions.setdefault(g["region_id"], [0, 0])
            r[0] += n
            r[1] += g_late
    rate = round(due_closed * 100 / due, 1) if due else None
    by_region = [{"region_id": k, "total": v[0], "overdue": v[1]}
                 for k, v in sorted(regions.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return Counts(total, closed, overdue, escalated, due, due_closed, rate, by_status, by_category, by_region)


def closed_by_region(groups: Sequence[Mapping[Any, Any]]) -> dict[str, int]:
    """How many signed-off or filed issues each region has, from the same rows as counts_of."""
    out: dict[str, int] = {}
    for g in groups:
        if g["region_id"] and lifecycle.is_closed(g["status"]):
            out[g["region_id"]] = out.get(g["region_id"], 0) + int(g["n"])
    return out


# ---- breakdown (任务分解) -------------------------------------------------------------------------------------

MAX_DEPTH = 5  # a city task, and at most four levels of sub-tasks under it
MAX_CHILDREN = 100  # direct sub-tasks of one task (a city has some ten districts and zones, and its bureaus)
MAX_MILESTONES = 20  # dated milestones of one task


def child_percent(*, status: str, children_total: int, derived: int | None, reported: int | None) -> int:
    """What one sub-task contributes to its parent's progress: 100 when signed off or filed; else, when it has
    sub-tasks of its own, their derived progress; else its last reported percent (0 before any report)."""
    if status in lifecycle.CLOSED:
        return 100
    if children_total:
        return derived or 0
    return reported or 0


def derived_percent(children: list[int]) -> int | None:
    """A parent's progress: the mean of its sub-tasks' percents (child_percent), rounded half up to a whole
    percent; None for a task without sub-tasks (its own reports are its progress)."""
    if not children:
        return None
    return (2 * sum(children) + len(children)) // (2 * len(children))


def check_parent(*, parent_status: str, parent_depth: int, parent_children: int, parent_deadline: Any,
                 parent_round: str, round_id: str, deadline: Any,
                 field: str = "parent_id") -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Why a task cannot be registered under this parent, Chinese first, then English: the parent's state
    (a 409: it is closed or awaiting sign-off) and the bounds and dates (a 422); both empty when it can."""
    conflicts, problems = [], []
    if parent_status in lifecycle.CLOSED or parent_status == S.closure_requested:
        conflicts.append({"field": field, "message": f"上级任务状态为「{lifecycle.LABELS_ZH[S(parent_status)]}」,不能再分解 "
                                                    f"(the parent task is {parent_status}; sub-tasks go under an open "
                                                    "task that has not applied for sign-off)"})
    if parent_depth >= MAX_DEPTH:
        problems.append({"field": field, "message": f"任务分解最多 {MAX_DEPTH} 级 (at most {MAX_DEPTH} levels: the "
                                                    f"parent is already at level {parent_depth})"})
    if parent_children >= MAX_CHILDREN:
        problems.append({"field": field, "message": f"一个任务最多分解为 {MAX_CHILDREN} 个子任务 (the parent has "
                                                    f"{parent_children} sub-tasks, the most it may have)"})
    if parent_round != round_id:
        problems.append({"field": "round_id", "message": f"子任务须与上级任务属同一督察轮次 (a sub-task is in its "
                                                         f"parent's round {parent_round})"})
    if deadline is not None and parent_deadline is not None and deadline > parent_deadline:
        problems.append({"field": "deadline", "message": f"子任务时限不能晚于上级任务时限 {parent_deadline} "
                                                         f"(a sub-task is due by its parent's deadline)"})
    return conflicts, problems


# ---- milestones (重要节点) ------------------------------------------------------------------------------------

def milestone_missed(*, due_on: date, met_reported_at: datetime | None, now: datetime,
                     signed_off_at: datetime | None = None) -> bool:
    """A milestone counts as missed once the end of its day (Asia/Shanghai) has passed unless, by then, the unit
    had reported it met (a report not disputed since) or the whole task was signed off. So a milestone past due
    and unreported is missed, one reported missed is missed, and one reported met only after its day stays
    missed (met late). The same rule scores it (services.scoring.domain)."""
    end = datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)
    if now < end:
        return False
    if signed_off_at is not None and signed_off_at < end:
        return False
    return met_reported_at is None or met_reported_at >= end


def may_act_as_supervisor(principal: Principal, *, supervising: str) -> bool:
    """Only the supervising org reviews what the responsible org reports."""
    return principal.has("supervisor") and principal.org == supervising

"""The issue lifecycle (DESIGN.md "Issue status"), stated once as pure data: states, actions, transitions,
the closed set and the Chinese labels. The issues service owns it; every other service and the audit replay
read it from here, and `as_data()` gives it as plain JSON for the web app.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Any

from contracts.enums import IssueStatus

S = IssueStatus


class Action(StrEnum):
    """A move of the state machine; `start` is the issues service's own, the others verification's decisions."""

    start = "start"
    apply = "apply"
    accept = "accept"
    reject = "reject"
    file = "file"
    reopen = "reopen"


A = Action

# (action, from) -> to. Anything absent is an illegal transition.
TRANSITIONS: MappingProxyType[tuple[Action, IssueStatus], IssueStatus] = MappingProxyType({
    (A.start, S.registered): S.in_progress,
    (A.apply, S.registered): S.closure_requested,
    (A.apply, S.in_progress): S.closure_requested,
    (A.accept, S.closure_requested): S.signed_off,
    (A.reject, S.closure_requested): S.in_progress,
    (A.file, S.signed_off): S.filed,
    (A.reopen, S.signed_off): S.in_progress,
    (A.reopen, S.filed): S.in_progress,
})

INITIAL: IssueStatus = S.registered

# Signed off or filed: done for completion and on-time closure, never overdue.
CLOSED: frozenset[IssueStatus] = frozenset({S.signed_off, S.filed})

# Which verification event is which action of the state machine (the issues service moves the status by them).
EVENT_ACTIONS: MappingProxyType[str, Action] = MappingProxyType({
    "closure.requested": A.apply,
    "closure.accepted": A.accept,
    "closure.rejected": A.reject,
    "closure.filed": A.file,
    "issue.reopened": A.reopen,
})

# 已交办, not 已登记: a registered finding is one handed over (交办) to its responsible unit, the plan's word.
LABELS_ZH: MappingProxyType[IssueStatus, str] = MappingProxyType({
    S.registered: "已交办",
    S.in_progress: "整改中",
    S.closure_requested: "申请销号",
    S.signed_off: "已销号",
    S.filed: "已备案",
})

ACTION_LABELS_ZH: MappingProxyType[Action, str] = MappingProxyType({
    A.start: "开始整改",
    A.apply: "申请销号",
    A.accept: "核查通过",
    A.reject: "退回整改",
    A.file: "备案",
    A.reopen: "反弹重启",
})


# Keyed by plain strings (a StrEnum member hashes and compares as its value): one lookup per move in a replay.
_NEXT: dict[tuple[str, str], IssueStatus] = {(a.value, src.value): dst for (a, src), dst in TRANSITIONS.items()}
_BETWEEN: dict[tuple[str, str], Action] = {(src.value, dst.value): a for (a, src), dst in TRANSITIONS.items()}
if len(_BETWEEN) != len(TRANSITIONS):
    raise ValueError("two actions lead from one status to the same status: action_between would be ambiguous")


def next_status(action: str, current: str) -> IssueStatus | None:
    """The status after `action` from `current`, or None when the state machine forbids it."""
    return _NEXT.get((action, current))


def target_of(action: str) -> IssueStatus:
    """The status an action leads to (each action has one, whatever it starts from)."""
    [target] = {dst for (a, _), dst in TRANSITIONS.items() if a == action}
    return target


def allowed_actions(current: str) -> list[Action]:
    """The actions the state machine allows from `current`, in the order of `Action`."""
    return [a for a in Action if next_status(a, current) is not None]


def sources_of(action: str) -> list[IssueStatus]:
    """The statuses from which `action` is allowed, in the order of `IssueStatus`."""
    return [s for s in IssueStatus if next_status(action, s) is not None]


def action_between(current: str, target: str) -> Action | None:
    """The action that moves `current` to `target`, if any (every pair has at most one)."""
    return _BETWEEN.get((current, target))


def is_closed(status: str | None) -> bool:
    """Signed off or filed."""
    return status in CLOSED


def label_zh(status: str) -> str:
    """The Chinese label of a status (the status itself when unknown)."""
    try:
        return LABELS_ZH[IssueStatus(status)]
    except ValueError:
        return status


#: An open issue overdue for more than this many whole days is escalated (逾期升级督办): notify tells the leader in
#: charge, the cockpit lists it.
ESCALATE_AFTER_DAYS = 15


def is_escalated(overdue_days: int) -> bool:
    """Overdue for more than ESCALATE_AFTER_DAYS whole days (the day after the deadline is overdue day 1)."""
    return overdue_days > ESCALATE_AFTER_DAYS


def as_data() -> dict[str, Any]:
    """The whole lifecycle as plain JSON-ready data (for the web app and the docs)."""
    return {
        "statuses": [{"id": s.value, "label_zh": LABELS_ZH[s], "closed": s in CLOSED} for s in IssueStatus],
        "initial": INITIAL.value,
        "actions": [{"id": a.value, "label_zh": ACTION_LABELS_ZH[a]} for a in Action],
        "transitions": [{"action": a.value, "from": src.value, "to": dst.value}
                        for (a, src), dst in TRANSITIONS.items()],
        "closed": sorted(s.value for s in CLOSED),
        "event_actions": {t: a.value for t, a in EVENT_ACTIONS.items()},
        "escalate_after_days": ESCALATE_AFTER_DAYS,
    }

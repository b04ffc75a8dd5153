"""The issues service's fold of its own events (what the audit replay runs): old and new logs, illegal moves."""

from __future__ import annotations

from typing import Any

import pytest

from services.issues.domain import IllegalMove, Move, move_of


def fold(events: list[tuple[str, str, dict[str, Any]]]) -> list[Move]:
    """(type, id, data) in log order -> the issue's moves."""
    status: str | None = None
    started: str | None = None
    moves = []
    for type_, event_id, data in events:
        move = move_of(type_, data, current=status, started_by=started)
        if type_ == "issue.started":
            started = event_id
        if move is not None:
            moves.append(move)
            status = move.to_status
    return moves


REG = ("issue.registered", "e0", {"issue_id": "i"})
START = ("issue.started", "e1", {"issue_id": "i", "responsible_org_id": "o"})
APPLY = ("issue.status_changed", "e3", {"issue_id": "i", "from_status": "in_progress",
                                        "to_status": "closure_requested", "cause_event_id": "v1"})


def test_a_log_that_announces_the_start_and_one_from_before_fold_alike() -> None:
    announced = ("issue.status_changed", "e2", {"issue_id": "i", "from_status": "registered", "to_status": "in_progress",
                                                "action": "start", "cause_event_id": "e1"})
    new = fold([REG, START, announced, APPLY])
    old = fold([REG, START, APPLY])  # before every start was announced, and without `action`
    assert new == old == [Move("register", None, "registered"), Move("start", "registered", "in_progress"),
                          Move("apply", "in_progress", "closure_requested")]


@pytest.mark.parametrize(("events", "why"), [
    ([REG, REG], "registered twice"),
    ([START], "never registered"),
    ([REG, START, START], "start is not allowed from in_progress"),
    ([REG, APPLY], "moved from in_progress, but it was registered"),
    ([REG, START, ("issue.status_changed", "e4", {"issue_id": "i", "from_status": "in_progress",
                                                  "to_status": "filed"})], "no transition"),
])
def test_a_move_the_lifecycle_forbids_is_refused_naming_why(events: list[tuple[str, str, dict[str, Any]]],
                                                             why: str) -> None:
    with pytest.raises(IllegalMove, match=why):
        fold(events)

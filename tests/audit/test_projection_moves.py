"""Issue status moves in the replay's projections: move_of's answers are reused per (status, payload) key,
and every event must still get exactly the answer and the anomaly move_of itself gives it."""

from __future__ import annotations

from typing import Any

from audit.projections import Projections
from audit.records import LoggedEvent, from_dict
from services.issues.domain import IllegalMove, move_of

ADMIN = {"org": "inspection-office", "role": "admin", "user": "admin"}
SYSTEM = {"org": None, "role": "system", "user": "service:issues"}


class Log:
    def __init__(self) -> None:
        self.n = 0

    def event(self, type_: str, subject: str, data: dict[str, Any], actor: dict[str, Any] = SYSTEM) -> LoggedEvent:
        self.n += 1
        return from_dict({"id": f"e-{self.n}", "type": type_, "version": 1, "source": "issues", "subject": subject,
                          "time": f"2020-06-01T01:00:{self.n:02d}.000000Z", "actor": actor,
                          "correlation_id": f"c{self.n}", "causation_id": None, "seq": self.n,
                          "prev_hash": "0" * 64, "hash": "0" * 64, "data": data})

    def registered(self, issue: str) -> LoggedEvent:
        return self.event("issue.registered", issue, {
            "issue_id": issue, "code": f"HH-{issue}", "round_id": "r", "category": "air", "title": "t",
            "description": "d", "region_id": "o", "responsible_org_id": "o", "cooperating_org_ids": [],
            "supervising_org_id": "o", "leader": "l", "deadline": "2020-12-31", "target": None,
            "measures": "m", "location": None}, ADMIN)

    def changed(self, issue: str, src: Any, dst: Any, **extra: Any) -> LoggedEvent:
        return self.event("issue.status_changed", issue, {"issue_id": issue, "from_status": src, "to_status": dst,
                                                          "reason": "核查", **extra})


def expected_anomaly(event: LoggedEvent, current: str | None, started_by: str | None = None) -> str:
    try:
        move_of(event.type, event.data, current=current, started_by=started_by)
    except IllegalMove as exc:
        return f"issues {event.type} {event.id} ({event.time}): {exc}"
    raise AssertionError("move_of allows this move")


def test_the_same_illegal_move_on_two_issues_is_an_anomaly_of_each_event() -> None:
    log, p = Log(), Projections()
    for issue in ("a", "b"):
        p.apply(log.registered(issue))
        p.apply(log.event("issue.started", issue, {"issue_id": issue, "responsible_org_id": "o"}))
    bad_a = log.changed("a", "in_progress", "signed_off")
    bad_b = log.changed("b", "in_progress", "signed_off")
    p.apply(bad_a)
    p.apply(bad_b)
    assert p.anomalies == [expected_anomaly(bad_a, "in_progress"), expected_anomaly(bad_b, "in_progress")]
    assert p.issues["a"]["status"] == p.issues["b"]["status"] == "in_progress"


def test_a_move_allowed_once_is_refused_from_another_status() -> None:
    log, p = Log(), Projections()
    for issue in ("a", "b"):
        p.apply(log.registered(issue))
        p.apply(log.event("issue.started", issue, {"issue_id": issue, "responsible_org_id": "o"}))
    p.apply(log.changed("a", "in_progress", "closure_requested"))
    p.apply(log.changed("a", "closure_requested", "in_progress"))
    p.apply(log.changed("a", "in_progress", "closure_requested"))
    wrong = log.changed("b", "closure_requested", "in_progress")  # b is in_progress: it names the wrong status
    p.apply(wrong)
    assert p.anomalies == [expected_anomaly(wrong, "in_progress")]
    assert [h[2] for h in p.issues["a"]["history"]] == ["registered", "in_progress", "closure_requested",
                                                       "in_progress", "closure_requested"]
    assert p.issues["b"]["status"] == "in_progress"


def test_a_start_announced_by_its_cause_moves_once_and_the_same_change_without_it_is_refused() -> None:
    log, p = Log(), Projections()
    starts = {}
    for issue in ("a", "b"):
        p.apply(log.registered(issue))
        starts[issue] = log.event("issue.started", issue, {"issue_id": issue, "responsible_org_id": "o"})
        p.apply(starts[issue])
    p.apply(log.changed("a", "registered", "in_progress", cause_event_id=starts["a"].id))  # the announcement
    unannounced = log.changed("b", "registered", "in_progress", cause_event_id="someone-else")
    p.apply(unannounced)
    assert p.anomalies == [expected_anomaly(unannounced, "in_progress", starts["b"].id)]
    assert [h[2] for h in p.issues["a"]["history"]] == ["registered", "in_progress"]


def test_a_status_that_is_not_text_gets_move_ofs_own_message_each_time() -> None:
    log, p = Log(), Projections()
    p.apply(log.registered("a"))
    p.apply(log.event("issue.started", "a", {"issue_id": "a", "responsible_org_id": "o"}))
    one, true = log.changed("a", 1, "closure_requested"), log.changed("a", True, "closure_requested")
    p.apply(one)
    p.apply(true)  # 1 == True as dictionary keys: each must still be named as written
    assert p.anomalies == [expected_anomaly(one, "in_progress"), expected_anomaly(true, "in_progress")]
    assert "moved from 1," in p.anomalies[0] and "moved from True," in p.anomalies[1]


def test_a_move_of_an_issue_never_registered_names_that_issue() -> None:
    log, p = Log(), Projections()
    p.apply(log.registered("a"))
    p.apply(log.event("issue.started", "a", {"issue_id": "a", "responsible_org_id": "o"}))
    ghost = log.event("issue.started", "ghost", {"issue_id": "ghost", "responsible_org_id": "o"})
    p.apply(ghost)
    assert p.anomalies == [expected_anomaly(ghost, None)]
    assert "issue ghost was never registered" in p.anomalies[0]

"""Builders of scoring facts for the worked examples (times written in Beijing time, as units read them)."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from runtime.clock import SHANGHAI
from services.scoring import domain

_ids = itertools.count(1)


def bj(text: str) -> datetime:
    """A Beijing wall-clock time, e.g. '2020-06-30 23:30'."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def ev(type_: str, issue: str, at: str, *, org: str | None = None, deadline: str | None = None,
       target: tuple[str, str, float] | None = None, source: str | None = None) -> domain.IssueEvent:
    """One issue event at a Beijing time."""
    src = source or ("verification" if type_.startswith("closure.") or type_ == "issue.reopened" else "issues")
    return domain.IssueEvent(
        event_id=f"e{next(_ids):06d}", issue_id=issue, type=type_, time=bj(at), source=src, seq=0, org_id=org,
        deadline=date.fromisoformat(deadline) if deadline else None,
        target=domain.Target(*target) if target else None)


def registered(issue: str, org: str, deadline: str, at: str = "2020-05-01 09:00",
               target: tuple[str, str, float] | None = None) -> domain.IssueEvent:
    return ev("issue.registered", issue, at, org=org, deadline=deadline, target=target)


def reading(org: str, indicator: str, value: float, at: str) -> domain.Reading:
    return domain.Reading(reading_id=f"r{next(_ids):06d}", org_id=org, indicator=indicator, value=value,
                          observed_at=bj(at))


def org(org_id: str, zone: str, kind: str = "region") -> domain.OrgFact:
    return domain.OrgFact(org_id=org_id, name=org_id, kind=kind, zone_type=zone)


DEFAULT = domain.Scheme(scheme_id="default", version=1, **domain.DEFAULT_SCHEME)
AFTER_2020 = bj("2021-03-01 00:00")  # "now", long after every period of the examples


def as_issues_would(events: list[domain.IssueEvent]) -> list[domain.IssueEvent]:
    """The events plus the issue.status_changed the issues service emits for each verification event, at its time.

    Scoring takes an issue's status only from issue.status_changed; these examples are written as verification's
    decisions, so the issues service's moves (contracts.lifecycle) are added as it would add them."""
    from contracts import lifecycle

    out = list(events)
    by_issue: dict[str, list[domain.IssueEvent]] = {}
    for e in events:
        by_issue.setdefault(e.issue_id, []).append(e)
    # the examples are shorthand (an acceptance without its application): each decision's target status
    for issue, evs in by_issue.items():
        for e in evs:
            action = lifecycle.EVENT_ACTIONS.get(e.type)
            if action is not None:
                out.append(domain.IssueEvent(event_id=f"{e.event_id}-moved", issue_id=issue,
                                             type="issue.status_changed", time=e.time, source="issues",
                                             to_status=lifecycle.target_of(action).value))
    return out

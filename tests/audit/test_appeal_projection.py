"""The audit's fold of appeal.* and calendar.year_published: what it rebuilds, and what it says is wrong."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from audit.projections import Projections
from audit.records import from_dict
from tests.audit.logs import START
from tests.support import EventFactory

pytestmark = pytest.mark.fast


def filed(appeal_id: str = "a1", **over: Any) -> dict[str, Any]:
    return {"appeal_id": appeal_id, "ranking_id": "k1", "period": "2020-09", "kind": "region", "scheme_id": "default",
            "org_id": "saihan", "component": "quality", "disputed_value": 80, "reason": "退回已撤销",
            "filed_at": "2020-10-09T02:00:00Z", "filed_on": "2020-10-09", "appeal_due": "2020-10-13",
            "decision_due": "2020-10-22", **over}


def decided(appeal_id: str = "a1", **over: Any) -> dict[str, Any]:
    return {"appeal_id": appeal_id, "ranking_id": "k1", "period": "2020-09", "kind": "region", "org_id": "saihan",
            "component": "quality", "outcome": "refused", "reasons": "不成立", "decided_at": "2020-10-16T02:00:00Z",
            "decided_on": "2020-10-16", "decision_due": "2020-10-22", "late": False, **over}


RANKING = {"ranking_id": "k1", "period": "2020-09", "kind": "region", "scheme_id": "default", "scheme_version": 1,
           "published_at": "2020-09-29T02:00:00Z", "bottom_named": [], "penalized": [],
           "rows": [{"org_id": "saihan", "score": 77, "rank": 1, "components": {"quality": 80}, "overdue": 0}]}


def fold(*events: tuple[str, str, dict[str, Any]]) -> Projections:
    f, p = EventFactory("scoring"), Projections()
    for n, (type_, subject, data) in enumerate(events):
        env = f.make(type_, subject, data, time=START + timedelta(days=n))
        p.apply(from_dict(env.model_dump(mode="json")))
    return p


def test_an_appeal_and_its_decision_are_rebuilt_as_scoring_shows_them() -> None:
    p = fold(("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed()),
             ("appeal.decided", "appeal/a1", decided()))
    assert p.anomalies == []
    a = p.appeals["a1"]
    assert (a["status"], a["reasons"], a["decided_on"], a["late"], a["appeal_due"]) == (
        "refused", "不成立", "2020-10-16", False, "2020-10-13")


@pytest.mark.parametrize(("events", "said"), [
    ([("appeal.decided", "appeal/a1", decided())], "decided, never filed"),
    ([("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed(filed_on="2020-10-14"))],
     "after the appeal window closed on 2020-10-13"),
    ([("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed()),
      ("appeal.filed", "appeal/a2", filed("a2"))], "a second appeal of saihan"),
    ([("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed()),
      ("appeal.decided", "appeal/a1", decided()), ("appeal.decided", "appeal/a1", decided())], "decided twice"),
    ([("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed()),
      ("appeal.decided", "appeal/a1", decided(decided_on="2020-10-23"))], "late is False"),
    ([("ranking.published", "k", RANKING), ("appeal.filed", "appeal/a1", filed()),
      ("appeal.decided", "appeal/a1", decided(outcome="upheld", corrected_ranking_id="k9",
                                              correction={"quality": 90}))], "k9 was not published on it"),
    ([("appeal.filed", "appeal/a1", filed())], "which was never published"),
])
def test_the_fold_names_what_the_rules_would_not_have_allowed(events: list[Any], said: str) -> None:
    p = fold(*events)
    assert any(said in a for a in p.anomalies), p.anomalies


def test_a_published_calendar_year_replaces_the_one_before() -> None:
    p = fold(("calendar.year_published", "calendar/2027", {"year": 2027, "holidays": ["2027-01-01"], "workdays": [],
                                                           "source": "第一版"}),
             ("calendar.year_published", "calendar/2027", {"year": 2027, "holidays": ["2027-01-02", "2027-01-01"],
                                                           "workdays": ["2027-01-09"], "source": "更正版"}))
    assert p.calendar["2027"]["holidays"] == ["2027-01-01", "2027-01-02"]
    assert (p.calendar["2027"]["workdays"], p.calendar["2027"]["source"]) == (["2027-01-09"], "更正版")
    assert p.state()["scoring"]["calendar"] == p.calendar

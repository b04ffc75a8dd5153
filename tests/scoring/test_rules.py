"""Worked examples of the scoring rules (DESIGN.md "Scoring"), every figure computed by hand in the comments."""

from __future__ import annotations

import pytest

from runtime.errors import Invalid
from services.scoring import domain
from tests.scoring.facts import AFTER_2020, DEFAULT, as_issues_would, bj, ev, org, reading, registered


def score(rows: list[dict], org_id: str) -> dict:
    return next(r for r in rows if r["org_id"] == org_id)


def june(orgs, events, readings=(), kind="region", now=AFTER_2020):
    return domain.compute_scores(orgs=orgs, events=as_issues_would(events), readings=list(readings), scheme=DEFAULT,
                                 period=domain.parse_period("2020-06"), kind=kind, now=now)


# The June 2020 example: one org of every zone type.
ORGS = [org("r-urban", "urban_core"), org("r-eco", "ecological"), org("r-ind", "industrial"),
        org("r-agri", "agricultural"), org("d-bureau", "department", kind="department")]
EVENTS = [
    # r-urban
    registered("A1", "r-urban", "2020-06-10"),
    ev("closure.accepted", "A1", "2020-06-05 10:00"),
    ev("issue.reopened", "A1", "2020-06-28 10:00"),            # rebound after its deadline
    registered("A2", "r-urban", "2020-06-20"),
    ev("closure.accepted", "A2", "2020-06-25 10:00"),          # late
    registered("A3", "r-urban", "2020-06-30"),
    ev("closure.requested", "A3", "2020-06-14 10:00"),
    ev("closure.rejected", "A3", "2020-06-15 10:00"),
    registered("A4", "r-urban", "2020-12-31", target=("pm25", "<=", 35)),
    # r-eco
    registered("B1", "r-eco", "2020-06-15"),
    ev("closure.accepted", "B1", "2020-06-01 10:00"),
    ev("closure.filed", "B1", "2020-06-03 10:00"),
    registered("B2", "r-eco", "2020-12-31", target=("forest_cover", ">=", 40)),
    registered("B3", "r-eco", "2020-12-31", target=("pm25", "<=", 35)),
    # r-ind
    registered("C1", "r-ind", "2020-07-31", target=("cod", "<=", 50)),
    # d-bureau
    registered("D1", "d-bureau", "2020-06-30"),
    ev("closure.accepted", "D1", "2020-06-30 23:30"),          # signed off at 23:30 on 30 June, Beijing
    registered("D2", "d-bureau", "2020-09-30", target=("pm25", "<=", 35)),
]
READINGS = [
    reading("r-urban", "pm25", 30, "2020-06-10 12:00"),
    reading("r-urban", "pm25", 40, "2020-06-30 12:00"),        # the latest in June: 40
    reading("r-urban", "pm25", 20, "2020-07-01 08:00"),        # July: not June's
    reading("r-eco", "forest_cover", 30, "2020-06-20 12:00"),
    reading("r-ind", "cod", 45, "2020-06-20 12:00"),
    reading("d-bureau", "pm25", 50, "2020-06-20 12:00"),
]


def test_urban_core_every_component_worked_by_hand() -> None:
    r = score(june(ORGS, EVENTS, READINGS), "r-urban")
    c = r["components"]
    # due in June: A1 (06-10), A2 (06-20), A3 (06-30); signed off by the deadline: A1 only -> 100 × 1 ÷ 3
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (1, 3)
    assert c["on_time_closure"]["score"] == 33.33
    # assigned by 30 June: A1..A4; signed off or filed at the end of June: A2 (A1 was reopened) -> 100 × 1 ÷ 4
    assert (c["completion"]["numerator"], c["completion"]["denominator"], c["completion"]["score"]) == (1, 4, 25.0)
    # one rejection (A3), one reopening (A1): 100 − 10 − 20 = 70
    assert (c["quality"]["rejected"], c["quality"]["reopened"], c["quality"]["score"]) == (1, 1, 70.0)
    # pm25 <= 35, latest June reading 40: missed -> 100 × min(35, 40) ÷ max(35, 40) = 87.5
    assert c["environment"]["score"] == 87.5 and c["environment"]["denominator"] == 1
    assert c["environment"]["targets"][0]["reading"] == 40 and c["environment"]["targets"][0]["met"] is False
    # urban_core: 0.30 × 100/3 + 0.20 × 25 + 0.20 × 70 + 0.30 × 87.5 = 10 + 5 + 14 + 26.25 = 55.25
    assert r["score"] == 55.25
    # overdue at the end of June: A3 (never signed off) and A1 (reopened, deadline passed)
    assert r["overdue"] == 2


def test_ecological_weights_filed_counts_as_done_and_target_without_reading_left_out() -> None:
    r = score(june(ORGS, EVENTS, READINGS), "r-eco")
    c = r["components"]
    # due: B1, signed off 06-01 before its deadline 06-15 -> 100 × 1 ÷ 1
    assert c["on_time_closure"]["score"] == 100.0
    # B1 filed counts as done; 1 of 3 assigned -> 33.33
    assert (c["completion"]["numerator"], c["completion"]["denominator"]) == (1, 3)
    # forest_cover >= 40, reading 30: missed on >= -> 100 × 30 ÷ 40 = 75;
    # pm25 of r-eco has no reading in June (r-urban's readings are not r-eco's) -> left out of the mean
    targets = {t["indicator"]: t for t in c["environment"]["targets"]}
    assert targets["pm25"]["included"] is False and targets["forest_cover"]["attainment"] == 75.0
    assert (c["environment"]["denominator"], c["environment"]["score"]) == (1, 75.0)
    # ecological: 0.25 × 100 + 0.20 × 100/3 + 0.15 × 100 + 0.40 × 75 = 25 + 6.666… + 15 + 30 = 76.666… -> 76.67
    assert r["score"] == 76.67


def test_industrial_no_issue_due_is_100_and_target_met() -> None:
    r = score(june(ORGS, EVENTS, READINGS), "r-ind")
    c = r["components"]
    assert (c["on_time_closure"]["denominator"], c["on_time_closure"]["score"]) == (0, 100.0)  # C1 due in July
    assert c["completion"]["score"] == 0.0                                                        # 0 of 1
    assert c["environment"]["targets"][0]["met"] is True and c["environment"]["score"] == 100.0   # 45 <= 50
    # industrial: 0.30 × 100 + 0.25 × 0 + 0.25 × 100 + 0.20 × 100 = 75
    assert r["score"] == 75.0


def test_agricultural_org_without_issues_scores_100_everywhere() -> None:
    r = score(june(ORGS, EVENTS, READINGS), "r-agri")
    assert {k: v["score"] for k, v in r["components"].items()} == dict.fromkeys(domain.COMPONENTS, 100.0)
    assert r["score"] == 100.0  # 0.30 × 100 + 0.30 × 100 + 0.20 × 100 + 0.20 × 100


def test_department_weights_ignore_environment_and_2330_sign_off_counts_for_june() -> None:
    rows = june(ORGS, EVENTS, READINGS, kind="department")
    assert [r["org_id"] for r in rows] == ["d-bureau"]  # regions are not ranked with departments
    c = rows[0]["components"]
    # D1 due 06-30, signed off 06-30 23:30 Beijing (15:30 UTC): on time, 1 of 1
    assert (c["on_time_closure"]["numerator"], c["on_time_closure"]["denominator"]) == (1, 1)
    # pm25 50 against <= 35 -> 100 × 35 ÷ 50 = 70, weighted 0.00
    assert c["environment"]["score"] == 70.0 and c["environment"]["weight"] == 0.0
    # department: 0.40 × 100 + 0.35 × 50 + 0.25 × 100 + 0.00 × 70 = 40 + 17.5 + 25 = 82.5
    assert rows[0]["score"] == 82.5


def test_region_ranking_descends_by_score() -> None:
    rows = june(ORGS, EVENTS, READINGS)
    # 100 (r-agri) > 76.67 (r-eco) > 75 (r-ind) > 55.25 (r-urban)
    assert [(r["org_id"], r["rank"]) for r in rows] == [("r-agri", 1), ("r-eco", 2), ("r-ind", 3), ("r-urban", 4)]


def test_quality_is_floored_at_zero() -> None:
    events = [registered("Q", "r-agri", "2020-12-31")]
    events += [ev("closure.rejected", "Q", f"2020-06-0{d} 10:00") for d in (1, 2, 3)]
    events += [ev("issue.reopened", "Q", f"2020-06-1{d} 10:00") for d in (1, 2, 3, 4)]
    c = score(june([org("r-agri", "agricultural")], events), "r-agri")["components"]["quality"]
    # 100 − 10 × 3 − 20 × 4 = −10 -> floored at 0
    assert (c["rejected"], c["reopened"], c["score"]) == (3, 4, 0.0)


def test_target_met_on_greater_or_equal_and_equal() -> None:
    events = [registered("G", "r-eco", "2020-12-31", target=("forest_cover", ">=", 40)),
              registered("E", "r-eco", "2020-12-31", target=("water_class", "==", 3))]
    readings = [reading("r-eco", "forest_cover", 41.5, "2020-06-02 08:00"),
                reading("r-eco", "water_class", 3, "2020-06-02 08:00")]
    env = score(june([org("r-eco", "ecological")], events, readings), "r-eco")["components"]["environment"]
    # both met: (1 + 1) ÷ 2 -> 100
    assert (env["numerator"], env["denominator"], env["score"]) == (2, 2, 100.0)


def test_environment_mean_over_two_targets() -> None:
    events = [registered("P", "r-urban", "2020-12-31", target=("pm25", "<=", 35)),
              registered("S", "r-urban", "2020-12-31", target=("so2", "<=", 20))]
    readings = [reading("r-urban", "pm25", 35, "2020-06-02 08:00"), reading("r-urban", "so2", 25, "2020-06-02 08:00")]
    env = score(june([org("r-urban", "urban_core")], events, readings), "r-urban")["components"]["environment"]
    # pm25 35 <= 35 met: 1; so2 25 > 20: 20 ÷ 25 = 0.8; 100 × (1 + 0.8) ÷ 2 = 90
    assert (env["numerator"], env["denominator"], env["score"]) == (1.8, 2, 90.0)


def test_ties_broken_by_fewer_overdue_issues_then_shared() -> None:
    orgs = [org("aa", "agricultural"), org("bb", "agricultural"), org("zz", "agricultural")]
    events = [
        registered("Z", "zz", "2020-12-31"),   # not yet due: completion 0 of 1, not overdue
        registered("A", "aa", "2020-05-20"),   # due in May, never done: completion 0 of 1, overdue
        registered("B", "bb", "2020-05-20"),   # same as aa
    ]
    rows = june(orgs, events)
    # each: 0.30 × 100 (none due in June) + 0.30 × 0 + 0.20 × 100 + 0.20 × 100 = 70
    assert {r["score"] for r in rows} == {70.0}
    # zz has fewer overdue issues: first; aa and bb are equal in both: they share the second place (并列),
    # listed by org id
    assert [(r["org_id"], r["overdue"], r["rank"]) for r in rows] == [("zz", 0, 1), ("aa", 1, 2), ("bb", 1, 2)]


def _ranked(*places: tuple[str, int]) -> list[dict[str, object]]:
    return [{"org_id": o, "rank": rank} for o, rank in places]


def test_the_bottom_is_decided_by_rank_never_by_org_id() -> None:
    # bottom 3 of 1, 2, 3, 4, 4: the tie at the last counted place comes in whole
    assert domain.bottom_of(_ranked(("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 4)), 3) == {"c", "d", "e"}
    # bottom 2 of 1, 2, 3, 3, 3: all three tied last are named, not two of them chosen by name
    assert domain.bottom_of(_ranked(("a", 1), ("b", 2), ("c", 3), ("d", 3), ("e", 3)), 2) == {"c", "d", "e"}
    # everyone equal (e.g. every district at 100 when the plan is done): nobody is behind, nobody is named
    assert domain.bottom_of(_ranked(*((o, 1) for o in "abcdefghij")), 3) == set()
    # a tie reaching the first place: those tied first are not behind; the one behind them is
    assert domain.bottom_of(_ranked(("a", 1), ("b", 1), ("c", 1), ("d", 4)), 3) == {"d"}
    # a plain bottom 1 is the last alone
    assert domain.bottom_of(_ranked(("a", 1), ("b", 2), ("c", 3)), 1) == {"c"}
    assert domain.bottom_of(_ranked(("a", 1), ("b", 2)), 0) == set()


def _quality(period: str, events, org_id="d-x") -> int:
    rows = domain.compute_scores(orgs=[org(org_id, "department", kind="department")], events=as_issues_would(events), readings=[],
                                 scheme=DEFAULT, period=domain.parse_period(period), kind="department",
                                 now=bj("2021-06-01 00:00"))
    q = rows[0]["components"]["quality"]
    return q["rejected"] + q["reopened"]


def test_month_half_year_and_year_boundaries_are_beijing_time() -> None:
    events = [registered("X", "d-x", "2021-12-31", at="2019-12-01 09:00"),
              ev("closure.rejected", "X", "2020-01-01 01:00"),   # 2019-12-31 17:00 UTC: still 2020 in Beijing
              ev("closure.rejected", "X", "2020-06-30 23:59"),   # last minute of June / H1
              ev("closure.rejected", "X", "2020-07-01 00:00"),   # first minute of July / H2
              ev("issue.reopened", "X", "2021-01-01 00:30")]     # 2020-12-31 16:30 UTC: already 2021
    assert _quality("2020-06", events) == 1
    assert _quality("2020-07", events) == 1
    assert _quality("2020-H1", events) == 2
    assert _quality("2020-H2", events) == 1
    assert _quality("2020", events) == 3
    assert _quality("2021", events) == 1


def test_sign_off_after_midnight_beijing_is_late_and_belongs_to_july() -> None:
    events = [registered("L", "d-x", "2020-06-30"),
              ev("closure.accepted", "L", "2020-07-01 00:10")]   # 2020-06-30 16:10 UTC
    orgs = [org("d-x", "department", kind="department")]

    def comp(period: str) -> dict:
        return domain.compute_scores(orgs=orgs, events=as_issues_would(events), readings=[], scheme=DEFAULT,
                                     period=domain.parse_period(period), kind="department",
                                     now=AFTER_2020)[0]["components"]

    # June: due and not signed off by the end of 30 June -> 0 of 1; not done at the end of June -> 0 of 1
    assert (comp("2020-06")["on_time_closure"]["numerator"], comp("2020-06")["completion"]["numerator"]) == (0, 0)
    # July: nothing due; done by the end of July -> 1 of 1
    assert comp("2020-07")["on_time_closure"]["denominator"] == 0 and comp("2020-07")["completion"]["score"] == 100


def test_reassigned_issue_counts_for_the_org_responsible_at_each_event() -> None:
    orgs = [org("d-old", "department", kind="department"), org("d-new", "department", kind="department")]
    events = [registered("R", "d-old", "2020-06-20"),
              ev("closure.rejected", "R", "2020-06-05 10:00"),              # d-old's rejection
              ev("issue.updated", "R", "2020-06-10 10:00", org="d-new"),    # reassigned
              ev("closure.accepted", "R", "2020-06-18 10:00")]              # d-new signs it off on time
    rows = {r["org_id"]: r["components"] for r in june(orgs, events, kind="department")}
    assert rows["d-old"]["quality"]["rejected"] == 1 and rows["d-new"]["quality"]["rejected"] == 0
    assert rows["d-old"]["on_time_closure"]["denominator"] == 0
    assert (rows["d-new"]["on_time_closure"]["numerator"], rows["d-new"]["on_time_closure"]["denominator"]) == (1, 1)
    assert rows["d-new"]["completion"]["denominator"] == 1 and rows["d-old"]["completion"]["denominator"] == 0


def test_approved_extension_moves_the_issue_out_of_the_month() -> None:
    orgs = [org("d-x", "department", kind="department")]
    events = [registered("X", "d-x", "2020-06-10"),
              ev("issue.extension_decided", "X", "2020-06-08 10:00", deadline="2020-07-10")]
    assert june(orgs, events, kind="department")[0]["components"]["on_time_closure"]["denominator"] == 0
    july = domain.compute_scores(orgs=orgs, events=as_issues_would(events), readings=[], scheme=DEFAULT,
                                 period=domain.parse_period("2020-07"), kind="department", now=AFTER_2020)
    assert july[0]["components"]["on_time_closure"]["denominator"] == 1


def test_open_period_counts_only_deadlines_already_passed() -> None:
    orgs = [org("d-x", "department", kind="department")]
    events = [registered("P", "d-x", "2020-06-10"), registered("F", "d-x", "2020-06-25")]
    rows = june(orgs, events, kind="department", now=bj("2020-06-15 12:00"))
    # on 15 June only P's deadline has passed: 0 of 1 due, 1 overdue; F is not yet due
    assert rows[0]["components"]["on_time_closure"]["denominator"] == 1 and rows[0]["overdue"] == 1


def test_event_order_in_the_input_does_not_change_scores() -> None:
    assert june(ORGS, list(reversed(EVENTS)), READINGS) == june(ORGS, EVENTS, READINGS)


@pytest.mark.parametrize("text,first,last", [("2020-06", "2020-06-01", "2020-06-30"),
                                              ("2020-H1", "2020-01-01", "2020-06-30"),
                                              ("2020-H2", "2020-07-01", "2020-12-31"),
                                              ("2020", "2020-01-01", "2020-12-31")])
def test_periods_are_calendar_periods(text: str, first: str, last: str) -> None:
    p = domain.parse_period(text)
    assert (p.first_day.isoformat(), p.last_day.isoformat()) == (first, last)
    assert p.start == bj(f"{first} 00:00")


@pytest.mark.parametrize("text", ["2020-13", "2020-H3", "June", "20-06", ""])
def test_bad_period_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        domain.parse_period(text)
    assert exc.value.details[0]["field"] == "period"


def test_ranking_names_bottom_and_penalizes_last() -> None:
    frozen = domain.freeze_ranking(june(ORGS, EVENTS, READINGS), DEFAULT)
    # 4 regions, bottom 3 named, last 1 penalized
    assert frozen["bottom_named"] == ["r-eco", "r-ind", "r-urban"] and frozen["penalized"] == ["r-urban"]
    assert [r["penalty"] is not None for r in frozen["rows"]] == [False, False, False, True]

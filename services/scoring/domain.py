"""Scoring rules (考核办法) as pure functions: facts in, scores out. No I/O, no clock: `now` is passed in.

The audit replay reuses `compute_scores` and `freeze_ranking` on facts rebuilt from the event log.
Every rule here is DESIGN.md "Scoring"; the choices the design leaves open are written down beside them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

from contracts import lifecycle
from contracts.calendar import WorkCalendar
from runtime.clock import SHANGHAI
from runtime.errors import Invalid, field_error
from runtime.values import MAX_YEAR, MIN_YEAR, year_in_range

COMPONENTS = ("on_time_closure", "completion", "quality", "environment")
ZONE_TYPES = ("urban_core", "ecological", "industrial", "agricultural", "department")
KINDS = ("region", "department")
DONE = frozenset(s.value for s in lifecycle.CLOSED)

DEFAULT_SCHEME: dict[str, Any] = {
    "weights": {
        "urban_core": {"on_time_closure": 0.30, "completion": 0.20, "quality": 0.20, "environment": 0.30},
        "ecological": {"on_time_closure": 0.25, "completion": 0.20, "quality": 0.15, "environment": 0.40},
        "industrial": {"on_time_closure": 0.30, "completion": 0.25, "quality": 0.25, "environment": 0.20},
        "agricultural": {"on_time_closure": 0.30, "completion": 0.30, "quality": 0.20, "environment": 0.20},
        "department": {"on_time_closure": 0.40, "completion": 0.35, "quality": 0.25, "environment": 0.00},
    },
    "bottom_named": 3,
    "penalized": 1,
    "penalty": {"amount": 0, "currency": "CNY", "note": "经济处罚金额未配置(由督察整改办在考核方案中设定)"},
    "milestone_missed_points": 5.0,
    "appeal_days": 5,
    "decision_days": 10,
}
# points the quality component loses per missed milestone when a scheme says nothing of it
DEFAULT_MILESTONE_POINTS = 5.0
# bounds of the scheme's appeal and decision windows, in working days (a quarter is about 60)
MAX_WINDOW_DAYS = 60

# Where each source stands when two events carry the same time (the events kept: services.scoring.handlers).
_SOURCE_ORDER = {"issues": 0, "verification": 1}


# ---------------------------------------------------------------- facts


@dataclass(frozen=True)
class Target:
    """A quantitative target of an issue (e.g. PM2.5 <= 35)."""

    indicator: str
    op: str
    value: float


@dataclass(frozen=True)
class OrgFact:
    """An assessee as `org.registered` described it."""

    org_id: str
    name: str
    kind: str
    zone_type: str | None = None


class IssueEvent(NamedTuple):
    """One consumed event about an issue, with its event time (UTC) and what scoring needs of its payload.

    `org_id` is the responsible org (registered/updated); `deadline` the deadline (registered, or the new one of
    an approved extension); `target` the current target (registered/updated: None means no target);
    `to_status` the status an issue.status_changed moved to (the only source of status; `time` is its `at`).
    A tuple, not a dataclass: a year holds tens of thousands of them and they are built on every query.
    `time` is when the fact took effect: for a registration with an assigned date (交办日期), the start of that
    day; `recorded_at` is when it was recorded (None: at `time`), so a score as of some moment counts only
    what had been recorded by then.
    """

    event_id: str
    issue_id: str
    type: str
    time: datetime
    source: str = "issues"
    seq: int = 0
    org_id: str | None = None
    deadline: date | None = None
    target: Target | None = None
    to_status: str | None = None
    recorded_at: datetime | None = None
    parent_id: str | None = None  # issue.registered: the parent task it is a sub-task of
    milestone_id: str | None = None  # issue.milestone_*: which milestone (its day in `deadline`)
    outcome: str | None = None  # issue.milestone_reported/reviewed: met or missed
    review: str | None = None  # issue.milestone_reviewed: confirmed or disputed

    def order_key(self) -> tuple[datetime, int, int, str]:
        """Event time first: the arrival order across topics never matters."""
        return (self.time, _SOURCE_ORDER.get(self.source, 9), self.seq, self.event_id)


@dataclass(frozen=True)
class Reading:
    """A monitoring reading of an indicator for an org."""

    reading_id: str
    org_id: str
    indicator: str
    value: float
    observed_at: datetime
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class Scheme:
    """One version of an assessment scheme."""

    scheme_id: str
    version: int
    weights: Mapping[str, Mapping[str, float]]
    bottom_named: int = 3
    penalized: int = 1
    penalty: Mapping[str, Any] | None = None
    milestone_missed_points: float = DEFAULT_MILESTONE_POINTS
    appeal_days: int = 5
    decision_days: int = 10


@dataclass(frozen=True)
class Period:
    """A calendar period in Asia/Shanghai; `start`/`end` are the UTC instants bounding it, end exclusive."""

    label: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime


# ---------------------------------------------------------------- periods and deadlines


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_HALF = re.compile(r"^(\d{4})-H([12])$")
_YEAR = re.compile(r"^(\d{4})$")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def parse_period(text: str) -> Period:
    """`2020-06` (month), `2020-H1`/`2020-H2` (half year) or `2020` (year), in Asia/Shanghai; else 422."""
    text = (text or "").strip()
    if text[:4].isdigit() and not year_in_range(int(text[:4])):
        raise Invalid(f"考核期的年份须在 {MIN_YEAR}–{MAX_YEAR} 之间 (period: the year of {text!r} is outside "
                      f"{MIN_YEAR}–{MAX_YEAR})",
                      details=[{"field": "period", "message": f"a year between {MIN_YEAR} and {MAX_YEAR}"}])
    if m := _MONTH.match(text):
        y, mo = int(m.group(1)), int(m.group(2))
        first, after = date(y, mo, 1), (date(y + 1, 1, 1) if mo == 12 else date(y, mo + 1, 1))
    elif m := _HALF.match(text):
        y, h = int(m.group(1)), int(m.group(2))
        first, after = (date(y, 1, 1), date(y, 7, 1)) if h == 1 else (date(y, 7, 1), date(y + 1, 1, 1))
    elif m := _YEAR.match(text):
        y = int(m.group(1))
        first, after = date(y, 1, 1), date(y + 1, 1, 1)
    else:
        raise Invalid(f"period: {text!r} is not a period; write 2020-06, 2020-H1 or 2020",
                      details=[{"field": "period", "message": "expected YYYY-MM, YYYY-H1, YYYY-H2 or YYYY"}])
    return Period(label=text, first_day=first, last_day=after - timedelta(days=1), start=_midnight(first),
                  end=_midnight(after))


def effective_time(recorded: datetime, assigned_on: date | None) -> datetime:
    """When a registration took effect: the start of its assigned date in Asia/Shanghai, never after recording."""
    return recorded if assigned_on is None else min(recorded, _midnight(assigned_on))


def deadline_instant(deadline: date) -> datetime:
    """A deadline is a date meaning the end of that day in Asia/Shanghai: the next midnight there, in UTC."""
    return _midnight(deadline + timedelta(days=1))


# ---------------------------------------------------------------- schemes


def _exact(value: Any, where: str) -> Fraction:
    """A number as an exact fraction of its decimal text (0.3 is 3/10, not the nearest double)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid(f"{where}: must be a number", details=[{"field": where, "message": "must be a number"}])
    try:
        dec = Decimal(str(value))
    except InvalidOperation as exc:
        raise Invalid(f"{where}: must be a number",
                      details=[{"field": where, "message": "must be a number"}]) from exc
    if not dec.is_finite():
        raise Invalid(f"{where}: must be finite", details=[{"field": where, "message": "must be finite"}])
    return Fraction(dec)


def validate_scheme(body: Mapping[str, Any]) -> dict[str, Any]:
    """A scheme's content checked: every zone type with the four components, weights in [0, 1] summing to 1."""
    problems: list[dict[str, str]] = []
    weights = body.get("weights")
    if not isinstance(weights, Mapping):
        raise Invalid("weights: must be an object of zone types",
                      details=[{"field": "weights", "message": "must be an object of zone types"}])
    for zone in weights:
        if zone not in ZONE_TYPES:
            problems.append({"field": f"weights.{zone}",
                             "message": f"unknown zone type {zone}; zone types are {', '.join(ZONE_TYPES)}"})
    clean: dict[str, dict[str, float]] = {}
    for zone in ZONE_TYPES:
        row = weights.get(zone)
        if not isinstance(row, Mapping):
            problems.append({"field": f"weights.{zone}", "message": f"missing weights for zone type {zone}"})
            continue
        extra = [c for c in row if c not in COMPONENTS]
        for c in extra:
            problems.append({"field": f"weights.{zone}.{c}",
                             "message": f"unknown component {c}; components are {', '.join(COMPONENTS)}"})
        total = Fraction(0)
        ok = not extra
        for c in COMPONENTS:
            if c not in row:
                problems.append({"field": f"weights.{zone}.{c}", "message": f"missing weight of {c}"})
                ok = False
                continue
            try:
                w = _exact(row[c], f"weights.{zone}.{c}")
            except Invalid as exc:
                problems.extend(exc.details)
                ok = False
                continue
            if not 0 <= w <= 1:
                problems.append({"field": f"weights.{zone}.{c}", "message": "a weight lies between 0 and 1"})
                ok = False
            total += w
        if ok and total != 1:
            problems.append({"field": f"weights.{zone}",
                             "message": f"the weights of zone type {zone} sum to {float(total):g}, not 1"})
        if ok:
            clean[zone] = {c: float(row[c]) for c in COMPONENTS}
    counts: dict[str, int] = {}
    for name, default in (("bottom_named", 3), ("penalized", 1)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append({"field": name, "message": "must be a whole number, 0 or more"})
        else:
            counts[name] = value
    for name, default in (("appeal_days", 5), ("decision_days", 10)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WINDOW_DAYS:
            problems.append({"field": name, "message": f"working days, a whole number from 1 to {MAX_WINDOW_DAYS}"})
        else:
            counts[name] = value
    penalty = body.get("penalty")
    clean_penalty: dict[str, Any] | None = None
    if penalty is not None:
        if not isinstance(penalty, Mapping):
            problems.append({"field": "penalty", "message": "must be an object {amount, currency, note}"})
        else:
            for key in penalty:
                if key not in ("amount", "currency", "note"):
                    problems.append({"field": f"penalty.{key}", "message": "unknown field"})
            amount = penalty.get("amount")
            try:
                if _exact(amount, "penalty.amount") < 0:
                    problems.append({"field": "penalty.amount", "message": "must be 0 or more"})
            except Invalid as exc:
                problems.extend(exc.details)
            currency = penalty.get("currency")
            if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
                problems.append({"field": "penalty.currency", "message": "an ISO 4217 code such as CNY"})
            note = penalty.get("note")
            if note is not None and not isinstance(note, str):
                problems.append({"field": "penalty.note", "message": "must be text"})
            clean_penalty = {"amount": amount, "currency": currency, "note": note}
    points = body.get("milestone_missed_points", DEFAULT_MILESTONE_POINTS)
    clean_points = DEFAULT_MILESTONE_POINTS
    try:
        exact_points = _exact(points, "milestone_missed_points")
        if not 0 <= exact_points <= 100:
            problems.append({"field": "milestone_missed_points", "message": "points between 0 and 100"})
        else:
            clean_points = float(points)
    except Invalid as exc:
        problems.extend(exc.details)
    extra_keys = [k for k in body if k not in ("weights", "bottom_named", "penalized", "penalty",
                                               "milestone_missed_points", "appeal_days", "decision_days")]
    for k in extra_keys:
        problems.append({"field": k, "message": "unknown field"})
    if problems:
        raise Invalid("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems)
    return {"weights": clean, "bottom_named": counts["bottom_named"], "penalized": counts["penalized"],
            "penalty": clean_penalty, "milestone_missed_points": clean_points,
            "appeal_days": counts["appeal_days"], "decision_days": counts["decision_days"]}


# ---------------------------------------------------------------- issue timelines


@dataclass
class IssueState:
    """An issue as its events describe it at some instant."""

    issue_id: str
    registered_at: datetime | None = None
    org_id: str | None = None
    deadline: date | None = None
    target: Target | None = None
    status: str | None = None
    signed_off_at: datetime | None = None

    def apply(self, ev: IssueEvent) -> None:
        """Move the state by one event."""
        t = ev.type
        if t == "issue.registered":
            self.registered_at = ev.time
            self.org_id, self.deadline, self.target = ev.org_id, ev.deadline, ev.target
            if self.status is None:
                self.status = lifecycle.INITIAL.value
        elif t == "issue.updated":
            if ev.org_id:
                self.org_id = ev.org_id
            self.target = ev.target
        elif t == "issue.extension_decided":
            if ev.deadline is not None:
                self.deadline = ev.deadline
        elif t == "issue.status_changed" and ev.to_status is not None:
            # the issues service's word is the only source of status; closure.* and issue.reopened count only
            # as rejections and rebounds (quality)
            self.status = ev.to_status
            if ev.to_status == "signed_off":
                self.signed_off_at = ev.time
            elif not lifecycle.is_closed(ev.to_status):
                self.signed_off_at = None


def issue_state_at(events: Iterable[IssueEvent], at: datetime | None = None) -> IssueState | None:
    """The issue as its events with time before `at` (all when None) describe it; None if not registered."""
    evs = sorted(events, key=IssueEvent.order_key)
    if not evs:
        return None
    state = IssueState(issue_id=evs[0].issue_id)
    for ev in evs:
        if at is not None and ev.time >= at:
            break
        state.apply(ev)
    return state if state.registered_at is not None else None


# ---------------------------------------------------------------- scores


def _round2(value: Fraction) -> float:
    """Half up to 2 decimals, as one rounds by hand (not banker's rounding)."""
    sign = -1 if value < 0 else 1
    cents = (abs(value) * 100 + Fraction(1, 2)).__floor__()
    return float(Decimal(sign * cents) / 100)


def _num(value: Fraction) -> float | int:
    """A count as an int, anything else as a float (rounded to 6 places for display)."""
    return int(value) if value.denominator == 1 else round(float(value), 6)


def _component(numerator: Fraction, denominator: int, weight: float, formula: str,
               **detail: Any) -> dict[str, Any]:
    score = Fraction(100) if denominator == 0 else 100 * numerator / denominator
    return {"score": _round2(score), "numerator": _num(numerator), "denominator": denominator,
            "weight": weight, "formula": formula, **detail, "_exact": score}


def attainment(target: Target, reading: float) -> tuple[bool, Fraction]:
    """Whether a reading meets a target, and its ratio: 1 when met, else min(target, reading) ÷ max(...)."""
    t, r = Fraction(Decimal(str(target.value))), Fraction(Decimal(str(reading)))
    met = r <= t if target.op == "<=" else r >= t if target.op == ">=" else r == t
    if met:
        return True, Fraction(1)
    lo, hi = min(t, r), max(t, r)
    if hi <= 0 or lo < 0:
        return False, Fraction(0)
    return False, lo / hi


@dataclass
class _Tally:
    due: int = 0
    on_time: int = 0
    assigned: int = 0
    done: int = 0
    rejected: int = 0
    reopened: int = 0
    missed_milestones: int = 0
    overdue: int = 0
    targets: list[tuple[str, Target]] = field(default_factory=list)


def compute_scores(*, orgs: Iterable[OrgFact], events: Iterable[IssueEvent], readings: Iterable[Reading],
                   scheme: Scheme, period: Period, kind: str, now: datetime) -> list[dict[str, Any]]:
    """Ranked score rows of every org of `kind` for `period`, from facts alone.

    Everything is judged from events with time before `as_of` = min(end of period, now), so a closed period's
    scores never move once its events are in, and an open period does not count deadlines still to come.
    Each issue counts for the org responsible at the time that matters: at its deadline (on-time closure; at its
    registration when it was registered after its deadline), at `as_of` (completion, overdue, targets), at the
    rejection or reopening (quality).
    """
    if kind not in KINDS:
        raise Invalid(f"kind: {kind!r} is not assessed; kinds are {', '.join(KINDS)}",
                      details=[{"field": "kind", "message": f"one of {', '.join(KINDS)}"}])
    as_of = min(period.end, now)
    assessees = sorted((o for o in orgs if o.kind == kind), key=lambda o: o.org_id)
    zones: dict[str, str] = {}
    for org in assessees:
        zone = org.zone_type or ("department" if kind == "department" else None)
        if zone is None or zone not in scheme.weights:
            raise Invalid(f"org {org.org_id} has no zone type the scheme weighs",
                          details=[{"field": "zone_type", "message": f"org {org.org_id}: zone type {zone!r} "
                                    f"has no weights in scheme {scheme.scheme_id} v{scheme.version}"}])
        zones[org.org_id] = zone
    tallies: dict[str, _Tally] = defaultdict(_Tally)

    by_issue: dict[str, list[IssueEvent]] = defaultdict(list)
    parents: set[str] = set()
    for ev in events:
        if ev.time < as_of and (ev.recorded_at is None or ev.recorded_at < now):
            by_issue[ev.issue_id].append(ev)
            if ev.type == "issue.registered" and ev.parent_id:
                parents.add(ev.parent_id)
    for issue_id, evs in by_issue.items():
        if issue_id in parents:
            # 任务分解: a task with sub-tasks is not scored itself; each sub-task counts for its own org
            continue
        evs.sort(key=IssueEvent.order_key)
        state = IssueState(issue_id=evs[0].issue_id)
        for ev in evs:
            state.apply(ev)
            if state.registered_at is None or not (period.start <= ev.time):
                continue
            if ev.type == "closure.rejected" and state.org_id:
                tallies[state.org_id].rejected += 1
            elif ev.type == "issue.reopened" and state.org_id:
                tallies[state.org_id].reopened += 1
        if state.registered_at is None or state.org_id is None or state.deadline is None:
            continue
        for due_at in missed_milestones(evs, period=period, as_of=as_of):
            at_due = issue_state_at(evs, due_at)
            who_missed = at_due.org_id if at_due is not None and at_due.org_id else state.org_id
            tallies[who_missed].missed_milestones += 1
        final = tallies[state.org_id]
        final.assigned += 1
        if state.status in DONE:
            final.done += 1
        due_at = deadline_instant(state.deadline)
        if due_at <= as_of and state.status not in DONE:
            final.overdue += 1
        if state.target is not None:
            final.targets.append((state.issue_id, state.target))
        if period.start < due_at <= as_of:
            at_deadline = issue_state_at(evs, due_at)
            if at_deadline is not None and at_deadline.org_id:
                who = tallies[at_deadline.org_id]
                who.due += 1
                if at_deadline.status in DONE:
                    who.on_time += 1
            elif (late := _org_at_registration(evs)) is not None:
                # registered after its deadline (a late registration, a ledger moved in): due in P and not
                # signed off by its deadline, so it counts, against the org responsible when it was registered
                tallies[late].due += 1

    latest: dict[tuple[str, str], Reading] = {}
    for rd in readings:
        if not period.start <= rd.observed_at < period.end:
            continue
        key = (rd.org_id, rd.indicator)
        seen = latest.get(key)
        if seen is None or _reading_key(rd) > _reading_key(seen):
            latest[key] = rd

    rows: list[dict[str, Any]] = []
    for org in assessees:
        t = tallies.get(org.org_id, _Tally())
        w = scheme.weights[zones[org.org_id]]
        components: dict[str, dict[str, Any]] = {}
        components["on_time_closure"] = _component(
            Fraction(t.on_time), t.due, w["on_time_closure"], f"100 × {t.on_time} ÷ {t.due}" if t.due else
            "100 (no issue due)", due=t.due, signed_off_by_deadline=t.on_time)
        components["completion"] = _component(
            Fraction(t.done), t.assigned, w["completion"], f"100 × {t.done} ÷ {t.assigned}" if t.assigned else
            "100 (no issue assigned)", assigned=t.assigned, signed_off_or_filed=t.done)
        points = Fraction(Decimal(str(scheme.milestone_missed_points)))
        raw = 100 - 10 * t.rejected - 20 * t.reopened - points * t.missed_milestones
        components["quality"] = _component(
            max(Fraction(0), raw), 100, w["quality"],
            f"max(0, 100 − 10 × {t.rejected} − 20 × {t.reopened} − {_num(points)} × {t.missed_milestones})",
            rejected=t.rejected, reopened=t.reopened, missed_milestones=t.missed_milestones,
            milestone_missed_points=_num(points))
        targets, total, counted = [], Fraction(0), 0
        for issue_id, target in sorted(t.targets, key=lambda it: (it[1].indicator, it[0])):
            last = latest.get((org.org_id, target.indicator))
            item: dict[str, Any] = {"issue_id": issue_id, "indicator": target.indicator, "op": target.op,
                                    "target": target.value, "reading": None, "observed_at": None,
                                    "met": None, "attainment": None, "included": last is not None}
            if last is not None:
                met, ratio = attainment(target, last.value)
                total += ratio
                counted += 1
                item.update(reading=last.value, observed_at=last.observed_at.isoformat(), met=met,
                            attainment=_round2(100 * ratio))
            targets.append(item)
        components["environment"] = _component(
            total, counted, w["environment"],
            f"100 × {_num(total)} ÷ {counted}" if counted else "100 (no target with a reading in the period)",
            targets=targets)
        exact = sum((Fraction(Decimal(str(components[c]["weight"]))) * components[c]["_exact"]
                     for c in COMPONENTS), Fraction(0))
        for c in COMPONENTS:
            del components[c]["_exact"]
        rows.append({"org_id": org.org_id, "org_name": org.name, "zone_type": zones[org.org_id],
                     "score": _round2(exact), "overdue": t.overdue, "components": components})
    rows.sort(key=lambda r: (-r["score"], r["overdue"], r["org_id"]))
    # Equal score and equal overdue count share a rank (并列: 1, 2, 2, 4); the org id only orders the lines.
    for i, row in enumerate(rows, start=1):
        prev = rows[i - 2] if i > 1 else None
        tied = prev is not None and (prev["score"], prev["overdue"]) == (row["score"], row["overdue"])
        row["rank"] = prev["rank"] if tied and prev is not None else i
    return rows


def missed_milestones(evs: Sequence[IssueEvent], *, period: Period, as_of: datetime) -> list[datetime]:
    """The due instants of an issue's milestones due in the period (by `as_of`) that count as missed.

    A milestone is due at the end of its day in Asia/Shanghai. It counts as missed, in the period holding its
    day, unless by then the responsible unit had reported it met (a report the supervising unit has not
    disputed since, as of `as_of`) or the whole task was signed off. So past due and unreported is missed,
    reported missed (confirmed or not) is missed, and reported met only after its day stays missed: met late.
    Events sorted by `order_key`; the same rule as services.issues.domain.milestone_missed.
    """
    due: dict[str, date] = {}
    met_at: dict[str, datetime | None] = {}
    for ev in evs:
        if ev.milestone_id is None or ev.deadline is None:
            continue
        if ev.type == "issue.milestone_added":
            due[ev.milestone_id] = ev.deadline
            met_at.setdefault(ev.milestone_id, None)
        elif ev.type == "issue.milestone_reported":
            met_at[ev.milestone_id] = ev.time if ev.outcome == "met" else None
        elif ev.type == "issue.milestone_reviewed" and ev.review == "disputed":
            met_at[ev.milestone_id] = None
    out = []
    for mid, day in sorted(due.items(), key=lambda kv: (kv[1], kv[0])):
        due_at = deadline_instant(day)
        if not period.start < due_at <= as_of:
            continue
        # the report of "met" standing as of `as_of` (a dispute, even after the day, takes it back) must have
        # been made before the end of the day; a later one is met late
        met = met_at.get(mid)
        at_due = issue_state_at(evs, due_at)
        if (met is None or met >= due_at) and not (at_due is not None and at_due.status in DONE):
            out.append(due_at)
    return out


def _org_at_registration(evs: Sequence[IssueEvent]) -> str | None:
    """The responsible org the issue's first registration named (events sorted by `order_key`)."""
    return next((ev.org_id for ev in evs if ev.type == "issue.registered"), None)


def _reading_key(rd: Reading) -> tuple[datetime, datetime, str]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return (rd.observed_at, rd.recorded_at or epoch, rd.reading_id)


# ---------------------------------------------------------------- rankings


def bottom_of(ordered: Sequence[Mapping[str, Any]], count: int) -> set[str]:
    """The orgs in the last `count` places (rows by rank), decided by rank, never by org id: an org tied with
    the last one counted is in too (并列同等对待), and those tied for the first place never are (when every org
    scores the same, none is behind)."""
    if count <= 0 or not ordered:
        return set()
    cut = ordered[max(0, len(ordered) - count)]["rank"]
    first = ordered[0]["rank"]
    return {r["org_id"] for r in ordered if r["rank"] >= cut and r["rank"] != first}


def freeze_ranking(rows: Sequence[Mapping[str, Any]], scheme: Scheme) -> dict[str, Any]:
    """The published table: the bottom `bottom_named` named (通报), the scheme's penalty on the last `penalized`."""
    ordered = sorted(rows, key=lambda r: r["rank"])
    named = bottom_of(ordered, scheme.bottom_named)
    punished = bottom_of(ordered, scheme.penalized)
    table = []
    for r in ordered:
        table.append({**r, "named": r["org_id"] in named,
                      "penalty": dict(scheme.penalty) if r["org_id"] in punished and scheme.penalty else None})
    return {"rows": table,
            "bottom_named": [r["org_id"] for r in ordered if r["org_id"] in named],
            "penalized": [r["org_id"] for r in ordered if r["org_id"] in punished]}


# ---------------------------------------------------------------- appeals (申诉 / 复核)
#
# A ranked unit may appeal one component of its own row within the scheme's `appeal_days` working days after the
# publication day (that day not counted; the last day counts whole, Asia/Shanghai). The office decides within
# `decision_days` working days after the filing day. A decision after that is still taken and recorded, flagged
# late: refusing it would leave the unit without an answer for good, and the lateness is the office's to account
# for, in the next bulletin and in the audit log, not the unit's to bear.

APPEAL_OUTCOMES = ("upheld", "partly_upheld", "refused")
CORRECTING = frozenset({"upheld", "partly_upheld"})
COMPONENT_ZH = {"on_time_closure": "按期销号率", "completion": "整改完成率", "quality": "整改质量",
                "environment": "环境质量"}


def shanghai_day(moment: datetime) -> date:
    """The calendar day in Asia/Shanghai of a moment."""
    return moment.astimezone(SHANGHAI).date()


def appeal_due(published_at: datetime, scheme: Scheme, calendar: WorkCalendar) -> date:
    """The last day a ranked unit may appeal: the `appeal_days`-th working day after the publication day."""
    return calendar.add_working_days(shanghai_day(published_at), scheme.appeal_days)


def decision_due(filed_on: date, scheme: Scheme, calendar: WorkCalendar) -> date:
    """The last day the office has to decide: the `decision_days`-th working day after the filing day."""
    return calendar.add_working_days(filed_on, scheme.decision_days)


def check_correction(*, outcome: str, component: str, correction: Mapping[str, float] | None,
                     published: Mapping[str, float]) -> dict[str, float] | None:
    """The correction a decision carries, checked: none for a refusal; for an (partly) upheld appeal the disputed
    component at least, components the scheme scores only, each 0–100, and some value that differs from the
    published one. Refused with the field named (422)."""
    if outcome not in CORRECTING:
        if correction:
            raise field_error("correction", "申诉不成立时不更正分值,请删除 correction "
                                            "(a refused appeal corrects nothing; leave correction out)")
        return None
    if not correction:
        raise field_error("correction", f"申诉成立须给出更正后的分值,至少包括所申诉的「{COMPONENT_ZH.get(component, component)}」"
                                        f" (an upheld appeal needs the corrected values, {component} at least)")
    for c, value in correction.items():
        if c not in COMPONENTS:
            raise field_error(f"correction.{c}", f"unknown component; components are {', '.join(COMPONENTS)}")
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100):
            raise field_error(f"correction.{c}", "分值须在 0 到 100 之间 (a component scores 0–100)")
    if component not in correction:
        raise field_error(f"correction.{component}", f"更正须包括所申诉的「{COMPONENT_ZH.get(component, component)}」"
                                                     f" (the correction must include the disputed {component})")
    clean = {c: float(correction[c]) for c in COMPONENTS if c in correction}
    if all(published.get(c) == v for c, v in clean.items()):
        raise field_error("correction", "更正后的分值与已发布的相同,无须更正;如申诉不成立请选择 refused "
                                        "(the corrected values equal the published ones)")
    return clean


def corrected_rows(rows: Sequence[Mapping[str, Any]], *, org_id: str, correction: Mapping[str, float],
                   appeal_id: str, scheme: Scheme) -> dict[str, Any]:
    """The published table with one org's components corrected, ranked and frozen again (named, penalised).

    The org's score moves by Σ weight × (corrected − published) over the corrected components, rounded to 2
    decimals: the components nobody disputed keep exactly the contribution they had. Every other row is as published.
    """
    out: list[dict[str, Any]] = []
    for row in rows:
        new = {**row, "components": {c: dict(v) for c, v in row["components"].items()}}
        if row["org_id"] == org_id:
            delta = Fraction(0)
            for c, value in correction.items():
                comp = new["components"][c]
                old = comp["score"]
                delta += Fraction(Decimal(str(comp["weight"]))) * (Fraction(Decimal(str(value)))
                                                                   - Fraction(Decimal(str(old))))
                comp["score"] = float(value)
                comp["formula"] = f"复核更正 {old:g} → {value:g}(申诉 {appeal_id}) (corrected on appeal)"
            new["score"] = _round2(Fraction(Decimal(str(row["score"]))) + delta)
        out.append(new)
    out.sort(key=lambda r: (-r["score"], r["overdue"], r["org_id"]))
    for i, row in enumerate(out, start=1):
        row["rank"] = i
    return freeze_ranking(out, scheme)

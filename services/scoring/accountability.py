"""Accountability clues (问责线索): tasks and units that meet a configured rule, each with the events behind it.

A clue is a fact and a rule, never a judgement: "task HH-3 has been overdue 45 days (rule: more than 30)", with
the events that set its deadline and status. It is derived on every read from the facts scoring keeps (issue,
closure, re-inspection and ranking events); nothing about it is stored, so it is as current and as
explainable as its events. Rules are pluggable (`RULES`); a rule whose events no contract defines yet (missed
milestones before the milestone events exist) is inactive and says so. No I/O here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts import lifecycle
from contracts.registry import is_known
from runtime.clock import SHANGHAI


@dataclass(frozen=True)
class Fact:
    """One event scoring keeps about a task (see store.load_clue_facts)."""

    event_id: str
    issue_id: str
    type: str
    source: str
    seq: int
    time: datetime
    org_id: str | None = None
    deadline: date | None = None
    to_status: str | None = None
    detail: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class RankingFact:
    """A published ranking no correction supersedes, and the event that published it."""

    ranking_id: str
    period: str
    kind: str
    scheme_id: str
    published_at: datetime
    bottom_named: tuple[str, ...]
    event_id: str | None


@dataclass(frozen=True)
class Thresholds:
    """The rules' thresholds (settings CLOSELOOP_CLUE_*, defaults in services/scoring/settings.py)."""

    overdue_days: int = 30
    superficial_rejections: int = 1
    rebounds: int = 1
    missed_milestones: int = 2
    bottom_times: int = 2
    bottom_of_last: int = 3


@dataclass
class Clue:
    """One line: which rule, its threshold, who (unit, task), what was found, and the events that triggered it."""

    rule: str
    rule_zh: str
    threshold: dict[str, int]
    org_id: str | None
    issue_id: str | None
    code: str | None
    found: dict[str, Any]
    summary_zh: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable sort and cursor key: rule order, unit, task."""
        return f"{RULE_ORDER.get(self.rule, 99):02d}|{self.org_id or ''}|{self.issue_id or ''}"


def _ref(f: Fact) -> dict[str, Any]:
    return {"event_id": f.event_id, "type": f.type, "time": f.time, "source": f.source}


class _Task:
    """A task's facts in event order, and who was responsible at each."""

    def __init__(self, facts: list[Fact]) -> None:
        self.facts = sorted(facts, key=lambda f: (f.time, 0 if f.source == "issues" else 1, f.seq, f.event_id))
        self.issue_id = self.facts[0].issue_id
        self.org_at: dict[str, str | None] = {}
        self.code: str | None = None
        self.org: str | None = None
        self.deadline: date | None = None
        self.deadline_events: list[Fact] = []
        self.status: str | None = None
        self.status_event: Fact | None = None
        self.registered = False
        for f in self.facts:
            if f.type == "issue.registered":
                self.registered, self.code, self.deadline = True, f.code, f.deadline
                self.deadline_events = [f]
                self.org = f.org_id
                self.status = self.status or lifecycle.INITIAL.value
            elif f.type == "issue.updated" and f.org_id:
                self.org = f.org_id
            elif f.type == "issue.extension_decided" and f.deadline is not None:
                self.deadline = f.deadline
                self.deadline_events.append(f)
            elif f.type == "issue.status_changed" and f.to_status is not None:
                self.status, self.status_event = f.to_status, f
            self.org_at[f.event_id] = self.org

    def of_type(self, type_: str, detail: Callable[[str | None], bool] | None = None) -> list[Fact]:
        return [f for f in self.facts if f.type == type_ and (detail is None or detail(f.detail))]


Rule = Callable[[list[_Task], Sequence[RankingFact], Thresholds, date], list[Clue]]


def overdue(tasks: list[_Task], rankings: Sequence[RankingFact], t: Thresholds, today: date) -> list[Clue]:
    """A task not signed off or filed whose deadline passed more than N days ago."""
    out = []
    for task in tasks:
        if not task.registered or task.deadline is None or lifecycle.is_closed(task.status):
            continue
        days = (today - task.deadline).days
        if days > t.overdue_days:
            events = [_ref(f) for f in task.deadline_events]
            if task.status_event is not None:
                events.append(_ref(task.status_event))
            out.append(Clue("overdue", "逾期未完成整改", {"overdue_days": t.overdue_days}, task.org, task.issue_id,
                            task.code, {"deadline": task.deadline.isoformat(), "days_overdue": days,
                                        "status": task.status},
                            f"整改时限 {task.deadline.isoformat()},截至 {today.isoformat()} 已逾期 {days} 天"
                            f"(规则:逾期超过 {t.overdue_days} 天)", events))
    return out


def _counted(rule: str, rule_zh: str, threshold: str, what_zh: str, pick: Callable[[_Task], list[Fact]],
             explain: Callable[[_Task], list[Fact]] | None = None) -> Rule:
    """A rule that lists a task once its events of one kind reach a count (the `threshold` field of Thresholds),
    for each unit that was responsible when they happened; `explain` adds events that tell more of them."""

    def apply(tasks: list[_Task], rankings: Sequence[RankingFact], t: Thresholds, today: date) -> list[Clue]:
        out = []
        minimum = int(getattr(t, threshold))
        for task in tasks:
            by_org: dict[str | None, list[Fact]] = defaultdict(list)
            for f in pick(task):
                by_org[task.org_at.get(f.event_id)].append(f)
            extra = explain(task) if explain is not None else []
            for org, facts in sorted(by_org.items(), key=lambda kv: kv[0] or ""):
                if len(facts) >= minimum:
                    # in time order; at one time, the counted event before the one that explains it
                    refs = sorted([(f, 0) for f in facts]
                                  + [(f, 1) for f in extra if task.org_at.get(f.event_id) == org],
                                  key=lambda p: (p[0].time, p[1], p[0].event_id))
                    out.append(Clue(rule, rule_zh, {threshold: minimum}, org, task.issue_id, task.code,
                                    {"count": len(facts)}, f"{what_zh} {len(facts)} 次(规则:至少 {minimum} 次)",
                                    [_ref(f) for f, _ in refs]))
        return out

    return apply


superficial = _counted("superficial", "表面整改被退回", "superficial_rejections", "销号申请以“表面整改”被退回",
                       lambda task: task.of_type("closure.rejected", lambda d: d == "superficial"))
# a rebound found in re-inspection (抽查) is one rebound: its issue.reopened counts, sample.reinspected explains it
rebound = _counted("rebound", "整改后反弹", "rebounds", "已销号任务反弹重启",
                   lambda task: task.of_type("issue.reopened"),
                   explain=lambda task: task.of_type("sample.reinspected", lambda d: d == "rebound"))

MILESTONE_TYPE = "issue.milestone_reviewed"
missed_milestones = _counted("missed_milestones", "重要节点多次未完成", "missed_milestones", "重要节点经核实未完成",
                             lambda task: task.of_type(MILESTONE_TYPE, lambda d: d == "confirmed:missed"))


def bottom_of_ranking(tasks: list[_Task], rankings: Sequence[RankingFact], t: Thresholds,
                      today: date) -> list[Clue]:
    """A unit named at the bottom (通报) in at least K of the last M published rankings of its kind and scheme."""
    out = []
    series: dict[tuple[str, str], list[RankingFact]] = defaultdict(list)
    for r in rankings:
        series[(r.kind, r.scheme_id)].append(r)
    for (kind, scheme_id), rs in sorted(series.items()):
        last = sorted(rs, key=lambda r: (r.published_at, r.ranking_id))[-t.bottom_of_last:]
        named: dict[str, list[RankingFact]] = defaultdict(list)
        for r in last:
            for org in r.bottom_named:
                named[org].append(r)
        for org, hits in sorted(named.items()):
            if len(hits) >= t.bottom_times:
                periods = "、".join(r.period for r in hits)
                out.append(Clue("bottom_of_ranking", "考核排名多次靠后",
                                {"bottom_times": t.bottom_times, "bottom_of_last": t.bottom_of_last}, org, None,
                                None, {"times": len(hits), "of_last": len(last), "kind": kind, "scheme_id": scheme_id,
                                       "periods": [r.period for r in hits]},
                                f"最近 {len(last)} 期排名中 {len(hits)} 期被通报排名靠后({periods})"
                                f"(规则:最近 {t.bottom_of_last} 期中至少 {t.bottom_times} 期)",
                                [{"event_id": r.event_id or r.ranking_id, "type": "ranking.published",
                                  "time": r.published_at, "source": "scoring", "ranking_id": r.ranking_id}
                                 for r in hits]))
    return out


@dataclass(frozen=True)
class RuleSpec:
    """A rule: its id, its Chinese name, the function, and whether the events it reads exist in the contracts."""

    rule: str
    rule_zh: str
    apply: Rule
    needs: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return all(is_known(t) for t in self.needs)


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("overdue", "逾期未完成整改", overdue),
    RuleSpec("superficial", "表面整改被退回", superficial),
    RuleSpec("rebound", "整改后反弹", rebound),
    RuleSpec("missed_milestones", "重要节点多次未完成", missed_milestones, needs=(MILESTONE_TYPE,)),
    RuleSpec("bottom_of_ranking", "考核排名多次靠后", bottom_of_ranking),
)
RULE_ORDER = {r.rule: i for i, r in enumerate(RULES)}


def clues(*, facts: Iterable[Fact], rankings: Sequence[RankingFact], thresholds: Thresholds, now: datetime,
          rules: Sequence[RuleSpec] = RULES) -> list[Clue]:
    """Every line of every active rule, sorted by rule, unit and task."""
    by_issue: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by_issue[f.issue_id].append(f)
    tasks = [_Task(fs) for _, fs in sorted(by_issue.items())]
    today = now.astimezone(SHANGHAI).date()
    out: list[Clue] = []
    for spec in rules:
        if spec.active:
            out.extend(spec.apply(tasks, rankings, thresholds, today))
    return sorted(out, key=lambda c: c.key)

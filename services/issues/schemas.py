"""What the issues API reads (`*In`) and answers (`*Out`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.enums import IssueStatus, OrgKind, RoundLevel, TargetOp, ZoneType
from contracts.events.issues import Location, MilestoneOutcome, MilestoneReview, Target
from runtime.answers import Out
from runtime.values import IsoDate
from services.issues.domain import MAX_CHILDREN, MAX_DEPTH, MAX_MILESTONES

# ---- requests -----------------------------------------------------------------------------------------------


MAX_COOPERATING = 50
OrgId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    zone_type: ZoneType | None = None


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: RoundLevel
    started_on: IsoDate | None = None
    ended_on: IsoDate | None = None
    feedback_on: IsoDate | None = None


class MilestoneIn(BaseModel):
    """A dated milestone (重要节点): its day (on or before the task's deadline), what is to be reached, and an
    optional target in words (e.g. 129 个村)."""

    model_config = ConfigDict(extra="forbid")
    due_on: IsoDate
    description: str = Field(min_length=1, max_length=500)
    target: str | None = Field(default=None, min_length=1, max_length=200)


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    round_id: str = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=20000)
    region_id: str | None = None
    responsible_org_id: str = Field(min_length=1)
    cooperating_org_ids: list[OrgId] = Field(default_factory=list, max_length=MAX_COOPERATING)
    supervising_org_id: str = Field(min_length=1)
    leader: str | None = Field(default=None, max_length=200)
    deadline: IsoDate
    target: Target | None = None
    measures: str | None = Field(default=None, max_length=20000)
    location: Location | None = None
    parent_id: str | None = Field(default=None, min_length=1, max_length=36, description=(
        "上级任务 id: register this task as a sub-task (任务分解) of an open task of the same round, at most "
        f"{MAX_DEPTH} levels deep and {MAX_CHILDREN} sub-tasks per task, due by the parent's deadline"))
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=MAX_MILESTONES,
                                          description=f"重要节点, at most {MAX_MILESTONES}")


class MilestoneReportIn(BaseModel):
    """The responsible unit's report of a milestone: met or missed, a note, the evidence (ids of uploaded files)."""

    model_config = ConfigDict(extra="forbid")
    outcome: MilestoneOutcome
    note: str = Field(min_length=1, max_length=5000)
    evidence_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100)


class MilestoneReviewIn(BaseModel):
    """The supervising unit's review of the last report: confirmed, or disputed (an opinion is then required)."""

    model_config = ConfigDict(extra="forbid")
    review: MilestoneReview
    opinion: str | None = Field(default=None, min_length=1, max_length=5000)


class IssuePatch(BaseModel):
    """What an admin may change: assignment and text. Status, code, round and deadline are not here."""

    model_config = ConfigDict(extra="forbid")
    responsible_org_id: str | None = Field(default=None, min_length=1)
    cooperating_org_ids: list[OrgId] | None = Field(default=None, max_length=MAX_COOPERATING)
    supervising_org_id: str | None = Field(default=None, min_length=1)
    leader: str | None = Field(default=None, max_length=200)
    region_id: str | None = None
    category: str | None = Field(default=None, min_length=1, max_length=40)
    title: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=20000)
    measures: str | None = Field(default=None, max_length=20000)
    target: Target | None = None
    location: Location | None = None
    reason: str | None = Field(default=None, max_length=2000)


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=5000)
    percent: int = Field(ge=0, le=100)
    evidence_ids: list[str] = Field(default=[], max_length=100)


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_deadline: IsoDate
    reason: str = Field(min_length=1, max_length=5000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved: bool
    opinion: str | None = Field(default=None, max_length=5000)


class ListFilters(BaseModel):
    status: IssueStatus | None = None
    responsible_org_id: str | None = None
    supervising_org_id: str | None = None
    region_id: str | None = None
    category: str | None = None
    round_id: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    q: str | None = Field(default=None, min_length=1, max_length=200)
    parent_id: str | None = Field(default=None, min_length=1, max_length=36)
    roots_only: bool | None = None
    moved_in: bool | None = None


# ---- answers ------------------------------------------------------------------------------------------------


class OrgOut(Out):
    id: str
    name: str
    kind: OrgKind
    zone_type: ZoneType | None


class RoundOut(Out):
    id: str
    name: str
    level: RoundLevel
    started_on: date | None
    ended_on: date | None
    feedback_on: date | None


class TargetOut(Out):
    indicator: str
    op: TargetOp
    value: float
    unit: str | None = None


class LocationOut(Out):
    latitude: float
    longitude: float


class LastProgressOut(Out):
    note: str | None
    percent: int | None
    at: datetime


class IssueOut(Out):
    """A ledger item: its fields, its status, derived overdue and overdue days, its last progress."""

    id: str
    code: str
    round_id: str
    category: str
    title: str
    description: str | None
    region_id: str | None
    responsible_org_id: str
    cooperating_org_ids: list[str]
    supervising_org_id: str
    leader: str | None
    deadline: date
    original_deadline: date = Field(description="最初的整改时限 (the deadline before any extension)")
    target: TargetOut | None
    measures: str | None
    location: LocationOut | None
    status: IssueStatus
    created_at: datetime
    updated_at: datetime
    overdue: bool = Field(description="是否逾期: deadline passed and not signed off or filed")
    overdue_days: int
    last_progress: LastProgressOut | None
    parent_id: str | None = Field(default=None, description="上级任务 id (null for a task that is no sub-task)")
    depth: int = Field(default=1, description="层级: 1 for a task without parent, 2 for its sub-tasks, …")
    children_total: int = Field(default=0, description="子任务数 (direct sub-tasks)")
    children_open: int = Field(default=0, description="未销号子任务数 (direct sub-tasks not signed off or filed)")
    derived_percent: int | None = Field(default=None, description=(
        "分解进度: the mean of the direct sub-tasks' percents, rounded half up; a sub-task counts 100 when signed "
        "off or filed, else its own derived percent when it has sub-tasks, else its last reported percent (0 "
        "before any report). Null for a task without sub-tasks."))


class RegionCountOut(Out):
    region_id: str
    total: int
    overdue: int


class SummaryTargetOut(Out):
    """A measurable target of the plan (责任制) and the task that carries it, for the cockpit's trend charts."""

    indicator: str
    op: TargetOp
    value: float
    unit: str | None = None
    issue_id: str
    code: str
    title: str
    responsible_org_id: str


class IssueSummaryOut(Out):
    """The figures of the leaders' cockpit over the issues the caller may see, counted by the service."""

    today: date = Field(description="the Shanghai date the figures are counted on")
    total: int
    closed: int = Field(description="已销号或已备案 (signed off or filed)")
    overdue: int
    escalated: int = Field(description="逾期超过升级天数 (overdue more than escalate_after_days whole days)")
    escalate_after_days: int
    due: int = Field(description="整改时限已过的任务数 (deadline passed, whatever the status)")
    due_closed: int = Field(description="其中已销号或已备案的 (of those, signed off or filed)")
    on_time_rate: float | None = Field(description="due_closed / due in per cent, one decimal; null when nothing is due")
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_region: list[RegionCountOut] = Field(description="tasks with a district, by district, most tasks first")
    most_overdue: list[IssueOut] = Field(description="the open overdue tasks longest past their deadline")
    most_escalated: list[IssueOut] = Field(description="the escalated tasks longest past their deadline")
    targets: list[SummaryTargetOut] = Field(description="the measurable targets of the tasks counted, by code")


class ActorOut(Out):
    user: str
    org: str | None
    role: str


class StepOut(Out):
    """One transition of an issue: who, when, what, why."""

    action: str
    from_: IssueStatus | None = Field(alias="from")
    to: IssueStatus
    by: ActorOut
    at: datetime
    reason: str | None
    details: dict[str, Any] | None
    event_id: str


class ExtensionOut(Out):
    """A deadline extension request (延期) and the admin's decision."""

    id: str
    issue_id: str
    current_deadline: date
    requested_deadline: date
    reason: str
    state: str = Field(description="pending, approved or refused")
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    opinion: str | None


class ChildOut(Out):
    """A direct sub-task, as its parent's page lists it."""

    id: str
    code: str
    title: str
    responsible_org_id: str
    deadline: date
    status: IssueStatus
    overdue: bool
    percent: int = Field(description="what it contributes to the parent's derived percent")
    children_total: int


class MilestoneOut(Out):
    """A milestone (重要节点) of a task and where it stands."""

    id: str
    issue_id: str
    due_on: date
    description: str
    target: str | None
    state: str = Field(description="pending (待报告), reported (已报告待确认) or confirmed (已确认)")
    state_zh: str
    outcome: MilestoneOutcome | None = Field(description="the last report: met or missed")
    note: str | None
    evidence_ids: list[str]
    reported_at: datetime | None
    reported_by: str | None
    disputed: bool = Field(description="the last report was disputed by the supervising unit")
    reviewed_at: datetime | None
    reviewed_by: str | None
    opinion: str | None
    overdue: bool = Field(description="its day has passed and nothing stands reported (pending)")
    missed: bool = Field(description=(
        "counts as missed (in scoring's quality component): its day has passed and it was not reported met by "
        "the end of that day (a report not disputed since), nor was the task signed off by then"))
    created_at: datetime


class IssueDetailOut(IssueOut):
    """One issue with its history of transitions, its extension requests, its sub-tasks and its milestones."""

    history: list[StepOut]
    extensions: list[ExtensionOut]
    children: list[ChildOut] = Field(default_factory=list, description=f"direct sub-tasks (at most {MAX_CHILDREN})")
    milestones: list[MilestoneOut] = Field(default_factory=list)


class ImportedOut(Out):
    id: str
    code: str
    round_id: str


class ImportOut(Out):
    """What an import created: every row, or nothing."""

    created: int
    items: list[ImportedOut]


class PublicIssueOut(Out):
    """An issue as the public sees it."""

    code: str
    title: str
    category: str
    region: str | None
    region_id: str | None = Field(description="行政区 id (the region's org id, for the district filter)")
    responsible_org: str | None
    deadline: date
    status: IssueStatus


class PublicRegionCountOut(Out):
    region_id: str
    region: str | None = Field(description="行政区名称 (the region's name)")
    total: int
    closed: int = Field(description="已销号或已备案")


class PublicSummaryOut(Out):
    """What the public page counts: the published findings by status, category and district."""

    total: int
    closed: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_region: list[PublicRegionCountOut] = Field(description="findings with a district, most first")

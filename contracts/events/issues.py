"""Events published by the issues service: org.*, round.*, issue.* (but issue.reopened)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, Field

from contracts.enums import IssueStatus, OrgKind, RoundLevel, TargetOp, ZoneType
from contracts.lifecycle import Action
from contracts.registry import Payload, event


class Target(Payload):
    indicator: str
    op: TargetOp
    value: float
    unit: str | None = None


class Location(Payload):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


@event("org.registered", 1)
class OrgRegistered(Payload):
    org_id: str
    name: str
    kind: OrgKind
    zone_type: ZoneType | None = None


@event("round.registered", 1)
class RoundRegistered(Payload):
    round_id: str
    name: str
    level: RoundLevel
    started_on: date | None = None
    ended_on: date | None = None
    feedback_on: date | None = None


@event("issue.registered", 1)
class IssueRegistered(Payload):
    issue_id: str
    code: str
    round_id: str
    category: str
    title: str
    description: str | None = None
    region_id: str | None = None
    responsible_org_id: str
    cooperating_org_ids: list[str] = Field(default_factory=list)
    supervising_org_id: str
    leader: str | None = None
    deadline: date
    target: Target | None = None
    measures: str | None = None
    location: Location | None = None
    # 交办日期: the business date the task was assigned, when it is not the event's time (a ledger kept
    # elsewhere and moved in later); absent means it was assigned when it was recorded.
    assigned_on: date | None = None
    # A row moved in with where it stood: how many issue.status_changed of this issue follow this event in the
    # same transaction. Until a consumer has seen them, the status it holds is not the issue's (a reminder or an
    # overdue notice must wait for them).
    moves_following: int = Field(default=0, ge=0, le=10)
    # 任务分解: the task this one is a sub-task of (added later, optional: older logs have none). A task with
    # sub-tasks is not scored itself; its sub-tasks are, each for its own responsible org.
    parent_id: str | None = None


@event("issue.started", 1)
class IssueStarted(Payload):
    issue_id: str
    responsible_org_id: str


@event("issue.status_changed", 1)
class IssueStatusChanged(Payload):
    """The issue's status moved: the issues service announces every move (start, and those caused by another
    service's event such as closure.accepted); other services take an issue's status only from this event.

    `action` and `at` were added later (optional, so older logs still read): the lifecycle action, and when the
    move happened (the causing event's time), which scoring counts by.

    `happened_on` and `recorded_by_org_id` (optional too) mark a move taken over from a ledger kept elsewhere
    (台账迁入): the business date the ledger gives (销号日期, 备案日期) and the unit that recorded it there. `at` is
    then the start of that day in Asia/Shanghai, the event's `time` when it was recorded here; no closure
    application of the verification service stands behind such a move.
    """

    issue_id: str
    from_status: IssueStatus
    to_status: IssueStatus
    reason: str | None = None
    cause_event_id: str | None = None
    action: Action | None = None
    at: AwareDatetime | None = None
    happened_on: date | None = None
    recorded_by_org_id: str | None = None


@event("issue.updated", 1)
class IssueUpdated(Payload):
    """PATCH by the admin: reassignment or edited text. Carries the full current assignment, and what changed."""

    issue_id: str
    changed: list[str]
    responsible_org_id: str
    cooperating_org_ids: list[str] = Field(default_factory=list)
    supervising_org_id: str
    leader: str | None = None
    region_id: str | None = None
    category: str
    title: str
    description: str | None = None
    measures: str | None = None
    target: Target | None = None
    location: Location | None = None


@event("issue.progress_reported", 1)
class IssueProgressReported(Payload):
    issue_id: str
    responsible_org_id: str
    note: str
    percent: int = Field(ge=0, le=100)
    evidence_ids: list[str] = Field(default_factory=list)


@event("issue.extension_requested", 1)
class IssueExtensionRequested(Payload):
    issue_id: str
    extension_id: str
    responsible_org_id: str
    current_deadline: date
    requested_deadline: date
    reason: str


@event("issue.extension_decided", 1)
class IssueExtensionDecided(Payload):
    """The admin's decision; when approved, `deadline` is the issue's new deadline (the original stays in history)."""

    issue_id: str
    extension_id: str
    approved: bool
    previous_deadline: date
    deadline: date
    opinion: str | None = None


class MilestoneOutcome(StrEnum):
    """What the responsible unit reports of a milestone (重要节点): reached by its date, or not."""

    met = "met"
    missed = "missed"


class MilestoneReview(StrEnum):
    """The supervising unit's word on a milestone report: it stands, or it is disputed (the unit reports again)."""

    confirmed = "confirmed"
    disputed = "disputed"


@event("issue.milestone_added", 1)
class IssueMilestoneAdded(Payload):
    """A dated milestone (重要节点) of a task, set at registration or added by the admin later."""

    issue_id: str
    milestone_id: str
    due_on: date
    description: str
    target: str | None = None
    responsible_org_id: str
    supervising_org_id: str


@event("issue.milestone_reported", 1)
class IssueMilestoneReported(Payload):
    """The responsible unit reports a milestone met or missed, with evidence ids and a note."""

    issue_id: str
    milestone_id: str
    due_on: date
    outcome: MilestoneOutcome
    note: str
    evidence_ids: list[str] = Field(default_factory=list)
    responsible_org_id: str
    supervising_org_id: str


@event("issue.milestone_reviewed", 1)
class IssueMilestoneReviewed(Payload):
    """The supervising unit confirms the last report of a milestone, or disputes it (it is then to be reported
    again). `outcome` is the outcome reported, `reported_event_id` the issue.milestone_reported reviewed."""

    issue_id: str
    milestone_id: str
    due_on: date
    review: MilestoneReview
    outcome: MilestoneOutcome
    reported_event_id: str
    opinion: str | None = None
    responsible_org_id: str
    supervising_org_id: str


@event("issue.parent_reopened", 1)
class IssueParentReopened(Payload):
    """A sub-task rebounded (issue.reopened) while its parent task was signed off or filed: the parent is reopened
    too (announced as issue.status_changed as well). `cause_event_id` is the sub-task's issue.reopened (or, one
    level up, the issue.parent_reopened of the sub-task in between)."""

    issue_id: str
    child_issue_id: str
    child_code: str
    from_status: IssueStatus
    reason: str
    cause_event_id: str
    responsible_org_id: str

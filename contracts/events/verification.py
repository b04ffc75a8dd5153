"""Events published by the verification service: evidence.*, closure.*, issue.reopened."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from contracts.enums import EvidenceKind, RejectReason
from contracts.registry import Payload, event


@event("evidence.submitted", 1)
class EvidenceSubmitted(Payload):
    evidence_id: str
    issue_id: str
    kind: EvidenceKind
    sha256: str
    size: int
    media_type: str
    captured_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    org_id: str | None = None
    flags: list[str] = Field(default_factory=list)


class FlagDetail(Payload):
    """Why one integrity flag was raised: the rule, a readable message, and what it matched."""

    flag: str
    message: str
    match: str | None = None
    source: str | None = None
    evidence_id: str | None = None
    issue_id: str | None = None
    distance: int | None = None
    distance_m: int | None = None


@event("evidence.flagged", 1)
class EvidenceFlagged(Payload):
    """An uploaded file looks like superficial rectification (表面整改): reused, too old, far away, or bare."""

    evidence_id: str
    issue_id: str
    sha256: str
    flags: list[str]
    details: list[FlagDetail] = Field(default_factory=list)
    responsible_org_id: str | None = None
    supervising_org_id: str | None = None
    org_id: str | None = None


@event("closure.requested", 1)
class ClosureRequested(Payload):
    closure_id: str
    issue_id: str
    responsible_org_id: str
    supervising_org_id: str
    summary: str
    evidence_ids: list[str]
    attempt: int = 1


@event("closure.accepted", 1)
class ClosureAccepted(Payload):
    closure_id: str
    issue_id: str
    responsible_org_id: str
    supervising_org_id: str
    opinion: str | None = None
    inspected_on: date | None = None
    evidence_ids: list[str] = Field(default_factory=list)
    attempt: int | None = None


@event("closure.rejected", 1)
class ClosureRejected(Payload):
    closure_id: str
    issue_id: str
    responsible_org_id: str
    supervising_org_id: str
    opinion: str
    reason_code: RejectReason
    inspected_on: date | None = None
    evidence_ids: list[str] = Field(default_factory=list)
    attempt: int | None = None


@event("closure.filed", 1)
class ClosureFiled(Payload):
    closure_id: str
    issue_id: str
    responsible_org_id: str


@event("issue.reopened", 1)
class IssueReopened(Payload):
    reopening_id: str
    issue_id: str
    responsible_org_id: str
    reason: str
    evidence_ids: list[str] = Field(default_factory=list)
    supervising_org_id: str | None = None
    from_status: str | None = None
    number: int | None = None

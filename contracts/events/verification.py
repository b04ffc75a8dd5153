"""Events published by the verification service: evidence.*, closure.*, issue.reopened."""

from __future__ import annotations

from datetime import date, datetime

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
    evidence_ids: list[str] = []


@event("closure.rejected", 1)
class ClosureRejected(Payload):
    closure_id: str
    issue_id: str
    responsible_org_id: str
    supervising_org_id: str
    opinion: str
    reason_code: RejectReason
    inspected_on: date | None = None
    evidence_ids: list[str] = []


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
    evidence_ids: list[str] = []

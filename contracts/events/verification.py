"""Events published by the verification service: evidence.*, closure.*, issue.reopened."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from contracts.enums import EvidenceKind, ReinspectionOutcome, RejectReason
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
    """备案: the inspection office filed a signed-off issue. `closure_id` names the accepted application filed; it
    is None (a compatible change: optional) when the sign-off was moved in with a ledger kept elsewhere (台账迁入),
    so that no application of this service stands behind it."""

    closure_id: str | None = None
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
    # 抽查: the re-inspection draw whose finding this rebound is (added later, optional: older logs have none)
    sample_id: str | None = None


class SampleCheckpoint(Payload):
    """The verification log's newest signed checkpoint when a draw was made: the draw's public randomness.
    Size 0 with the genesis root when the log had none yet (then key_id, time and signature are absent)."""

    service: str
    size: int = Field(ge=0)
    root: str
    time: str | None = None
    key_id: str | None = None
    signature: str | None = None


class SampleCandidate(Payload):
    issue_id: str
    stratum: str = ""


class SampleStratum(Payload):
    stratum: str
    candidates: int
    drawn: int


class SampleItem(Payload):
    """A drawn task, with who signed it off (a re-inspector must be of another org) and whose task it is."""

    issue_id: str
    stratum: str = ""
    code: str | None = None
    responsible_org_id: str
    supervising_org_id: str
    accepted_by_org_id: str | None = None
    accepted_by: str | None = None


@event("sample.drawn", 1)
class SampleDrawn(Payload):
    """A random re-inspection draw (抽查) of signed-off or filed tasks, with every input it was computed from, so
    that anyone recomputes it from the log alone (contracts.sampling.draw). `share` is decimal text ("0.1"), exact;
    `scope` says whether the candidates are the tasks signed off in `period` or every task signed off or filed."""

    sample_id: str
    algorithm: str
    period: str
    scope: Literal["period", "all"]
    basis: Literal["share", "count"]
    share: str | None = None
    count: int | None = None
    stratify_by: Literal["none", "region", "category"]
    checkpoint: SampleCheckpoint
    candidates: list[SampleCandidate]
    seed: str
    strata: list[SampleStratum]
    items: list[SampleItem]


@event("sample.reinspected", 1)
class SampleReinspected(Payload):
    """A drawn task re-inspected (复核) by a supervisor of another org than the one that signed it off: confirmed,
    or a rebound found (then `reopening_id` names the issue.reopened it caused)."""

    sample_id: str
    period: str
    issue_id: str
    outcome: ReinspectionOutcome
    opinion: str
    inspected_on: date | None = None
    evidence_ids: list[str] = Field(default_factory=list)
    responsible_org_id: str
    supervising_org_id: str
    accepted_by_org_id: str | None = None
    reinspector_org_id: str
    reopening_id: str | None = None

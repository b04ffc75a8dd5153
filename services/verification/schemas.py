"""What the verification API reads (`*In`) and answers (`*Out`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.enums import EvidenceKind, ReinspectionOutcome, RejectReason
from contracts.sampling import share_fraction
from runtime.answers import Out
from runtime.errors import Invalid
from runtime.values import BoundedDatetime, IsoDate
from services.verification.sniff import ALLOWED
from services.verification.upload import is_sha256

# ---- requests -----------------------------------------------------------------------------------------------


class UploadForm(BaseModel):
    """The text fields of an evidence upload."""

    model_config = ConfigDict(extra="ignore")
    issue_id: str = Field(min_length=1, max_length=36)
    kind: EvidenceKind
    captured_at: BoundedDatetime | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=2000)
    sha256: str | None = None

    @field_validator("captured_at", "latitude", "longitude", "note", "sha256", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("captured_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2020-06-01T10:00:00+08:00")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not is_sha256(v):
            raise ValueError("must be the file's SHA-256 as 64 hex digits")
        return v.lower() if v else v

    @model_validator(mode="after")
    def _both_or_neither(self) -> UploadForm:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give latitude and longitude together")
        return self


UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "issue_id", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "证据文件 (JPEG, PNG, WebP, PDF, XLSX, DOCX or CSV; the type is read from the content)"},
        "issue_id": {"type": "string", "minLength": 1, "maxLength": 36},
        "kind": {"type": "string", "enum": [k.value for k in EvidenceKind]},
        "captured_at": {"type": "string", "format": "date-time"},
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "note": {"type": "string", "maxLength": 2000},
        "sha256": {"type": "string", "description": "the client's SHA-256 of the file; a mismatch is refused"},
    }}}}}}

# The evidence content route answers the stored file with its sniffed type.
CONTENT_TYPES = {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in ALLOWED}


class ClosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_id: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=20000)
    evidence_ids: list[str] = Field(min_length=1)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject"]
    opinion: str | None = Field(default=None, max_length=20000)
    reason_code: RejectReason | None = None
    inspected_on: IsoDate | None = None
    evidence_ids: list[str] = []

    @model_validator(mode="after")
    def _reject_needs_reason(self) -> DecisionIn:
        if self.decision == "reject":
            problems = []
            if not (self.opinion or "").strip():
                problems.append({"field": "opinion", "message": "required when rejecting"})
            if self.reason_code is None:
                problems.append({"field": "reason_code", "message": "required when rejecting"})
            if problems:
                raise Invalid("a rejection needs an opinion and a reason_code", details=problems)
        return self


class FilingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_id: str = Field(min_length=1, max_length=36, description="the signed-off issue to file (备案)")


class ReopeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=20000)
    evidence_ids: list[str] = []


# ---- answers ------------------------------------------------------------------------------------------------


class FlagOut(Out):
    """Why an integrity flag was raised (reused photo, taken before the issue existed, far from the site)."""

    model_config = ConfigDict(extra="allow")
    flag: str
    message: str


class CaptureFactsOut(Out):
    captured_at: datetime | None
    latitude: float | None
    longitude: float | None


class CaptureOut(Out):
    """What the client said of the capture, and what the file itself says (EXIF), side by side."""

    client: CaptureFactsOut
    exif: CaptureFactsOut


class EvidenceOut(Out):
    """One evidence file's record: its content address, the client's and the file's capture data, its flags."""

    id: str
    issue_id: str
    kind: EvidenceKind
    sha256: str
    size: int
    media_type: str = Field(description="由内容判定的类型 (sniffed from the content)")
    filename: str | None
    captured_at: datetime | None
    latitude: float | None
    longitude: float | None
    note: str | None
    flags: list[str]
    flag_details: list[FlagOut]
    uploaded_by: str
    org_id: str | None
    created_at: datetime
    capture: CaptureOut


class ClosureOut(Out):
    """An application for sign-off (申请销号) and where it stands."""

    id: str
    issue_id: str
    responsible_org_id: str
    supervising_org_id: str
    summary: str
    evidence_ids: list[str]
    state: Literal["open", "accepted", "rejected", "filed"]
    attempt: int
    resubmissions: int
    created_by: str
    created_at: datetime
    decided_at: datetime | None
    filed_at: datetime | None
    filed_by: str | None


class DecisionEvidenceOut(Out):
    id: str
    sha256: str
    on_site: bool


class DecisionOut(Out):
    """A supervisor's decision, with the evidence hashes as they were at the time."""

    decision: Literal["accept", "reject"]
    opinion: str | None
    reason_code: RejectReason | None
    inspected_on: date | None
    evidence: list[DecisionEvidenceOut]
    decided_by: str
    decided_org: str | None
    decided_at: datetime


class FilingOut(Out):
    """A filing (备案) of a signed-off issue: of its accepted application, or of a sign-off moved in by import."""

    issue_id: str
    closure_id: str | None = Field(description="the application filed; null for a sign-off moved in with a ledger "
                                               "(台账迁入), which no application here stands behind")
    status: Literal["filed"]
    filed_at: datetime
    filed_by: str


class ClosureDetailOut(ClosureOut):
    """An application with every decision taken on it."""

    decisions: list[DecisionOut]


class ClosureDecidedOut(ClosureOut):
    """An application and the decision just taken."""

    decision: DecisionOut


class ReopeningOut(Out):
    """A rebound (反弹): a signed-off or filed issue sent back to in_progress."""

    id: str
    issue_id: str
    closure_id: str | None
    from_status: str
    reason: str
    evidence_ids: list[str]
    number: int
    reopened_by: str
    reopened_org: str | None
    created_at: datetime


class ReopenedOut(ReopeningOut):
    """The rebound just recorded and how many the issue has had."""

    reopenings: int


# ---- re-inspection (抽查) -----------------------------------------------------------------------------------

MAX_EVIDENCE_IDS = 50


def _share_text(value: float) -> str:
    """A share as the exact decimal text the draw records (0.1 → "0.1"), at most 4 decimals."""
    text = format(Decimal(str(value)).normalize(), "f")
    try:
        share_fraction(text)
    except ValueError as exc:
        raise Invalid(f"抽查比例须大于 0、不超过 1,最多 4 位小数 (share: {exc})",
                      details=[{"field": "share", "message": "between 0 (exclusive) and 1, at most 4 decimals"}]
                      ) from None
    return text


class SampleIn(BaseModel):
    """A re-inspection draw: a share or a count of the signed-off or filed tasks, optionally stratified."""

    model_config = ConfigDict(extra="forbid")
    period: str = Field(min_length=4, max_length=7, description="抽查期间 2020-09, 2020-H2 or 2020")
    scope: Literal["period", "all"] = Field(
        default="period", description="period: tasks signed off in the period; all: every signed-off or filed task")
    share: float | None = Field(default=None, gt=0, le=1, description="抽查比例, e.g. 0.1 (at least 10% of each "
                                                                      "stratum, rounded up)")
    count: int | None = Field(default=None, ge=1, le=1000, description="抽查数量 (per stratum when stratified)")
    stratify_by: Literal["none", "region", "category"] = "none"

    @model_validator(mode="after")
    def _share_or_count(self) -> SampleIn:
        if (self.share is None) == (self.count is None):
            raise Invalid("请给出抽查比例 share 或抽查数量 count,二者取其一 (give exactly one of share and count)",
                          details=[{"field": "share", "message": "give share or count, not both"},
                                   {"field": "count", "message": "give share or count, not both"}])
        return self

    @property
    def basis(self) -> str:
        return "share" if self.share is not None else "count"

    @property
    def share_text(self) -> str | None:
        return _share_text(self.share) if self.share is not None else None


class ReinspectionIn(BaseModel):
    """The re-inspection of one drawn task: the sign-off stands (confirmed), or the problem came back (rebound)."""

    model_config = ConfigDict(extra="forbid")
    outcome: ReinspectionOutcome
    opinion: str = Field(min_length=1, max_length=20000)
    inspected_on: IsoDate | None = None
    evidence_ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(
        default_factory=list, max_length=MAX_EVIDENCE_IDS)


class SampleCheckpointOut(Out):
    """The signed checkpoint whose root seeded the draw (size 0 with the genesis root before any)."""

    service: str
    size: int
    root: str
    time: str | None = None
    key_id: str | None = None
    signature: str | None = None


class SampleStratumOut(Out):
    stratum: str = Field(description="区域或类别 (\"\" when not stratified or not given)")
    candidates: int
    drawn: int


class SampleItemOut(Out):
    """A drawn task and its re-inspection (outcome null while pending)."""

    sample_id: str
    issue_id: str
    position: int
    stratum: str
    code: str | None
    responsible_org_id: str
    supervising_org_id: str
    accepted_by_org_id: str | None
    accepted_by: str | None
    outcome: ReinspectionOutcome | None
    opinion: str | None
    inspected_on: date | None
    evidence_ids: list[str]
    reinspected_by: str | None
    reinspector_org_id: str | None
    reinspected_at: datetime | None
    reopening_id: str | None


class SampleSummaryOut(Out):
    """A draw, its inputs and how far its re-inspections are."""

    id: str
    algorithm: str
    period: str
    scope: Literal["period", "all"]
    basis: Literal["share", "count"]
    share: str | None
    count: int | None
    stratify_by: Literal["none", "region", "category"]
    checkpoint: SampleCheckpointOut
    seed: str
    candidates: int
    strata: list[SampleStratumOut]
    drawn_by: str
    drawn_at: datetime
    drawn: int
    pending: int
    confirmed: int
    rebound: int


class SampleOut(SampleSummaryOut):
    """A draw with its drawn tasks."""

    items: list[SampleItemOut]

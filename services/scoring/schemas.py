"""What the scoring API reads (`*In`) and answers (`*Out`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contracts.enums import TargetOp, ZoneType
from runtime.answers import Out
from runtime.values import Instant

Number = int | float

# ---- requests -----------------------------------------------------------------------------------------------


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: str = Field(min_length=1, max_length=64)
    indicator: str = Field(min_length=1, max_length=100)
    value: float
    observed_at: Instant


MAX_READINGS = 1000


def _bounded_batch(value: Any) -> Any:
    # Checked before any reading is validated, so a huge list is refused at once.
    if isinstance(value, list) and len(value) > MAX_READINGS:
        raise ValueError(f"一次最多提交 {MAX_READINGS} 条监测数据，收到 {len(value)} 条；请分批提交 / at most "
                         f"{MAX_READINGS} readings per request, got {len(value)}: send them in batches")
    if isinstance(value, list) and not value:
        raise ValueError("send one reading or a non-empty list")
    return value


ReadingBatch = Annotated[list[ReadingIn], Field(min_length=1, max_length=MAX_READINGS)]
ReadingsIn = Annotated[ReadingIn | ReadingBatch, BeforeValidator(_bounded_batch)]


class RankingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(min_length=4, max_length=10)
    kind: str = Field(pattern="^(region|department)$")
    scheme_id: str = Field(default="default", min_length=1, max_length=64)
    scheme_version: int | None = Field(default=None, ge=1)


class PenaltyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Number = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. CNY")
    note: str | None = None


class SchemeIn(BaseModel):
    """A new version of a scheme; the service checks it whole and names every bad field (422)."""

    model_config = ConfigDict(extra="forbid")
    weights: dict[ZoneType, dict[Literal["on_time_closure", "completion", "quality", "environment"], Number]] = Field(
        description="每类功能区各项权重,和为 1 (per zone type, the weight of each component; they sum to 1)")
    bottom_named: int = Field(default=3, ge=0, description="通报排名靠后的个数 (how many of the bottom are named)")
    penalized: int = Field(default=1, ge=0, description="经济处罚的个数 (how many of the last are penalised)")
    penalty: PenaltyIn | None = None


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return dict(_inlined(schema, schema.pop("$defs", {})))


# The body is read as a plain object so that the scheme's own checks name every bad field at once;
# the schema says what they accept.
SCHEME_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": _schema_of(SchemeIn)}}}}


# ---- answers ------------------------------------------------------------------------------------------------


class PenaltyOut(Out):
    amount: Number
    currency: str
    note: str | None


class SchemeOut(Out):
    """One version of a scheme and the versions that exist."""

    id: str
    version: int
    weights: dict[str, dict[str, Number]]
    bottom_named: int
    penalized: int
    penalty: PenaltyOut | None
    created_at: datetime
    created_by: str
    versions: list[int]


class ReadingOut(Out):
    id: str
    org_id: str
    indicator: str
    value: float
    observed_at: datetime
    recorded_at: datetime


class ComponentOut(Out):
    """A component's score 0–100, how it was computed, and its weight for the assessee's zone type."""

    score: float
    numerator: Number
    denominator: int
    weight: Number
    formula: str


class OnTimeOut(ComponentOut):
    due: int
    signed_off_by_deadline: int


class CompletionOut(ComponentOut):
    assigned: int
    signed_off_or_filed: int


class QualityOut(ComponentOut):
    rejected: int
    reopened: int


class TargetScoreOut(Out):
    issue_id: str
    indicator: str
    op: TargetOp
    target: float
    reading: float | None
    observed_at: datetime | None
    met: bool | None
    attainment: float | None
    included: bool


class EnvironmentOut(ComponentOut):
    targets: list[TargetScoreOut]


class ComponentsOut(Out):
    on_time_closure: OnTimeOut
    completion: CompletionOut
    quality: QualityOut
    environment: EnvironmentOut


class ScoreRowOut(Out):
    """One assessee's score, rank and components."""

    org_id: str
    org_name: str
    zone_type: str
    score: float
    overdue: int
    components: ComponentsOut
    rank: int


class ScoresOut(Out):
    """The ranked scores of a period (all assessees of the kind; never more than one page)."""

    period: str
    kind: str
    scheme_id: str
    scheme_version: int
    start: datetime
    end: datetime
    as_of: datetime
    items: list[ScoreRowOut]
    next_cursor: None = None


class RankingRowOut(ScoreRowOut):
    named: bool = Field(description="是否通报 (named among the bottom)")
    penalty: PenaltyOut | None


class RankingOut(Out):
    """A published (frozen) ranking; a correction supersedes it."""

    id: str
    period: str
    kind: str
    scheme_id: str
    scheme_version: int
    generation: int
    supersedes: str | None
    correction: bool
    superseded_by: str | None
    as_of: datetime
    published_at: datetime
    published_by: str
    rows: list[RankingRowOut]
    bottom_named: list[str]
    penalized: list[str]


class FactTargetOut(Out):
    indicator: str
    op: str
    value: float


class IssueFactOut(Out):
    """What scoring has recorded of an issue: its state after every event consumed."""

    id: str
    responsible_org_id: str | None
    deadline: date | None
    status: str | None
    registered_at: datetime | None
    signed_off_at: datetime | None
    target: FactTargetOut | None
    events: int


# ---- the working-day calendar -----------------------------------------------------------------------------------


class CalendarYearIn(BaseModel):
    """A whole year's arrangement as the State Council published it (国务院办公厅关于部分节假日安排的通知)."""

    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = Field(max_length=366, description="every day off of the public holidays, weekends inside "
                                                             "them included")
    workdays: list[date] = Field(max_length=120, description="Saturdays and Sundays worked (调休上班)")
    source: str = Field(min_length=1, max_length=200, description="where the table comes from, e.g. 国办发明电〔2019〕16号")


class CalendarYearOut(Out):
    """A year of the calendar and how many working days it has."""

    year: int
    holidays: list[date]
    workdays: list[date]
    source: str
    updated_at: datetime
    working_days: int


class WorkingDaysOut(Out):
    """The n-th working day after a day."""

    start: date
    days: int
    due: date

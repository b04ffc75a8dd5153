"""What the scoring API reads (`*In`) and answers (`*Out`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contracts.enums import AppealOutcome, TargetOp, ZoneType
from runtime.answers import Out
from runtime.pagination import Page
from runtime.values import Instant
from services.scoring.domain import COMPONENTS, MAX_WINDOW_DAYS

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
    milestone_missed_points: Number = Field(default=5, ge=0, le=100, description=(
        "每个未按期完成的重要节点扣减整改质量分值 (points the quality component loses per missed milestone)"))
    appeal_days: int = Field(default=5, ge=1, le=MAX_WINDOW_DAYS,
                             description="发布后可申诉的工作日数 (working days after publication a unit may appeal)")
    decision_days: int = Field(default=10, ge=1, le=MAX_WINDOW_DAYS,
                               description="申诉后复核决定的工作日数 (working days after an appeal the office decides)")


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
    milestone_missed_points: Number = Field(description="每个未按期完成的重要节点扣减的整改质量分值")
    appeal_days: int
    decision_days: int
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
    missed_milestones: int = Field(default=0, description=(
        "未按期完成的重要节点: milestones due in the period not reported met by the end of their day (a report not "
        "disputed since) and whose task was not signed off by then"))
    milestone_missed_points: Number = Field(default=5, description="每个扣减的分值 (the scheme's points per miss)")


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


class RankingCorrectionOut(Out):
    """Why this ranking corrects the one it supersedes: the appeal upheld and the values before and after."""

    appeal_id: str
    org_id: str
    component: str
    outcome: AppealOutcome
    previous: dict[str, float]
    corrected: dict[str, float]
    reasons: str


class FeedPositionOut(Out):
    """How far scoring had read one log it follows: a peer's feed (embedded bus) or a topic partition (Kafka)."""

    feed: str = Field(description="日志名称:对端服务名或 Kafka 主题 (a peer's feed or a Kafka topic)")
    partition: int | None = Field(description="Kafka 分区;嵌入式总线为空 (the topic partition; null on the "
                                              "embedded bus)")
    position: int = Field(description="已读到的位置 (the feed position, or the offset of the next message to read)")


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
    on_appeal: RankingCorrectionOut | None = Field(
        description="复核更正:因申诉成立而发布时的说明 (set when published on an appeal's decision)")
    positions: list[FeedPositionOut] | None = Field(default=None, description=(
        "计算排名时评分服务读到的各日志位置 (how far scoring had read each log it follows when it computed the "
        "table; null for rankings published before this was recorded)"))


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


# ---- accountability clues (问责线索) ------------------------------------------------------------------------


class ClueEventOut(Out):
    """An event that triggered a clue: its id, type, time and the service that recorded it."""

    model_config = ConfigDict(extra="allow")
    event_id: str
    type: str
    time: datetime
    source: str


class ClueOut(Out):
    """A unit or task that meets a rule, the rule and its threshold, what was found, and the events behind it.
    A clue is a fact and a rule, not a judgement."""

    id: str = Field(description="稳定编号 (rule|org|issue)")
    rule: str
    rule_zh: str
    threshold: dict[str, int]
    org_id: str | None
    org_name: str | None
    issue_id: str | None
    code: str | None
    found: dict[str, Any]
    summary_zh: str
    events: list[ClueEventOut]


class ClueRuleOut(Out):
    """A rule of the clues: whether it is active (its events exist in the contracts) and its thresholds."""

    rule: str
    rule_zh: str
    active: bool
    threshold: dict[str, int]


class CluesOut(Page[ClueOut]):
    """A page of clues, and every rule with its threshold (so an empty list still says what was looked for)."""

    rules: list[ClueRuleOut]
    as_of: datetime


# ---- appeals (申诉 / 复核) ------------------------------------------------------------------------------------------

Component = Literal["on_time_closure", "completion", "quality", "environment"]
assert set(COMPONENTS) == set(Component.__args__)  # type: ignore[attr-defined]  # one list of components
MAX_REASON = 2000
MAX_EVIDENCE = 20
EvidenceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class AppealIn(BaseModel):
    """A ranked unit's appeal against one component of its row (申诉)."""

    model_config = ConfigDict(extra="forbid")
    component: Component = Field(description="所申诉的考核项 (the disputed component of the scheme)")
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="申诉理由 (why, at most 2,000 characters)")
    evidence_ids: list[EvidenceId] = Field(default_factory=list, max_length=MAX_EVIDENCE,
                                           description="佐证材料编号 (ids of evidence already uploaded, at most 20)")


class AppealDecisionIn(BaseModel):
    """The inspection office's decision on an appeal (复核决定)."""

    model_config = ConfigDict(extra="forbid")
    outcome: AppealOutcome = Field(description="upheld 成立, partly_upheld 部分成立, refused 不成立")
    reasons: str = Field(min_length=1, max_length=MAX_REASON, description="复核意见 (reasons, at most 2,000 characters)")
    correction: dict[Component, Score] | None = Field(
        default=None, max_length=len(COMPONENTS),
        description="更正后的分值 (corrected component values of the appellant, 0–100; upheld and partly upheld only; "
                    "must include the disputed component)")


class AppealOut(Out):
    """An appeal and, once taken, its decision."""

    id: str
    ranking_id: str
    period: str
    kind: str
    scheme_id: str
    org_id: str
    org_name: str | None
    component: str
    disputed_value: float = Field(description="申诉时该项已发布的分值 (the component's published score)")
    reason: str
    evidence_ids: list[str]
    filed_at: datetime
    filed_by: str
    filed_on: date
    appeal_due: date = Field(description="申诉期最后一日 (last day of the appeal window)")
    decision_due: date = Field(description="复核期最后一日 (last day of the decision window)")
    status: Literal["pending", "upheld", "partly_upheld", "refused"]
    reasons: str | None
    previous: dict[str, float] | None
    correction: dict[str, float] | None
    corrected_ranking_id: str | None = Field(description="更正后发布的排名 (the ranking published on the decision)")
    decided_at: datetime | None
    decided_by: str | None
    decided_on: date | None
    late: bool = Field(description="逾期复核 (decided after decision_due)")

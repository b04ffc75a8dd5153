"""Enums shared across services."""

from enum import StrEnum


class OrgKind(StrEnum):
    inspection_office = "inspection_office"
    department = "department"
    region = "region"


class ZoneType(StrEnum):
    urban_core = "urban_core"
    ecological = "ecological"
    industrial = "industrial"
    agricultural = "agricultural"
    department = "department"


class RoundLevel(StrEnum):
    central = "central"
    central_lookback = "central_lookback"
    regional = "regional"


class IssueStatus(StrEnum):
    registered = "registered"
    in_progress = "in_progress"
    closure_requested = "closure_requested"
    signed_off = "signed_off"
    filed = "filed"


class Role(StrEnum):
    admin = "admin"
    responsible = "responsible"
    supervisor = "supervisor"
    leader = "leader"
    auditor = "auditor"
    system = "system"


class TargetOp(StrEnum):
    le = "<="
    ge = ">="
    eq = "=="


class EvidenceKind(StrEnum):
    photo = "photo"
    document = "document"
    monitoring = "monitoring"


class Decision(StrEnum):
    accept = "accept"
    reject = "reject"


class RejectReason(StrEnum):
    insufficient_evidence = "insufficient_evidence"
    target_not_met = "target_not_met"
    superficial = "superficial"
    other = "other"


class ReinspectionOutcome(StrEnum):
    """What a re-inspection (抽查复核) of a drawn task found: the sign-off stands, or the problem came back."""

    confirmed = "confirmed"
    rebound = "rebound"


class AppealOutcome(StrEnum):
    """The inspection office's decision on an appeal against a ranking (申诉复核结论)."""

    upheld = "upheld"  # 申诉成立,予以更正
    partly_upheld = "partly_upheld"  # 部分成立,予以更正
    refused = "refused"  # 申诉不成立,维持原排名

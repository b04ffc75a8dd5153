"""Rules of sign-off (销号制) and of evidence integrity (紧盯表面整改). No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from contracts import lifecycle
from contracts.lifecycle import Action
from runtime.clock import SHANGHAI
from runtime.errors import Conflict

REUSED = "reused"
BEFORE_ISSUE = "before_issue"
FAR_FROM_SITE = "far_from_site"
NO_CAPTURE_METADATA = "no_capture_metadata"


def _illegal(message: str, field_: str, detail: str) -> Conflict:
    return Conflict(message, code="illegal_transition", details=[{"field": field_, "message": detail}])


def _from(action: Action) -> str:
    return ", ".join(lifecycle.sources_of(action))


def check_can_apply(*, status: str) -> None:
    """A closure may be applied for only where the lifecycle allows `apply` (registered or in_progress)."""
    if lifecycle.next_status(Action.apply, status) is None:
        raise _illegal(f"cannot apply for sign-off of an issue that is {status}", "issue_id",
                       f"issue is {status}; allowed from {_from(Action.apply)}")


def check_open(*, state: str) -> None:
    """Only an open application can be decided."""
    if state != "open":
        raise _illegal(f"this application is already {state}", "decision", f"application is {state}")


def check_can_file(*, state: str, status: str) -> None:
    """Only an accepted application of an issue still signed off can be filed (备案)."""
    if state != "accepted" or lifecycle.next_status(Action.file, status) is None:
        raise _illegal(f"cannot file an application that is {state} (issue {status})", "closure_id",
                       f"application is {state} and issue {status}; filing needs an accepted application "
                       "of a signed-off issue")


def check_can_file_moved_in(*, status: str) -> None:
    """A sign-off moved in with a ledger (no application here) is filed only while the issue is signed off."""
    if lifecycle.next_status(Action.file, status) is None:
        raise _illegal(f"cannot file an issue that is {status}", "issue_id",
                       f"issue is {status}; filing needs a signed-off issue")


def check_can_reopen(*, status: str) -> None:
    """A rebound reopens only where the lifecycle allows `reopen` (signed off or filed)."""
    if lifecycle.next_status(Action.reopen, status) is None:
        raise _illegal(f"cannot reopen an issue that is {status}", "issue_id",
                       f"issue is {status}; allowed from {_from(Action.reopen)}")


# An application's states, by the event that puts it there, and the state it must have been in before.
CLOSURE_MOVES: dict[str, tuple[str | None, str]] = {
    "closure.requested": (None, "open"),
    "closure.accepted": ("open", "accepted"),
    "closure.rejected": ("open", "rejected"),
    "closure.filed": ("accepted", "filed"),
}


def closure_move(event_type: str, current: str | None) -> tuple[str, str | None]:
    """The application's state after one of this service's closure.* events (the fold the audit replay runs),
    and what is wrong with the move (None when the state before was the one the event needs)."""
    expected, new = CLOSURE_MOVES[event_type]
    if current != expected:
        what = "was never requested" if current is None else f"is {current}, cannot become {new}"
        return new, what
    return new, None


def handed_over_at(*, registered_at: datetime, feedback_on: date | None) -> datetime:
    """When the finding was handed over: the round's feedback day (start, Shanghai) or registration, the earlier."""
    if feedback_on is None:
        return registered_at
    feedback = datetime.combine(feedback_on, time(0, 0), tzinfo=SHANGHAI)
    return min(feedback, registered_at)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Capture:
    """Where and when one source (EXIF or the client) says the file was captured."""

    source: str
    captured_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class Flags:
    """The integrity flags of one evidence file, each with why."""

    codes: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    def add(self, code: str, message: str, **extra: Any) -> None:
        """Raise a flag (once per code; further reasons are kept in details)."""
        if code not in self.codes:
            self.codes.append(code)
        self.details.append({"flag": code, "message": message, **extra})


def integrity_flags(*, is_photo: bool, captures: list[Capture], handed_over: datetime,
                    site: dict[str, Any] | None, far_metres: float,
                    reused_by_hash: list[dict[str, str]], reused_by_look: list[dict[str, Any]]) -> Flags:
    """紧盯表面整改: reused, captured before the hand-over, far from the site, or no capture metadata at all."""
    flags = Flags()
    for other in reused_by_hash:
        flags.add(REUSED, "the same file is already evidence of another issue", match="sha256", **other)
    for other in reused_by_look:
        flags.add(REUSED, "a near-identical image is already evidence of another issue", match="phash", **other)
    for c in captures:
        if c.captured_at is not None and c.captured_at < handed_over:
            flags.add(BEFORE_ISSUE, f"captured {c.captured_at.astimezone(SHANGHAI).isoformat()} ({c.source}), "
                      f"before the finding was handed over on {handed_over.astimezone(SHANGHAI).date()}",
                      source=c.source)
        if site and c.latitude is not None and c.longitude is not None:
            d = distance_m(c.latitude, c.longitude, float(site["latitude"]), float(site["longitude"]))
            if d > far_metres:
                flags.add(FAR_FROM_SITE, f"taken {d:.0f} m from the site ({c.source}); allowed {far_metres:.0f} m",
                          source=c.source, distance_m=round(d))
    if is_photo and not any(c.captured_at or c.latitude is not None for c in captures):
        flags.add(NO_CAPTURE_METADATA, "the photo carries no capture time or place, and none was given")
    return flags


def reinspector_refusal(*, org: str | None, user: str, accepted_by_org_id: str | None, accepted_by: str | None,
                        responsible_org_id: str, cooperating_org_ids: list[str],
                        supervising_org_id: str) -> str | None:
    """Why this supervisor may not re-inspect a drawn task (None when they may).

    抽查复核 is a second pair of eyes: the re-inspector is a supervisor of ANOTHER org than the one that signed the
    task off (and than the one that supervises it now), never the person who signed it off, and never the unit
    whose rectification it is."""
    if org is None:
        return "a re-inspector acts for an org; the token names none"
    if accepted_by is not None and user == accepted_by:
        return "you signed this task off yourself"
    if org in {accepted_by_org_id, supervising_org_id}:
        return "your org signed this task off or supervises it; another org's supervisor re-inspects it"
    if org == responsible_org_id or org in cooperating_org_ids:
        return "your org is responsible for this task (or cooperates on it)"
    return None

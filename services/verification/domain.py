"""Rules of sign-off (销号制). No I/O."""

from __future__ import annotations

from runtime.errors import Conflict

APPLICABLE = {"registered", "in_progress"}
REOPENABLE = {"signed_off", "filed"}


def check_can_apply(*, status: str) -> None:
    """A closure may be applied for only from registered or in_progress."""
    if status not in APPLICABLE:
        raise Conflict(f"cannot apply for sign-off of an issue that is {status}",
                       details=[{"field": "issue_id", "message": f"issue is {status}; allowed from registered, in_progress"}],
                       code="illegal_transition")


def check_open(*, state: str) -> None:
    """Only an open application can be decided."""
    if state != "open":
        raise Conflict(f"this application is already {state}", code="illegal_transition",
                       details=[{"field": "decision", "message": f"application is {state}"}])

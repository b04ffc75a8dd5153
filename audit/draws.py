"""Recompute every re-inspection draw (抽查, `sample.drawn`) from an exported log alone.

For each draw the auditor's tool, with no service running:
1. recomputes the seed and the drawn tasks from the inputs the event records (contracts.sampling.draw, the very
   function the service ran) and compares them with the seed, strata and tasks the event says were drawn;
2. finds the checkpoint the seed came from among the exported, signed checkpoints of the verification log (its
   size and root; signatures are `closeloop audit verify`'s), and checks it was signed before the draw, i.e.
   that its size is smaller than the draw event's position in the log;
3. checks that every candidate is a task the issues log registered, and that each was signed off or filed by
   then according to the verification log (an accepted application not reopened since) or, for a sign-off taken
   over from a ledger, the issues log (issue.status_changed before the draw). These are notes, not mismatches:
   the logs of two services are compared, and a delivery delay can show there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.files import checkpoints_file, events_file
from audit.records import LoggedEvent
from audit.verify import read_jsonl, verify_service
from contracts import GENESIS_HASH, lifecycle
from contracts import sampling as rules


def recompute(data: dict[str, Any]) -> list[str]:
    """What differs between a sample.drawn payload and the draw its own inputs give (empty when it agrees)."""
    try:
        candidates = [rules.Candidate(str(c["issue_id"]), str(c.get("stratum", ""))) for c in data["candidates"]]
        cp = data["checkpoint"]
        again = rules.draw(period=data["period"], basis=data["basis"], share=data.get("share"),
                           count=data.get("count"), stratify_by=data["stratify_by"],
                           checkpoint_service=cp["service"], checkpoint_size=int(cp["size"]),
                           checkpoint_root=cp["root"], candidates=candidates)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"its inputs cannot be drawn from again: {exc}"]
    problems = []
    if data.get("algorithm") != rules.ALGORITHM:
        problems.append(f"algorithm {data.get('algorithm')!r} is not {rules.ALGORITHM}")
    if again.seed != data.get("seed"):
        problems.append(f"seed {str(data.get('seed'))[:12]}… recorded, the inputs give {again.seed[:12]}…")
    recorded = [(str(i["issue_id"]), str(i.get("stratum", ""))) for i in data.get("items", [])]
    drawn = [(c.issue_id, c.stratum) for c in again.items]
    if recorded != drawn:
        problems.append(f"tasks drawn {[i for i, _ in recorded]} recorded, the inputs give {[i for i, _ in drawn]}")
    strata = [(s.get("stratum"), s.get("candidates"), s.get("drawn")) for s in data.get("strata", [])]
    if strata != [(s.stratum, s.candidates, s.drawn) for s in again.strata]:
        problems.append("the strata's counts recorded differ from those the inputs give")
    return problems


@dataclass
class DrawCheck:
    """What the audit found of one draw."""

    sample_id: str
    position: int
    period: str
    drawn: list[str]
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass
class DrawReport:
    """Every draw of an export, and whether the verification log itself verified."""

    draws: list[DrawCheck]
    log_problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.log_problems and all(d.ok for d in self.draws)


class _ClosedSoFar:
    """Which issues are signed off or filed at each point of the verification log (by its own closure events)."""

    def __init__(self) -> None:
        self.closed: set[str] = set()

    def apply(self, event: LoggedEvent) -> None:
        issue_id = event.data.get("issue_id")
        if not isinstance(issue_id, str):
            return
        if event.type in ("closure.accepted", "closure.filed"):
            self.closed.add(issue_id)
        elif event.type == "issue.reopened":
            self.closed.discard(issue_id)


def _issues_log(root: Path) -> tuple[set[str], list[tuple[str, str, str]]] | None:
    """Registered issue ids and (time, issue, status) moves of the exported issues log; None when absent."""
    path = events_file(root, "issues")
    if not path.exists():
        return None
    registered: set[str] = set()
    moves: list[tuple[str, str, str]] = []
    for line in read_jsonl(path):
        event = line.get("event", {})
        data = event.get("data", {})
        if event.get("type") == "issue.registered":
            registered.add(str(data.get("issue_id")))
        elif event.get("type") == "issue.status_changed":
            moves.append((str(event.get("time")), str(data.get("issue_id")), str(data.get("to_status"))))
    return registered, moves


def _closed_in_issues_log(moves: list[tuple[str, str, str]], before: str) -> set[str]:
    status: dict[str, str] = {}
    for time, issue_id, to_status in moves:
        if time < before:
            status[issue_id] = to_status
    return {i for i, s in status.items() if lifecycle.is_closed(s)}


def check_draws(root: Path, *, trusted: str | None = None) -> DrawReport:
    """Verify the verification log of an export and recompute every draw in it."""
    signed = {(int(cp["size"]), str(cp["root"])) for cp in read_jsonl(checkpoints_file(root, "verification"))}
    closed = _ClosedSoFar()
    draws: list[DrawCheck] = []
    pending: list[tuple[DrawCheck, dict[str, Any], set[str], str]] = []
    position = 0

    def on_event(event: LoggedEvent) -> None:
        nonlocal position
        position += 1
        if event.type == "sample.drawn":
            data = event.data
            check = DrawCheck(sample_id=str(data.get("sample_id")), position=position,
                              period=str(data.get("period")),
                              drawn=[str(i.get("issue_id")) for i in data.get("items", [])])
            check.mismatches.extend(recompute(data))
            cp = data.get("checkpoint") or {}
            size, cp_root = cp.get("size"), cp.get("root")
            if size == 0:
                if cp_root != GENESIS_HASH:
                    check.mismatches.append("a draw before any checkpoint must use the genesis root")
            elif (size, cp_root) not in signed:
                check.mismatches.append(f"no signed checkpoint of size {size} with root {str(cp_root)[:12]}… is in "
                                        "the exported checkpoints")
            if isinstance(size, int) and size >= position:
                check.mismatches.append(f"its checkpoint (size {size}) was not signed before the draw (position "
                                        f"{position})")
            draws.append(check)
            pending.append((check, data, set(closed.closed), event.time))
        closed.apply(event)

    result = verify_service(root, "verification", trusted=trusted, on_event=on_event)
    issues = _issues_log(root)
    for check, data, closed_here, at in pending:
        ids = [str(c.get("issue_id")) for c in data.get("candidates", [])]
        if issues is None:
            check.notes.append("the export has no issues log: candidates not checked against it")
            continue
        registered, moves = issues
        unknown = [i for i in ids if i not in registered]
        if unknown:
            check.notes.append(f"candidates the issues log never registered: {unknown}")
        from_ledger = _closed_in_issues_log(moves, at)
        not_closed = [i for i in ids if i not in closed_here and i not in from_ledger]
        if not_closed:
            check.notes.append(f"candidates neither log shows signed off or filed at the draw: {not_closed}")
    return DrawReport(draws=draws, log_problems=[str(p) for p in result.problems])

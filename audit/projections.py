"""Pure projections of what each service derives from its OWN events, rebuilt from the log alone.

The rules are the services' own: an issue's status moves by `services.issues.domain.move_of` (the issues
service's fold of its own events over `contracts.lifecycle`), closures by `services.verification.domain.
closure_move`; called here, never copied. State the services derive from OTHER services' events is rebuilt by
running their handler tables (see audit.replay). No I/O here, no pydantic per event: events are the audit's typed records
(audit.records.LoggedEvent) and payloads are read as the JSON they are, after the registry's upcasters
bring an older `version` to the newest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.draws import recompute
from audit.records import LoggedActor, LoggedEvent, actor_dict
from contracts.lifecycle import Action
from contracts.registry import REGISTRY, upcast
from services.issues.domain import IllegalMove, Move, move_of
from services.verification.domain import closure_move

Event = LoggedEvent

ISSUE_FIELDS = ("id", "code", "round_id", "category", "title", "description", "region_id", "responsible_org_id",
                "cooperating_org_ids", "supervising_org_id", "leader", "deadline", "target", "measures", "location",
                "status", "parent_id")
MILESTONE_FIELDS = ("id", "due_on", "description", "target", "state", "outcome", "disputed")
ASSIGNMENT_FIELDS = ("responsible_org_id", "cooperating_org_ids", "supervising_org_id", "leader", "region_id",
                     "category", "title", "description", "measures", "target", "location")
STATUS_ACTIONS = frozenset({"register", *(a.value for a in Action)})  # history steps that move the status


def _latest() -> dict[str, int]:
    latest: dict[str, int] = {}
    for t, v in REGISTRY:
        latest[t] = max(v, latest.get(t, 0))
    return latest


class Projections:
    """Every service's own-event projections, fed events in each log's order; `state()` is plain JSON."""

    def __init__(self) -> None:
        self.started: dict[str, str] = {}  # issue id -> its issue.started's id (whose announcement is the same move)
        self.latest = _latest()
        self.orgs: dict[str, dict[str, Any]] = {}
        self.rounds: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, dict[str, Any]] = {}
        self.evidence: dict[str, dict[str, Any]] = {}
        self.closures: dict[str, dict[str, Any]] = {}
        self.reopenings: dict[str, dict[str, Any]] = {}
        self.samples: dict[str, dict[str, Any]] = {}
        self.readings: dict[str, dict[str, Any]] = {}
        self.schemes: dict[str, dict[str, Any]] = {}
        self.rankings: dict[str, dict[str, Any]] = {}
        self.appeals: dict[str, dict[str, Any]] = {}
        self.calendar: dict[str, dict[str, Any]] = {}  # year (as text, a JSON key) -> the table last published
        self.notifications: dict[str, dict[str, Any]] = {}
        self.digests: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}
        self.anomalies: list[str] = []
        self.last_time = ""
        self.actors: dict[str, LoggedActor] = {}
        # move_of's answers for registered issues, by (type, status, from, to, action, announces its start)
        self._moves: dict[tuple[str, str, str | None, str | None, str | None, bool], Move | str | None] = {}
        self.apply_by_type: dict[str, Callable[[Event, dict[str, Any]], None]] = {
            "org.registered": self._org,
            "round.registered": self._round,
            "issue.registered": self._issue_registered,
            "issue.started": self._issue_started,
            "issue.status_changed": self._move,
            "issue.updated": self._issue_updated,
            "issue.progress_reported": self._progress,
            "issue.extension_requested": self._extension_requested,
            "issue.extension_decided": self._extension_decided,
            "issue.milestone_added": self._milestone_added,
            "issue.milestone_reported": self._milestone_reported,
            "issue.milestone_reviewed": self._milestone_reviewed,
            "issue.parent_reopened": self._parent_reopened,
            "evidence.submitted": self._evidence,
            "evidence.flagged": self._evidence_flagged,
            "closure.requested": self._closure_requested,
            "closure.accepted": self._closure_state("accepted"),
            "closure.rejected": self._closure_state("rejected"),
            "closure.filed": self._closure_state("filed"),
            "issue.reopened": self._reopened,
            "sample.drawn": self._sample_drawn,
            "sample.reinspected": self._sample_reinspected,
            "indicator.recorded": self._reading,
            "score.scheme_versioned": self._scheme,
            "ranking.published": self._ranking,
            "appeal.filed": self._appeal_filed,
            "appeal.decided": self._appeal_decided,
            "calendar.year_published": self._calendar_year,
            "notification.created": self._notification,
            "digest.published": self._digest,
        }

    # -- feeding ---------------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event of any service into the state (older versions upcast first)."""
        type_ = event.type
        data = event.data
        version = event.version
        if version != self.latest.get(type_, version):
            version, data = upcast(type_, version, data)
        counts = self.counts
        counts[type_] = counts.get(type_, 0) + 1
        time = event.time
        if time > self.last_time:
            self.last_time = time
        fn = self.apply_by_type.get(type_)
        if fn is not None:
            fn(event, data)

    def anomaly(self, event: Event, message: str) -> None:
        self.anomalies.append(f"{event.source} {event.type} {event.id} ({event.time}): {message}")

    def _actor(self, event: Event) -> LoggedActor:
        """The event's actor, one shared copy per distinct actor (a replay keeps one per history step)."""
        actor = event.actor
        known = self.actors.get(actor.user)
        if known == actor:
            return known
        self.actors[actor.user] = actor
        return actor

    # -- issues ----------------------------------------------------------------------------------------------
    # An issue's history is kept as tuples (action, from, to, at, by, reason, event_id): a million-event replay
    # holds one per status move. `history()` and `state()` give them as records.

    def history(self, issue_id: str) -> list[dict[str, Any]]:
        """The issue's status moves as records: action, from, to, at, by, reason, event_id."""
        return [{"action": action, "from": src, "to": dst, "at": at, "by": actor_dict(by), "reason": reason,
                 "event_id": event_id} for action, src, dst, at, by, reason, event_id in self.issues[issue_id]["history"]]

    def _org(self, event: Event, d: dict[str, Any]) -> None:
        self.orgs[d["org_id"]] = {"id": d["org_id"], "name": d["name"], "kind": d["kind"],
                                  "zone_type": d.get("zone_type")}

    def _round(self, event: Event, d: dict[str, Any]) -> None:
        self.rounds[d["round_id"]] = {"id": d["round_id"], "name": d["name"], "level": d["level"],
                                      "started_on": d.get("started_on"), "ended_on": d.get("ended_on"),
                                      "feedback_on": d.get("feedback_on")}

    def _issue(self, event: Event, d: dict[str, Any]) -> dict[str, Any] | None:
        issue = self.issues.get(d["issue_id"])
        if issue is None:
            self.anomaly(event, f"issue {d['issue_id']} was never registered")
        return issue

    def _issue_registered(self, event: Event, d: dict[str, Any]) -> None:
        issue_id = d["issue_id"]
        if issue_id in self.issues:
            self.anomaly(event, f"issue {issue_id} registered twice")
            return
        get = d.get
        issue = {"id": issue_id, "code": d["code"], "round_id": d["round_id"],
                 **{name: get(name) for name in ASSIGNMENT_FIELDS}}
        if "cooperating_org_ids" not in d:
            issue["cooperating_org_ids"] = []
        registered = move_of(event.type, d, current=None)
        assert registered is not None  # a registration always moves: to the lifecycle's first status
        issue.update(deadline=d["deadline"], original_deadline=d["deadline"], status=registered.to_status,
                     history=[(registered.action, None, registered.to_status, event.time, self._actor(event), None,
                               event.id)],
                     progress=None, progress_reports=0, extensions=[], registered_at=event.time,
                     parent_id=d.get("parent_id"), milestones={}, parent_reopenings=[])
        parent = d.get("parent_id")
        if parent is not None and parent not in self.issues:
            self.anomaly(event, f"issue {issue_id} names parent {parent}, which was never registered")
        self.issues[issue_id] = issue

    def _issue_started(self, event: Event, d: dict[str, Any]) -> None:
        self._move(event, d)
        if d["issue_id"] in self.issues:
            self.started[d["issue_id"]] = event.id

    def _move(self, event: Event, d: dict[str, Any]) -> None:
        """A status move, by the issues service's own fold (services.issues.domain.move_of).

        For a registered issue, move_of's answer depends only on the event's type, the issue's status, the
        payload's from_status, to_status and action (as text), and whether its cause_event_id names the
        issue's folded start; it is pure, so its answer (a Move, None, or the IllegalMove's message) is kept
        per such key and every event with that key gets the same answer and the same anomaly message. Any
        other payload (a status that is not text, a missing field) asks move_of itself every time.
        """
        issue_id = d["issue_id"]
        issue = self.issues.get(issue_id)
        started_by = self.started.get(issue_id)
        type_ = event.type
        if issue is None:
            move = self._move_of(event, d, None, started_by)
        else:
            key: tuple[str, str, str | None, str | None, str | None, bool] | None = None
            if type_ == "issue.started":  # a start's move depends on the status alone
                key = (type_, issue["status"], None, None, None, False)
            else:
                get = d.get
                src, dst, action = get("from_status"), get("to_status"), get("action")
                if type(src) is str and type(dst) is str and (action is None or type(action) is str):
                    key = (type_, issue["status"], src, dst, action,
                           started_by is not None and get("cause_event_id") == started_by)
            if key is not None:
                moves = self._moves
                if key in moves:
                    known = moves[key]
                    if isinstance(known, str):
                        self.anomaly(event, known)
                        return
                    move = known
                else:
                    try:
                        move = move_of(type_, d, current=issue["status"], started_by=started_by)
                    except IllegalMove as exc:
                        moves[key] = str(exc)
                        self.anomaly(event, str(exc))
                        return
                    moves[key] = move
            else:
                move = self._move_of(event, d, issue["status"], started_by)
        if move is None or issue is None:
            return
        reason = d.get("reason") if type_ == "issue.status_changed" else None
        issue["history"].append((move.action, move.from_status, move.to_status, event.time, self._actor(event),
                                 reason, event.id))
        issue["status"] = move.to_status

    def _move_of(self, event: Event, d: dict[str, Any], current: str | None, started_by: str | None) -> Move | None:
        """move_of itself, its IllegalMove an anomaly (None then)."""
        try:
            return move_of(event.type, d, current=current, started_by=started_by)
        except IllegalMove as exc:
            self.anomaly(event, str(exc))
            return None

    def _issue_updated(self, event: Event, d: dict[str, Any]) -> None:
        issue = self._issue(event, d)
        if issue is not None:
            for name in ASSIGNMENT_FIELDS:
                if name in d:
                    issue[name] = d[name]

    def _progress(self, event: Event, d: dict[str, Any]) -> None:
        issue = self.issues.get(d["issue_id"])
        if issue is None:
            self.anomaly(event, f"issue {d['issue_id']} was never registered")
            return
        issue["progress"] = {"percent": d["percent"], "note": d["note"], "at": event.time,
                             "evidence_ids": d.get("evidence_ids", [])}
        issue["progress_reports"] += 1

    def _extension_requested(self, event: Event, d: dict[str, Any]) -> None:
        issue = self._issue(event, d)
        if issue is not None:
            issue["extensions"].append({"id": d["extension_id"], "requested_deadline": d["requested_deadline"],
                                        "current_deadline": d["current_deadline"], "reason": d["reason"],
                                        "requested_at": event.time, "approved": None})

    def _extension_decided(self, event: Event, d: dict[str, Any]) -> None:
        issue = self._issue(event, d)
        if issue is None:
            return
        for ext in issue["extensions"]:
            if ext["id"] == d["extension_id"]:
                ext.update(approved=d["approved"], decided_at=event.time, opinion=d.get("opinion"))
                break
        else:
            self.anomaly(event, f"extension {d['extension_id']} was never requested")
        if d["approved"]:
            issue["deadline"] = d["deadline"]

    def _milestone(self, event: Event, d: dict[str, Any]) -> dict[str, Any] | None:
        issue = self._issue(event, d)
        if issue is None:
            return None
        ms: dict[str, Any] | None = issue["milestones"].get(d["milestone_id"])
        if ms is None:
            self.anomaly(event, f"milestone {d['milestone_id']} of issue {d['issue_id']} was never added")
        return ms

    def _milestone_added(self, event: Event, d: dict[str, Any]) -> None:
        issue = self._issue(event, d)
        if issue is not None:
            issue["milestones"][d["milestone_id"]] = {
                "id": d["milestone_id"], "due_on": d["due_on"], "description": d["description"],
                "target": d.get("target"), "state": "pending", "outcome": None, "disputed": False,
                "added_at": event.time, "reports": 0}

    def _milestone_reported(self, event: Event, d: dict[str, Any]) -> None:
        ms = self._milestone(event, d)
        if ms is None:
            return
        if ms["state"] == "reported":
            self.anomaly(event, f"milestone {d['milestone_id']} reported again before its last report was reviewed")
        ms.update(state="reported", outcome=d["outcome"], disputed=False, reported_at=event.time,
                  reports=ms["reports"] + 1)

    def _milestone_reviewed(self, event: Event, d: dict[str, Any]) -> None:
        ms = self._milestone(event, d)
        if ms is None:
            return
        if ms["state"] != "reported":
            self.anomaly(event, f"milestone {d['milestone_id']} reviewed with no report awaiting review")
        if d["review"] == "confirmed":
            ms.update(state="confirmed", reviewed_at=event.time)
        else:
            ms.update(state="pending", disputed=True, reviewed_at=event.time)

    def _parent_reopened(self, event: Event, d: dict[str, Any]) -> None:
        issue = self._issue(event, d)
        if issue is None:
            return
        child = self.issues.get(d["child_issue_id"])
        if child is None or child.get("parent_id") is None:
            self.anomaly(event, f"names sub-task {d['child_issue_id']}, which is no registered sub-task")
        if issue["status"] not in ("signed_off", "filed"):
            self.anomaly(event, f"reopens parent {d['issue_id']}, which was {issue['status']}, not closed")
        issue["parent_reopenings"].append({"child_issue_id": d["child_issue_id"], "reason": d["reason"],
                                           "at": event.time, "event_id": event.id})

    # -- verification ----------------------------------------------------------------------------------------

    def _evidence(self, event: Event, d: dict[str, Any]) -> None:
        self.evidence[d["evidence_id"]] = {"id": d["evidence_id"], "issue_id": d["issue_id"], "kind": d["kind"],
                                           "sha256": d["sha256"], "size": d["size"], "media_type": d["media_type"],
                                           "org_id": d.get("org_id"), "flags": list(d.get("flags") or []),
                                           "submitted_at": event.time}

    def _evidence_flagged(self, event: Event, d: dict[str, Any]) -> None:
        ev = self.evidence.get(d["evidence_id"])
        if ev is None:
            self.anomaly(event, f"evidence {d['evidence_id']} flagged before it was submitted")
            return
        ev["flags"] = sorted(set(ev["flags"]) | set(d.get("flags") or []))

    def _closure_requested(self, event: Event, d: dict[str, Any]) -> None:
        self.closures[d["closure_id"]] = {"id": d["closure_id"], "issue_id": d["issue_id"],
                                          "responsible_org_id": d["responsible_org_id"],
                                          "supervising_org_id": d["supervising_org_id"],
                                          "state": closure_move(event.type, None)[0],
                                          "attempt": d.get("attempt", 1), "requested_at": event.time,
                                          "evidence_ids": list(d.get("evidence_ids") or [])}

    def _closure_state(self, state: str) -> Callable[[Event, dict[str, Any]], None]:
        def apply(event: Event, d: dict[str, Any]) -> None:
            if d.get("closure_id") is None and event.type == "closure.filed":
                # the filing of a sign-off moved in with a ledger (台账迁入): no application stands behind it,
                # and the issue's move to filed is the issues log's issue.status_changed
                if d["issue_id"] not in self.issues:
                    self.anomaly(event, f"filed issue {d['issue_id']} was never registered")
                return
            closure = self.closures.get(d["closure_id"])
            new, wrong = closure_move(event.type, closure["state"] if closure else None)
            if closure is None:
                self.anomaly(event, f"closure {d['closure_id']} {wrong}")
                return
            if wrong is not None:
                self.anomaly(event, f"closure {d['closure_id']} {wrong}")
            closure["state"] = new
            closure[f"{new}_at"] = event.time

        return apply

    def _reopened(self, event: Event, d: dict[str, Any]) -> None:
        self.reopenings[d["reopening_id"]] = {"id": d["reopening_id"], "issue_id": d["issue_id"],
                                              "reason": d["reason"], "at": event.time}

    def _sample_drawn(self, event: Event, d: dict[str, Any]) -> None:
        """A draw, recomputed from its own recorded inputs by the service's rule (contracts.sampling)."""
        for problem in recompute(d):
            self.anomaly(event, f"draw {d['sample_id']}: {problem}")
        self.samples[d["sample_id"]] = {
            "id": d["sample_id"], "period": d["period"], "scope": d["scope"], "basis": d["basis"],
            "share": d.get("share"), "count": d.get("count"), "stratify_by": d["stratify_by"], "seed": d["seed"],
            "candidates": len(d["candidates"]), "drawn_at": event.time,
            "items": {i["issue_id"]: {"stratum": i.get("stratum", ""), "outcome": None, "reopening_id": None}
                      for i in d["items"]}}

    def _sample_reinspected(self, event: Event, d: dict[str, Any]) -> None:
        sample = self.samples.get(d["sample_id"])
        item = sample["items"].get(d["issue_id"]) if sample else None
        if item is None:
            self.anomaly(event, f"draw {d['sample_id']} never drew issue {d['issue_id']}")
            return
        if item["outcome"] is not None:
            self.anomaly(event, f"issue {d['issue_id']} of draw {d['sample_id']} re-inspected twice")
        item.update(outcome=d["outcome"], reopening_id=d.get("reopening_id"), at=event.time,
                    reinspector_org_id=d["reinspector_org_id"])
        if d.get("reopening_id") and d["reopening_id"] not in self.reopenings:
            self.anomaly(event, f"rebound {d['reopening_id']} of the re-inspection was never recorded")

    # -- scoring and notify ----------------------------------------------------------------------------------

    def _reading(self, event: Event, d: dict[str, Any]) -> None:
        self.readings[d["reading_id"]] = {"org_id": d["org_id"], "indicator": d["indicator"], "value": d["value"],
                                          "observed_at": d["observed_at"], "recorded_at": event.time,
                                          "recorded_by": event.actor.user or "?"}

    def _scheme(self, event: Event, d: dict[str, Any]) -> None:
        self.schemes[f"{d['scheme_id']}@{d['version']}"] = {**d, "_time": event.time}

    def _ranking(self, event: Event, d: dict[str, Any]) -> None:
        self.rankings[d["ranking_id"]] = {**d, "superseded_by": None}
        old = d.get("supersedes")
        if old:
            if old in self.rankings:
                self.rankings[old]["superseded_by"] = d["ranking_id"]
            else:
                self.anomaly(event, f"supersedes ranking {old}, which was never published")

    def _appeal_filed(self, event: Event, d: dict[str, Any]) -> None:
        """An appeal as scoring keeps it (services.scoring.handlers.appeal_view), pending until decided."""
        if d["appeal_id"] in self.appeals:
            self.anomaly(event, f"appeal {d['appeal_id']} filed twice")
            return
        once = (d["ranking_id"], d["org_id"], d["component"])
        if any((a["ranking_id"], a["org_id"], a["component"]) == once for a in self.appeals.values()):
            self.anomaly(event, f"a second appeal of {d['org_id']} against {d['component']} of ranking "
                                f"{d['ranking_id']}")
        ranking = self.rankings.get(d["ranking_id"])
        if ranking is None:
            self.anomaly(event, f"appeals ranking {d['ranking_id']}, which was never published")
        elif ranking["superseded_by"] is not None:
            self.anomaly(event, f"appeals ranking {d['ranking_id']}, superseded by {ranking['superseded_by']}")
        elif d["filed_on"] > d["appeal_due"]:
            self.anomaly(event, f"filed on {d['filed_on']}, after the appeal window closed on {d['appeal_due']}")
        self.appeals[d["appeal_id"]] = {
            "id": d["appeal_id"], "ranking_id": d["ranking_id"], "period": d["period"], "kind": d["kind"],
            "scheme_id": d["scheme_id"], "org_id": d["org_id"], "component": d["component"],
            "disputed_value": d["disputed_value"], "reason": d["reason"], "evidence_ids": list(d.get("evidence_ids") or []),
            "filed_on": d["filed_on"], "appeal_due": d["appeal_due"], "decision_due": d["decision_due"],
            "status": "pending", "reasons": None, "previous": None, "correction": None, "corrected_ranking_id": None,
            "decided_on": None, "late": False}

    def _appeal_decided(self, event: Event, d: dict[str, Any]) -> None:
        appeal = self.appeals.get(d["appeal_id"])
        if appeal is None:
            self.anomaly(event, f"appeal {d['appeal_id']} decided, never filed")
            return
        if appeal["status"] != "pending":
            self.anomaly(event, f"appeal {d['appeal_id']} decided twice")
        corrected = d.get("corrected_ranking_id")
        if corrected is not None:
            on = (self.rankings.get(corrected) or {}).get("on_appeal") or {}
            if on.get("appeal_id") != d["appeal_id"]:
                self.anomaly(event, f"appeal {d['appeal_id']}: ranking {corrected} was not published on it")
        if bool(d.get("late")) != (d["decided_on"] > d["decision_due"]):
            self.anomaly(event, f"appeal {d['appeal_id']}: late is {d.get('late')} for a decision on "
                                f"{d['decided_on']} due by {d['decision_due']}")
        appeal.update(status=d["outcome"], reasons=d["reasons"], previous=d.get("previous"),
                      correction=d.get("correction"), corrected_ranking_id=corrected, decided_on=d["decided_on"],
                      late=bool(d.get("late")))

    def _calendar_year(self, event: Event, d: dict[str, Any]) -> None:
        """A year's table replaces the one before (seeded years are in the migrations, not in the log)."""
        self.calendar[str(d["year"])] = {"year": d["year"], "holidays": sorted(d["holidays"]),
                                         "workdays": sorted(d["workdays"]), "source": d["source"],
                                         "updated_at": event.time}

    def _notification(self, event: Event, d: dict[str, Any]) -> None:
        self.notifications[d["notification_id"]] = {k: d.get(k) for k in ("trigger", "org_id", "recipient",
                                                                             "subject", "title")}

    def _digest(self, event: Event, d: dict[str, Any]) -> None:
        self.digests[d["digest_id"]] = dict(d)

    # -- output ----------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything rebuilt, as plain JSON-ready data (keys sorted when written)."""
        return {
            "issues": {"orgs": self.orgs, "rounds": self.rounds,
                       "issues": {k: {**v, "history": self.history(k)} for k, v in self.issues.items()}},
            "verification": {"evidence": self.evidence, "closures": self.closures, "reopenings": self.reopenings,
                             "samples": self.samples},
            "scoring": {"readings": self.readings, "schemes": self.schemes, "rankings": self.rankings,
                        "appeals": self.appeals, "calendar": self.calendar},
            "notify": {"notifications": self.notifications, "digests": self.digests},
        }

    def summary(self) -> dict[str, Any]:
        """Counts an auditor reads first: issues by status, overdue aside; closures by state; events by type."""
        by_status: dict[str, int] = {}
        for issue in self.issues.values():
            by_status[issue["status"]] = by_status.get(issue["status"], 0) + 1
        closures: dict[str, int] = {}
        for c in self.closures.values():
            closures[c["state"]] = closures.get(c["state"], 0) + 1
        return {"orgs": len(self.orgs), "rounds": len(self.rounds), "issues": len(self.issues),
                "issues_by_status": dict(sorted(by_status.items())), "closures_by_state": dict(sorted(closures.items())),
                "evidence": len(self.evidence), "reopenings": len(self.reopenings), "samples": len(self.samples),
                "readings": len(self.readings),
                "rankings": len(self.rankings), "appeals": len(self.appeals),
                "calendar_years_published": len(self.calendar), "notifications": len(self.notifications),
                "milestones": sum(len(i["milestones"]) for i in self.issues.values()),
                "sub_tasks": sum(1 for i in self.issues.values() if i.get("parent_id")),
                "events": sum(self.counts.values()), "last_event_time": self.last_time or None,
                "anomalies": len(self.anomalies)}

"""Diff a replayed state with what the live services answer (auditor token)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from audit.projections import ISSUE_FIELDS, MILESTONE_FIELDS, STATUS_ACTIONS
from audit.replay import ReplayResult


async def _all(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(path, params=params)
        r.raise_for_status()
        page = r.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _diff_fields(what: str, replayed: dict[str, Any], live: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [f"{what}: {name} is {replayed.get(name)!r} in the replay, {live.get(name)!r} live"
            for name in fields if name in live and replayed.get(name) != live.get(name)]


async def _get(client: httpx.AsyncClient, path: str) -> dict[str, Any] | None:
    r = await client.get(path)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


async def compare_issues(client: httpx.AsyncClient, result: ReplayResult) -> list[str]:
    """Orgs, rounds, every issue's fields and status, and its history of status transitions."""
    diffs: list[str] = []
    p = result.projections
    for path, replayed, fields in (("/v1/orgs", p.orgs, ("name", "kind", "zone_type")),
                                   ("/v1/rounds", p.rounds, ("name", "level", "started_on", "ended_on",
                                                             "feedback_on"))):
        live = {item["id"]: item for item in await _all(client, path)}
        for missing in sorted(set(replayed) - set(live)):
            diffs.append(f"issues: {path[4:-1]} {missing} is in the replay, not live")
        for extra in sorted(set(live) - set(replayed)):
            diffs.append(f"issues: {path[4:-1]} {extra} is live, not in the replay")
        for key in sorted(set(live) & set(replayed)):
            diffs.extend(_diff_fields(f"issues: {path[4:-1]} {key}", replayed[key], live[key], fields))
    live_ids = {item["id"] for item in await _all(client, "/v1/issues")}
    for extra in sorted(live_ids - set(p.issues)):
        diffs.append(f"issues: issue {extra} is live, not in the replay")
    for issue_id, issue in sorted(p.issues.items()):
        live_issue = await _get(client, f"/v1/issues/{issue_id}")
        if live_issue is None:
            diffs.append(f"issues: issue {issue_id} is in the replay, not live")
            continue
        diffs.extend(_diff_fields(f"issues: issue {issue['code']} ({issue_id})", issue, live_issue, ISSUE_FIELDS))
        if "history" in live_issue:
            mine = [(h["action"], h["from"], h["to"], h["event_id"]) for h in p.history(issue_id)]
            theirs = [(h.get("action"), h.get("from"), h.get("to"), h.get("event_id")) for h in live_issue["history"]
                      if h.get("action") in STATUS_ACTIONS]
            if mine != theirs:
                diffs.append(f"issues: issue {issue['code']} ({issue_id}) history differs: replay {mine}, "
                             f"live {theirs}")
        if "milestones" in live_issue:
            live_ms = {m["id"]: m for m in live_issue["milestones"]}
            replayed_ms = issue.get("milestones") or {}
            for mid in sorted(set(live_ms) ^ set(replayed_ms)):
                where = "live, not in the replay" if mid in live_ms else "in the replay, not live"
                diffs.append(f"issues: milestone {mid} of issue {issue['code']} is {where}")
            for mid in sorted(set(live_ms) & set(replayed_ms)):
                diffs.extend(_diff_fields(f"issues: milestone {mid} of issue {issue['code']}", replayed_ms[mid],
                                          live_ms[mid], MILESTONE_FIELDS))
    return diffs


async def _compare_each(client: httpx.AsyncClient, what: str, path: str, replayed: dict[str, dict[str, Any]],
                        fields: tuple[str, ...]) -> list[str]:
    """Each replayed record against `path/{id}` on the live service, field by field."""
    diffs: list[str] = []
    for key, record in sorted(replayed.items()):
        live = await _get(client, f"{path}/{key}")
        if live is None:
            diffs.append(f"{what} {key} is in the replay, not live")
            continue
        diffs.extend(_diff_fields(f"{what} {key}", record, live, fields))
    return diffs


async def compare_verification(client: httpx.AsyncClient, result: ReplayResult) -> list[str]:
    """Every closure application's issue, attempt and state; every draw's seed and its tasks' outcomes."""
    diffs = await _compare_each(client, "verification: closure", "/v1/closures", result.projections.closures,
                                ("issue_id", "attempt", "state"))
    for sample_id, sample in sorted(result.projections.samples.items()):
        live = await _get(client, f"/v1/samples/{sample_id}")
        if live is None:
            diffs.append(f"verification: draw {sample_id} is in the replay, not live")
            continue
        diffs.extend(_diff_fields(f"verification: draw {sample_id}", sample, live,
                                  ("period", "scope", "basis", "share", "count", "stratify_by", "seed", "candidates")))
        mine = {i: (v["outcome"], v["reopening_id"]) for i, v in sample["items"].items()}
        theirs = {i["issue_id"]: (i["outcome"], i["reopening_id"]) for i in live.get("items", [])}
        if mine != theirs:
            diffs.append(f"verification: draw {sample_id} tasks differ: replay {mine}, live {theirs}")
    return diffs


APPEAL_FIELDS = ("ranking_id", "period", "kind", "scheme_id", "org_id", "component", "disputed_value", "reason",
                 "evidence_ids", "filed_on", "appeal_due", "decision_due", "status", "reasons", "previous",
                 "correction", "corrected_ranking_id", "decided_on", "late")


async def compare_scoring(client: httpx.AsyncClient, result: ReplayResult) -> list[str]:
    """Every published ranking (period, kind, scheme, what supersedes it, the appeal it corrects on), every appeal
    and its decision, and every year of the working-day calendar the log published."""
    p = result.projections
    diffs = await _compare_each(client, "scoring: ranking", "/v1/rankings", p.rankings,
                                ("period", "kind", "scheme_id", "supersedes", "bottom_named", "penalized",
                                 "on_appeal"))
    diffs += await _compare_each(client, "scoring: appeal", "/v1/appeals", p.appeals, APPEAL_FIELDS)
    live_appeals = {a["id"] for a in await _all(client, "/v1/appeals")}
    diffs += [f"scoring: appeal {extra} is live, not in the replay" for extra in sorted(live_appeals - set(p.appeals))]
    diffs += await _compare_each(client, "scoring: calendar year", "/v1/calendar", p.calendar,
                                 ("holidays", "workdays", "source"))
    return diffs


def _same_instant(a: Any, b: Any) -> bool:
    try:
        return bool(datetime.fromisoformat(str(a).replace("Z", "+00:00"))
                    == datetime.fromisoformat(str(b).replace("Z", "+00:00")))
    except ValueError:
        return bool(a == b)


BULLETIN_FIELDS = ("period", "kind", "title", "supersedes", "bottom_named", "penalized", "overdue_count")


async def compare_notify(client: httpx.AsyncClient, result: ReplayResult) -> list[str]:
    """What notify derives from its peers' events alone: the monthly bulletins (月通报) built from published
    rankings, and the digest runs those rankings started. Reminders and scheduled digests depend on the clock
    and on notify's own settings, so they are not rebuilt from events and not compared."""
    tables = result.derived.get("notify")
    if tables is None:
        return []  # the handlers were not replayed (--no-handlers): nothing of notify's was rebuilt
    diffs: list[str] = []
    replayed = {row["id"]: row for row in tables.get("notify_bulletin", [])}
    live = {item["id"]: item for item in await _all(client, "/v1/bulletins")}
    for missing in sorted(set(replayed) - set(live)):
        diffs.append(f"notify: bulletin {missing} is in the replay, not live")
    for extra in sorted(set(live) - set(replayed)):
        diffs.append(f"notify: bulletin {extra} is live, not in the replay")
    for key in sorted(set(live) & set(replayed)):
        diffs.extend(_diff_fields(f"notify: bulletin {key}", replayed[key], live[key], BULLETIN_FIELDS))
        if not _same_instant(replayed[key].get("published_at"), live[key].get("published_at")):
            diffs.append(f"notify: bulletin {key}: published_at is {replayed[key].get('published_at')!r} in the "
                         f"replay, {live[key].get('published_at')!r} live")
    ranked = sorted((r["kind"], r["period"]) for r in tables.get("notify_digest", []) if r.get("origin") == "ranking")
    live_ranked = sorted((d["kind"], d["period"]) for d in await _all(client, "/v1/digests")
                         if d.get("origin") == "ranking")
    if ranked != live_ranked:
        diffs.append(f"notify: digests started by rankings differ: replay {ranked}, live {live_ranked}")
    return diffs


COMPARERS = {"issues": compare_issues, "verification": compare_verification, "scoring": compare_scoring,
             "notify": compare_notify}


def findings(result: ReplayResult, diffs: list[str] | None = None) -> list[str]:
    """Every reason a replay fails, one line each: anomalies of the services' own rules, events a handler could
    not take, published rankings the scoring code does not recompute, and differences with the live services."""
    lines = [f"ANOMALY {line}" for line in result.projections.anomalies]
    lines += [f"ANOMALY {line}" for line in result.handler_failures]
    lines += [f"ANOMALY {line}" for line in result.score_anomalies]
    lines += [f"DIFF {d}" for d in diffs or []]
    return lines


async def compare_live(result: ReplayResult, urls: dict[str, str], *, token: str,
                       transport: dict[str, httpx.AsyncBaseTransport] | None = None) -> list[str]:
    """Every difference between the replay and the live services (empty when they agree)."""
    diffs: list[str] = []
    for service, url in urls.items():
        comparer = COMPARERS.get(service)
        if comparer is None:
            continue
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"},
                                     timeout=60, transport=(transport or {}).get(service)) as client:
            diffs.extend(await comparer(client, result))
    return diffs

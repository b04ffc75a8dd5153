"""Scores and rankings rebuilt with the scoring service's own code, on the database its handlers rebuilt.

After scoring's HANDLERS have replayed its peers' events (orgs, issue and closure facts), the readings and
scheme versions of scoring's own log are written beside them, and `services.scoring.handlers.compute` (which
calls the pure `services.scoring.domain.compute_scores`) scores each period. Every published ranking is
recomputed as of its publication and compared with what was published; a difference is an anomaly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.projections import Projections
from contracts.envelope import parse_time
from runtime.clock import SHANGHAI


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).astimezone(UTC)


async def rebuild_scores(sessions: async_sessionmaker[AsyncSession], projections: Projections, *,
                         as_of: datetime) -> tuple[dict[str, Any], list[str]]:
    """Scores of the period holding `as_of` and every published ranking, recomputed; and the disagreements."""
    from services.scoring import domain, handlers, store

    anomalies: list[str] = []
    async with sessions() as session, session.begin():
        for reading_id, r in projections.readings.items():
            session.add(store.ReadingRow(id=reading_id, org_id=r["org_id"], indicator=r["indicator"],
                                         value=float(r["value"]), observed_at=_instant(r["observed_at"]),
                                         recorded_at=parse_time(r["recorded_at"]), recorded_by=r["recorded_by"]))
        for s in projections.schemes.values():
            session.add(store.SchemeVersion(id=s["scheme_id"], version=s["version"], weights=s["weights"],
                                            bottom_named=s["bottom_named"], penalized=s["penalized"],
                                            penalty=s.get("penalty"), created_at=parse_time(s["_time"]),
                                            created_by="replay",
                                            milestone_missed_points=s.get("milestone_missed_points"),
                                            appeal_days=s.get("appeal_days", 5),
                                            decision_days=s.get("decision_days", 10)))
        if ("default", 1) not in {(s["scheme_id"], s["version"]) for s in projections.schemes.values()}:
            session.add(store.default_scheme_row(as_of))
    out: dict[str, Any] = {"period": None, "scores": {}, "rankings_checked": 0}
    rebuilt: dict[str, dict[str, Any]] = {}  # ranking id -> its table as recomputed (a correction builds on it)
    async with sessions() as session:
        for ranking_id, ranking in sorted(projections.rankings.items(),
                                          key=lambda kv: (_instant(kv[1]["published_at"]), kv[0])):
            published_at = _instant(ranking["published_at"])
            scheme = await handlers.resolve_scheme(session, scheme_id=ranking["scheme_id"],
                                                   version=ranking["scheme_version"])
            fix = ranking.get("on_appeal")
            if fix and ranking.get("supersedes") in rebuilt:
                # published on an appeal's decision: the table it supersedes with the appellant's values corrected
                frozen = domain.corrected_rows(rebuilt[ranking["supersedes"]]["rows"], org_id=fix["org_id"],
                                               correction=fix["corrected"], appeal_id=fix["appeal_id"],
                                               scheme=scheme)
            else:
                period = domain.parse_period(ranking["period"])
                rows = await handlers.compute(session, period=period, kind=ranking["kind"], scheme=scheme,
                                              now=published_at)
                frozen = domain.freeze_ranking(rows, scheme)
            rebuilt[ranking_id] = frozen
            mine = [(r["org_id"], r["score"], r["rank"]) for r in frozen["rows"]]
            theirs = [(r["org_id"], r["score"], r["rank"]) for r in ranking["rows"]]
            out["rankings_checked"] += 1
            if mine != theirs or frozen["bottom_named"] != ranking["bottom_named"]:
                anomalies.append(f"scoring ranking.published {ranking_id} ({ranking['period']}/{ranking['kind']}): "
                                 f"recomputed from events {mine}, published {theirs}")
        local = as_of.astimezone(SHANGHAI)
        label = f"{local.year}-{local.month:02d}"
        period = domain.parse_period(label)
        scheme = await handlers.resolve_scheme(session, scheme_id="default", version=None)
        out["period"] = label
        for kind in domain.KINDS:
            try:
                rows = await handlers.compute(session, period=period, kind=kind, scheme=scheme, now=as_of)
            except Exception as exc:  # noqa: BLE001  an org without a zone type the scheme weighs: say so
                out["scores"][kind] = {"error": str(exc)}
                continue
            out["scores"][kind] = [{"org_id": r["org_id"], "score": r["score"], "rank": r["rank"],
                                    "overdue": r["overdue"]} for r in rows]
    return out, anomalies

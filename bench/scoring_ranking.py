"""Time to compute a ranking (50 orgs, 10,000 issues, a year of events) against the time to merely load the same
facts, in the same run. Goal: the ranking in under 1 s.

    .venv/bin/python bench/scoring_ranking.py [--quick] [--pg]

The facts are written straight into the scoring tables (as the handlers would store them) of a SQLite file, or
of a fresh PostgreSQL database with --pg (needs CLOSELOOP_TEST_PG from scripts/servers.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import figure
from sqlalchemy import insert

from runtime.clock import SHANGHAI
from runtime.db import make_engine, make_sessionmaker
from runtime.migrations import migrate
from services.scoring import domain
from services.scoring.app import SPEC as SCORING
from services.scoring.handlers import compute
from services.scoring.store import (
    IssueEventFact,
    OrgFact,
    ReadingRow,
    load_issue_events,
    load_orgs,
    load_readings,
)

ZONES = ["urban_core", "ecological", "industrial", "agricultural"]
INDICATORS = ["pm25", "so2", "cod", "forest_cover", "water_class"]
YEAR_START = datetime(2020, 1, 1, tzinfo=SHANGHAI)


def at(day: int, hour: int = 10) -> datetime:
    return (YEAR_START + timedelta(days=day, hours=hour)).astimezone(UTC)


def facts(orgs: int, issues: int, seed: int = 7) -> tuple[list[dict], list[dict], list[dict]]:
    """Orgs, issue events over 2020 and daily readings, the mix a year of rectification produces."""
    rnd = random.Random(seed)
    org_rows = [{"id": f"region-{i:02d}", "name": f"地区{i:02d}", "kind": "region", "zone_type": ZONES[i % 4],
                 "event_time": at(0)} for i in range(orgs)]
    events: list[dict] = []

    def add(issue: str, type_: str, when: datetime, **extra: object) -> None:
        events.append({"event_id": str(uuid.uuid4()), "issue_id": issue, "type": type_,
                       "source": "verification" if type_.startswith("closure") or type_ == "issue.reopened"
                       else "issues", "seq": len(events), "time": when, "org_id": None, "deadline": None,
                       "target_indicator": None, "target_op": None, "target_value": None, **extra})

    for n in range(issues):
        issue, org = f"issue-{n:05d}", org_rows[rnd.randrange(orgs)]["id"]
        born = rnd.randrange(0, 200)
        deadline = date(2020, 1, 1) + timedelta(days=born + rnd.randrange(20, 160))
        target = {}
        if rnd.random() < 0.2:
            target = {"target_indicator": rnd.choice(INDICATORS), "target_op": rnd.choice(["<=", ">="]),
                      "target_value": float(rnd.randrange(10, 80))}
        add(issue, "issue.registered", at(born), org_id=org, deadline=deadline, **target)
        if rnd.random() < 0.05:
            add(issue, "issue.updated", at(born + 5), org_id=org_rows[rnd.randrange(orgs)]["id"], **target)
        if rnd.random() < 0.1:
            add(issue, "issue.extension_decided", at(born + 10), deadline=deadline + timedelta(days=30))
        day = born + rnd.randrange(10, 180)
        if day > 364 or rnd.random() < 0.15:
            continue
        add(issue, "closure.requested", at(day))
        if rnd.random() < 0.25:
            add(issue, "closure.rejected", at(day + 3))
            day += 10
            add(issue, "closure.requested", at(day))
        add(issue, "closure.accepted", at(day + 3))
        if rnd.random() < 0.5:
            add(issue, "closure.filed", at(day + 10))
        elif rnd.random() < 0.1:
            add(issue, "issue.reopened", at(day + 20))
    readings = [{"id": str(uuid.uuid4()), "org_id": o["id"], "indicator": ind, "value": float(rnd.randrange(5, 90)),
                 "observed_at": at(d, 8), "recorded_at": at(d, 9), "recorded_by": "bench"}
                for o in org_rows for ind in INDICATORS[:2] for d in range(0, 365, 7)]
    return org_rows, events, readings


async def run(url: str, *, orgs: int, issues: int, repeats: int) -> None:
    engine = make_engine(url)
    await migrate(engine, "scoring", SCORING.migrations)
    sessions = make_sessionmaker(engine)
    org_rows, events, readings = facts(orgs, issues)
    async with sessions() as session, session.begin():
        await session.execute(insert(OrgFact), org_rows)
        for i in range(0, len(events), 5000):
            await session.execute(insert(IssueEventFact), events[i:i + 5000])
        await session.execute(insert(ReadingRow), readings)
    print(f"{orgs} orgs, {issues} issues, {len(events)} issue events, {len(readings)} readings ({url.split(':')[0]})")

    period = domain.parse_period("2020")
    now = datetime(2021, 1, 5, tzinfo=UTC)
    scheme = domain.Scheme(scheme_id="default", version=1, **domain.DEFAULT_SCHEME)
    load_times, rank_times, pure_times = [], [], []
    for _ in range(repeats):
        async with sessions() as session:
            t0 = time.perf_counter()
            o = await load_orgs(session)
            ev = await load_issue_events(session, before=period.end)
            rd = await load_readings(session, start=period.start, end=period.end)
            load_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        domain.freeze_ranking(domain.compute_scores(orgs=o, events=ev, readings=rd, scheme=scheme, period=period,
                                                    kind="region", now=now), scheme)
        pure_times.append(time.perf_counter() - t0)
        async with sessions() as session:
            t0 = time.perf_counter()
            rows = await compute(session, period=period, kind="region", scheme=scheme, now=now)
            domain.freeze_ranking(rows, scheme)
            rank_times.append(time.perf_counter() - t0)
    await engine.dispose()
    load, rank, pure = (statistics.median(x) * 1000 for x in (load_times, rank_times, pure_times))
    print(f"baseline: load the facts only          {load:8.1f} ms (median of {repeats})")
    print(f"ranking:  load + score + rank (2020)   {rank:8.1f} ms   ratio {rank / load:.2f}x baseline")
    print(f"          of which the pure rules      {pure:8.1f} ms")
    print(f"goal < 1000 ms: {'met' if rank < 1000 else 'NOT met'}")
    figure("scoring.ranking", f"ranking, {orgs} orgs, {issues:,} issues ({url.split(':')[0]})", rank, load, "ms",
           ratio_unit="×", goal="< 1000 ms", met=rank < 1000, baseline_name="loading the same facts")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats (the same data size)")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    if args.pg:
        import asyncpg

        base = os.environ["CLOSELOOP_TEST_PG"]
        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin_dsn = base.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        try:
            await run(base.rsplit("/", 1)[0] + f"/{name}", orgs=50, issues=10_000, repeats=repeats)
        finally:
            conn = await asyncpg.connect(admin_dsn)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/scoring.db", orgs=50, issues=10_000, repeats=repeats)


if __name__ == "__main__":
    asyncio.run(main())

"""A consumer applying events on PostgreSQL: events/s through the runtime's Consumer, beside the floor of the
same run (the inbox rows of the same events, one executemany in one transaction).

    .venv/bin/python bench/consumer_pg.py [--quick] [--events N]

Two consumers, each with its service's own HANDLERS over a fresh migrated database:
1. issues' status projection: closure.requested for issues in progress (each with its chain head, as after
   issue.registered and issue.started) → the issue moves to closure_requested, a history step and an
   issue.status_changed in the outbox (same transaction);
2. scoring's facts: issue.registered → one fact row each.
Each is fed first one event per transaction (`Consumer.process`, as before batching), then in batches of
`--batch` events per transaction with their inbox rows (`Consumer.process_many`, as the Kafka follower does).
Goal: ≥ 5,000 events/s per consumer, batched. Needs PostgreSQL (bench/run starts a durable cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import figure
from issues_common import drop_database, fresh_database, orgs
from sqlalchemy import func, insert, select

from closeloop.cli import REFERENCE_ROUND
from contracts import GENESIS_HASH, Actor
from contracts.envelope import seal
from runtime.app import freeze_startup_heap
from runtime.clock import SettableClock
from runtime.consumer import Consumer
from runtime.db import make_engine, make_sessionmaker
from runtime.migrations import migrate
from runtime.models import InboxRow, OutboxRow, SubjectHead

SYSTEM = Actor(org="inspection-office", user="bench", role="admin")
T0 = datetime(2020, 6, 1, 2, 0, tzinfo=UTC)


def envelope(type_: str, source: str, subject: str, data: dict, n: int) -> bytes:  # type: ignore[type-arg]
    return seal(id=uuid.uuid4(), type=type_, version=1, source=source, subject=subject,
                time=T0 + timedelta(milliseconds=n), actor=SYSTEM, correlation_id=f"bench-{n}", causation_id=None,
                seq=1, prev_hash=GENESIS_HASH, data=data).to_json().encode("utf-8")


async def issues_db(url: str, n: int) -> tuple[list[bytes], Consumer]:
    """n issues in progress, and a closure.requested for each."""
    from services.issues.app import SPEC
    from services.issues.store import Issue, Org, Round

    engine = make_engine(url)
    await migrate(engine, "issues", SPEC.migrations)
    ids = [o["id"] for o in orgs()]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(Org.__table__), [  # type: ignore[attr-defined]
            {"id": o["id"], "name": o["name"], "kind": o["kind"], "zone_type": o["zone_type"] or None,
             "created_at": now} for o in orgs()])
        await conn.execute(insert(Round.__table__).values(  # type: ignore[attr-defined]
            id=REFERENCE_ROUND["id"], name=REFERENCE_ROUND["name"], level="regional", created_at=now))
        rows = []
        for i in range(n):
            d = date(2020, 12, 31)
            rows.append({"id": str(uuid.uuid4()), "code": f"C-{i:07d}", "round_id": REFERENCE_ROUND["id"],
                         "category": "air", "title": f"扬尘治理整改{i}", "description": None, "region_id": None,
                         "responsible_org_id": ids[1 + i % (len(ids) - 1)], "cooperating_org_ids": [],
                         "supervising_org_id": "inspection-office", "leader": "分管副市长", "deadline": d,
                         "original_deadline": d, "target": None, "measures": None, "location": None,
                         "status": "in_progress", "created_at": now, "updated_at": now})
        await conn.execute(insert(Issue.__table__), rows)  # type: ignore[attr-defined]
        # each issue's chain as the service left it: issue.registered and issue.started (seq 2)
        await conn.execute(insert(SubjectHead.__table__), [  # type: ignore[attr-defined]
            {"subject": r["id"], "seq": 2, "hash": hashlib.sha256(r["id"].encode()).hexdigest()} for r in rows])
    events = [envelope("closure.requested", "verification", r["id"], {
        "closure_id": str(uuid.uuid4()), "issue_id": r["id"], "responsible_org_id": r["responsible_org_id"],
        "supervising_org_id": "inspection-office", "summary": "已完成整改,申请销号", "evidence_ids": ["e1"],
        "attempt": 1}, i) for i, r in enumerate(rows)]
    consumer = Consumer(name="bench-issues", service="issues", sessions=make_sessionmaker(engine),
                        handlers=SPEC.handlers, clock=SettableClock(T0 + timedelta(days=1)), attempts=1)
    return events, consumer


async def scoring_db(url: str, n: int) -> tuple[list[bytes], Consumer]:
    """The orgs known, and n issue.registered to keep as facts."""
    from services.scoring.app import SPEC
    from services.scoring.store import OrgFact

    engine = make_engine(url)
    await migrate(engine, "scoring", SPEC.migrations)
    ids = [o["id"] for o in orgs()]
    async with engine.begin() as conn:
        await conn.execute(insert(OrgFact.__table__), [  # type: ignore[attr-defined]
            {"id": o["id"], "name": o["name"], "kind": o["kind"], "zone_type": o["zone_type"] or None,
             "event_time": T0} for o in orgs()])
    events = []
    for i in range(n):
        issue = str(uuid.uuid4())
        events.append(envelope("issue.registered", "issues", issue, {
            "issue_id": issue, "code": f"S-{i:07d}", "round_id": REFERENCE_ROUND["id"], "category": "air",
            "title": f"燃煤锅炉整改{i}", "description": None, "region_id": None,
            "responsible_org_id": ids[1 + i % (len(ids) - 1)], "cooperating_org_ids": [],
            "supervising_org_id": "inspection-office", "leader": "分管副市长", "deadline": "2020-12-31",
            "target": {"indicator": "pm25_annual_mean", "op": "<=", "value": 35.0, "unit": "ug/m3"},
            "measures": None, "location": None, "assigned_on": "2020-05-17"}, i))
    consumer = Consumer(name="bench-scoring", service="scoring", sessions=make_sessionmaker(engine),
                        handlers=SPEC.handlers, clock=SettableClock(T0 + timedelta(days=1)), attempts=1)
    return events, consumer


async def feed(consumer: Consumer, events: list[bytes], batch: int) -> float:
    """Seconds to handle the events, one per transaction (batch 1) or `batch` per transaction."""
    started = time.perf_counter()
    if batch == 1 or not hasattr(consumer, "process_many"):
        for i, raw in enumerate(events):
            out = await consumer.process(raw, origin=f"bench@{i}")
            assert out.status == "handled", out
    else:
        for i in range(0, len(events), batch):
            chunk = events[i:i + batch]
            outs = await consumer.process_many(chunk, origins=[f"bench@{i + k}" for k in range(len(chunk))])
            assert all(o.status == "handled" for o in outs), [o for o in outs if o.status != "handled"][:2]
    return time.perf_counter() - started


async def inbox_floor(consumer: Consumer, n: int) -> float:
    """The floor: n inbox rows, one executemany in one transaction."""
    now = datetime.now(UTC)
    rows = [{"consumer": "floor", "event_id": str(uuid.uuid4()), "type": "x.y", "processed_at": now}
            for _ in range(n)]
    started = time.perf_counter()
    async with consumer.sessions() as session, session.begin():
        await session.execute(insert(InboxRow), rows)
    return time.perf_counter() - started


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 events per consumer (else 10,000)")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--consumers", default="issues,scoring", help="which consumers (comma-separated)")
    args = ap.parse_args()
    n = args.events or (1_000 if args.quick else 10_000)  # 5 batches at least: one slow commit is not the figure
    single = max(50, n // 10)  # one event per transaction is slow: a tenth of them shows its rate
    for key, label, build in (("consumer.issues", "issues' status projection (closure.requested)", issues_db),
                              ("consumer.scoring", "scoring facts (issue.registered)", scoring_db)):
        if key.split(".")[1] not in args.consumers.split(","):
            continue
        url = await fresh_database(key.split(".")[1])
        try:
            events, consumer = await build(url, n + single)
            freeze_startup_heap()  # as `closeloop serve` does before it serves
            t_single = await feed(consumer, events[:single], 1)
            cpu = time.process_time()
            t_batch = await feed(consumer, events[single:], args.batch)
            cpu = time.process_time() - cpu  # this process's CPU: what the machine's load does not inflate
            async with consumer.sessions() as session:
                inbox = (await session.execute(select(func.count()).select_from(InboxRow))).scalar_one()
                outbox = (await session.execute(select(func.count()).select_from(OutboxRow))).scalar_one()
            assert inbox == n + single, (inbox, n + single)
            t_floor = await inbox_floor(consumer, n)
            rate = n / t_batch
            print(f"{label}: one per transaction {single / t_single:8,.0f} events/s; "
                  f"{args.batch} per transaction {rate:8,.0f} events/s, CPU {cpu / n * 1e6:,.0f} µs/event  "
                  f"(inbox rows {inbox:,}, outbox rows {outbox:,})")
            figure(key, f"consumer on PostgreSQL: {label}, batches of {args.batch}", rate, n / t_floor,
                   "events/s", goal="≥ 5,000/s", met=rate >= 5000, baseline_name="their inbox rows, one executemany",
                   note=f"one per transaction: {single / t_single:,.0f} events/s; batched, this process's CPU "
                        f"{cpu / n * 1e6:,.0f} µs/event")
            await consumer.sessions.kw["bind"].dispose()
        finally:
            await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())

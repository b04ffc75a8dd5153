"""Import 10,000 ledger rows (CSV) through POST /v1/issues/import, against a plain bulk insert of the same rows
into the same table, in the same run, on PostgreSQL.

    .venv/bin/python bench/issues_import.py [--quick] [--rows N]

The import runs in-process (httpx ASGI transport, so no network) and includes everything the service does:
parsing, validating every cell, one transaction with the issues, their scoping rows, their first history step
and one issue.registered event each in the outbox. The baseline is one executemany INSERT of the same issue
rows and of their outbox rows (one envelope each), in one transaction, and nothing else. Needs PostgreSQL
(bench/run starts a durable one; or CLOSELOOP_TEST_PG from scripts/servers.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from figures import figure
from issues_common import drop_database, fresh_database, ledger_rows, orgs, to_csv
from sqlalchemy import func, insert, select

from closeloop.cli import REFERENCE_ROUND
from runtime.app import build_app
from runtime.auth import issue_token
from runtime.db import make_engine
from runtime.migrations import migrate
from runtime.models import OutboxRow
from services.issues.app import SPEC
from services.issues.settings import get_settings
from services.issues.store import Issue, Round


async def timed_import(url: str, body: bytes, tmp: Path) -> tuple[float, int]:
    settings = get_settings(database_url=url, data_dir=tmp, log_level="WARNING", env="test")
    app = build_app(SPEC, settings, follow=False)
    headers = {"Authorization": "Bearer " + issue_token(settings, sub="bench", org="inspection-office",
                                                        roles=["admin"])}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers,
                                     timeout=600) as client:
            for org in orgs():
                r = await client.post("/v1/orgs", json={"id": org["id"], "name": org["name"], "kind": org["kind"],
                                                         "zone_type": org["zone_type"] or None})
                assert r.status_code == 201, r.text
            assert (await client.post("/v1/rounds", json=REFERENCE_ROUND)).status_code == 201
            started = time.perf_counter()
            r = await client.post("/v1/issues/import", content=body, headers={"Content-Type": "text/csv"})
            elapsed = time.perf_counter() - started
            assert r.status_code == 201, r.text[:500]
            return elapsed, int(r.json()["created"])


async def timed_bulk_insert(url: str, rows: list[dict[str, str]]) -> float:
    engine = make_engine(url)
    await migrate(engine, "issues", SPEC.migrations)
    now = datetime.now(UTC)
    values = []
    for r in rows:
        d = date.fromisoformat(r["deadline"])
        values.append({
            "id": str(uuid.uuid4()), "code": r["code"], "round_id": r["round"], "category": r["category"],
            "title": r["title"], "description": None, "region_id": r["region"] or None,
            "responsible_org_id": r["responsible_org"],
            "cooperating_org_ids": [c for c in r["cooperating_orgs"].split(";") if c],
            "supervising_org_id": r["supervising_org"], "leader": r["leader"], "deadline": d, "original_deadline": d,
            "target": None, "measures": r["measures"], "location": None, "status": "registered",
            "created_at": now, "updated_at": now,
        })
    # Their outbox rows, as the service writes them (one sealed envelope each), built before the clock starts.
    outbox = []
    for v in values:
        body = {k: (x.isoformat() if isinstance(x, date) else x) for k, x in v.items()}
        env = json.dumps({"id": str(uuid.uuid4()), "type": "issue.registered", "subject": v["id"], "seq": 1,
                          "data": body, "hash": "0" * 64}, ensure_ascii=False)
        outbox.append({"event_id": str(uuid.uuid4()), "type": "issue.registered", "subject": v["id"], "seq": 1,
                       "time": now, "envelope": env})
    async with engine.begin() as conn:
        await conn.execute(insert(Round.__table__).values(  # type: ignore[attr-defined]
            id=REFERENCE_ROUND["id"], name=REFERENCE_ROUND["name"], level="regional", created_at=now))
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(insert(Issue.__table__), values)  # type: ignore[attr-defined]
        await conn.execute(insert(OutboxRow.__table__), outbox)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def count_events(url: str) -> int:
    engine = make_engine(url)
    async with engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(OutboxRow.__table__))).scalar_one()  # type: ignore[attr-defined]
    await engine.dispose()
    return int(n)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 rows instead of 10,000")
    ap.add_argument("--rows", type=int, default=None)
    args = ap.parse_args()
    n = args.rows or (2000 if args.quick else 10000)
    rows = ledger_rows(n)
    body = to_csv(rows)
    import tempfile

    a, b = await fresh_database("import"), await fresh_database("bulk")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t_import, created = await timed_import(a, body, Path(tmp))
        events = await count_events(a)
        t_bulk = await timed_bulk_insert(b, rows)
    finally:
        await drop_database(a)
        await drop_database(b)
    print(f"rows: {n:,} ({len(body) / 1e6:.1f} MB CSV, UTF-8, Chinese titles)  on PostgreSQL")
    print(f"POST /v1/issues/import : {t_import:7.2f} s  {n / t_import:8.0f} rows/s   "
          f"(created {created:,} issues, {events:,} events in the outbox incl. {len(orgs()) + 1} org/round)")
    print(f"baseline bulk INSERT   : {t_bulk:7.2f} s  {n / t_bulk:8.0f} rows/s   (issue rows + outbox rows, executemany)")
    print(f"ratio import / baseline: {t_import / t_bulk:.1f}x the time of the bare insert")
    figure("import.ledger", f"import {n:,} ledger rows (CSV)", t_import, t_bulk, "s", ratio_unit="×", goal="≤ 3×",
           met=t_import / t_bulk <= 3, baseline_name="executemany of the issue rows + their outbox rows")


if __name__ == "__main__":
    asyncio.run(main())

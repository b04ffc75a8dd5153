"""Where a batch of the consumer bench spends its wall time: each statement's time per batch (SQLAlchemy's cursor
events), beside the batch's wall time and this process's CPU. A look for the profile, not a figure.

    .venv/bin/python bench/consumer_statements.py [issues|scoring] [EVENTS]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import consumer_pg
from issues_common import drop_database, fresh_database
from sqlalchemy import event

from runtime.app import freeze_startup_heap


async def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "issues"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    url = await fresh_database(which)
    try:
        build = consumer_pg.issues_db if which == "issues" else consumer_pg.scoring_db
        events, consumer = await build(url, n)
        engine = consumer.sessions.kw["bind"].sync_engine
        spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        started: dict[int, float] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
            started[id(ctx)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, stmt: str, params: Any, ctx: Any, many: bool) -> None:
            key = " ".join(stmt.split("(")[0].split())[:70]
            spent[key][0] += 1
            spent[key][1] += time.perf_counter() - started.pop(id(ctx))

        freeze_startup_heap()
        cpu, wall = time.process_time(), time.perf_counter()
        await consumer_pg.feed(consumer, events, 200)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        batches = n / 200
        print(f"{which}: {n} events, per batch of 200: wall {wall / batches * 1e3:.0f} ms, "
              f"this process's CPU {cpu / batches * 1e3:.0f} ms")
        total = 0.0
        for key, (count, seconds) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
            total += seconds
            print(f"  {seconds / batches * 1e3:7.1f} ms  x{count / batches:.0f}  {key}")
        print(f"  {total / batches * 1e3:7.1f} ms  in statements (the commit and the waits between them: the rest)")
        await consumer.sessions.kw["bind"].dispose()
    finally:
        await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())

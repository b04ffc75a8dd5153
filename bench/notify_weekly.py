"""Weekly dispatch (周调度) for 10,000 open issues across 50 orgs: time to build and enqueue all digests.

Baseline, measured in the same run on the same database: reading the same open issues (the floor any
dispatch must pay). Usage: .venv/bin/python bench/notify_weekly.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import figure

from runtime.app import build_app
from runtime.clock import SHANGHAI, SettableClock
from services.notify.app import SPEC
from services.notify.digests import SYSTEM, run_weekly
from services.notify.settings import get_settings
from services.notify.store import Delivery, InboxItem, IssueView, OrgAddresses, OrgView


async def main(issues: int, orgs: int, rounds: int) -> None:
    from datetime import datetime

    clock = SettableClock(datetime(2020, 6, 8, 9, 0, tzinfo=SHANGHAI))
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(env="test", data_dir=Path(tmp), log_level="WARNING")
        app = build_app(SPEC, settings, clock=clock, follow=False)
        async with app.router.lifespan_context(app):
            rt = app.state.runtime
            now = clock.now()
            async with rt.sessions() as s, s.begin():
                await s.execute(insert(OrgView), [{"id": f"org-{i:02d}", "name": f"单位{i:02d}", "kind": "region"}
                                                  for i in range(orgs)])
                await s.execute(insert(OrgAddresses), [{"org_id": f"org-{i:02d}", "emails": [f"o{i}@example.cn"],
                                                        "updated_at": now} for i in range(orgs)])
                base = date(2020, 5, 1)
                await s.execute(insert(IssueView), [{
                    "id": str(uuid.uuid4()), "code": f"HH-{n:05d}", "title": f"整改任务{n}:扬尘污染治理",
                    "responsible_org_id": f"org-{n % orgs:02d}", "cooperating_org_ids": [],
                    "supervising_org_id": "inspection-office", "leader": "分管副市长(生态环境)",
                    "deadline": base + timedelta(days=n % 240), "status": "in_progress", "registered_at": now,
                    "progress_note": "已完成部分整改" if n % 3 else None, "progress_percent": 50 if n % 3 else None,
                    "progress_at": now if n % 3 else None} for n in range(issues)])
            baseline, weekly = [], []
            for _ in range(rounds):
                t0 = time.perf_counter()
                async with rt.read() as s:
                    rows = (await s.execute(select(IssueView).where(IssueView.status == "in_progress"))).scalars().all()
                    assert len(rows) == issues
                baseline.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                async with rt.unit_of_work(SYSTEM, role="system") as uow:
                    result = await run_weekly(uow, now=now, run_key=f"bench:{uuid.uuid4()}", origin="manual")
                weekly.append(time.perf_counter() - t0)
                assert result is not None and result["recipients"] == orgs
            async with rt.read() as s:
                items = (await s.execute(select(func.count()).select_from(InboxItem))).scalar_one()
                queued = (await s.execute(select(func.count()).select_from(Delivery))).scalar_one()
    b, w = min(baseline), min(weekly)
    print(f"issues={issues} orgs={orgs} rounds={rounds} (best of each)")
    print(f"baseline  read {issues} open issues:            {b * 1000:8.1f} ms")
    print(f"weekly    build+enqueue {orgs} digests (inbox+email): {w * 1000:8.1f} ms  "
          f"({issues / w:,.0f} issues/s)")
    print(f"ratio     weekly / baseline:                 {w / b:8.2f}x")
    print(f"check     inbox items={items} queued e-mails={queued} (expected {orgs * rounds} each)")
    figure("notify.weekly", f"weekly dispatch, {issues:,} open issues, {orgs} orgs", w * 1000, b * 1000, "ms",
           ratio_unit="×", baseline_name="reading the same open issues")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 issues, 10 orgs, one round (< 60 s)")
    args = parser.parse_args()
    if args.quick:
        asyncio.run(main(2000, 10, 1))
    else:
        asyncio.run(main(10_000, 50, 3))

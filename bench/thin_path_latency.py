"""End-to-end latency of the thin path (register → evidence → apply → accept → visible in issues, scoring
and notify), in kafka mode (PostgreSQL + Kafka) and, as the baseline of the same run, in embedded mode.

    scripts/servers.sh start && source var/test-servers/env
    .venv/bin/python bench/thin_path_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import figure

from runtime.settings import SERVICE_NAMES
from tests.e2e.cluster import Cluster, create_pg_databases, drop_pg_databases
from tests.e2e.flow import register_issue, setup_orgs, sign_off, signed_off_everywhere


async def start(c: Cluster) -> None:
    """The four services, given three minutes to be ready (a shared machine under load starts them slowly)."""
    c.data_dir.mkdir(parents=True, exist_ok=True)
    for name in SERVICE_NAMES:
        c.start(name)
    await c.wait_ready(timeout=180)


async def measure(c: Cluster, runs: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(timeout=60) as client:
        await setup_orgs(c, client)
        await signed_off_everywhere(c, client, await _one(c, client))  # warm-up (consumer groups join)
        for i in range(runs):
            started = time.perf_counter()
            issue_id = await register_issue(c, client)
            await sign_off(c, client, issue_id, seed=i)
            await signed_off_everywhere(c, client, issue_id)
            times.append((time.perf_counter() - started) * 1000)
            print(f"  {c.bus:<8} run {i + 1:>2}/{runs}: {times[-1]:7.1f} ms", flush=True)
    return times


async def _one(c: Cluster, client: httpx.AsyncClient) -> str:
    issue_id = await register_issue(c, client)
    await sign_off(c, client, issue_id, seed=999)
    return issue_id


def summary(name: str, times: list[float]) -> str:
    q = statistics.quantiles(times, n=20)
    return f"{name:<9} median {statistics.median(times):7.1f} ms   p95 {q[18]:7.1f} ms   min {min(times):7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="5 runs per mode")
    args = parser.parse_args()
    args.runs = args.runs or (5 if args.quick else 20)
    pg = os.environ.get("CLOSELOOP_TEST_PG", "").replace("postgresql+asyncpg://", "postgresql://")
    kafka = os.environ.get("CLOSELOOP_TEST_KAFKA")
    if not pg or not kafka:
        sys.exit("start the servers first: scripts/servers.sh start && source var/test-servers/env")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        embedded = Cluster(data_dir=Path(tmp) / "embedded")
        try:
            await start(embedded)
            results["embedded"] = await measure(embedded, args.runs)
        finally:
            embedded.stop_all()
        prefix = f"b{uuid.uuid4().hex[:8]}"
        dbs = await create_pg_databases(pg, prefix)
        kc = Cluster(data_dir=Path(tmp) / "kafka", bus="kafka", kafka=kafka, databases=dbs,
                     extra_env={"CLOSELOOP_KAFKA_PREFIX": f"{prefix}."})
        try:
            await start(kc)
            results["kafka"] = await measure(kc, args.runs)
        finally:
            kc.stop_all()
            await drop_pg_databases(pg, dbs)
    report(results, args.runs)


def report(results: dict[str, list[float]], runs: int) -> None:
    """Print both modes and record the figure (kafka median beside embedded median)."""
    print("\nthin path, end to end (8 REST calls + 3 services observing the sign-off):")
    for name, times in results.items():
        print(summary(name, times))
    ratio = statistics.median(results["kafka"]) / statistics.median(results["embedded"])
    print(f"kafka / embedded median ratio: {ratio:.2f}")
    figure("latency.thin_path", f"thin path end to end, kafka mode, median ({runs} runs)",
           statistics.median(results["kafka"]), statistics.median(results["embedded"]), "ms", ratio_unit="×",
           baseline_name="embedded mode median")


if __name__ == "__main__":
    asyncio.run(main())

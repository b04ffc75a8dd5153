"""Time from a supervisor's `accept` to `signed_off` being visible in the issues service, p50/p95.

Kafka mode is the figure asked for: real processes (issues, verification), PostgreSQL, the Kafka broker. The
baseline, measured in the same run, is the same measurement in embedded mode (SQLite, feeds over HTTP); the
accept call's own HTTP time is printed too, so the part spent crossing the bus is visible.

    scripts/servers.sh start && source var/test-servers/env
    .venv/bin/python bench/verification_latency.py [--quick] [--decisions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import figure

from tests.e2e.cluster import Cluster, create_pg_databases, drop_pg_databases, eventually
from tests.e2e.flow import register_issue, setup_orgs

SERVICES = ("issues", "verification")


def photo(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, (seed * 7) % 256, 90)).save(buf, "JPEG")
    return buf.getvalue()


async def prepare(c: Cluster, client: httpx.AsyncClient, n: int) -> list[str]:
    """n issues with an open application each, already shown as closure_requested by the issues service."""
    await setup_orgs(c, client)
    sem = asyncio.Semaphore(8)
    eeb = c.auth(org="city-eeb", roles="responsible")
    admin = c.auth(org="inspection-office", roles="admin")

    async def one(i: int) -> str:
        async with sem:
            issue_id = await register_issue(c, client)

            async def uploaded() -> str | None:
                r = await client.post(f"{c.url('verification')}/v1/evidence", headers=eeb,
                                      data={"issue_id": issue_id, "kind": "photo"},
                                      files={"file": ("p.jpg", photo(i), "image/jpeg")})
                return str(r.json()["id"]) if r.status_code == 201 else None

            evidence = await eventually(uploaded, timeout=60)
            r = await client.post(f"{c.url('verification')}/v1/closures", headers=eeb, json={
                "issue_id": issue_id, "summary": "已完成整改", "evidence_ids": [evidence]})
            assert r.status_code == 201, r.text

            async def requested() -> bool:
                r = await client.get(f"{c.url('issues')}/v1/issues/{issue_id}", headers=admin)
                return r.json()["status"] == "closure_requested"

            await eventually(requested, timeout=60)
            return f"{issue_id} {r.json()['id']}"

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def measure(c: Cluster, n: int) -> tuple[list[float], list[float]]:
    """For each of n prepared applications: accept, then poll the issues service until it shows signed_off."""
    async with httpx.AsyncClient(timeout=60) as client:
        pairs = await prepare(c, client, n + 3)
        office = c.auth(org="inspection-office", roles="supervisor")
        admin = c.auth(org="inspection-office", roles="admin")
        visible, calls = [], []
        for k, pair in enumerate(pairs):
            issue_id, closure_id = pair.split()
            started = time.perf_counter()
            r = await client.post(f"{c.url('verification')}/v1/closures/{closure_id}/decision", headers=office,
                                  json={"decision": "accept", "opinion": "现场核查属实"})
            answered = time.perf_counter()
            assert r.status_code == 200, r.text
            while True:
                s = await client.get(f"{c.url('issues')}/v1/issues/{issue_id}", headers=admin)
                if s.json()["status"] == "signed_off":
                    break
                if time.perf_counter() - started > 60:
                    raise TimeoutError(f"{issue_id} not signed off in the issues service after 60 s")
                await asyncio.sleep(0.002)
            if k >= 3:  # the first few warm the consumers and connection pools up
                visible.append((time.perf_counter() - started) * 1000)
                calls.append((answered - started) * 1000)
        return visible, calls


def pct(times: list[float], p: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[p - 1]


async def run(mode: str, tmp: Path, n: int) -> tuple[list[float], list[float]]:
    if mode == "embedded":
        c = Cluster(data_dir=tmp / "embedded")
        dbs: dict[str, str] = {}
    else:
        pg = os.environ["CLOSELOOP_TEST_PG"].replace("postgresql+asyncpg://", "postgresql://")
        prefix = f"bv{uuid.uuid4().hex[:8]}"
        dbs = await create_pg_databases(pg, prefix)
        c = Cluster(data_dir=tmp / "kafka", bus="kafka", kafka=os.environ["CLOSELOOP_TEST_KAFKA"], databases=dbs,
                    extra_env={"CLOSELOOP_KAFKA_PREFIX": f"{prefix}."})
    c.data_dir.mkdir(parents=True)
    try:
        for name in SERVICES:
            c.start(name)
        await c.wait_ready(SERVICES)
        return await measure(c, n)
    finally:
        c.stop_all()
        if dbs:
            await drop_pg_databases(os.environ["CLOSELOOP_TEST_PG"].replace("postgresql+asyncpg://",
                                                                            "postgresql://"), dbs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 decisions per mode (< 60 s)")
    parser.add_argument("--decisions", type=int, default=None)
    args = parser.parse_args()
    n = args.decisions or (20 if args.quick else 200)
    if not os.environ.get("CLOSELOOP_TEST_PG") or not os.environ.get("CLOSELOOP_TEST_KAFKA"):
        sys.exit("start the servers first: scripts/servers.sh start && source var/test-servers/env")
    results = {}
    with tempfile.TemporaryDirectory(prefix="closeloop-bench-") as tmp:
        for mode in ("kafka", "embedded"):
            results[mode] = await run(mode, Path(tmp), n)
    report(results, n)


def report(results: dict[str, tuple[list[float], list[float]]], n: int, *, services: str = "") -> None:
    """Print both modes and record the figure (kafka p95 beside embedded p95)."""
    print(f"\naccept → signed_off visible in the issues service, {n} decisions per mode (polled every 2 ms)"
          f"{services}:")
    for mode, (visible, calls) in results.items():
        print(f"  {mode:<9} p50 {pct(visible, 50):7.1f} ms   p95 {pct(visible, 95):7.1f} ms   "
              f"max {max(visible):7.1f} ms   (the accept call itself: p50 {pct(calls, 50):6.1f} ms)")
    ratio = pct(results["kafka"][0], 50) / pct(results["embedded"][0], 50)
    print(f"kafka / embedded p50 ratio: {ratio:.2f}")
    p95 = pct(results["kafka"][0], 95)
    figure("latency.accept_signed_off", f"accept → signed_off visible in issues, kafka mode, p95 ({n} decisions)",
           p95, pct(results["embedded"][0], 95), "ms", ratio_unit="×", goal="≤ 60 ms", met=p95 <= 60,
           baseline_name="embedded mode p95")


if __name__ == "__main__":
    asyncio.run(main())

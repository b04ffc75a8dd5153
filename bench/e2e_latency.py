"""Both end-to-end latencies on one cluster per mode: accept → signed_off visible in issues
(bench/verification_latency.py) and the thin path (bench/thin_path_latency.py), kafka mode (PostgreSQL + Kafka)
beside embedded mode, measured in the same run.

    scripts/servers.sh start && source var/test-servers/env
    .venv/bin/python bench/e2e_latency.py [--decisions 200] [--runs 20]

Alone, each of the two benches starts its own clusters, and starting one (four Python processes; in kafka mode
their consumer groups joining) takes longer than measuring on it: here each mode's cluster is started once for
both figures, which keeps `bench/run --quick` within its 3 minutes. All four services run for both figures (the
accept bench alone starts only issues and verification), in both modes alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import thin_path_latency as thin
import verification_latency as accept

from tests.e2e.cluster import Cluster, create_pg_databases, drop_pg_databases


async def one_mode(mode: str, tmp: Path, decisions: int, runs: int
                   ) -> tuple[tuple[list[float], list[float]], list[float]]:
    pg = os.environ["CLOSELOOP_TEST_PG"].replace("postgresql+asyncpg://", "postgresql://")
    dbs: dict[str, str] = {}
    if mode == "embedded":
        c = Cluster(data_dir=tmp / "embedded")
    else:
        prefix = f"be{uuid.uuid4().hex[:8]}"
        dbs = await create_pg_databases(pg, prefix)
        c = Cluster(data_dir=tmp / "kafka", bus="kafka", kafka=os.environ["CLOSELOOP_TEST_KAFKA"], databases=dbs,
                    extra_env={"CLOSELOOP_KAFKA_PREFIX": f"{prefix}."})
    try:
        t0 = time.perf_counter()
        await thin.start(c)
        print(f"{mode}: four services ready in {time.perf_counter() - t0:.0f} s", flush=True)
        decided = await accept.measure(c, decisions)
        walked = await thin.measure(c, runs)
        return decided, walked
    finally:
        c.stop_all()
        if dbs:
            await drop_pg_databases(pg, dbs)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=200, help="accept decisions per mode")
    ap.add_argument("--runs", type=int, default=20, help="thin-path runs per mode")
    args = ap.parse_args()
    if not os.environ.get("CLOSELOOP_TEST_PG") or not os.environ.get("CLOSELOOP_TEST_KAFKA"):
        sys.exit("start the servers first: scripts/servers.sh start && source var/test-servers/env")
    decided: dict[str, tuple[list[float], list[float]]] = {}
    walked: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="closeloop-bench-") as tmp:
        for mode in ("kafka", "embedded"):
            decided[mode], walked[mode] = await one_mode(mode, Path(tmp), args.decisions, args.runs)
    accept.report(decided, args.decisions, services=", the four services running")
    thin.report(walked, args.runs)


if __name__ == "__main__":
    asyncio.run(main())

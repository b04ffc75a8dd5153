"""Shared by the issues benchmarks: fresh PostgreSQL databases, synthetic ledgers, servers in subprocesses."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from closeloop.cli import REFERENCE_ROUND
from services.issues.ledger import COLUMNS

CATEGORIES = ["air", "water", "soil", "ecology", "governance", "solid_waste"]
WORDS = ["黑臭水体", "燃煤锅炉", "扬尘治理", "饮用水水源地", "工业园区", "散乱污企业", "秸秆焚烧", "垃圾填埋场",
         "污水处理厂", "矿山修复", "草原生态", "PM2.5"]


def pg_base() -> str:
    """The durable bench cluster's URL (bench/pg.sh), else the test server's, or exit with what to do."""
    url = os.environ.get("CLOSELOOP_BENCH_PG") or os.environ.get("CLOSELOOP_TEST_PG", "")
    if not url:
        sys.exit("未设置数据库 / no database: run bench/run (it starts a durable cluster), or bench/pg.sh start and "
                 "export CLOSELOOP_BENCH_PG=... (or CLOSELOOP_TEST_PG from scripts/servers.sh)")
    return url


async def fresh_database(tag: str) -> str:
    """Create an empty database on the test server; its asyncpg URL."""
    import asyncpg

    base = pg_base()
    name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    """Drop a benchmark database."""
    import asyncpg

    base = pg_base().replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(base)
    try:
        for attempt in range(10):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
                return
            except asyncpg.exceptions.InsufficientPrivilegeError:
                # an autovacuum worker of the server's own role is on it: wait for it to finish
                await asyncio.sleep(0.5 * (attempt + 1))
        print(f"warning: could not drop {url.rsplit('/', 1)[1]} (autovacuum busy on it)", file=sys.stderr)
    finally:
        await conn.close()


def orgs() -> list[dict[str, str]]:
    with (ROOT / "data" / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def ledger_rows(n: int, seed: int = 3) -> list[dict[str, str]]:
    """n valid ledger rows over the reference orgs and round, with Chinese titles."""
    rnd = random.Random(seed)
    ids = [o["id"] for o in orgs()]
    regions = [o["id"] for o in orgs() if o["kind"] == "region"]
    rows = []
    for i in range(n):
        responsible = rnd.choice(ids[1:])
        coop = rnd.sample([x for x in ids[1:] if x != responsible], rnd.randint(0, 2))
        target = rnd.random() < 0.3
        rows.append({
            "code": f"BENCH-{i:06d}", "round": REFERENCE_ROUND["id"], "category": rnd.choice(CATEGORIES),
            "title": f"{rnd.choice(WORDS)}整改任务{i}号:{rnd.choice(WORDS)}", "region": rnd.choice(regions + [""] * 3),
            "responsible_org": responsible, "cooperating_orgs": ";".join(coop),
            "supervising_org": rnd.choice([x for x in ("inspection-office", "city-eeb") if x != responsible]),
            "leader": "分管副市长(生态环境)",
            "deadline": (date(2020, 6, 1) + timedelta(days=rnd.randint(0, 900))).isoformat(),
            "target_indicator": "pm25_annual_mean" if target else "", "target_op": "<=" if target else "",
            "target_value": "35" if target else "", "target_unit": "ug/m3" if target else "",
            "measures": "按期完成整改;建立长效机制",
        })
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(args: list[str], *, env: dict[str, str], health: str,
           cpu: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess (pinned to core `cpu` when given), waited on until `health` answers 200, terminated at
    exit."""
    pin = pin_prefix(cpu)
    proc = subprocess.Popen([*pin, sys.executable, *args], env={**os.environ, **env}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy at {health}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cores() -> list[int]:
    """The cores this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin_prefix(cpu: int | None) -> list[str]:
    """`taskset -c cpu` when pinning is possible (two cores or more, taskset present), else nothing."""
    if cpu is None or len(cores()) < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cores()[cpu % len(cores())])]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of a list of seconds, in milliseconds."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k] * 1000

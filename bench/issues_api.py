"""The issues API on PostgreSQL, each figure beside a bare FastAPI endpoint measured in the same run.

    .venv/bin/python bench/issues_api.py [--quick]

1. `POST /v1/issues` at 32 concurrent clients against the real service (uvicorn subprocess, PostgreSQL): sustained
   throughput and p99, beside a bare FastAPI app (uvicorn subprocess, same SQLAlchemy/asyncpg stack) whose
   endpoint writes one row to the same database. Goal: >= 70 % of the bare throughput. The load comes from wrk
   (bench/wrk/post_issue.lua, a unique body per request) pinned to another core than the servers, when wrk is
   installed (scripts/install-bench-tools.sh); else from the Python client.
2. `GET /v1/issues` with the design's filters over 100,000 issues (10,000 with --quick): p50/p95 per query
   shape, one client, beside the bare app reading 50 rows of the same table by deadline. Goal: p95 < 50 ms.

Needs CLOSELOOP_TEST_PG (scripts/servers.sh start; source var/test-servers/env). The client runs on the same
machine as the servers, so the figures include its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from figures import figure
from issues_common import drop_database, free_port, fresh_database, orgs, pct, pin_prefix, server
from sqlalchemy import insert, text

from closeloop.cli import REFERENCE_ROUND
from runtime.app import freeze_startup_heap
from runtime.auth import issue_token
from runtime.db import make_engine
from runtime.migrations import migrate
from services.issues.app import SPEC
from services.issues.settings import get_settings
from services.issues.store import Issue, Party, parties_of

STATUSES = ["registered", "in_progress", "closure_requested", "signed_off", "filed"]
WORDS = ["黑臭水体", "燃煤锅炉", "扬尘治理", "饮用水水源地", "工业园区", "散乱污企业", "秸秆焚烧", "垃圾填埋场"]


def bare_app(url: str):  # type: ignore[no-untyped-def]
    """The baseline: FastAPI, one engine, one INSERT per POST, one SELECT per GET; nothing else."""
    from fastapi import FastAPI

    app = FastAPI()
    engine = make_engine(url)

    @app.on_event("startup")
    async def _create() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_bare (id varchar(36) PRIMARY KEY, "
                                    "code varchar(64) NOT NULL, title text NOT NULL, deadline date NOT NULL)"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare", status_code=201)
    async def write(body: dict) -> dict:  # type: ignore[type-arg]
        row = {"id": str(uuid.uuid4()), "code": body["code"], "title": body["title"],
               "deadline": date.fromisoformat(body["deadline"])}
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO bench_bare (id, code, title, deadline) "
                                    "VALUES (:id, :code, :title, :deadline)"), row)
        return {"id": row["id"]}

    @app.get("/bare/issues")
    async def read() -> dict:  # type: ignore[type-arg]
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, code, title, deadline, status FROM issues_issue "
                                            "ORDER BY deadline, id LIMIT 50"))).mappings().all()
        return {"items": [dict(r, deadline=r["deadline"].isoformat()) for r in rows]}

    return app


SERVER_CPU = 0  # the servers on the first core, the load generator on the second (when there are two)
CLIENT_CPU = 1
LUA = Path(__file__).resolve().parent / "wrk" / "post_issue.lua"


def client_name() -> str:
    pin = pin_prefix(CLIENT_CPU)
    where = f"pinned to core {pin[-1]}" if pin else "not pinned (one core)"
    return f"wrk ({where})" if shutil.which("wrk") else "the Python client (wrk missing: scripts/install-bench-tools.sh)"


async def load(url: str, prefix: str, token: str, org_ids: list[str], *, seconds: float,
               clients: int = 32) -> tuple[int, float, float]:
    """`clients` connections POSTing unique bodies for `seconds`; (requests, elapsed, p99 ms). wrk when it is
    installed (native, not the bottleneck), else the Python client."""
    if not shutil.which("wrk"):
        n, elapsed, lat = await hammer(url, issue_bodies(prefix), headers={"Authorization": token},
                                       clients=clients, seconds=seconds, expect=201)
        return n, elapsed, pct(lat, 99)
    cmd = [*pin_prefix(CLIENT_CPU), "wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
           "-H", f"Authorization: {token}", "-s", str(LUA), url, "--", prefix, REFERENCE_ROUND["id"], *org_ids]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    line = next((x for x in out.decode().splitlines() if x.startswith("WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()[-500:]} {out.decode()[-500:]}")
    r = json.loads(line[4:])
    failed = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    if failed:
        print(f"  {failed} requests failed at {url}: {err.decode()[-300:]}", file=sys.stderr)
    return int(r["requests"]) - failed, float(r["seconds"]), float(r["p99"])


async def profile_server(pid: int, url: str, token: str, org_ids: list[str], *, seconds: float) -> None:
    """A py-spy flame graph of the service under the same load (not timed: sampling costs the server CPU)."""
    folder = Path(os.environ["CLOSELOOP_BENCH_PROFILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    rec = await asyncio.create_subprocess_exec(
        str(spy), "record", "--pid", str(pid), "--duration", str(max(2, round(seconds))), "--rate", "200",
        "--output", str(folder / "api_create.txt"), "--format", "raw",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    await asyncio.sleep(0.5)
    await load(url, "PROF", token, org_ids, seconds=seconds)
    _, err = await rec.communicate()
    flame = Path(__file__).resolve().parent / "flame.py"
    done = await asyncio.create_subprocess_exec(sys.executable, str(flame), str(folder / "api_create.txt"),
                                                stdout=asyncio.subprocess.DEVNULL)
    await done.wait()
    print(f"   profile: {folder / 'api_create.svg'} (and .summary.txt) {err.decode().strip()[-200:]}")


async def hammer(url: str, bodies, *, headers: dict[str, str], clients: int, seconds: float,  # type: ignore[no-untyped-def]
                 expect: int) -> tuple[int, float, list[float]]:
    """`clients` concurrent loops POSTing for `seconds`; (requests, elapsed, latencies)."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await client.post(url, json=next(bodies))
                latencies.append(time.perf_counter() - t0)
                if r.status_code != expect:
                    errors += 1
                    if errors < 3:
                        print(f"  unexpected {r.status_code}: {r.text[:200]}", file=sys.stderr)
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    if errors:
        print(f"  {errors} requests failed", file=sys.stderr)
    return len(latencies), elapsed, latencies


def issue_bodies(prefix: str):  # type: ignore[no-untyped-def]
    rnd = random.Random(5)
    ids = [o["id"] for o in orgs()][1:]
    n = 0
    while True:
        n += 1
        yield {"code": f"{prefix}-{n:07d}", "round_id": REFERENCE_ROUND["id"], "category": "air",
               "title": f"{rnd.choice(WORDS)}整改{n}", "responsible_org_id": rnd.choice(ids),
               "cooperating_org_ids": [], "supervising_org_id": "inspection-office", "leader": "分管副市长",
               "deadline": (date(2020, 6, 1) + timedelta(days=rnd.randint(0, 900))).isoformat(),
               "target": {"indicator": "pm25_annual_mean", "op": "<=", "value": 35, "unit": "ug/m3"}}


async def load_issues(url: str, n: int) -> None:
    """n issues (and their scoping rows) written straight into the tables, as the import would leave them."""
    rnd = random.Random(11)
    ids = [o["id"] for o in orgs()][1:]
    regions = [o["id"] for o in orgs() if o["kind"] == "region"]
    now = datetime.now(UTC)
    engine = make_engine(url)
    batch: list[dict] = []  # type: ignore[type-arg]
    parties: list[dict] = []  # type: ignore[type-arg]

    async def flush() -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(Issue.__table__), batch)  # type: ignore[attr-defined]
            await conn.execute(insert(Party.__table__), parties)  # type: ignore[attr-defined]
        batch.clear()
        parties.clear()

    for i in range(n):
        resp = rnd.choice(ids)
        coop = rnd.sample([x for x in ids if x != resp], rnd.randint(0, 2))
        sup = rnd.choice(["inspection-office", "city-eeb"])
        d = date(2020, 6, 1) + timedelta(days=rnd.randint(0, 1500))
        iid = str(uuid.uuid4())
        batch.append({"id": iid, "code": f"L-{i:07d}", "round_id": REFERENCE_ROUND["id"],
                      "category": rnd.choice(["air", "water", "soil", "ecology", "governance"]),
                      "title": f"{rnd.choice(WORDS)}问题{i}:{rnd.choice(WORDS)}", "description": None,
                      "region_id": rnd.choice(regions + [None] * 3), "responsible_org_id": resp,
                      "cooperating_org_ids": coop, "supervising_org_id": sup, "leader": "分管副市长", "deadline": d,
                      "original_deadline": d, "target": None, "measures": "措施", "location": None,
                      "status": rnd.choice(STATUSES), "last_progress_percent": None, "last_progress_note": None,
                      "last_progress_at": None, "created_at": now, "updated_at": now})
        parties += parties_of(issue_id=iid, responsible=resp, cooperating=coop, supervising=sup, deadline=d)
        if len(batch) >= 5000:
            await flush()
    if batch:
        await flush()
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def latencies(client: httpx.AsyncClient, path: str, params: dict, headers: dict, n: int) -> list[float]:  # type: ignore[type-arg]
    out = []
    for _ in range(3):
        await client.get(path, params=params, headers=headers)
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(path, params=params, headers=headers)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:300]
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs, 10,000 issues for the list")
    ap.add_argument("--serve-bare", nargs=2, metavar=("PORT", "URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        import uvicorn

        port, url = args.serve_bare
        config = uvicorn.Config(bare_app(url), host="127.0.0.1", port=int(port), log_level="warning",
                                access_log=False)
        freeze_startup_heap()  # as `closeloop serve` does for the service: like for like
        await uvicorn.Server(config).serve()
        return
    seconds = 4.0 if args.quick else 20.0
    list_rows = 10_000 if args.quick else 100_000
    samples = 20 if args.quick else 300
    url = await fresh_database("api")
    try:
        settings = get_settings()
        admin = {"Authorization": "Bearer " + issue_token(settings, sub="bench", org="inspection-office",
                                                          roles=["admin"])}
        engine = make_engine(url)
        await migrate(engine, "issues", SPEC.migrations)
        await engine.dispose()
        sport, bport = free_port(), free_port()
        env = {"CLOSELOOP_DATABASE_URL": url, "CLOSELOOP_LOG_LEVEL": "WARNING", "CLOSELOOP_ENV": "development",
               "CLOSELOOP_VERIFICATION_URL": f"http://127.0.0.1:{free_port()}", "CLOSELOOP_POLL_INTERVAL": "1"}
        with server(["-m", "closeloop.cli", "serve", "issues", "--host", "127.0.0.1", "--port", str(sport)], env=env,
                    health=f"http://127.0.0.1:{sport}/healthz", cpu=SERVER_CPU) as server_proc, \
             server([__file__, "--serve-bare", str(bport), url], env={}, health=f"http://127.0.0.1:{bport}/healthz",
                    cpu=SERVER_CPU):
            base, bare = f"http://127.0.0.1:{sport}", f"http://127.0.0.1:{bport}"
            async with httpx.AsyncClient(base_url=base, headers=admin, timeout=60) as c:
                for o in orgs():
                    await c.post("/v1/orgs", json={"id": o["id"], "name": o["name"], "kind": o["kind"],
                                                   "zone_type": o["zone_type"] or None})
                await c.post("/v1/rounds", json=REFERENCE_ROUND)
            print(f"1. POST at 32 concurrent clients, {seconds:.0f} s each, PostgreSQL, load from {client_name()}")
            targets = (("bare FastAPI, one INSERT", f"{bare}/bare"), ("POST /v1/issues", f"{base}/v1/issues"))
            token = admin["Authorization"]
            org_ids = [o["id"] for o in orgs()][1:]
            for name, target in targets:
                await load(target, f"W{name[:4]}", token, org_ids, seconds=1.0 if args.quick else 1.5)  # warm-up
            # Alternating halves, so drift in a shared machine's load falls on both sides alike.
            totals: dict[str, tuple[int, float, list[float]]] = {name: (0, 0.0, []) for name, _ in targets}
            for half in range(2):
                for name, target in targets:
                    n, elapsed, p99 = await load(target, f"{name[:4]}{half}", token, org_ids, seconds=seconds / 2)
                    tn, te, tl = totals[name]
                    totals[name] = (tn + n, te + elapsed, [*tl, p99])
            results = {}
            for name, (n, elapsed, p99s) in totals.items():
                results[name] = n / elapsed
                print(f"   {name:<26} {n / elapsed:8.0f} req/s   p99 {max(p99s):6.1f} ms   ({n} requests)")
            ratio = results["POST /v1/issues"] / results["bare FastAPI, one INSERT"]
            figure("api.create", "POST /v1/issues, 32 clients (wrk)", results["POST /v1/issues"],
                   results["bare FastAPI, one INSERT"], "req/s", goal="≥ 70 %", met=ratio >= 0.70,
                   baseline_name="bare FastAPI one-row INSERT")
            if os.environ.get("CLOSELOOP_BENCH_PROFILE_DIR"):
                await profile_server(server_proc.pid, f"{base}/v1/issues", token, org_ids, seconds=seconds)

            print(f"\n2. GET /v1/issues over {list_rows:,} more issues, {samples} requests per shape, one client")
            t0 = time.perf_counter()
            await load_issues(url, list_rows)
            print(f"   (loaded in {time.perf_counter() - t0:.0f} s)")
            water = {"Authorization": "Bearer " + issue_token(settings, sub="w", org="city-water",
                                                              roles=["responsible"])}
            eeb = {"Authorization": "Bearer " + issue_token(settings, sub="e", org="city-eeb", roles=["supervisor"])}
            async with httpx.AsyncClient(base_url=base, timeout=60) as c:
                r = await c.get("/v1/issues", params={"region_id": "saihan", "limit": 50}, headers=admin)
                page2 = r.json()["next_cursor"]
                shapes = [
                    ("bare: 50 rows by deadline", f"{bare}/bare/issues", {}, {}),
                    ("admin, no filter", "/v1/issues", {}, admin),
                    ("admin, status", "/v1/issues", {"status": "in_progress"}, admin),
                    ("admin, responsible_org_id", "/v1/issues", {"responsible_org_id": "city-water"}, admin),
                    ("admin, category + region", "/v1/issues", {"category": "air", "region_id": "saihan"}, admin),
                    ("admin, region, page 2", "/v1/issues", {"region_id": "saihan", "cursor": page2}, admin),
                    ("admin, overdue, -deadline", "/v1/issues", {"overdue": "true", "sort": "-deadline"}, admin),
                    ("admin, q=黑臭水体", "/v1/issues", {"q": "黑臭水体"}, admin),
                    ("admin, q rare (L-0012345)", "/v1/issues", {"q": "L-0012345"}, admin),
                    ("responsible (scoped)", "/v1/issues", {}, water),
                    ("supervisor, overdue (scoped)", "/v1/issues", {"overdue": "true"}, eeb),
                    ("public view, no token", "/v1/public/issues", {}, {}),
                ]
                base_p95 = None
                worst = (0.0, "")
                for name, path, params, headers in shapes:
                    lat = await latencies(c, path, params, headers, samples)
                    p95 = pct(lat, 95)
                    base_p95 = base_p95 or p95
                    if path != shapes[0][1]:
                        worst = max(worst, (p95, name))
                    print(f"   {name:<30} p50 {pct(lat, 50):6.1f} ms   p95 {p95:6.1f} ms   "
                          f"({p95 / base_p95:4.1f}x bare)")
                figure("api.list", f"GET /v1/issues over {list_rows:,}, worst p95 of 11 shapes ({worst[1]})",
                       worst[0], base_p95, "ms", ratio_unit="×", goal="p95 < 50 ms", met=worst[0] < 50,
                       baseline_name="bare 50-row SELECT")
    finally:
        await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())

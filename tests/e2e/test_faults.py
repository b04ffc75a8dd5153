"""The fault suite: the four services as real processes on the real broker and database (kafka mode, PostgreSQL),
with a load generator registering issues through the issues REST API while, round by round,

1. a service process is killed with SIGKILL mid-stream (issues, that takes the writes, and notify, that consumes
   them) and started again;
2. the broker is killed with SIGKILL and started again on its data (`scripts/servers.sh kill|restart kafka`);
3. PostgreSQL stops immediately, as by a crash, and starts again on its data (`… kill|restart postgresql`);
4. two more replicas of notify join its consumer group; one leaves with SIGTERM, the other dies with SIGKILL: the
   partitions move each time.

After each round, once every log is published and every consumer group has committed to the end of what it
follows: every acknowledged write (201 from the API, by its id) is in each service's state exactly once (the issue
in issues, its assignment notice in notify's inbox of the responsible org, its fact in scoring, the issue known to
verification), and `closeloop audit export`, `verify` and `replay --compare` are clean. A write that got an error or
a timeout may or may not have happened; the generator retries it with the same client-chosen code (the issues API has
no idempotency key: a code is unique in its round, so a retry of a write that did commit answers 409 and creates
nothing), and such writes are checked to be there once too.

The rounds share one cluster and run in order; each checks every write acknowledged so far, in all rounds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from closeloop.cli import app as cli
from contracts import topic_for
from runtime.auth import issue_token
from runtime.settings import SERVICE_NAMES
from tests.conftest import _missing, pg_admin_dsn
from tests.e2e.cluster import ROOT, Cluster, create_pg_databases, drop_pg_databases, eventually
from tests.e2e.flow import setup_orgs

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

SERVERS_SH = ROOT / "scripts" / "servers.sh"
FOLLOWS = {"issues": ("verification",), "verification": ("issues",), "scoring": ("issues", "verification"),
           "notify": ("issues", "verification", "scoring")}
# Generous for a loaded 2-core machine; every wait polls its condition and returns as soon as it holds.
SETTLE = 180.0
WRITE_DEADLINE = 120.0  # how long the generator keeps retrying one write


# ---------------------------------------------------------------- the servers of scripts/servers.sh


def servers(command: str, *args: str) -> str:
    """Run scripts/servers.sh on the servers the tests use (its state dir and ports come from the environment)."""
    done = subprocess.run(["bash", str(SERVERS_SH), command, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"servers.sh {command} {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


async def crash(command: str, name: str) -> None:
    """`servers.sh kill|restart NAME` in a thread: the writers go on meanwhile."""
    await asyncio.to_thread(servers, command, name)


def check_servers() -> str:
    """The broker's address, when the test servers are those scripts/servers.sh runs (this suite crashes them)."""
    bootstrap = os.environ.get("CLOSELOOP_TEST_KAFKA", "")
    if not bootstrap or not os.environ.get("CLOSELOOP_TEST_PG"):
        _missing("Kafka and PostgreSQL (CLOSELOOP_TEST_KAFKA, CLOSELOOP_TEST_PG)")
    done = subprocess.run(["bash", str(SERVERS_SH), "status"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    if done.returncode != 0 or f"CLOSELOOP_TEST_KAFKA={bootstrap}" not in done.stdout:
        _missing(f"the servers of scripts/servers.sh at {bootstrap} (the fault suite kills and restarts them; "
                 f"status said: {done.stdout.strip()} {done.stderr.strip()})")
    return bootstrap


# ---------------------------------------------------------------- the load generator


@dataclass
class Ledger:
    """What the generator was told: acknowledged writes by code, and how the others went."""

    acked: dict[str, str] = field(default_factory=dict)  # code → issue id, answered 201
    found: set[str] = field(default_factory=set)  # codes whose retry answered 409: an earlier attempt committed
    failures: Counter[str] = field(default_factory=Counter)  # what the unacknowledged attempts met
    retries: int = 0


class Load:
    """Writers registering issues with client-chosen codes until stopped; a failed attempt is retried with the same
    code until it is acknowledged (201) or known to have committed (409 on a retry)."""

    def __init__(self, c: Cluster, ledger: Ledger, prefix: str, *, writers: int = 2, pace: float = 0.1,
                 ahead: int = 10) -> None:
        self.c, self.ledger, self.prefix, self.writers, self.pace = c, ledger, prefix, writers, pace
        self.stopping = asyncio.Event()
        self.next = 0
        # writes begun at most `ahead` beyond what a round waits for: a long fault (a broker restart) keeps writes
        # going without piling up hundreds for the checks and the audit to go through
        self.ahead = ahead
        self.cap = ahead
        self.acked = 0  # in this round
        self.headers = c.auth(org="inspection-office", roles="admin")
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._writer()) for _ in range(self.writers)]

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)

    async def _writer(self) -> None:
        async with httpx.AsyncClient(timeout=15) as client:
            while not self.stopping.is_set():
                if self.next >= self.cap:
                    await asyncio.sleep(0.05)
                    continue
                self.next += 1
                await self._write(client, f"{self.prefix}-{self.next:04d}")
                await asyncio.sleep(self.pace)

    async def _write(self, client: httpx.AsyncClient, code: str) -> None:
        body = {"code": code, "round_id": "nm-2019-inspection", "category": "water", "title": "故障演练中登记的整改任务",
                "responsible_org_id": "city-eeb", "cooperating_org_ids": ["city-water"],
                "supervising_org_id": "inspection-office", "deadline": "2020-12-31"}
        deadline = time.monotonic() + WRITE_DEADLINE
        tried = False
        while True:
            try:
                r = await client.post(f"{self.c.url('issues')}/v1/issues", json=body, headers=self.headers)
            except httpx.HTTPError as exc:
                self.ledger.failures[type(exc).__name__] += 1
            else:
                if r.status_code == 201:
                    self.ledger.acked[code] = r.json()["id"]
                    self.acked += 1
                    return
                if r.status_code == 409 and tried:
                    self.ledger.found.add(code)
                    return
                assert r.status_code >= 500, f"{code}: {r.status_code} {r.text}"
                self.ledger.failures[str(r.status_code)] += 1
            assert time.monotonic() < deadline, f"{code} was not written within {WRITE_DEADLINE} s"
            tried = True
            self.ledger.retries += 1
            await asyncio.sleep(0.2)

    async def more(self, count: int, what: str) -> None:
        """Wait until `count` more writes of this round are acknowledged."""
        target = self.acked + count
        self.cap = max(self.cap, self.next + count + self.ahead)

        async def enough() -> bool:
            for task in self.tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return self.acked >= target

        try:
            await eventually(enough, timeout=SETTLE, interval=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {self.acked} of {target} writes acknowledged; "
                                 f"failures {dict(self.ledger.failures)}") from exc


# ---------------------------------------------------------------- the cluster under faults


@dataclass
class Faults:
    c: Cluster
    prefix: str
    bootstrap: str
    client: httpx.AsyncClient
    ledger: Ledger = field(default_factory=Ledger)
    checked: dict[str, int] = field(default_factory=dict)  # round → acknowledged writes checked after it

    def dsn(self, service: str) -> str:
        return self.c.databases[service].replace("postgresql+asyncpg://", "postgresql://")

    def group(self, service: str) -> str:
        return f"{self.prefix}closeloop-{service}"

    def topic(self, service: str) -> str:
        return f"{self.prefix}{topic_for(service)}"

    async def fetch(self, service: str, sql: str, *args: Any) -> list[Any]:
        import asyncpg

        conn = await asyncpg.connect(self.dsn(service))
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def ensure_running(self) -> None:
        """Every service up (a round that failed half-way may have left one down)."""
        for name in SERVICE_NAMES:
            if self.c.procs[name].poll() is not None:
                self.c.start(name)
        await self.c.wait_ready(timeout=SETTLE)

    async def quiesced(self) -> bool:
        """Every log sequenced and published, and every consumer group committed to the end of what it follows."""
        positions: dict[str, int] = {}
        for service in SERVICE_NAMES:
            [row] = await self.fetch(service, "SELECT position, published, "
                                              "(SELECT count(*) FROM outbox WHERE position IS NULL) AS unsequenced "
                                              "FROM log_state WHERE id = 1")
            if row["unsequenced"] or row["published"] < row["position"]:
                return False
            positions[service] = row["position"]
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await reader.start()
        await admin.start()
        try:
            described = await admin.describe_topics([self.topic(s) for s in SERVICE_NAMES])
            partitions = {t["topic"]: [TopicPartition(t["topic"], p["partition"]) for p in t["partitions"]]
                          for t in described if t["error_code"] == 0}
            if any(positions[s] and not partitions.get(self.topic(s)) for s in SERVICE_NAMES):
                return False  # a log with events and no topic (yet)
            ends = await reader.end_offsets([tp for tps in partitions.values() for tp in tps])
            for service, peers in FOLLOWS.items():
                committed = {tp: m.offset for tp, m in (await admin.list_consumer_group_offsets(self.group(service))
                                                        ).items()}
                for peer in peers:
                    if any(ends[tp] > 0 and committed.get(tp, -1) < ends[tp]
                           for tp in partitions.get(self.topic(peer), [])):
                        return False
        finally:
            await admin.close()
            await reader.stop()
        return True

    async def notices(self) -> Counter[str]:
        """Assignment notices in the responsible org's inbox, by issue."""
        counts: Counter[str] = Counter()
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, "type": "issue.assigned"} | ({"cursor": cursor} if cursor else {})
            r = await self.client.get(f"{self.c.url('notify')}/v1/inbox", params=params,
                                      headers=self.c.auth(org="city-eeb", roles="responsible"))
            assert r.status_code == 200, r.text
            counts.update(i["subject"] for i in r.json()["items"] if i["type"] == "issue.assigned")
            cursor = r.json().get("next_cursor")
            if not cursor:
                return counts

    async def issues_by_code(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            r = await self.client.get(f"{self.c.url('issues')}/v1/issues", params=params,
                                      headers=self.c.auth(roles="admin"))
            assert r.status_code == 200, r.text
            for item in r.json()["items"]:
                out.setdefault(item["code"], []).append(item["id"])
            cursor = r.json().get("next_cursor")
            if not cursor:
                return out

    async def check(self, round_name: str) -> None:
        """Every acknowledged write once in every service's state, and the audit clean."""
        t0 = time.monotonic()
        try:
            await eventually(self.quiesced, timeout=SETTLE, interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"after {round_name}: the logs were not all published and consumed "
                                 f"within {SETTLE} s") from exc
        t1 = time.monotonic()
        answers = sorted(k for k in self.ledger.failures if k.isdigit() and k != "503")
        assert answers == [], f"after {round_name}: a fault was answered {answers}, not 503 (the database) or a cut " \
                              f"connection: {dict(self.ledger.failures)}"
        acked = self.ledger.acked
        by_code = await self.issues_by_code()
        lost = sorted(code for code in acked if code not in by_code)
        assert lost == [], f"after {round_name}: {len(lost)} acknowledged issues lost in issues: {lost[:10]}"
        wrong = sorted(code for code, issue_id in acked.items() if by_code[code] != [issue_id])
        assert wrong == [], f"after {round_name}: issues not there exactly once under their id: " \
                            f"{[(c, acked[c], by_code[c]) for c in wrong[:10]]}"
        twice = sorted(code for code, ids in by_code.items() if len(ids) != 1)
        assert twice == [], f"after {round_name}: codes registered more than once: {twice[:10]}"
        assert all(code in by_code for code in self.ledger.found)
        ids = {by_code[code][0] for code in [*acked, *self.ledger.found]}
        notices = await self.notices()
        missing = sorted(i for i in ids if notices[i] == 0)
        doubled = sorted(i for i in ids if notices[i] > 1)
        assert missing == [] and doubled == [], \
            f"after {round_name}: notify's inbox of city-eeb lacks {len(missing)} notices {missing[:5]} and has " \
            f"{len(doubled)} twice or more {[(i, notices[i]) for i in doubled[:5]]}; " \
            f"{await self.diagnose('notify', missing[:5])}"
        facts = Counter(r["issue_id"] for r in await self.fetch(
            "scoring", "SELECT issue_id FROM scoring_issue_event WHERE type = 'issue.registered'"))
        assert sorted(i for i in ids if facts[i] != 1) == [], \
            f"after {round_name}: scoring's registration facts not once: {[(i, facts[i]) for i in ids if facts[i] != 1][:5]}"
        known = {r["id"] for r in await self.fetch("verification", "SELECT id FROM verification_issue")}
        assert ids <= known, f"after {round_name}: verification does not know {sorted(ids - known)[:5]}"
        self.checked[round_name] = len(acked)
        t2 = time.monotonic()
        await self.audit(round_name)
        print(f"\n{round_name}: consumed in {t1 - t0:.1f} s, counted in {t2 - t1:.1f} s, "
              f"audited in {time.monotonic() - t2:.1f} s")

    async def diagnose(self, service: str, issue_ids: list[str]) -> str:
        """What a consumer recorded of the registrations of some issues: for a failure's message."""
        events = await self.fetch("issues", "SELECT event_id, subject, position FROM outbox "
                                            "WHERE type = 'issue.registered' AND subject = ANY($1::text[])",
                                  [f"issue:{i}" for i in issue_ids] + issue_ids)
        ids = [e["event_id"] for e in events]
        inbox = await self.fetch(service, "SELECT event_id FROM inbox WHERE event_id = ANY($1::text[])", ids)
        dead = await self.fetch(service, "SELECT event_id, error FROM dead_letter")
        parked = await self.fetch(service, "SELECT count(*) AS n FROM parked_event")
        return (f"issues' events {[dict(e) for e in events]}; {service}'s inbox has {len(inbox)} of them; "
                f"dead letters {[dict(d) for d in dead][:5]}; parked {parked[0]['n']}; "
                f"log tail:\n{self.c.log_tail(service, 30)}")

    async def audit(self, round_name: str) -> None:
        """`closeloop audit export`, `verify` and `replay --compare` over the live services: exit 0, no difference."""
        token = issue_token(self.c.settings, sub="fault-audit", org=None, roles=["auditor"])
        urls = [arg for name in SERVICE_NAMES for arg in (f"--{name}-url", self.c.url(name))]
        folder = self.c.data_dir / f"audit-{round_name}"
        runner = CliRunner()
        for args in (["audit", "export", "--out", str(folder), "--token", token, *urls],
                     ["audit", "verify", str(folder)],
                     ["audit", "replay", str(folder), "--compare", "--token", token, *urls]):
            result = await asyncio.to_thread(runner.invoke, cli, args)
            output = result.output
            assert result.exit_code == 0, f"after {round_name}: closeloop {' '.join(args[:2])} exit " \
                                          f"{result.exit_code}:\n{output[-3000:]}\n{result.exception!r}"
            assert not re.search(r"^(DIFF|FAIL|ANOMALY)", output, re.MULTILINE), output[-3000:]

    async def run_round(self, round_name: str, fault: Callable[[Load], Awaitable[None]]) -> None:
        await self.ensure_running()
        load = Load(self.c, self.ledger, f"HH-{round_name}")
        t0 = time.monotonic()
        load.start()
        try:
            await load.more(10, f"{round_name}: before the fault")
            t1 = time.monotonic()
            await fault(load)
            t2 = time.monotonic()
            await load.more(10, f"{round_name}: after the fault")
        finally:
            await load.stop()
        t3 = time.monotonic()
        await self.check(round_name)
        t4 = time.monotonic()
        print(f"\n{round_name}: {load.acked} writes acknowledged in the round, {len(self.ledger.acked)} checked in "
              f"all ({len(self.ledger.found)} more found by a retry); {self.ledger.retries} retries so far, failures "
              f"{dict(self.ledger.failures)}; load {t1 - t0:.1f} s, fault {t2 - t1:.1f} s, recovery {t3 - t2:.1f} s, "
              f"check and audit {t4 - t3:.1f} s")


@pytest.fixture(scope="module")
async def faults(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faults]:
    bootstrap = check_servers()
    prefix = f"f{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path_factory.mktemp("faults") / "cluster"
    dbs = await create_pg_databases(pg_admin_dsn(), prefix)
    # scripts/servers.sh runs PostgreSQL with synchronous_commit off for speed: a commit it acknowledged in the
    # last few hundred milliseconds is lost by an immediate shutdown. Production runs with it on (the default), as
    # these databases do: a commit is then in the WAL before the service answers 201 (fsync stays off: the server
    # crashes here, not the machine).
    import asyncpg

    admin = await asyncpg.connect(pg_admin_dsn())
    try:
        for url in dbs.values():
            await admin.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" SET synchronous_commit TO on')
    finally:
        await admin.close()
    c = Cluster(data_dir=data_dir, bus="kafka", kafka=bootstrap, databases=dbs,
                extra_env={"CLOSELOOP_KAFKA_PREFIX": f"{prefix}."})
    try:
        c.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICE_NAMES:
            c.start(name)
        await c.wait_ready(timeout=SETTLE)
        async with httpx.AsyncClient(timeout=30) as client:
            await setup_orgs(c, client)
            yield Faults(c=c, prefix=f"{prefix}.", bootstrap=bootstrap, client=client)
    finally:
        c.stop_all()
        # whatever a round left down comes back up for the tests after this module
        status = subprocess.run(["bash", str(SERVERS_SH), "status"], cwd=ROOT, capture_output=True, timeout=60,
                                check=False)
        if status.returncode != 0:
            servers("restart")
        await drop_pg_databases(pg_admin_dsn(), dbs)


# ---------------------------------------------------------------- the rounds


async def test_round_1_sigkill_of_the_writing_and_a_consuming_service_mid_stream(faults: Faults) -> None:
    c = faults.c

    async def fault(load: Load) -> None:
        c.kill("issues")  # SIGKILL, with writes in flight
        c.kill("notify")  # SIGKILL, consuming them
        c.start("issues")
        c.start("notify")
        await c.wait_ready(("issues", "notify"), timeout=SETTLE)

    await faults.run_round("sigkill", fault)


async def test_round_2_broker_sigkill_and_restart(faults: Faults) -> None:
    async def fault(load: Load) -> None:
        await crash("kill", "kafka")
        try:
            await load.more(5, "while the broker is down (the outbox takes the writes)")
        finally:
            await crash("restart", "kafka")

    await faults.run_round("broker", fault)


async def test_round_3_postgresql_immediate_shutdown_and_restart(faults: Faults) -> None:
    async def fault(load: Load) -> None:
        failures = sum(faults.ledger.failures.values())
        await crash("kill", "postgresql")

        async def refused() -> bool:
            return sum(faults.ledger.failures.values()) > failures

        try:
            await eventually(refused, timeout=SETTLE)  # the writers meet the outage
        finally:
            await crash("restart", "postgresql")

    await faults.run_round("postgres", fault)


async def test_round_4_notify_replicas_join_the_consumer_group_and_leave(faults: Faults) -> None:
    c = faults.c

    def assigned(instance: str) -> Callable[[], Awaitable[bool]]:
        log = c.data_dir / f"{instance}.log"
        start = log.stat().st_size if log.exists() else 0

        async def probe() -> bool:
            text = log.read_bytes()[start:].decode(errors="replace") if log.exists() else ""
            return "kafka_partitions_assigned" in text and f"{faults.prefix}closeloop-notify" in text

        return probe

    def restarts() -> int:
        return sum(
            (c.data_dir / f"{name}.log").read_text(errors="replace").count("kafka_consumer_restart")
            for name in ("notify", "notify-2", "notify-3") if (c.data_dir / f"{name}.log").exists())

    before = restarts()

    async def fault(load: Load) -> None:
        shared = assigned("notify")
        joined = [assigned("notify-2"), assigned("notify-3")]
        c.start("notify", instance="notify-2")
        c.start("notify", instance="notify-3")
        await c.wait_ready(("notify-2", "notify-3"), timeout=SETTLE)
        for probe in [*joined, shared]:  # both joined, and the partitions were shared out among the three
            await eventually(probe, timeout=SETTLE)
        await load.more(5, "with three notify replicas")
        moved = [assigned("notify"), assigned("notify-3")]
        await asyncio.to_thread(c.kill, "notify-2", signal.SIGTERM)  # leaves the group: its partitions go to the others
        for probe in moved:
            await eventually(probe, timeout=SETTLE)
        await load.more(5, "with two notify replicas")
        back = assigned("notify")
        c.kill("notify-3")  # SIGKILL: its partitions come back when its session times out
        await eventually(back, timeout=SETTLE)

    await faults.run_round("replicas", fault)
    assert restarts() == before, "a notify consumer was torn down by a rebalance (kafka_consumer_restart logged)"

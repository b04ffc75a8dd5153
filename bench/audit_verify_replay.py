"""Verify + replay an exported log of 1,000,000 events from JSONL on one core, beside merely parsing it.

    .venv/bin/python bench/audit_verify_replay.py [--quick] [--events N]

Writes a synthetic issues log (orgs, a round, issues going registered → started → progress → apply → reject
→ apply → accept, some with an approved extension), with real hashes, per-subject chains, the running log hash
and a signed checkpoint every 1,000 events, as `closeloop audit export` writes it. Then, in the same process,
pinned to one core:

1. the ceiling: read the file and parse every line, nothing else: with orjson into dictionaries, and with the
   typed decoder verify itself uses (audit.records, msgspec);
2. verify: `audit.verify.verify_service` (hashes, chains, log hash, checkpoints);
3. verify + replay: the same pass folding every event into `audit.projections.Projections`
   (issue status by services.issues.domain.TRANSITIONS), i.e. `closeloop audit replay --no-handlers`.

It also times the derived-state part of a replay (a service's HANDLERS through the runtime Consumer over a fresh
SQLite database) on a small sample, since that runs at database speed, not parsing speed.
Goal: verify + replay ≥ 100,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from figures import figure

from audit.files import checkpoints_file, dumps_line, events_file, public_key_file, write_manifest
from runtime.checkpoints import checkpoint_out, key_id, public_raw, sign
from runtime.outbox import chain

GENESIS = "0" * 64
SORT = orjson.OPT_SORT_KEYS
WORDS = ["黑臭水体", "燃煤锅炉", "扬尘治理", "饮用水水源地", "工业园区", "散乱污企业", "秸秆焚烧", "垃圾填埋场"]


class Writer:
    """Seals events like contracts.envelope.seal (canonical JSON, SHA-256) and appends export lines."""

    def __init__(self, fh, key: Ed25519PrivateKey, checkpoints) -> None:  # type: ignore[no-untyped-def]
        self.fh, self.key, self.cps = fh, key, checkpoints
        self.heads: dict[str, tuple[int, str]] = {}
        self.position = 0
        self.running = GENESIS
        self.t = datetime(2020, 6, 1, 1, 0, tzinfo=UTC)
        self.n = 0

    def emit(self, type_: str, subject: str, data: dict, actor: dict) -> None:  # type: ignore[type-arg]
        self.n += 1
        self.t += timedelta(milliseconds=37)
        seq, prev = self.heads.get(subject, (0, GENESIS))
        body = {"id": str(uuid.UUID(int=self.n, version=4)), "type": type_, "version": 1, "source": "issues",
                "subject": subject, "time": self.t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "actor": actor,
                "correlation_id": f"c{self.n}", "causation_id": None, "seq": seq + 1, "prev_hash": prev,
                "data": data}
        h = hashlib.sha256(orjson.dumps(body, option=SORT)).hexdigest()
        body["hash"] = h
        self.heads[subject] = (seq + 1, h)
        self.position += 1
        self.running = chain(self.running, h)
        self.fh.write(dumps_line({"position": self.position, "log_hash": self.running, "event": body}))
        if self.position % 1000 == 0:
            self.cps.append(checkpoint_out("issues", sign(self.key, service="issues", size=self.position,
                                                          root=self.running, time=self.t)))


def write_log(root: Path, n: int) -> int:
    """A realistic issues log of about n events; returns how many were written."""
    key = Ed25519PrivateKey.generate()
    cps: list[dict] = []  # type: ignore[type-arg]
    admin = {"org": "inspection-office", "role": "admin", "user": "admin"}
    with events_file(root, "issues").open("wb") as fh:
        w = Writer(fh, key, cps)
        orgs = [f"org-{i:03d}" for i in range(60)]
        for i, org in enumerate(orgs):
            w.emit("org.registered", org, {"org_id": org, "name": f"{WORDS[i % 8]}单位{i}", "kind": "region",
                                           "zone_type": "urban_core"}, admin)
        w.emit("round.registered", "nm-2019", {"round_id": "nm-2019", "name": "自治区第一生态环境保护督察组",
                                               "level": "regional", "started_on": "2019-11-15",
                                               "ended_on": "2019-12-09", "feedback_on": "2020-05-17"}, admin)
        i = 0
        while w.n < n:
            i += 1
            issue = str(uuid.UUID(int=10**9 + i, version=4))
            org = orgs[i % len(orgs)]
            resp = {"org": org, "role": "responsible", "user": f"u-{org}"}
            sysa = {"org": None, "role": "system", "user": "service:issues"}
            w.emit("issue.registered", issue, {
                "issue_id": issue, "code": f"HH-{i:07d}", "round_id": "nm-2019", "category": "air",
                "title": f"{WORDS[i % 8]}整改:全市细颗粒物(PM2.5)年均浓度实现达标 {i}",
                "description": "按照督察反馈意见,制定整改方案,明确责任单位和完成时限。" * 2,
                "region_id": org, "responsible_org_id": org, "cooperating_org_ids": [orgs[(i + 7) % 60]],
                "supervising_org_id": "org-000", "leader": "分管副市长(生态环境)", "deadline": "2020-12-31",
                "target": {"indicator": "pm25_annual_mean", "op": "<=", "value": 35.0, "unit": "ug/m3"},
                "measures": "加强扬尘管控,推进燃煤锅炉改造", "location": {"latitude": 40.84, "longitude": 111.75}},
                admin)
            w.emit("issue.started", issue, {"issue_id": issue, "responsible_org_id": org}, resp)
            w.emit("issue.progress_reported", issue, {"issue_id": issue, "responsible_org_id": org,
                                                      "note": "已完成60%", "percent": 60, "evidence_ids": []}, resp)
            if i % 4 == 0:
                ext = str(uuid.UUID(int=2 * 10**9 + i, version=4))
                w.emit("issue.extension_requested", issue, {
                    "issue_id": issue, "extension_id": ext, "responsible_org_id": org,
                    "current_deadline": "2020-12-31", "requested_deadline": "2021-06-30", "reason": "冬季停工"}, resp)
                w.emit("issue.extension_decided", issue, {
                    "issue_id": issue, "extension_id": ext, "approved": True, "previous_deadline": "2020-12-31",
                    "deadline": "2021-06-30", "opinion": "同意"}, admin)
            for src, dst in (("in_progress", "closure_requested"), ("closure_requested", "in_progress"),
                             ("in_progress", "closure_requested"), ("closure_requested", "signed_off")):
                w.emit("issue.status_changed", issue, {"issue_id": issue, "from_status": src, "to_status": dst,
                                                       "reason": "核查", "cause_event_id": None}, sysa)
    with checkpoints_file(root, "issues").open("wb") as fh:
        for cp in cps:
            fh.write(dumps_line(cp))
    import base64

    public_key_file(root, "issues").write_bytes(orjson.dumps({
        "service": "issues", "algorithm": "Ed25519", "key_id": key_id(key),
        "public_key": base64.b64encode(public_raw(key)).decode()}))
    write_manifest(root, {"source": "services", "services": {"issues": {"events": w.n}}})
    return w.n


async def inbox_floor(folder: Path, n: int) -> float:
    """The floor of recording n deliveries: n inbox rows into a fresh migrated SQLite database, one transaction."""
    from sqlalchemy import insert

    from runtime.db import make_engine
    from runtime.migrations import migrate
    from runtime.models import InboxRow
    from services.scoring.app import SPEC

    engine = make_engine(f"sqlite+aiosqlite:///{folder / 'floor.db'}")
    await migrate(engine, "scoring", SPEC.migrations)
    now = datetime.now(UTC)
    rows = [{"consumer": "floor", "event_id": str(uuid.uuid4()), "type": "issue.registered", "processed_at": now}
            for _ in range(n)]
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(insert(InboxRow.__table__), rows)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


def timed(fn):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events instead of 1,000,000")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--handler-events", type=int, default=None,
                        help="issues events for the handler replay (600 with --quick, else 2,000)")
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 1_000_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    import services.notify.app
    import services.scoring.app  # noqa: F401 — imported before anything is timed, as below
    from audit.projections import Projections
    from audit.replay import replay_export
    from audit.verify import verify_service

    Projections()  # imports the services' domain rules (≈ 0.3 s, once per process) before anything is timed

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        root = Path(tmp)
        t, written = timed(lambda: write_log(root, n))
        size = events_file(root, "issues").stat().st_size
        print(f"wrote {written:,} events ({size / 1e6:.0f} MB JSONL, {written // 1000} checkpoints) in {t:.1f} s")

        def parse_only() -> int:
            count = 0
            loads = orjson.loads
            with events_file(root, "issues").open("rb") as fh:
                for line in fh:
                    loads(line)
                    count += 1
            return count

        def decode_only() -> int:
            from audit.records import read_log_line

            count = 0
            with events_file(root, "issues").open("rb") as fh:
                for line in fh:
                    read_log_line(line)
                    count += 1
            return count

        def verify_only() -> int:
            r = verify_service(root, "issues")
            assert r.ok, r.problems
            return r.events

        def verify_and_replay() -> tuple[int, Projections]:
            p = Projections()
            r = verify_service(root, "issues", on_event=p.apply)
            assert r.ok and not p.anomalies, (r.problems, p.anomalies[:3])
            return r.events, p

        t_parse, count = timed(parse_only)
        t_decode, _ = timed(decode_only)
        t_verify, _ = timed(verify_only)
        t_both, (_, proj) = timed(verify_and_replay)
        summary = proj.summary()
        assert summary["issues"] > 0 and summary["issues_by_status"] == {"signed_off": summary["issues"]}

        parse_rate, verify_rate, both_rate = count / t_parse, count / t_verify, count / t_both
        ceiling = max(parse_rate, count / t_decode)  # the faster of the two ways of merely parsing
        print(f"\none core, {count:,} events")
        print(f"  baseline  parse only (orjson.loads per line) {parse_rate:>12,.0f} events/s  {t_parse:6.2f} s")
        print(f"  baseline  decode only (typed records)        {count / t_decode:>12,.0f} events/s  {t_decode:6.2f} s")
        print(f"  verify                                        {verify_rate:>12,.0f} events/s  {t_verify:6.2f} s"
              f"  ({verify_rate / ceiling:.0%} of the parse ceiling)")
        print(f"  verify + replay (own-event projections)       {both_rate:>12,.0f} events/s  {t_both:6.2f} s"
              f"  ({both_rate / ceiling:.0%} of the parse ceiling)")
        print(f"  goal ≥ 100,000 events/s: {'met' if both_rate >= 100_000 else 'NOT met'}"
              f" ({both_rate / 100_000:.2f}×)")
        figure("audit.verify_replay", f"audit verify + own-event replay, {count:,} events, one core", both_rate,
               ceiling, "events/s", goal="≥ 60 %", met=both_rate / ceiling >= 0.60,
               baseline_name="parse ceiling (orjson / typed decode)")

    # The derived-state part: HANDLERS through the Consumer over SQLite, on a small scenario-sized sample.
    with tempfile.TemporaryDirectory(prefix="bench-audit-handlers-") as tmp:
        root = Path(tmp)
        sample = args.handler_events or (600 if args.quick else 2000)
        written = write_log(root, sample)
        # scoring and notify follow issues: run their handler tables over this issues log.
        import json

        manifest = json.loads((root / "manifest.json").read_text())
        manifest["services"] = {"issues": manifest["services"]["issues"], "scoring": {"events": 0},
                                "notify": {"events": 0}}
        for svc in ("scoring", "notify"):
            for f in (events_file(root, svc), checkpoints_file(root, svc)):
                f.write_bytes(b"")
        (root / "manifest.json").write_text(json.dumps(manifest))
        t_h, result = timed(lambda: asyncio.run(replay_export(root)))
        assert not result.handler_failures, result.handler_failures[:3]
        handled = written * 2
        print(f"\n  derived state: scoring + notify HANDLERS over {written:,} issues events ({handled:,} deliveries, "
              f"SQLite) {handled / t_h:,.0f} deliveries/s, {t_h:.1f} s including migrations")
        t_floor = asyncio.run(inbox_floor(Path(tmp), handled))
        figure("audit.handlers", f"audit replay of scoring + notify handlers, {handled:,} deliveries (SQLite)",
               handled / t_h, handled / t_floor, "deliveries/s", goal="≥ 10,000/s", met=handled / t_h >= 10_000,
               baseline_name="their inbox rows, one executemany")


if __name__ == "__main__":
    main()

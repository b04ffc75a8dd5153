"""Synthetic exports: a service's log with its running hash and signed checkpoints, written as export files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.files import checkpoints_file, dumps_line, events_file, public_key_file, write_manifest
from contracts import GENESIS_HASH
from runtime.checkpoints import checkpoint_out, key_id, public_raw, sign
from runtime.outbox import chain
from tests.support import EventFactory

START = datetime(2020, 6, 1, 1, 0, tzinfo=UTC)


@dataclass
class Log:
    """One service's log as records (position, log_hash, event) and its checkpoints."""

    service: str
    key: Ed25519PrivateKey
    records: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]

    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        events_file(root, self.service).write_bytes(b"".join(dumps_line(r) for r in self.records))
        checkpoints_file(root, self.service).write_bytes(b"".join(dumps_line(c) for c in self.checkpoints))
        import base64

        public_key_file(root, self.service).write_text(json.dumps({
            "service": self.service, "algorithm": "Ed25519", "key_id": key_id(self.key),
            "public_key": base64.b64encode(public_raw(self.key)).decode()}), encoding="utf-8")
        write_manifest(root, {"source": "services", "services": {self.service: {"events": len(self.records)}}})
        return root

    def checkpoint(self, size: int, *, root: str | None = None, time: datetime | None = None,
                   key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        """A checkpoint of the log at `size`, signed (by the log's key unless another is given)."""
        cp = sign(key or self.key, service=self.service, size=size,
                  root=root or self.records[size - 1]["log_hash"], time=time or START + timedelta(minutes=size))
        return checkpoint_out(self.service, cp)


def relink(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Renumber positions and recompute the running hash: what a careful forger does after editing the log."""
    out, running = [], GENESIS_HASH
    for i, r in enumerate(records, 1):
        running = chain(running, r["event"]["hash"])
        out.append({"position": i, "log_hash": running, "event": r["event"]})
    return out


def make_log(n: int = 20, *, every: int = 5, service: str = "issues") -> Log:
    """n events over n // 2 subjects (two each, the second later), checkpoints every `every` events."""
    factory = EventFactory(service)
    events = []
    subjects = max(1, n // 2)
    for i in range(n):
        org = f"org-{i % subjects:03d}"
        t = START + timedelta(seconds=i)
        if i < subjects:
            events.append(factory.make("org.registered", org, {"org_id": org, "name": f"单位{i}", "kind": "region"},
                                       time=t))
        else:
            events.append(factory.make("issue.started", org, {"issue_id": org, "responsible_org_id": org}, time=t))
    records = relink([{"event": e.model_dump(mode="json")} for e in events])
    log = Log(service=service, key=Ed25519PrivateKey.generate(), records=records, checkpoints=[])
    log.checkpoints = [log.checkpoint(size) for size in range(every, n + 1, every)]
    return log

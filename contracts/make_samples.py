"""Write a golden sample for an event version that has none (developers run this, then review the file)."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import REGISTRY, Actor
from contracts.envelope import GENESIS_HASH, seal

SAMPLES = Path(__file__).resolve().parent / "samples"


def write_sample(type_: str, version: int, data: dict[str, Any], *, source: str, subject: str) -> Path:
    """Seal `data` in a fixed envelope and store it as the golden sample of (type, version)."""
    REGISTRY[(type_, version)].model_validate(data)
    env = seal(id=uuid.UUID(int=len(type_) * 7919 + version), type=type_, version=version, source=source,
               subject=subject, time=datetime(2020, 6, 1, 2, 0, tzinfo=UTC),
               actor=Actor(org="inspection-office", user="sample", role="admin"), correlation_id="sample",
               causation_id=None, seq=1, prev_hash=GENESIS_HASH, data=data)
    path = SAMPLES / f"{type_}.v{version}.json"
    path.write_text(json.dumps(env.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print("usage: from contracts.make_samples import write_sample; write_sample(type, version, data, ...)",
          file=sys.stderr)

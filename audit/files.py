"""The layout of an audit export folder (one set of files per service) and JSON helpers for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

FORMAT = "closeloop-audit/1"
MANIFEST = "manifest.json"


def events_file(root: Path, service: str) -> Path:
    """One line per event: `{"position", "log_hash", "event"}` (services) or `{"partition", "offset", "event"}` (Kafka)."""
    return root / f"{service}.events.jsonl"


def checkpoints_file(root: Path, service: str) -> Path:
    """One line per signed checkpoint, in the order the service served them (by size)."""
    return root / f"{service}.checkpoints.jsonl"


def public_key_file(root: Path, service: str) -> Path:
    """The service's checkpoint key as it served it: `{"service", "algorithm", "key_id", "public_key"}`."""
    return root / f"{service}.public-key.json"


def dumps_line(value: Any) -> bytes:
    """One JSONL line: compact, UTF-8, keys sorted (the export is itself deterministic)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def read_manifest(root: Path) -> dict[str, Any]:
    """The export's manifest (which services, from where, how many events)."""
    path = root / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: is {root} an audit export (closeloop audit export)?")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown format {data.get('format')!r}, expected {FORMAT}")
    return data


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest last, so a folder without one is visibly an unfinished export."""
    (root / MANIFEST).write_text(json.dumps({"format": FORMAT, **manifest}, ensure_ascii=False, indent=2,
                                            sort_keys=True) + "\n", encoding="utf-8")

"""Contracts: canonical hashing, chains, the registry, and a golden sample for every (type, version)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import REGISTRY, Envelope, canonical_json, compute_hash, parse_data
from contracts.envelope import GENESIS_HASH
from tests.support import EventFactory

SAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "samples"


def sample_path(type_: str, version: int) -> Path:
    return SAMPLES / f"{type_}.v{version}.json"


@pytest.mark.parametrize("key", sorted(REGISTRY), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_event_version_has_a_golden_sample_that_parses_and_hashes(key: tuple[str, int]) -> None:
    type_, version = key
    path = sample_path(type_, version)
    assert path.exists(), f"write a golden sample at {path.relative_to(SAMPLES.parent.parent)}"
    raw = json.loads(path.read_text(encoding="utf-8"))
    envelope = Envelope.model_validate(raw)
    assert envelope.type == type_ and envelope.version == version
    assert envelope.hash_ok(), "golden sample's hash no longer matches: canonical form or envelope changed"
    payload = parse_data(type_, version, envelope.data)
    assert payload is not None


def test_no_stray_samples() -> None:
    names = {f"{t}.v{v}.json" for (t, v) in REGISTRY}
    stray = [p.name for p in SAMPLES.glob("*.json") if p.name not in names]
    assert stray == []


def test_canonical_json_sorts_keys_and_keeps_chinese() -> None:
    assert canonical_json({"b": 1, "a": "生态"}) == '{"a":"生态","b":1}'


def test_hash_covers_every_field_but_hash() -> None:
    env = EventFactory("issues").make("org.registered", "city-eeb",
                                      {"org_id": "city-eeb", "name": "生态环境局", "kind": "department"})
    body = env.body()
    assert compute_hash(body) == env.hash
    for field in ("type", "subject", "seq", "prev_hash", "data", "actor", "time"):
        altered = dict(body)
        altered[field] = {"x": 1} if field in ("data", "actor") else "2020-01-01T00:00:00.000000Z" if field == "time" else (
            7 if field == "seq" else "f" * 64 if field == "prev_hash" else "tampered")
        assert compute_hash(altered) != env.hash, field


def test_chain_links_each_event_to_the_previous_of_its_subject() -> None:
    f = EventFactory("issues")
    a = f.make("org.registered", "o1", {"org_id": "o1", "name": "甲", "kind": "region"})
    b = f.make("org.registered", "o2", {"org_id": "o2", "name": "乙", "kind": "region"})
    c = f.make("issue.started", "o1", {"issue_id": "o1", "responsible_org_id": "o1"})
    assert (a.seq, a.prev_hash) == (1, GENESIS_HASH)
    assert (b.seq, b.prev_hash) == (1, GENESIS_HASH)
    assert (c.seq, c.prev_hash) == (2, a.hash)


def test_issue_registered_without_an_assigned_date_still_parses() -> None:
    raw = json.loads(sample_path("issue.registered", 1).read_text(encoding="utf-8"))
    del raw["data"]["assigned_on"]
    payload = parse_data("issue.registered", 1, raw["data"])
    assert payload.assigned_on is None  # type: ignore[attr-defined]


def test_issue_status_changed_without_business_date_or_move_time_still_parses() -> None:
    raw = json.loads(sample_path("issue.status_changed", 1).read_text(encoding="utf-8"))
    for name in ("action", "at", "happened_on", "recorded_by_org_id"):
        del raw["data"][name]
    payload = parse_data("issue.status_changed", 1, raw["data"])
    assert payload.happened_on is None and payload.at is None  # type: ignore[attr-defined]


def test_closure_filed_names_its_application_or_none_for_a_sign_off_moved_in() -> None:
    raw = json.loads(sample_path("closure.filed", 1).read_text(encoding="utf-8"))
    assert parse_data("closure.filed", 1, raw["data"]).closure_id == "c1"  # type: ignore[attr-defined]
    del raw["data"]["closure_id"]
    payload = parse_data("closure.filed", 1, raw["data"])
    assert payload.closure_id is None and payload.issue_id  # type: ignore[attr-defined]

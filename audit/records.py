"""Exported log lines read back as typed records (msgspec): the audit tools' fast reader of the envelope.

The envelope's schema is `contracts.envelope.Envelope`; this is how the audit reads it back from JSONL, decoded
straight into slotted records instead of dictionaries (a million-event verify reads every field of every event).
Each field is required and nothing else is allowed, so a decoded event has exactly the envelope's fields, of
the envelope's JSON types; `tests/audit/test_records.py` keeps the two field lists equal. `data` stays a plain
dictionary: payloads are read by type, after the registry's upcasters (see audit.projections).
"""

from __future__ import annotations

from typing import Any

import msgspec


class LoggedActor(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """Who caused an event (contracts.envelope.Actor)."""

    user: str
    role: str
    org: str | None = None


class LoggedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One event as it stands in an exported log (contracts.envelope.Envelope, times and ids as their JSON text).

    Not tracked by the cyclic collector: decoded JSON makes no reference cycles.
    """

    id: str
    type: str
    version: int
    source: str
    subject: str
    time: str
    actor: LoggedActor
    correlation_id: str
    causation_id: str | None
    seq: int
    prev_hash: str
    hash: str
    data: dict[str, Any]


class LogLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A line of `<service>.events.jsonl` exported from the services."""

    position: int
    log_hash: str
    event: LoggedEvent


class KafkaLine(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A line of `<service>.events.jsonl` exported from Kafka (`--from-kafka`)."""

    partition: int
    offset: int
    event: LoggedEvent


read_log_line = msgspec.json.Decoder(LogLine).decode
read_kafka_line = msgspec.json.Decoder(KafkaLine).decode
DecodeError = msgspec.DecodeError


def from_dict(event: dict[str, Any]) -> LoggedEvent:
    """An event given as JSON-ready data (e.g. `Envelope.model_dump(mode="json")`) as a record; ValidationError
    (a DecodeError) names the field when it is not an envelope."""
    return msgspec.convert(event, LoggedEvent)


def as_dict(event: LoggedEvent) -> dict[str, Any]:
    """The record as JSON-ready data (what the runtime's Consumer and contracts.compute_hash take)."""
    out: dict[str, Any] = msgspec.to_builtins(event)
    return out


def actor_dict(actor: LoggedActor) -> dict[str, Any]:
    """The actor as JSON-ready data."""
    return {"org": actor.org, "role": actor.role, "user": actor.user}

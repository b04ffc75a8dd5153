"""The event envelope (CloudEvents-shaped) and its canonical hashing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

GENESIS_HASH = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # event times: UTC with microseconds and a Z


class Actor(BaseModel):
    """Who caused an event: org, user and role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str | None = None
    user: str
    role: str


def format_time(value: datetime) -> str:
    """UTC time as ISO 8601 with microseconds and a Z suffix (the canonical form)."""
    if value.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """The inverse of format_time: an aware UTC datetime from the canonical form."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


class Envelope(BaseModel):
    """One event as it travels on the bus and sits in the log."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    type: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$")
    version: int = Field(ge=1)
    source: str
    subject: str = Field(min_length=1)
    time: datetime
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    seq: int = Field(ge=1)
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone")
        return value.astimezone(UTC)

    @field_serializer("time")
    def _time(self, value: datetime) -> str:
        return format_time(value)

    def body(self) -> dict[str, Any]:
        """The envelope as JSON-ready data, without its hash."""
        out = self.model_dump(mode="json")
        out.pop("hash")
        return out

    def expected_hash(self) -> str:
        """The hash this envelope should carry."""
        return compute_hash(self.body())

    def hash_ok(self) -> bool:
        """Whether the stored hash matches the content."""
        return self.hash == self.expected_hash()

    def to_json(self) -> str:
        """Canonical JSON of the whole envelope (hash included)."""
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant white space, UTF-8 text kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def compute_hash(body: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an envelope without its `hash` field."""
    if "hash" in body:
        body = {k: v for k, v in body.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal(
    *,
    id: UUID,
    type: str,
    version: int,
    source: str,
    subject: str,
    time: datetime,
    actor: Actor,
    correlation_id: str,
    causation_id: str | None,
    seq: int,
    prev_hash: str,
    data: dict[str, Any],
) -> Envelope:
    """Build an envelope and compute its hash."""
    body = {
        "id": str(id),
        "type": type,
        "version": version,
        "source": source,
        "subject": subject,
        "time": format_time(time),
        "actor": actor.model_dump(mode="json"),
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "data": data,
    }
    return Envelope.model_validate({**body, "hash": compute_hash(body)})

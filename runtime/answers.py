"""The base of every typed answer (`*Out`) of the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """An answer model: a field the route does not declare is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HealthOut(Out):
    status: Literal["ok"]
    service: str


class ReadyOut(Out):
    """Whether the service takes requests (database reachable and migrated; with ?broker=1 the broker and relay
    too); 503 with the same shape when not."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="每项检查的结果 (each check: ok, or why not)")


class EventActorOut(Out):
    org: str | None = None
    user: str
    role: str


class EventOut(Out):
    """An event envelope exactly as it was sealed; its values are served unchanged so that hashes verify."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    version: int
    source: str
    subject: str
    time: str = Field(description="UTC, ISO 8601 with microseconds and Z (the canonical form)")
    actor: EventActorOut
    correlation_id: str
    causation_id: str | None = None
    seq: int
    prev_hash: str
    hash: str
    data: dict[str, Any]


class LogItemOut(Out):
    position: int
    log_hash: str | None
    event: EventOut


class LogPageOut(Out):
    """A page of the log; `next_cursor` is the last position, to pass back as `after`."""

    items: list[LogItemOut]
    next_cursor: str | None
    head: int | None = Field(default=None, description=(
        "日志当前最新的位置 (the newest sequenced position of the log when the page was read): a follower "
        "whose cursor is below it is behind"))
    published: int | None = Field(default=None, description=(
        "已发送到 Kafka 的位置 (kafka bus: how far the log has been sent to its topic; below `head` while the "
        "broker is or was down; null on the embedded bus)"))


class DeadLetterOut(Out):
    """A message a consumer could not handle, with the error and where it came from."""

    id: int
    consumer: str
    event_id: str | None
    type: str | None
    origin: str
    error: str
    payload: str
    created_at: datetime
    redriven_at: datetime | None = Field(None, description="重新投递的时间 (when it was handed to the consumer again)")
    redrive_outcome: str | None = Field(None, description="重新投递的结果 (handled, duplicate, parked, ignored, dead)")


class RedriveOut(Out):
    """What redriving dead letters did: each row's id and the consumer's outcome."""

    items: list[DeadLetterOut]


class CheckpointOut(Out):
    """A signed checkpoint of the log: its size, running hash (root), time, key and Ed25519 signature."""

    service: str
    size: int
    root: str
    time: str
    key_id: str
    signature: str


class CheckpointPageOut(Out):
    """A page of checkpoints; `next_cursor` is the last size, to pass back as `after`."""

    items: list[CheckpointOut]
    next_cursor: str | None


class PublicKeyOut(Out):
    service: str
    algorithm: str
    key_id: str
    public_key: str = Field(description="base64 of the raw public key")

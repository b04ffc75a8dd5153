"""Closed Loop contracts: what crosses a service boundary. Schemas only, no I/O."""

import contracts.events  # noqa: F401  (fills the registry)
from contracts.envelope import GENESIS_HASH, Actor, Envelope, canonical_json, compute_hash
from contracts.registry import REGISTRY, parse_data, payload_model, upcast
from contracts.topics import DEAD_LETTER_TOPIC, SERVICES, TOPICS, topic_for

__all__ = [
    "DEAD_LETTER_TOPIC",
    "GENESIS_HASH",
    "REGISTRY",
    "SERVICES",
    "TOPICS",
    "Actor",
    "Envelope",
    "canonical_json",
    "compute_hash",
    "parse_data",
    "payload_model",
    "topic_for",
    "upcast",
]

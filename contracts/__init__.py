"""Closed Loop contracts: what crosses a service boundary. Schemas only, no I/O."""

from contracts.envelope import Actor, Envelope, canonical_json, compute_hash, GENESIS_HASH
import contracts.events  # noqa: F401  (fills the registry)
from contracts.registry import REGISTRY, parse_data, payload_model, upcast
from contracts.topics import TOPICS, DEAD_LETTER_TOPIC, topic_for, SERVICES

__all__ = [
    "Actor",
    "Envelope",
    "canonical_json",
    "compute_hash",
    "GENESIS_HASH",
    "REGISTRY",
    "parse_data",
    "payload_model",
    "upcast",
    "TOPICS",
    "DEAD_LETTER_TOPIC",
    "topic_for",
    "SERVICES",
]

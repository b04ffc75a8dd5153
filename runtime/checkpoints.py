"""Signed checkpoints of a service's log (Ed25519 over size and root).

A checkpoint says "the log of SERVICE had SIZE events and its running chain hash was ROOT at TIME".
The root is the running hash the relay keeps (`runtime.outbox.chain`, from the genesis hash), so an auditor
who holds the log recomputes it at every position. The signed message is a fixed text form (see `message`),
never JSON, so a verifier in any language rebuilds it byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.envelope import format_time
from runtime.keyfiles import read_or_create
from runtime.models import Checkpoint, LogState, OutboxRow

EVERY_EVENTS = 1000
EVERY_SECONDS = 1.0
ALGORITHM = "Ed25519"

_KEYS: dict[tuple[str, str], Ed25519PrivateKey] = {}


def message(*, service: str, size: int, root: str, time: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"closeloop-checkpoint/v1\n{service}\n{size}\n{root}\n{time}\n".encode("ascii")


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short, stable name of a key: the first 16 hex digits of SHA-256 over its raw public bytes."""
    return hashlib.sha256(public_raw(key)).hexdigest()[:16]


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A private key from base64 of its raw 32 bytes (CLOSELOOP_CHECKPOINT_KEY)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ValueError("CLOSELOOP_CHECKPOINT_KEY is not base64") from exc
    if len(raw) != 32:
        raise ValueError(f"CLOSELOOP_CHECKPOINT_KEY must be 32 raw bytes in base64, got {len(raw)} bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its raw 32 bytes."""
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 raw bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def new_key_text() -> str:
    """A fresh private key as base64 of its raw bytes (what CLOSELOOP_CHECKPOINT_KEY takes)."""
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def key_dir(db_url: URL | str, data_dir: Path | None = None) -> Path:
    """Where a development key is kept: beside the SQLite file, else the configured data folder."""
    url = db_url if isinstance(db_url, URL) else None
    database = url.database if url is not None else None
    if url is not None and url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return Path(database).resolve().parent
    if data_dir is not None:
        return Path(data_dir).resolve()
    return Path(os.environ.get("CLOSELOOP_DATA_DIR", "var")).resolve()


def _load_or_create(path: Path) -> Ed25519PrivateKey:
    return parse_private_key(read_or_create(path, new_key_text))


def signing_key(*, service: str, configured: str | None, db_url: URL | str,
                data_dir: Path | None = None) -> Ed25519PrivateKey:
    """The service's checkpoint key: from settings, else (development, test) one kept in the data folder."""
    if configured:
        cache_key = (service, "configured:" + hashlib.sha256(configured.encode()).hexdigest())
        if cache_key not in _KEYS:
            _KEYS[cache_key] = parse_private_key(configured)
        return _KEYS[cache_key]
    path = key_dir(db_url, data_dir) / f"{service}.checkpoint.key"
    cache_key = (service, str(path))
    if cache_key not in _KEYS or not path.exists():
        _KEYS[cache_key] = _load_or_create(path)
    return _KEYS[cache_key]


def sign(key: Ed25519PrivateKey, *, service: str, size: int, root: str, time: datetime) -> Checkpoint:
    """A checkpoint row, signed."""
    stamp = format_time(time)
    signature = key.sign(message(service=service, size=size, root=root, time=stamp))
    return Checkpoint(size=size, root=root, time=time.astimezone(UTC), key_id=key_id(key),
                      signature=base64.b64encode(signature).decode("ascii"))


def signature_ok(public: Ed25519PublicKey, *, service: str, size: int, root: str, time: str, signature: str) -> bool:
    """Whether a checkpoint's signature is the key's over its fields."""
    try:
        public.verify(base64.b64decode(signature, validate=True),
                      message(service=service, size=size, root=root, time=time))
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint_out(service: str, cp: Checkpoint) -> dict[str, object]:
    """A checkpoint as served and exported."""
    return {"service": service, "size": cp.size, "root": cp.root, "time": format_time(cp.time),
            "key_id": cp.key_id, "signature": cp.signature}


async def checkpoint_if_due(session: AsyncSession, *, state: LogState, now: datetime, service: str,
                            key: Ed25519PrivateKey) -> None:
    """Called by the relay inside its sequencing transaction after new events got positions, and when it is idle;
    the caller holds the log state row locked (SELECT … FOR UPDATE), so one transaction at a time signs and a
    size is never signed twice (two replicas on one database collided on `checkpoint_size_key` without it).

    Signs the log at every multiple of 1,000 events passed since the last checkpoint (its root read from the
    row at that position), and at the newest position when the last checkpoint is a second old or more.
    """
    last = (
        await session.execute(select(Checkpoint).order_by(col(Checkpoint.size).desc()).limit(1))
    ).scalar_one_or_none()
    last_size = last.size if last is not None else 0
    if state.position <= last_size:
        return
    due: list[tuple[int, str]] = []
    mark = (last_size // EVERY_EVENTS + 1) * EVERY_EVENTS
    marks = list(range(mark, state.position, EVERY_EVENTS))
    if marks:
        rows = (await session.execute(
            select(col(OutboxRow.position), col(OutboxRow.log_hash)).where(col(OutboxRow.position).in_(marks))
        )).all()
        due.extend((int(p), str(h)) for p, h in sorted(rows) if p is not None)  # IN (marks) never matches NULL
    stale = last is None or now - last.time >= timedelta(seconds=EVERY_SECONDS)
    if stale or state.position % EVERY_EVENTS == 0:
        due.append((state.position, state.log_hash))
    if not due:
        return
    for size, root in due:
        session.add(sign(key, service=service, size=size, root=root, time=now))
    await session.flush()

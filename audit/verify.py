"""Verify an audit export: every event hash, every per-subject chain, the running log hash, every checkpoint.

Built for speed (one core, a million events). Each line is decoded straight into a typed envelope record
(audit.records) and its event's hash is checked over the event's own bytes in the line, less its
`"hash"` member: a match proves those are the canonical bytes the service hashed, short of a SHA-256 second
preimage. Any other layout (white space, key order, a number written with an exponent) falls back to
`event_hash`, which renders the canonical form of contracts/envelope.py again and, failing that, asks
`contracts.compute_hash` itself, which has the last word. Only a line that will not decode is parsed as plain
JSON, to say what is wrong with it.

Kafka exports (`--from-kafka`) carry no log positions: their lines are `{partition, offset, event}` and a
subject's events all sit in one partition (the key is the subject). There verify checks every event hash and
every per-subject chain, in offset order within each partition; an identical redelivered copy of an event (the
relay sends at least once) is skipped, a different event with the same id is an error. The running log hash and
the checkpoints need the commit order, which only the services' export has: a Kafka export carries neither, so
they are not checked there (export from the services for that).
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from audit.files import checkpoints_file, events_file, public_key_file, read_manifest
from audit.records import DecodeError, LoggedEvent, as_dict, from_dict, read_log_line
from contracts.envelope import GENESIS_HASH, compute_hash
from runtime.checkpoints import key_id, parse_public_key, signature_ok

ENVELOPE_KEYS = frozenset({"id", "type", "version", "source", "subject", "time", "actor", "correlation_id",
                           "causation_id", "seq", "prev_hash", "hash", "data"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
_sha256 = hashlib.sha256
_dumps = orjson.dumps
_loads = orjson.loads
_SORT = orjson.OPT_SORT_KEYS
# In an exported line, `{"event":{…},"log_hash":"<64 hex>","position":N}`, the event's canonical bytes run from
# offset 9 to the log hash, with its own `,"hash":"<64 hex>"` member (74 bytes) inside.
_LOG_KEY = b',"log_hash":"'
_HASH_KEY = b',"hash":"'


@dataclass(frozen=True)
class Problem:
    """What is wrong, where: the service, the first bad log position (or checkpoint size), and why."""

    service: str
    position: int | None
    reason: str

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "its files"
        return f"{self.service}: {where}: {self.reason}"


@dataclass
class ServiceResult:
    """What verify found in one service's files."""

    service: str
    events: int = 0
    checkpoints: int = 0
    signed_size: int = 0
    subjects: int = 0
    head: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsigned_tail(self) -> int:
        """Events after the newest checkpoint (a signature covers them once the service signs its next one)."""
        return max(0, self.events - self.signed_size)


def event_hash(event: dict[str, Any]) -> str:
    """The hash an event should carry (over its canonical JSON without `hash`), computed fast.

    orjson with sorted keys renders the same bytes as contracts.canonical_json for every value an orjson parse
    gives, but for floats written with an exponent (1e-05, 1e+16). So the orjson rendering is hashed first;
    when that gives the stored hash, the bytes are the ones the service hashed (anything else would be a
    SHA-256 collision); when it does not (an exponent, or altered content), contracts.compute_hash decides.
    """
    stored = event.pop("hash", None)
    try:
        body: bytes | None = _dumps(event, option=_SORT)
    except (TypeError, orjson.JSONEncodeError):
        body = None  # e.g. an integer beyond 64 bits: the slow path decides
    if stored is not None:
        event["hash"] = stored
    if body is not None:
        fast = _sha256(body).hexdigest()
        if fast == stored:
            return fast
    return compute_hash(event)


def _shape_problem(event: Any, service: str) -> str | None:
    if not isinstance(event, dict):
        return "the event is not a JSON object"
    if event.keys() != ENVELOPE_KEYS:
        missing = sorted(ENVELOPE_KEYS - event.keys())
        extra = sorted(event.keys() - ENVELOPE_KEYS)
        return f"the envelope's fields are wrong (missing {missing}, unexpected {extra})"
    seq = event["seq"]
    if type(seq) is not int or seq < 1:
        return f"seq {seq!r} is not a positive integer"
    if not isinstance(event["subject"], str) or not event["subject"]:
        return "subject is empty or not a string"
    for name in ("hash", "prev_hash"):
        if not isinstance(event[name], str) or not _HEX64.match(event[name]):
            return f"{name} is not 64 lowercase hex digits"
    if not isinstance(event["time"], str) or not _TIME.match(event["time"]):
        return f"time {event['time']!r} is not in the canonical UTC form"
    if event["source"] != service:
        return f"the event's source is {event['source']!r}, not {service!r}: it belongs to another log"
    return None


class LogVerifier:
    """Checks one service's log line by line; hands every good event on, stops at the first bad one."""

    def __init__(self, service: str, checkpoints: list[dict[str, Any]] | None = None) -> None:
        self.service = service
        self.result = ServiceResult(service)
        self.heads: dict[str, tuple[int, str]] = {}
        self.running = GENESIS_HASH
        self.position = 0
        self.matched = 0  # the largest checkpoint size whose root the log has matched so far
        self.roots: dict[int, str] = {}
        for cp in checkpoints or []:
            self.roots.setdefault(cp["size"], cp["root"])

    def fail(self, position: int | None, reason: str) -> None:
        self.result.problems.append(Problem(self.result.service, position, reason))

    def scan(self, lines: Iterable[bytes], on_event: Callable[[LoggedEvent], None] | None = None,
             progress: Callable[[int], None] | None = None) -> bool:
        """Check lines in order (the hot loop: locals only); False at the first problem, which is recorded.

        Each line is decoded straight into a LoggedEvent record (exactly the envelope's fields, of its types);
        a line that will not decode is read again as plain JSON to say what is wrong with it. The event's hash
        is checked over its own bytes in the line, less its `,"hash":"…"` member: when that gives the stored
        hash, those are the canonical bytes the service hashed (anything else would be a SHA-256 second
        preimage) and the event need not be rendered again; otherwise `event_hash` renders it canonically.
        """
        read, sha256, time_ok = read_log_line, _sha256, _TIME.match
        service, heads, roots = self.service, self.heads, self.roots
        log_key, hash_key = _LOG_KEY, _HASH_KEY
        decode_error = DecodeError
        genesis = GENESIS_HASH
        expected, running = self.position, self.running
        try:
            for line in lines:
                if len(line) < 16 and not line.strip():
                    continue
                expected += 1
                try:
                    record = read(line)
                except decode_error as exc:
                    self._explain(expected, line, exc)
                    return False
                if record.position != expected:
                    self._misplaced(expected, record.position)
                    return False
                event = record.event
                subject, seq = event.subject, event.seq
                if seq < 1 or not subject or event.source != service or not time_ok(event.time):
                    self.fail(expected, _shape_problem(as_dict(event), service) or "the envelope is malformed")
                    return False
                stored = event.hash
                at = line.rfind(log_key)
                cut = line.rfind(hash_key, 9, at)
                digest = sha256(line[9:cut])
                digest.update(line[cut + 74:at])
                computed = digest.hexdigest()
                if computed != stored:
                    computed = event_hash(as_dict(event))
                    if computed != stored:
                        self.fail(expected, f"event {event.id} ({event.type}) does not match its hash: its content "
                                            "was altered")
                        return False
                head = heads.get(subject)
                if head is None:
                    linked = seq == 1 and event.prev_hash == genesis
                else:
                    linked = seq == head[0] + 1 and event.prev_hash == head[1]
                if not linked:
                    self._unlinked(expected, event, head)
                    return False
                heads[subject] = (seq, computed)
                new = sha256((running + computed).encode("ascii")).hexdigest()  # runtime.outbox.chain, inlined
                if record.log_hash != new:
                    self.fail(expected, "the running log hash differs here: an event before or at this position "
                                        "was inserted, deleted or reordered, or the log hash was altered")
                    return False
                if expected in roots:
                    root = roots[expected]
                    if root != new:
                        self.fail(expected, f"the signed checkpoint of size {expected} has root {root[:12]}…, the "
                                            f"log gives {new[:12]}…: an event between positions "
                                            f"{self.matched + 1} and {expected} was altered, inserted, deleted or "
                                            "moved (and the log rewritten to hide it)")
                        return False
                    self.matched = expected
                running = new
                if on_event is not None:
                    on_event(event)
                if progress is not None and not expected % 10000:
                    progress(10000)
        finally:
            self.position = expected - 1 if self.result.problems else expected
            self.running = running
        return True

    def _explain(self, expected: int, line: bytes, error: Exception) -> None:
        """Say why a line would not decode as a log record, reading it as plain JSON."""
        try:
            record = _loads(line)
            position, event = record["position"], record["event"]
            record["log_hash"]
        except orjson.JSONDecodeError as exc:
            self.fail(expected, f"line {expected} is not valid JSON ({exc}): the file was altered")
            return
        except (KeyError, TypeError):
            self.fail(expected, f"line {expected} is not a log record (position, log_hash, event)")
            return
        if position != expected:
            self._misplaced(expected, position)
            return
        self.fail(expected, _shape_problem(event, self.service) or f"the line is not a log record: {error}")

    def _misplaced(self, expected: int, position: Any) -> None:
        if isinstance(position, int) and position > expected:
            why = f"position {expected} is missing (record {position} comes next): an event was deleted or moved"
        elif isinstance(position, int):
            why = f"record {position} found where {expected} was expected: an event was inserted, duplicated or moved"
        else:
            why = f"record has no valid position ({position!r})"
        self.fail(expected, why)

    def _unlinked(self, where: int, event: LoggedEvent, head: tuple[int, str] | None) -> None:
        subject, seq = event.subject, event.seq
        last = head[0] if head else 0
        if seq != last + 1:
            self.fail(where, f"subject {subject!r} jumps from seq {last} to {seq}: its chain has a gap, a repeat "
                             "or is out of order")
        else:
            self.fail(where, f"subject {subject!r} seq {seq}: prev_hash does not link to the previous event of "
                             "that subject")

    def finish(self) -> ServiceResult:
        """Close the log: checkpoints beyond its end mean a truncated tail."""
        r = self.result
        r.events, r.head, r.subjects = self.position, self.running, len(self.heads)
        if not r.problems:
            beyond = [s for s in self.roots if s > self.position]
            if beyond:
                self.fail(self.position + 1, f"a checkpoint signs {max(beyond)} events but the log ends at "
                                             f"{self.position}: its tail was cut off")
        return r


def check_checkpoints(service: str, checkpoints: list[dict[str, Any]], public: dict[str, Any] | None,
                      trusted: str | None = None) -> list[Problem]:
    """Signatures, key, sizes and times of a service's checkpoints (the roots are checked against the log)."""
    problems: list[Problem] = []
    if not checkpoints:
        return problems
    if public is None:
        return [Problem(service, None, "checkpoints are present but the public key file is missing")]
    if trusted and public.get("public_key") != trusted:
        return [Problem(service, None, "the exported public key is not the trusted key given to verify")]
    try:
        key = parse_public_key(str(public["public_key"]))
    except (KeyError, ValueError) as exc:
        return [Problem(service, None, f"the public key file is unusable: {exc}")]
    kid = key_id(key)
    seen: dict[int, str] = {}
    last_time = ""
    last_size = 0
    for i, cp in enumerate(checkpoints, 1):
        try:
            size, root, time, signature = int(cp["size"]), str(cp["root"]), str(cp["time"]), str(cp["signature"])
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(service, None, f"checkpoint line {i} is malformed"))
            continue
        if cp.get("service", service) != service:
            problems.append(Problem(service, size, f"checkpoint of size {size} names service {cp.get('service')!r}"))
        if cp.get("key_id") != kid or not signature_ok(key, service=service, size=size, root=root, time=time,
                                                        signature=signature):
            problems.append(Problem(service, size, f"checkpoint of size {size} is not signed by the service's key "
                                                   f"{kid} (key_id {cp.get('key_id')!r})"))
        if size in seen and seen[size] != root:
            problems.append(Problem(service, size, f"two checkpoints of size {size} with different roots: "
                                                   "the log was forked"))
        seen.setdefault(size, root)
        if size < last_size:
            problems.append(Problem(service, size, f"checkpoint of size {size} comes after one of size {last_size}"))
        if time < last_time:
            problems.append(Problem(service, size, f"checkpoint of size {size} is dated {time}, before the previous "
                                                   f"one ({last_time}): checkpoint times went backwards"))
        last_time, last_size = max(last_time, time), max(last_size, size)
    return problems


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector off while scanning: the scan makes no cycles, and the collector's passes over a
    growing replayed state would cost more than the scan itself.

    On the way out the objects made meanwhile (a million-event replay's state) are moved to the permanent
    generation (gc.freeze), or the first collection after re-enabling would walk every one of them; reference
    counting still frees them when they are dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All lines of a small JSONL file."""
    if not path.exists():
        return []
    return [_loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def verify_service(root: Path, service: str, *, trusted: str | None = None,
                   on_event: Callable[[LoggedEvent], None] | None = None,
                   progress: Callable[[int], None] | None = None) -> ServiceResult:
    """Verify one service's files in an export folder; good events go to `on_event` in log order."""
    checkpoints = read_jsonl(checkpoints_file(root, service))
    pk_path = public_key_file(root, service)
    public = orjson.loads(pk_path.read_bytes()) if pk_path.exists() else None
    cp_problems = check_checkpoints(service, checkpoints, public, trusted)
    verifier = LogVerifier(service, checkpoints)
    path = events_file(root, service)
    if not path.exists():
        verifier.fail(None, f"{path.name} is missing")
    else:
        with path.open("rb", buffering=1 << 20) as fh, _no_gc():
            verifier.scan(fh, on_event, progress)
        if progress is not None and verifier.position % 10000:
            progress(verifier.position % 10000)  # the lines since the scan's last report
    result = verifier.finish()
    result.checkpoints = len(checkpoints)
    result.signed_size = max((int(c.get("size", 0)) for c in checkpoints), default=0)
    result.problems = sorted([*cp_problems, *result.problems],
                             key=lambda p: (p.position if p.position is not None else -1))
    return result


def verify_kafka_service(root: Path, service: str, *,
                         on_event: Callable[[LoggedEvent], None] | None = None) -> ServiceResult:
    """Verify a Kafka export: hashes and per-subject chains per partition; identical redeliveries skipped."""
    result = ServiceResult(service)
    heads: dict[str, tuple[int, str]] = {}
    seen: dict[str, str] = {}
    last_offset: dict[int, int] = {}
    n = 0

    def fail(where: int, reason: str) -> None:
        result.problems.append(Problem(service, where, reason))

    path = events_file(root, service)
    with path.open("rb") as fh:
        for i, line in enumerate(fh, 1):
            try:
                record = _loads(line)
                partition, offset, event = int(record["partition"]), int(record["offset"]), record["event"]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                fail(i, f"line {i} is not a Kafka log record: the file was altered")
                break
            if offset <= last_offset.get(partition, -1):
                fail(i, f"partition {partition} offset {offset} comes after offset {last_offset[partition]}")
                break
            last_offset[partition] = offset
            shape = _shape_problem(event, service)
            if shape:
                fail(i, f"partition {partition} offset {offset}: {shape}")
                break
            try:
                logged = from_dict(event)
            except DecodeError as exc:
                fail(i, f"partition {partition} offset {offset}: the event is not an envelope: {exc}")
                break
            if event_hash(event) != event["hash"]:
                fail(i, f"partition {partition} offset {offset}: event {event['id']} does not match its hash")
                break
            if event["id"] in seen:
                if seen[event["id"]] == event["hash"]:
                    continue
                fail(i, f"partition {partition} offset {offset}: a different event reuses id {event['id']}")
                break
            seen[event["id"]] = event["hash"]
            seq, prev = heads.get(event["subject"], (0, GENESIS_HASH))
            if event["seq"] != seq + 1 or event["prev_hash"] != prev:
                fail(i, f"partition {partition} offset {offset}: subject {event['subject']!r} seq {event['seq']} "
                        f"does not follow seq {seq} of its chain")
                break
            heads[event["subject"]] = (event["seq"], event["hash"])
            n += 1
            if on_event is not None:
                on_event(logged)
    result.events, result.subjects = n, len(heads)
    return result


def verify_export(root: Path, *, trusted: dict[str, str] | None = None,
                  on_event: Callable[[str, LoggedEvent], None] | None = None,
                  progress: Callable[[int], None] | None = None) -> list[ServiceResult]:
    """Verify every service of an export folder."""
    manifest = read_manifest(root)
    results = []
    for service in manifest["services"]:
        handler = (lambda ev, s=service: on_event(s, ev)) if on_event else None
        if manifest.get("source") == "kafka":
            results.append(verify_kafka_service(root, service, on_event=handler))
        else:
            results.append(verify_service(root, service, trusted=(trusted or {}).get(service), on_event=handler,
                                          progress=progress))
    return results

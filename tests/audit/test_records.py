"""The audit's typed reader of exported lines agrees with the envelope in contracts, field for field."""

from __future__ import annotations

from pathlib import Path

import msgspec
import orjson
import pytest

from audit.files import dumps_line, events_file
from audit.records import (
    DecodeError,
    LoggedActor,
    LoggedEvent,
    as_dict,
    from_dict,
    read_kafka_line,
    read_log_line,
)
from audit.verify import verify_export
from contracts.envelope import Actor, Envelope
from tests.audit.logs import make_log


def test_the_record_has_exactly_the_envelopes_fields() -> None:
    assert {f.name for f in msgspec.structs.fields(LoggedEvent)} == set(Envelope.model_fields)
    assert {f.name for f in msgspec.structs.fields(LoggedActor)} == set(Actor.model_fields)


def test_a_logged_event_reads_back_as_the_json_the_service_wrote() -> None:
    log = make_log(4, every=2)
    for record in log.records:
        line = read_log_line(dumps_line(record))
        assert (line.position, line.log_hash) == (record["position"], record["log_hash"])
        assert as_dict(line.event) == record["event"]
        assert from_dict(record["event"]) == line.event
    kafka = read_kafka_line(dumps_line({"partition": 0, "offset": 7, "event": log.records[0]["event"]}))
    assert (kafka.partition, kafka.offset, as_dict(kafka.event)) == (0, 7, log.records[0]["event"])


@pytest.mark.parametrize(("edit", "field"), [
    (lambda e: e.pop("actor"), "actor"),
    (lambda e: e.update(extra=1), "extra"),
    (lambda e: e["actor"].update(badge="x"), "actor"),
    (lambda e: e.update(seq="1"), "seq"),
    (lambda e: e.update(data=[]), "data"),
])
def test_anything_but_an_envelope_is_refused_naming_the_field(edit, field: str) -> None:  # type: ignore[no-untyped-def]
    event = make_log(2).records[0]["event"]
    edit(event)
    with pytest.raises(DecodeError, match=field):
        from_dict(event)


def test_verify_names_an_actor_that_is_not_an_actor(tmp_path: Path) -> None:
    """The decoder's refusal is explained: here the envelope's own fields are right, the actor's are not."""
    log = make_log()
    root = log.write(tmp_path / "export")
    path = events_file(root, "issues")
    lines = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[2])
    record["event"]["actor"]["badge"] = "007"
    lines[2] = dumps_line(record)
    path.write_bytes(b"".join(lines))
    [result] = verify_export(root)
    assert result.problems[0].position == 3
    assert "not a log record" in result.problems[0].reason and "actor" in result.problems[0].reason

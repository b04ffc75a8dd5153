"""Verify names the service, the first bad position and why, for every way of altering an exported log."""

from __future__ import annotations

import copy
import gc
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from audit.files import dumps_line, events_file
from audit.verify import Problem, event_hash, verify_export
from closeloop.cli import app
from contracts.envelope import canonical_json, compute_hash
from tests.audit.logs import START, Log, make_log, relink


def first_problem(log: Log, tmp: Path) -> Problem:
    results = verify_export(log.write(tmp / "export"))
    problems = [p for r in results for p in r.problems]
    assert problems, "verify accepted an altered log"
    return problems[0]


def test_an_unaltered_log_verifies_with_every_checkpoint(tmp_path: Path) -> None:
    log = make_log()
    [result] = verify_export(log.write(tmp_path))
    assert result.ok and result.events == 20 and result.checkpoints == 4 and result.unsigned_tail == 0
    assert result.head == log.records[-1]["log_hash"]


def test_one_flipped_byte_in_an_event_is_named_at_its_position(tmp_path: Path) -> None:
    log = make_log()
    root = log.write(tmp_path / "export")
    path = events_file(root, "issues")
    lines = path.read_bytes().splitlines(keepends=True)
    line = bytearray(lines[6])
    at = line.index(b'"kind":"region"') + len(b'"kind":"r')
    line[at] ^= 0x01  # 'e' -> 'd'
    lines[6] = bytes(line)
    path.write_bytes(b"".join(lines))
    [result] = verify_export(root)
    assert result.problems[0].position == 7 and "hash" in result.problems[0].reason


def test_a_flipped_byte_that_breaks_the_json_is_named_at_its_line(tmp_path: Path) -> None:
    log = make_log()
    root = log.write(tmp_path / "export")
    path = events_file(root, "issues")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b"{", b"[", 1)
    path.write_bytes(b"".join(lines))
    [result] = verify_export(root)
    assert result.problems[0].position == 5 and "not valid JSON" in result.problems[0].reason


def test_an_edited_event_with_a_recomputed_hash_is_caught_by_the_next_checkpoint(tmp_path: Path) -> None:
    log = make_log()
    event = log.records[2]["event"]
    event["data"]["name"] = "改过的名字"
    event["hash"] = compute_hash(event)
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 5 and "between positions 1 and 5" in problem.reason


def test_a_deleted_event_is_named_at_the_missing_position(tmp_path: Path) -> None:
    log = make_log()
    del log.records[7]
    problem = first_problem(log, tmp_path)
    assert (problem.service, problem.position) == ("issues", 8) and "missing" in problem.reason


def test_a_deleted_event_hidden_by_renumbering_is_caught_by_the_chain_or_checkpoint(tmp_path: Path) -> None:
    log = make_log()
    del log.records[7]
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 10 and "between positions 6 and 10" in problem.reason


def test_a_deleted_last_event_hidden_by_renumbering_is_caught_by_the_last_checkpoint(tmp_path: Path) -> None:
    log = make_log()
    del log.records[18]  # org-008's second event: no later event of that subject would notice
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 20 and "signs 20 events but the log ends at 19" in problem.reason


def test_an_inserted_event_is_named_at_its_position(tmp_path: Path) -> None:
    log = make_log()
    forged = copy.deepcopy(log.records[5])
    forged["event"]["data"]["name"] = "插入"
    forged["event"]["hash"] = compute_hash(forged["event"])
    log.records.insert(5, forged)
    problem = first_problem(log, tmp_path)
    assert problem.position == 6


def test_an_inserted_event_hidden_by_renumbering_is_caught(tmp_path: Path) -> None:
    log = make_log()
    extra = make_log(2).records[0]  # a valid event of a new subject from another factory
    extra["event"]["subject"] = extra["event"]["data"]["org_id"] = "org-new"
    extra["event"]["hash"] = compute_hash(extra["event"])
    log.records.insert(5, extra)
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 10 and "between positions 6 and 10" in problem.reason


def test_reordered_events_are_named_at_the_first_moved_position(tmp_path: Path) -> None:
    log = make_log()
    log.records[10], log.records[11] = log.records[11], log.records[10]
    problem = first_problem(log, tmp_path)
    assert problem.position == 11


def test_reordered_events_of_one_subject_break_its_chain(tmp_path: Path) -> None:
    log = make_log()
    log.records[3], log.records[13] = log.records[13], log.records[3]  # org-003 seq 2 before seq 1
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 4 and "org-003" in problem.reason


def test_a_truncated_tail_is_caught_by_a_checkpoint_beyond_the_log(tmp_path: Path) -> None:
    log = make_log()
    log.records = log.records[:17]
    problem = first_problem(log, tmp_path)
    assert problem.position == 18 and "cut off" in problem.reason


def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork(tmp_path: Path) -> None:
    log = make_log()
    log.checkpoints.insert(2, log.checkpoint(10, root="a" * 64, time=START + timedelta(minutes=10, seconds=1)))
    problem = first_problem(log, tmp_path)
    assert problem.position == 10 and "two checkpoints of size 10" in problem.reason


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    log = make_log()
    log.checkpoints[2] = log.checkpoint(15, key=Ed25519PrivateKey.generate())
    problem = first_problem(log, tmp_path)
    assert problem.position == 15 and "not signed by the service's key" in problem.reason


def test_a_checkpoint_whose_signature_was_tampered_is_refused(tmp_path: Path) -> None:
    log = make_log()
    log.checkpoints[1]["root"] = log.records[8]["log_hash"]
    problem = first_problem(log, tmp_path)
    assert problem.position == 10 and "not signed" in problem.reason


def test_checkpoint_times_that_go_backwards_are_refused(tmp_path: Path) -> None:
    log = make_log()
    log.checkpoints[2] = log.checkpoint(15, time=START + timedelta(minutes=3))
    problem = first_problem(log, tmp_path)
    assert problem.position == 15 and "backwards" in problem.reason


def test_a_public_key_other_than_the_trusted_one_is_refused(tmp_path: Path) -> None:
    import base64

    from runtime.checkpoints import public_raw

    log = make_log()
    other = base64.b64encode(public_raw(Ed25519PrivateKey.generate())).decode()
    [result] = verify_export(log.write(tmp_path), trusted={"issues": other})
    assert not result.ok and "trusted key" in result.problems[0].reason


def test_an_event_of_another_service_in_the_log_is_refused(tmp_path: Path) -> None:
    log = make_log()
    foreign = make_log(2, service="verification").records[0]["event"]
    log.records.insert(3, {"event": foreign})
    log.records = relink(log.records)
    problem = first_problem(log, tmp_path)
    assert problem.position == 4 and "another log" in problem.reason


@pytest.mark.parametrize("value", [1e16, 1.5e-7, 0.1 + 0.2, 35, -0.0, 2**70, "控制\u0001字符\u2028\x7f", {"b": 1, "a": [2]}])
def test_the_fast_hash_agrees_with_the_canonical_hash(value: object) -> None:
    event = make_log(2).records[0]["event"]
    event["data"]["x"] = value
    event["hash"] = compute_hash(event)
    assert event_hash(event) == event["hash"]
    event["data"]["x"] = [value]
    assert event_hash(event) != event["hash"]


def test_orjson_renders_the_canonical_form_of_an_event() -> None:
    event = make_log(2).records[0]["event"]
    assert orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode() == canonical_json(event)


def test_verify_cli_exits_non_zero_and_names_the_service_and_position(tmp_path: Path) -> None:
    log = make_log()
    del log.records[7]
    root = log.write(tmp_path / "export")
    result = CliRunner().invoke(app, ["audit", "verify", str(root)])
    assert result.exit_code == 1
    assert "issues: position 8:" in result.output
    good = make_log().write(tmp_path / "good")
    result = CliRunner().invoke(app, ["audit", "verify", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok   issues" in result.output


def _rewrite_line(root: Path, index: int, edit) -> None:  # type: ignore[no-untyped-def]
    path = events_file(root, "issues")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[index] = edit(lines[index])
    path.write_bytes(b"".join(lines))


def test_an_event_written_in_another_json_layout_is_judged_by_its_canonical_form(tmp_path: Path) -> None:
    """Verify hashes an event's own bytes first; bytes that are not the canonical ones (white space, key order,
    escapes) but say the same thing fall back to the canonical hash and pass."""
    log = make_log()
    root = log.write(tmp_path / "export")
    record = log.records[6]
    event = record["event"]
    reordered = {k: event[k] for k in reversed(list(event))}
    line = json.dumps({"position": record["position"], "log_hash": record["log_hash"], "event": reordered},
                      ensure_ascii=True, indent=1).replace("\n", " ").encode() + b"\n"
    _rewrite_line(root, 6, lambda _: line)
    [result] = verify_export(root)
    assert result.ok, result.problems


def test_a_number_written_with_an_exponent_is_hashed_canonically(tmp_path: Path) -> None:
    log = make_log(4, every=2)
    event = log.records[3]["event"]  # the last of its subject: no later event links to its hash
    event["data"]["tiny"], event["data"]["huge"] = 1.5e-7, 2e16
    event["hash"] = compute_hash(event)
    log.records = relink(log.records)
    log.checkpoints = [log.checkpoint(2), log.checkpoint(4)]
    [result] = verify_export(log.write(tmp_path / "export"))
    assert result.ok, result.problems
    assert b"1.5e-07" not in events_file(tmp_path / "export", "issues").read_bytes()  # orjson wrote 1.5e-7


def test_a_hash_member_moved_out_of_the_event_is_refused(tmp_path: Path) -> None:
    """`{"event":{…},"hash":"…",…}`: the bytes less that member are the canonical event, but the event itself has
    lost its hash, so the line is no event of the log."""
    log = make_log()
    root = log.write(tmp_path / "export")

    def move(line: bytes) -> bytes:
        record = orjson.loads(line)
        stored = record["event"].pop("hash")
        body = orjson.dumps(record["event"], option=orjson.OPT_SORT_KEYS)
        return (b'{"event":' + body + b',"hash":"' + stored.encode() + b'","log_hash":"'
                + record["log_hash"].encode() + b'","position":' + str(record["position"]).encode() + b"}\n")

    _rewrite_line(root, 3, move)
    [result] = verify_export(root)
    assert result.problems[0].position == 4 and "fields are wrong" in result.problems[0].reason


def test_an_event_whose_hash_was_forged_over_non_canonical_bytes_is_refused(tmp_path: Path) -> None:
    """A forger who hashes a re-laid-out event gets the hash over its bytes, not over its canonical form: the
    next checkpoint (or the running hash) gives it away, never the fast path."""
    log = make_log()
    root = log.write(tmp_path / "export")

    def forge(line: bytes) -> bytes:
        record = orjson.loads(line)
        event = record["event"]
        event["data"]["name"] = "另一个单位"
        event.pop("hash")
        spaced = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(", ", ": ")).encode()
        event["hash"] = hashlib.sha256(spaced).hexdigest()
        return dumps_line({**record, "event": event})

    _rewrite_line(root, 2, forge)
    [result] = verify_export(root)
    assert result.problems[0].position == 3 and "does not match its hash" in result.problems[0].reason


def test_verify_leaves_the_cyclic_collector_as_it_found_it(tmp_path: Path) -> None:
    root = make_log().write(tmp_path / "export")
    assert gc.isenabled()
    verify_export(root)
    assert gc.isenabled()
    gc.disable()
    try:
        verify_export(root)
        assert not gc.isenabled()
    finally:
        gc.enable()

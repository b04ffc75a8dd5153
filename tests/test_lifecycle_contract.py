"""The lifecycle and event ownership as contract data: one state machine, one closed set, one set of labels."""

from __future__ import annotations

import json

import pytest

from contracts import REGISTRY, lifecycle
from contracts.enums import IssueStatus
from contracts.lifecycle import Action
from contracts.ownership import owner_of, owns
from contracts.registry import key_of, payload_model
from contracts.topics import SERVICES


def test_lifecycle_is_the_designs_diagram() -> None:
    moves = {(a.value, src.value, dst.value) for (a, src), dst in lifecycle.TRANSITIONS.items()}
    assert moves == {
        ("start", "registered", "in_progress"), ("apply", "registered", "closure_requested"),
        ("apply", "in_progress", "closure_requested"), ("accept", "closure_requested", "signed_off"),
        ("reject", "closure_requested", "in_progress"), ("file", "signed_off", "filed"),
        ("reopen", "signed_off", "in_progress"), ("reopen", "filed", "in_progress"),
    }
    assert lifecycle.CLOSED == {IssueStatus.signed_off, IssueStatus.filed}
    assert lifecycle.next_status("file", "in_progress") is None and lifecycle.next_status("nonsense", "x") is None
    assert lifecycle.allowed_actions("closure_requested") == [Action.accept, Action.reject]
    assert lifecycle.action_between("filed", "in_progress") == Action.reopen


def test_every_status_and_action_has_one_chinese_label_and_the_table_exports_as_json() -> None:
    assert set(lifecycle.LABELS_ZH) == set(IssueStatus) and set(lifecycle.ACTION_LABELS_ZH) == set(Action)
    assert lifecycle.label_zh("registered") == "已交办"
    data = json.loads(json.dumps(lifecycle.as_data(), ensure_ascii=False))
    assert [s["id"] for s in data["statuses"]] == [s.value for s in IssueStatus]
    assert len(data["transitions"]) == len(lifecycle.TRANSITIONS)
    assert data["closed"] == ["filed", "signed_off"]
    assert data["event_actions"]["issue.reopened"] == "reopen"


@pytest.mark.parametrize("key", sorted(REGISTRY), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_every_event_has_exactly_one_owner_and_its_class_names_it(key: tuple[str, int]) -> None:
    type_, version = key
    assert owner_of(type_) in SERVICES
    assert [s for s in SERVICES if owns(s, type_)] == [owner_of(type_)]
    assert key_of(payload_model(type_, version)) == key


def test_ownership_follows_the_designs_table() -> None:
    assert owner_of("issue.reopened") == "verification"
    assert owner_of("issue.status_changed") == "issues"
    assert owner_of("closure.accepted") == "verification"
    assert owner_of("ranking.published") == "scoring"
    assert owner_of("digest.published") == "notify"
    with pytest.raises(KeyError):
        owner_of("weather.changed")

"""The one read rule for an issue, shared by the issues and verification services."""

from __future__ import annotations

import pytest

from runtime.auth import Principal

ISSUE = {"responsible": "district-a", "supervising": "bureau-eco", "cooperating": ["bureau-water"]}


@pytest.mark.parametrize(("org", "roles", "sees"), [
    ("inspection-office", {"admin"}, True),
    (None, {"leader"}, True),
    (None, {"auditor"}, True),
    (None, {"system"}, True),
    ("district-a", {"responsible"}, True),
    ("bureau-water", {"responsible"}, True),
    ("bureau-eco", {"supervisor"}, True),
    ("district-b", {"responsible"}, False),
    ("district-b", {"supervisor"}, False),
    (None, {"responsible"}, False),
    ("district-a", set(), True),  # party to the issue by its org, whatever its roles
])
def test_an_issue_is_seen_by_those_who_see_all_and_by_its_parties(org: str | None, roles: set[str],
                                                                  sees: bool) -> None:
    who = Principal(sub="u", org=org, roles=frozenset(roles))
    assert who.sees_issue(**ISSUE) is sees

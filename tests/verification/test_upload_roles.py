"""Evidence is uploaded in the role that applies to the caller's org: responsible for its issue, supervisor on site."""

from __future__ import annotations

import pytest

from tests.verification.helpers import RESP, SUPER, World


@pytest.mark.parametrize(("role", "org", "status"), [
    ("responsible", RESP, 201), ("supervisor", SUPER, 201),
    ("responsible", SUPER, 403),  # the supervising org holding a responsible role elsewhere
    ("supervisor", RESP, 403),    # the responsible org holding a supervisor role elsewhere
], ids=["responsible-own", "supervisor-own", "responsible-of-supervising-org", "supervisor-of-responsible-org"])
async def test_only_the_role_that_applies_to_the_org_may_upload(world: World, role: str, org: str, status: int) -> None:
    issue = await world.issue()
    r = await world.upload(issue, headers=world.who(role, org))
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["error"]["code"] == "forbidden" and r.json()["error"]["message"]

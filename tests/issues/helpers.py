"""Shared set-up of the issues tests: the reference orgs, round and ledger loaded over the API."""

from __future__ import annotations

import csv
from typing import Any

from closeloop.cli import REFERENCE_ROUND
from closeloop.seed import seed_reference
from tests.support import DATA, Running

ROUND = REFERENCE_ROUND["id"]


def ledger_rows() -> list[dict[str, str]]:
    """The reference ledger as dicts, in file order."""
    with (DATA / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


async def load_orgs_and_round(s: Running) -> None:
    """Only the orgs and the round, through the API."""
    admin = s.auth(sub="setup", org="inspection-office", roles="admin")
    with (DATA / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
        for org in csv.DictReader(fh):
            r = await s.client.post("/v1/orgs", headers=admin, json={
                "id": org["id"], "name": org["name"], "kind": org["kind"], "zone_type": org["zone_type"] or None})
            assert r.status_code == 201, r.text
    r = await s.client.post("/v1/rounds", headers=admin, json=REFERENCE_ROUND)
    assert r.status_code == 201, r.text


async def load_reference(s: Running) -> dict[str, int]:
    """Orgs, round and the 34-row ledger, as `closeloop seed` loads them."""
    s.client.headers.update(s.auth(sub="seed", org="inspection-office", roles="admin"))
    try:
        return await seed_reference(s.client, data=DATA, round_=REFERENCE_ROUND, echo=lambda _: None)
    finally:
        del s.client.headers["Authorization"]


async def issue_by_code(s: Running, code: str) -> dict[str, Any]:
    """One issue of the reference round, read as the admin."""
    admin = s.auth(org="inspection-office", roles="admin")
    r = await s.client.get("/v1/issues", params={"q": code, "round_id": ROUND}, headers=admin)
    assert r.status_code == 200, r.text
    [item] = [i for i in r.json()["items"] if i["code"] == code]
    return item

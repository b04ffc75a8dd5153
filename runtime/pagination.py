"""Cursor pages `{items, next_cursor}`: one keyset helper with look-ahead for every list of every service.

A page reads `limit + 1` rows; the extra row only says that there is a next page, so a full last page has
no `next_cursor` and a client never fetches an empty page. Cursors are opaque (base64url of the last row's
keys); a cursor this service did not hand out is a 422 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import Field
from sqlalchemy import and_, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from runtime.answers import Out
from runtime.errors import field_error

T = TypeVar("T")
Row = TypeVar("Row")


class Page(Out, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="下一页的游标,最后一页为 null (pass as `cursor`)")


@dataclass(frozen=True)
class Key:
    """One column a list is ordered and continued by, and where a row carries its value."""

    column: Any
    attr: str
    parse: Callable[[Any], Any] = str
    descending: bool = False


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor holding the last row's key values."""
    raw = json.dumps([_plain(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Keys are database values: 64-bit integers, finite floats, short texts (ids, ISO times). Anything else is not
# one we handed out, and would overflow the driver (SQLite INTEGER) instead of being refused.
INT64 = (-(2**63), 2**63 - 1)
MAX_KEY_TEXT = 256
MAX_CURSOR = 2048


def _key_value(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return INT64[0] <= v <= INT64[1]
    if isinstance(v, float):
        return math.isfinite(v)
    return isinstance(v, str) and len(v) <= MAX_KEY_TEXT


def decode_cursor(cursor: str, keys: Sequence[Key]) -> list[Any]:
    """The key values inside a cursor, or a 422 naming `cursor`."""
    if len(cursor) > MAX_CURSOR:
        raise field_error("cursor", "not a cursor this list handed out")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong number of keys")
        if not all(_key_value(v) for v in raw):
            raise ValueError("not a key value")
        return [k.parse(v) for k, v in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise field_error("cursor", "not a cursor this list handed out") from None


def _after(keys: Sequence[Key], values: Sequence[Any]) -> Any:
    """Rows strictly after the cursor in the list's order (a row-value comparison when all keys go one way)."""
    if len({k.descending for k in keys}) == 1:
        left, right = tuple_(*(k.column for k in keys)), tuple_(*values)
        return left < right if keys[0].descending else left > right
    terms = []
    for i, key in enumerate(keys):
        same = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        terms.append(and_(*same, beyond))
    return or_(*terms)


def seek(stmt: Select[*tuple[Any, ...]], keys: Sequence[Key], *, cursor: str | None, limit: int) -> Select[*tuple[Any, ...]]:
    """Order by the keys, continue after the cursor, and read one row more than the page holds."""
    if cursor:
        stmt = stmt.where(_after(keys, decode_cursor(cursor, keys)))
    stmt = stmt.order_by(*(k.column.desc() if k.descending else k.column for k in keys))
    return stmt.limit(limit + 1)


def _value(row: Any, attr: str) -> Any:
    return row[attr] if isinstance(row, Mapping) else getattr(row, attr)


def page_of(rows: Sequence[Row], keys: Sequence[Key], *, limit: int) -> tuple[list[Row], str | None]:
    """The page's rows and the cursor of the next page, only when a row beyond this page was read."""
    kept = list(rows[:limit])
    more = len(rows) > limit and bool(kept)
    return kept, encode_cursor([_value(kept[-1], k.attr) for k in keys]) if more else None


async def fetch_page(session: AsyncSession, stmt: Select[*tuple[Any, ...]], keys: Sequence[Key], *, cursor: str | None,
                     limit: int, rows: str = "scalars") -> tuple[list[Any], str | None]:
    """Run a list query as one page: ORM objects (`scalars`), dict-like rows (`mappings`) or tuples (`all`)."""
    result = await session.execute(seek(stmt, keys, cursor=cursor, limit=limit))
    fetched: Sequence[Any] = (result.scalars().all() if rows == "scalars"
                              else result.mappings().all() if rows == "mappings" else result.all())
    return page_of(fetched, keys, limit=limit)

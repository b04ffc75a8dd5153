"""The inline SQLite engine (runtime.sqlite_inline) behaves as the aiosqlite one: commits, rollbacks, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from runtime.db import make_engine


@pytest.mark.parametrize("inline", [False, True])
async def test_inline_engine_commits_rolls_back_and_raises_like_aiosqlite(tmp_path: Path, inline: bool) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", inline=inline)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
            await conn.execute(text("INSERT INTO t (id, name) VALUES (:id, :name)"),
                               [{"id": 1, "name": "甲"}, {"id": 2, "name": "乙"}])
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id, name) VALUES (3, '丙')"))
                await conn.execute(text("INSERT INTO t (id, name) VALUES (1, '重复')"))
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert [tuple(r) for r in rows] == [(1, "甲"), (2, "乙")]  # the failed transaction left nothing
        assert mode == "wal"
    finally:
        await engine.dispose()


def test_inline_engine_refuses_a_memory_database() -> None:
    with pytest.raises(ValueError, match="database file"):
        make_engine("sqlite+aiosqlite:///:memory:", inline=True)

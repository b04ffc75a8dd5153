"""One in-process verification service per test, fed with issues events by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import running
from tests.verification.helpers import World


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running("verification", tmp_path) as ver:
        yield World(ver)

"""One in-process verification service per test, fed with issues events by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import running
from tests.verification.helpers import World


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """The service, started with the settings a `@pytest.mark.settings(...)` marker names (if any)."""
    marker = request.node.get_closest_marker("settings")
    async with running("verification", tmp_path, **(marker.kwargs if marker else {})) as ver:
        yield World(ver)

"""One running stack (four services, reference data, gateway) shared by the gateway tests of a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.stack import Stack, write_minimal_dist


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root = tmp_path_factory.mktemp("gateway-stack")
    s = Stack(data_dir=root / "cluster", dist=write_minimal_dist(root / "dist"))
    try:
        await s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def minimal_dist(tmp_path: Path) -> Path:
    return write_minimal_dist(tmp_path / "dist")

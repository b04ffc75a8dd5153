"""The fast tier: each service's handlers on a runtime built without an app (no HTTP, no servers, no lifespan).

Every test below this folder is marked `fast`, so `pytest -m fast` (or `pytest tests/fast`) runs them alone.
A service's database is migrated once per run into a template file and copied for each test, so a test pays
for a file copy instead of a migration.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from runtime.bootstrap import Runtime, ServiceSpec, start_runtime
from runtime.clock import Clock
from runtime.db import make_engine
from runtime.migrations import migrate
from tests.support import settings_for

HERE = Path(__file__).resolve().parent
RuntimeFactory = Callable[..., AbstractAsyncContextManager[Runtime]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `fast`."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.fast)


def spec_of(service: str) -> ServiceSpec:
    """The service's spec (its handler table, settings class, migrations)."""
    spec: ServiceSpec = importlib.import_module(f"services.{service}.app").SPEC
    return spec


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {"dir": tmp_path_factory.mktemp("fast-templates")}


@pytest.fixture
def service_runtime(_templates: dict[str, Path], tmp_path: Path) -> RuntimeFactory:
    """`async with service_runtime("issues", clock=...) as rt:` a runtime with no relay loop, no follower, no task."""

    @asynccontextmanager
    async def build(service: str, *, clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Runtime]:
        spec = spec_of(service)
        template = _templates.get(service)
        if template is None:
            template = _templates["dir"] / f"{service}.db"
            engine = make_engine(f"sqlite+aiosqlite:///{template}")
            await migrate(engine, service, spec.migrations)
            await engine.dispose()
            _templates[service] = template
        shutil.copyfile(template, tmp_path / f"{service}.db")
        settings = settings_for(service, tmp_path, **overrides)
        async with start_runtime(spec, settings, clock=clock, follow=False, background=False) as rt:
            yield rt

    return build

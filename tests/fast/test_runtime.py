"""A runtime is built and used without an app: a command commits its events, the relay sequences them in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.enums import OrgKind
from contracts.events.issues import OrgRegistered
from runtime.bootstrap import start_runtime
from services.issues import handlers
from services.issues.settings import IssuesSettings
from tests.fast.conftest import RuntimeFactory, spec_of
from tests.fast.helpers import ADMIN, logged
from tests.support import settings_for


async def test_a_runtime_without_an_app_runs_a_command_and_sequences_its_events(
        service_runtime: RuntimeFactory) -> None:
    async with service_runtime("issues") as rt:
        assert isinstance(rt.settings, IssuesSettings)
        for i in range(3):
            async with rt.unit_of_work(ADMIN) as uow:
                await handlers.register_org(uow, cmd=OrgRegistered(org_id=f"org-{i}", name=f"单位{i}",
                                                                   kind=OrgKind.department))
        log = await logged(rt)
    assert [(e["type"], e["subject"], e["seq"]) for e in log] == [
        ("org.registered", "org-0", 1), ("org.registered", "org-1", 1), ("org.registered", "org-2", 1)]
    assert log[0]["data"]["name"] == "单位0" and log[0]["actor"]["org"] == "inspection-office"


async def test_a_runtime_refuses_settings_of_another_service(tmp_path: Path) -> None:
    wrong = settings_for("scoring", tmp_path)
    with pytest.raises(TypeError, match="IssuesSettings"):
        async with start_runtime(spec_of("issues"), wrong, follow=False, background=False):
            pass

"""The thin path end to end: four real processes over HTTP, in embedded mode and in kafka mode."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.cluster import Cluster
from tests.e2e.flow import register_issue, setup_orgs, sign_off, signed_off_everywhere

pytestmark = pytest.mark.e2e


async def run_thin_path(c: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await setup_orgs(c, client)
        issue_id = await register_issue(c, client, code="HH-2020-017")
        await sign_off(c, client, issue_id)
        await signed_off_everywhere(c, client, issue_id)
        r = await client.get(f"{c.url('issues')}/v1/issues/{issue_id}",
                             headers=c.auth(org="city-eeb", roles="responsible"))
        assert [h["to"] for h in r.json()["history"]] == ["registered", "closure_requested", "signed_off"]


async def test_thin_path_in_embedded_mode(embedded_cluster: Cluster) -> None:
    await run_thin_path(embedded_cluster)


@pytest.mark.kafka
@pytest.mark.postgres
async def test_thin_path_in_kafka_mode_with_postgresql(kafka_cluster: Cluster) -> None:
    await run_thin_path(kafka_cluster)

"""Events of an older version replay through the registry's upcasters, in the projections and the handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audit.projections import Projections
from audit.records import from_dict
from contracts.registry import REGISTRY, UPCASTERS, Payload, event, parse_data, upcaster
from tests.support import EventFactory

TYPE = "audit_test.measured"


@pytest.fixture
def two_versions() -> Iterator[None]:
    """A test-local event with v1 (a value in mg) and v2 (the value in µg, with its unit), and the upcaster."""

    @event(TYPE, 1)
    class MeasuredV1(Payload):
        org_id: str
        value_mg: float

    @event(TYPE, 2)
    class MeasuredV2(Payload):
        org_id: str
        value: float
        unit: str

    @upcaster(TYPE, 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"org_id": data["org_id"], "value": data["value_mg"] * 1000, "unit": "ug"}

    try:
        yield
    finally:
        for key in ((TYPE, 1), (TYPE, 2)):
            REGISTRY.pop(key, None)
        UPCASTERS.pop((TYPE, 1), None)


def test_an_old_version_is_folded_as_the_newest(two_versions: None) -> None:
    factory = EventFactory("scoring")
    old = from_dict(factory.make(TYPE, "o1", {"org_id": "o1", "value_mg": 0.035}, version=1).model_dump(mode="json"))
    new = from_dict(factory.make(TYPE, "o1", {"org_id": "o1", "value": 40.0, "unit": "ug"}, version=2)
                    .model_dump(mode="json"))
    seen: list[dict[str, Any]] = []
    projections = Projections()
    projections.apply_by_type[TYPE] = lambda _event, data: seen.append(data)
    projections.apply(old)
    projections.apply(new)
    assert seen == [{"org_id": "o1", "value": 35.0, "unit": "ug"}, {"org_id": "o1", "value": 40.0, "unit": "ug"}]
    assert old.data == {"org_id": "o1", "value_mg": 0.035}, "the event itself is left as it was logged"


def test_the_handlers_path_reads_an_old_version_as_the_newest(two_versions: None) -> None:
    payload = parse_data(TYPE, 1, {"org_id": "o1", "value_mg": 0.035})
    assert payload.model_dump() == {"org_id": "o1", "value": 35.0, "unit": "ug"}

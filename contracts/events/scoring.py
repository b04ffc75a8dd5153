"""Events published by the scoring service: indicator.*, score.*, ranking.*."""

from __future__ import annotations

from datetime import datetime

from contracts.registry import Payload, event


@event("indicator.recorded", 1)
class IndicatorRecorded(Payload):
    reading_id: str
    org_id: str
    indicator: str
    value: float
    observed_at: datetime

"""Settings of the scoring service: the runtime's settings (the scoring service needs none of its own yet)."""

from __future__ import annotations

from typing import Any

from runtime.settings import Settings


class ScoringSettings(Settings):
    """CLOSELOOP_* settings of the scoring service."""


def get_settings(**overrides: Any) -> ScoringSettings:
    """Build the scoring settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return ScoringSettings.build("scoring", **overrides)


"""Settings of the scoring service: the runtime's settings (the scoring service needs none of its own yet)."""

from __future__ import annotations

from typing import Any

from runtime.bootstrap import Runtime
from runtime.settings import Settings


class ScoringSettings(Settings):
    """CLOSELOOP_* settings of the scoring service."""


def get_settings(**overrides: Any) -> ScoringSettings:
    """Build the scoring settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return ScoringSettings(**{"service": "scoring", **overrides})


def settings_of(rt: Runtime) -> ScoringSettings:
    """The scoring settings a runtime was built with (start_runtime refuses any other class)."""
    if not isinstance(rt.settings, ScoringSettings):
        raise TypeError(f"the scoring service runs with ScoringSettings, not {type(rt.settings).__name__}")
    return rt.settings

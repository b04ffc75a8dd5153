"""Settings of the issues service: the runtime's settings (the issues service needs none of its own yet)."""

from __future__ import annotations

from typing import Any

from runtime.bootstrap import Runtime
from runtime.settings import Settings


class IssuesSettings(Settings):
    """CLOSELOOP_* settings of the issues service."""


def get_settings(**overrides: Any) -> IssuesSettings:
    """Build the issues settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return IssuesSettings(**{"service": "issues", **overrides})


def settings_of(rt: Runtime) -> IssuesSettings:
    """The issues settings a runtime was built with (start_runtime refuses any other class)."""
    if not isinstance(rt.settings, IssuesSettings):
        raise TypeError(f"the issues service runs with IssuesSettings, not {type(rt.settings).__name__}")
    return rt.settings

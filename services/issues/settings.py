"""Settings of the issues service: the runtime's settings (the issues service needs none of its own yet)."""

from __future__ import annotations

from typing import Any

from runtime.settings import Settings


class IssuesSettings(Settings):
    """CLOSELOOP_* settings of the issues service."""


def get_settings(**overrides: Any) -> IssuesSettings:
    """Build the issues settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return IssuesSettings.build("issues", **overrides)


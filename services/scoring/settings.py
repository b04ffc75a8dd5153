"""Settings of the scoring service: the runtime's settings plus the thresholds of the accountability clues."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runtime.bootstrap import Runtime
from runtime.settings import Settings


class ScoringSettings(Settings):
    """CLOSELOOP_* settings of the scoring service. The accountability clues (问责线索) list a task or a unit when
    it meets a rule; each threshold is a setting (CLOSELOOP_CLUE_OVERDUE_DAYS …) with the default written here."""

    clue_overdue_days: int = Field(default=30, ge=0, le=3650, description="overdue more than N days")
    clue_superficial_rejections: int = Field(default=1, ge=1, le=100,
                                             description="rejected as superficial (表面整改) at least N times")
    clue_rebounds: int = Field(default=1, ge=1, le=100, description="rebounded (reopened) at least N times")
    clue_missed_milestones: int = Field(default=2, ge=1, le=100, description="milestones missed at least N times")
    clue_bottom_times: int = Field(default=2, ge=1, le=24, description="named at the bottom in at least K …")
    clue_bottom_of_last: int = Field(default=3, ge=1, le=24, description="… of the last M published rankings")
    ranking_catch_up_seconds: float = Field(
        default=3.0, ge=0, le=30, description="publishing a ranking waits at most this long for scoring to read "
                                              "every log it follows to its end, then refuses (409 scoring_behind)")


def get_settings(**overrides: Any) -> ScoringSettings:
    """Build the scoring settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return ScoringSettings.build("scoring", **overrides)


def settings_of(rt: Runtime) -> ScoringSettings:
    """The scoring settings its runtime was built with."""
    return ScoringSettings.of(rt.settings)

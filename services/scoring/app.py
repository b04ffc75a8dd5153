"""The scoring service: schemes, readings, scores, rankings, penalties."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from runtime.app import ServiceSpec, build_app
from runtime.clock import Clock
from services.scoring.api import router
from services.scoring.handlers import HANDLERS
from services.scoring.settings import ScoringSettings

SPEC = ServiceSpec(
    name="scoring",
    settings=ScoringSettings,
    migrations=Path(__file__).resolve().parent / "migrations",
    routers=[router],
    handlers=HANDLERS,
    follows=("issues", "verification"),
    description="Assessment (差别化考核): schemes, indicator readings, scores, rankings and penalties.",
)


def create_app(settings: ScoringSettings, *, clock: Clock | None = None) -> FastAPI:
    """The scoring app."""
    return build_app(SPEC, settings, clock=clock)

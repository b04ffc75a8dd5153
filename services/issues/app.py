"""The issues service: orgs, rounds, the ledger and the issue status projection."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from runtime.app import ServiceSpec, build_app
from runtime.clock import Clock
from services.issues.api import router
from services.issues.handlers import HANDLERS
from services.issues.settings import IssuesSettings

SPEC = ServiceSpec(
    name="issues",
    settings=IssuesSettings,
    migrations=Path(__file__).resolve().parent / "migrations",
    routers=[router],
    handlers=HANDLERS,
    follows=("verification",),
    description="The ledger (清单): orgs, inspection rounds, issues, assignments, deadlines and progress.",
)


def create_app(settings: IssuesSettings, *, clock: Clock | None = None) -> FastAPI:
    """The issues app."""
    return build_app(SPEC, settings, clock=clock)

"""The verification service: evidence, closure applications, decisions, sign-off, filing, reopenings."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from runtime.app import ServiceSpec, build_app
from runtime.clock import Clock
from services.verification.api import router
from services.verification.handlers import HANDLERS
from services.verification.settings import VerificationSettings

SPEC = ServiceSpec(
    name="verification",
    settings=VerificationSettings,
    migrations=Path(__file__).resolve().parent / "migrations",
    routers=[router],
    handlers=HANDLERS,
    follows=("issues",),
    description="Sign-off (销号制): evidence, applications, on-site verification, decisions, filing, reopenings.",
)


def create_app(settings: VerificationSettings, *, clock: Clock | None = None) -> FastAPI:
    """The verification app."""
    return build_app(SPEC, settings, clock=clock)

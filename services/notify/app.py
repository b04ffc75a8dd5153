"""The notify service: inbox, webhooks, e-mail, digests and reminders."""

from __future__ import annotations

from fastapi import FastAPI

from runtime.app import ServiceSpec, build_app
from runtime.clock import Clock
from runtime.settings import Settings
from services.notify.api import router
from services.notify.handlers import HANDLERS

SPEC = ServiceSpec(
    name="notify",
    routers=[router],
    handlers=HANDLERS,
    follows=("issues", "verification", "scoring"),
    description="Notifications: inbox, webhooks, e-mail; weekly dispatch, monthly bulletins, half-year accounts.",
)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The notify app."""
    return build_app(SPEC, settings, clock=clock)

"""The notify service: inbox, webhooks, e-mail; reminders, weekly dispatch, monthly bulletins, half-year accounts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from runtime.app import ServiceSpec, build_app
from runtime.clock import Clock
from services.notify.api import router
from services.notify.channels import delivery_worker
from services.notify.digests import scheduler
from services.notify.handlers import HANDLERS
from services.notify.settings import NotifySettings

SPEC = ServiceSpec(
    name="notify",
    settings=NotifySettings,
    migrations=Path(__file__).resolve().parent / "migrations",
    routers=[router],
    handlers=HANDLERS,
    follows=("issues", "verification", "scoring"),
    tasks=[scheduler, delivery_worker],
    description="Notifications: inbox, webhooks, e-mail; reminders and escalation; weekly dispatch (周调度), "
                "monthly bulletins (月通报), half-year accounts (半年交账).",
)


def create_app(settings: NotifySettings, *, clock: Clock | None = None) -> FastAPI:
    """The notify app."""
    return build_app(SPEC, settings, clock=clock)

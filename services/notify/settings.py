"""Settings of the notify service beyond the shared ones (CLOSELOOP_NOTIFY_* environment variables)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """How often the scheduler and the delivery worker look, and how deliveries are retried."""

    model_config = SettingsConfigDict(env_prefix="CLOSELOOP_NOTIFY_", extra="ignore")

    scheduler_interval: float = Field(default=30.0, gt=0, description="seconds between scheduler ticks")
    worker_interval: float = Field(default=1.0, gt=0, description="seconds between looks at the delivery queue")
    delivery_attempts: int = Field(default=5, ge=1, description="attempts before a delivery is marked failed")
    delivery_backoff: float = Field(default=30.0, ge=0, description="first retry delay; doubles each attempt")
    delivery_lease: float = Field(default=120.0, gt=0, description="seconds a claimed delivery is held by a worker")
    delivery_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a webhook or SMTP server")
    delivery_batch: int = Field(default=50, ge=1)
    reminder_batch: int = Field(default=500, ge=1, description="issues per transaction when issuing reminders")


def get_notify_settings(**overrides: Any) -> NotifySettings:
    """Build from the environment, explicit overrides winning."""
    return NotifySettings(**overrides)

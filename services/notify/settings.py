"""Settings of the notify service: the runtime's settings plus the scheduler's and the delivery worker's (CLOSELOOP_NOTIFY_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from runtime.bootstrap import Runtime
from runtime.settings import Settings


class NotifySettings(Settings):
    """Runtime settings plus how often the scheduler and the delivery worker look, and how deliveries are retried."""

    notify_scheduler_interval: float = Field(default=30.0, gt=0, description="seconds between scheduler ticks")
    notify_worker_interval: float = Field(default=1.0, gt=0, description="seconds between looks at the delivery queue")
    notify_delivery_attempts: int = Field(default=5, ge=1, description="attempts before a delivery is marked failed")
    notify_delivery_backoff: float = Field(default=30.0, ge=0, description="first retry delay; doubles each attempt")
    notify_delivery_lease: float = Field(default=120.0, gt=0,
                                         description="seconds a claimed delivery is held by a worker")
    notify_delivery_timeout: float = Field(default=10.0, gt=0,
                                           description="seconds to wait for a webhook or SMTP server")
    notify_delivery_batch: int = Field(default=50, ge=1)
    notify_documents_dir: Path | None = Field(default=None, description="rendered documents (default: data_dir/documents)")
    notify_templates_dir: Path | None = Field(default=None, description="a folder replacing the shipped templates "
                                                                        "(document.docx, document.html)")
    # Intranet webhook receivers the operator trusts: CIDRs ("10.20.0.0/16") or exact host names; JSON list in
    # CLOSELOOP_NOTIFY_WEBHOOK_ALLOW. Everything else must resolve to public addresses only.
    notify_webhook_allow: list[str] = Field(default_factory=list, max_length=100,
                                            description="CIDRs or host names webhooks may reach beyond the internet")
    notify_reminder_batch: int = Field(default=500, ge=1, description="issues per transaction when issuing reminders")


def get_settings(**overrides: Any) -> NotifySettings:
    """Build the notify settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return NotifySettings.build("notify", **overrides)


def settings_of(rt: Runtime) -> NotifySettings:
    """The notify settings its runtime was built with."""
    return NotifySettings.of(rt.settings)

"""Migrations of this service: its tables come from its store; the shared runtime does the work."""

import services.verification.store  # noqa: F401 — the service's tables join the metadata
from runtime.migrations import run_env

run_env()

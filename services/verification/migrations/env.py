"""Migrations of this service: the shared runtime does the work."""

from runtime.migrations import run_env

run_env()

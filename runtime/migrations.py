"""Alembic migrations, one history per service, run programmatically at start-up."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

ROOT = Path(__file__).resolve().parent.parent


def load_models(service: str) -> None:
    """Import the shared tables and the service's own, so the metadata knows them."""
    importlib.import_module("runtime.models")
    importlib.import_module(f"services.{service}.store")


def alembic_config(service: str, connection: Connection | None = None) -> Config:
    """The alembic configuration of one service's migration history."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.attributes["service"] = service
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def include_for(service: str) -> Any:
    """Keep only the shared tables and the service's own in its database."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            if reflected and compare_to is None:
                return name != "alembic_version"
            owner = getattr(obj, "info", {}).get("service")
            return owner in ("*", service)
        # Trigram search indexes are made by SQL in a migration (PostgreSQL only), not declared on the models.
        return not (type_ == "index" and reflected and compare_to is None and (name or "").endswith("_trgm"))

    return include


def run_env() -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context

    cfg = context.config
    service = cfg.attributes["service"]
    load_models(service)
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_for(service),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def upgrade_head(connection: Connection, service: str) -> None:
    """Apply every pending migration of a service."""
    command.upgrade(alembic_config(service, connection), "head")


def new_revision(connection: Connection, service: str, message: str) -> None:
    """Autogenerate a migration from the difference between the models and the database."""
    command.revision(alembic_config(service, connection), message=message, autogenerate=True)

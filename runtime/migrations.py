"""Alembic migrations, one history per service, run programmatically at start-up.

A service hands in where its history lives (`ServiceSpec.migrations`) and its tables are known to the metadata
because the service imported its store; the runtime never reaches into a service to find either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import runtime.models  # noqa: F401 — the shared tables join the metadata every history is compared with


def alembic_config(service: str, location: Path, connection: Connection | None = None) -> Config:
    """The alembic configuration of one service's migration history (scripts in `location`)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
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
    """Body of every service's migrations/env.py (which imports the service's store first)."""
    from alembic import context

    cfg = context.config
    service = cfg.attributes["service"]
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


def upgrade_head(connection: Connection, service: str, location: Path) -> None:
    """Apply every pending migration of a service."""
    command.upgrade(alembic_config(service, location, connection), "head")


def new_revision(connection: Connection, service: str, location: Path, message: str) -> None:
    """Autogenerate a migration from the difference between the models and the database."""
    command.revision(alembic_config(service, location, connection), message=message, autogenerate=True)


def migration_head(service: str, location: Path) -> str:
    """The newest revision of a service's history: what its database must be at to take requests."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(service, location)).get_current_head()
    if head is None:
        raise ValueError(f"the {service} service has no migrations in {location}")
    return head


async def migrate(engine: AsyncEngine, service: str, location: Path) -> None:
    """Bring a service's database to the newest migration of its history (alembic upgrade head)."""
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_head, service, location)

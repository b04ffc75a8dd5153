"""The base of every typed answer (`*Out`) of the services."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """An answer model: a field the route does not declare is an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

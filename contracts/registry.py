"""Registry from (type, version) to payload model, with upcasters between versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

REGISTRY: dict[tuple[str, int], type[BaseModel]] = {}
# The other way round: a payload class to its (type, version), so nobody names an event twice.
KEYS: dict[type[BaseModel], tuple[str, int]] = {}
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
# The newest version of each type (read for every event a service handles or emits), rebuilt when the registry
# grows or shrinks (tests register and drop events of their own).
_LATEST: tuple[int, dict[str, int]] = (0, {})

M = TypeVar("M", bound=type[BaseModel])


class Payload(BaseModel):
    """Base of every event payload: unknown (newer, optional) fields are tolerated on read."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def event(type_: str, version: int = 1) -> Callable[[M], M]:
    """Register a payload model under its stable wire name and version."""

    def wrap(model: M) -> M:
        key = (type_, version)
        if key in REGISTRY:
            raise ValueError(f"event {type_} v{version} registered twice")
        REGISTRY[key] = model
        KEYS[model] = key
        # class attributes the decorator adds; BaseModel's type doesn't declare them
        model.event_type = type_  # type: ignore[attr-defined]
        model.event_version = version  # type: ignore[attr-defined]
        return model

    return wrap


def upcaster(type_: str, from_version: int) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Any]:
    """Register a function turning the data of `from_version` into that of `from_version + 1`."""

    def wrap(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        UPCASTERS[(type_, from_version)] = fn
        return fn

    return wrap


def key_of(model: type[BaseModel]) -> tuple[str, int]:
    """The (type, version) a payload class was registered under; KeyError for a class that is no event."""
    try:
        return KEYS[model]
    except KeyError:
        raise KeyError(f"{model.__name__} is not a registered event payload") from None


def _latest() -> dict[str, int]:
    global _LATEST
    size, latest = _LATEST
    if size != len(REGISTRY):
        latest = {}
        for t, v in REGISTRY:
            latest[t] = max(v, latest.get(t, v))
        _LATEST = (len(REGISTRY), latest)
    return latest


def latest_version(type_: str) -> int:
    """The newest registered version of an event type."""
    try:
        return _latest()[type_]
    except KeyError:
        raise KeyError(f"unknown event type {type_!r}") from None


def payload_model(type_: str, version: int | None = None) -> type[BaseModel]:
    """The model of one (type, version); the newest version when none is given."""
    return REGISTRY[(type_, version or latest_version(type_))]


def upcast(type_: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Carry old data forward through the upcasters to the newest version."""
    target = latest_version(type_)
    while version < target:
        step = UPCASTERS.get((type_, version))
        if step is None:
            raise KeyError(f"no upcaster for {type_} v{version}")
        data = step(dict(data))
        version += 1
    return version, data


def parse_data(type_: str, version: int, data: dict[str, Any]) -> BaseModel:
    """Validate an event's data as the newest version of its payload model."""
    version, data = upcast(type_, version, data)
    return REGISTRY[(type_, version)].model_validate(data)


def is_known(type_: str) -> bool:
    """Whether any version of the type is registered."""
    return type_ in _latest()

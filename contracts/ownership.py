"""Which service publishes which event (DESIGN.md "Services and what each owns"): pure data, no I/O."""

from __future__ import annotations

from types import MappingProxyType

# A type's owner is the service of its longest matching prefix; an exact type name beats every prefix.
PREFIXES: MappingProxyType[str, str] = MappingProxyType({
    "org.": "issues",
    "round.": "issues",
    "issue.": "issues",
    "issue.reopened": "verification",  # a rebound is verification's finding about the issue
    "evidence.": "verification",
    "closure.": "verification",
    "sample.": "verification",
    "indicator.": "scoring",
    "score.": "scoring",
    "ranking.": "scoring",
    "calendar.": "scoring",
    "appeal.": "scoring",  # appeals against a ranking are decided where rankings are published
    "notification.": "notify",
    "digest.": "notify",
})


def owner_of(type_: str) -> str:
    """The service that publishes `type_`; KeyError when no service owns it."""
    if type_ in PREFIXES:
        return PREFIXES[type_]
    best = max((p for p in PREFIXES if p.endswith(".") and type_.startswith(p)), key=len, default=None)
    if best is None:
        raise KeyError(f"no service owns event type {type_!r}")
    return PREFIXES[best]


def owner_or_none(type_: str) -> str | None:
    """The service that publishes `type_`, or None when no service owns it."""
    try:
        return owner_of(type_)
    except KeyError:
        return None


def owns(service: str, type_: str) -> bool:
    """Whether `service` is the publisher of `type_`."""
    return owner_or_none(type_) == service

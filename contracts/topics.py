"""Topic names: one per owning service, keyed by subject."""

SERVICES: tuple[str, ...] = ("issues", "verification", "scoring", "notify")

TOPICS: dict[str, str] = {name: f"closeloop.{name}" for name in SERVICES}

DEAD_LETTER_TOPIC = "closeloop.dead-letter"


def topic_for(service: str) -> str:
    """The topic a service publishes on."""
    return TOPICS[service]

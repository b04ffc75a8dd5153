"""Every event payload, by owning service. Importing this package fills the registry."""

from contracts.events import issues, notify, scoring, verification  # noqa: F401

"""Prometheus metrics, one registry per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The counters every service exports at /metrics."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.requests = Counter("closeloop_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry).labels
        self.latency = Histogram("closeloop_http_request_seconds", "HTTP latency", ["route"],
                                 registry=self.registry)
        self.consumed = Counter("closeloop_events_consumed", "Events handled by consumers", ["consumer", "outcome"],
                                registry=self.registry)
        self.consumer_retries = Counter(
            "closeloop_consumer_retries", "Handling retries: kind=infrastructure (database/broker outage, retried "
            "until back) or content (the event or its handler, dead-lettered after the budget)", ["consumer", "kind"],
            registry=self.registry)
        self.log_position = Gauge("closeloop_log_position", "Last sequenced position of this service's log",
                                  registry=self.registry)
        self.database_unavailable = Counter(
            "closeloop_database_unavailable", "Requests answered 503 because the database could not be reached",
            registry=self.registry)
        # Set by the relay's sends and by /readyz?broker=1; exported in kafka mode only (label bus="kafka").
        self.broker_up = Gauge("closeloop_broker_up", "Whether the broker answered the last send or check (1) or not (0)",
                               ["bus"], registry=self.registry)
        self.relay_failures = Gauge("closeloop_relay_failures", "Failed relay attempts in a row (0 when it works)",
                                    registry=self.registry)
        self.info = Gauge("closeloop_service_info", "Service identity", list(labels), registry=self.registry)
        self.info.labels(**labels).set(1)

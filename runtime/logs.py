"""Structured logs (JSON lines) with the request's correlation id."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def _add_correlation(_: object, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    cid = correlation_id.get()
    if cid and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = cid
    return event_dict


# The loggers of the aiokafka modules that repeat one line per retry while the broker is down.
KAFKA_LOGGERS = ("aiokafka", "aiokafka.client", "aiokafka.conn", "aiokafka.cluster", "aiokafka.producer.sender",
                 "aiokafka.producer.producer", "aiokafka.consumer.group_coordinator", "aiokafka.consumer.fetcher",
                 "aiokafka.consumer.consumer")


class Summarised(logging.Filter):
    """Lets one record of each kind (logger and message template) through per `interval` seconds and counts the
    rest; the next one let through says how many were held back. A broker outage then costs a line every
    interval instead of one per reconnection attempt."""

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        last, held = self.seen.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self.seen[key] = (last, held + 1)
            return False
        self.seen[key] = (now, 0)
        if held:
            record.msg = f"{record.getMessage()} (同类日志 {held} 条已省略 / {held} similar line(s) held back " \
                         f"in the last {now - last:.0f} s)"
            record.args = None
        return True


def summarise_kafka_logs(interval: float = 30.0) -> Summarised:
    """Install one `Summarised` filter on aiokafka's loggers (once; later calls return it)."""
    for name in KAFKA_LOGGERS:
        for f in logging.getLogger(name).filters:
            if isinstance(f, Summarised):
                return f
    summary = Summarised(interval)
    for name in KAFKA_LOGGERS:
        logging.getLogger(name).addFilter(summary)
    return summary


def configure_logging(*, level: str = "INFO", json: bool = True, service: str | None = None) -> None:
    """Set up structlog and the stdlib root logger to write one JSON object per line."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=getattr(logging, level.upper(), logging.INFO))
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_correlation,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    for noisy in ("httpx", "httpcore", "aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    summarise_kafka_logs()
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


@contextmanager
def quiet_logging(service: str | None = None) -> Iterator[None]:
    """Only CRITICAL records while the block runs (a command whose progress bar would be drowned by the handlers'
    lines), then the logging this process had before: structlog's configuration and the root logger's level, so a
    caller that runs the command in-process (a test, a notebook) keeps the logs it asked for."""
    before, root = structlog.get_config(), logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging(level="CRITICAL", json=True, service=service)
    try:
        yield
    finally:
        structlog.configure(**before)
        for h in root.handlers:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
        if service:
            structlog.contextvars.unbind_contextvars("service")

"""Embedded bus: follow a peer's log over HTTP and keep the cursor in our own database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import structlog

from runtime.consumer import Consumer

log = structlog.get_logger("closeloop.embedded")


class FeedFollower:
    """Reads `GET {peer}/v1/logs/{peer}?after=&limit=` in order and hands each event to the consumer."""

    def __init__(self, consumer: Consumer, *, feed: str, base_url: str, token: str | Callable[[], str],
                 interval: float = 0.2, batch: int = 200) -> None:
        self.consumer = consumer
        self.feed = feed
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.interval = interval
        self.batch = batch
        self.connected = False

    async def poll_once(self, client: httpx.AsyncClient) -> int:
        """Fetch and handle one page; returns how many events it read."""
        after = await self.consumer.cursor(self.feed)
        response = await client.get(
            f"{self.base_url}/v1/logs/{self.feed}",
            params={"after": after, "limit": self.batch},
            headers={"Authorization": f"Bearer {self.token() if callable(self.token) else self.token}"},
        )
        response.raise_for_status()
        page = response.json()
        self.connected = True
        for item in page["items"]:
            await self.consumer.process(
                item["event"], origin=f"{self.feed}@{item['position']}", feed=self.feed, position=item["position"]
            )
        return len(page["items"])

    async def run(self) -> None:
        """Follow the feed until cancelled; an unreachable peer is retried with backoff."""
        backoff = self.interval
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                try:
                    n = await self.poll_once(client)
                    backoff = self.interval
                    if n >= self.batch:
                        continue
                    await asyncio.sleep(self.interval)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 — a peer that is down is retried, never fatal
                    self.connected = False
                    log.info("feed_unavailable", feed=self.feed, url=self.base_url, error=repr(exc))
                    backoff = min(backoff * 2, 5.0)
                    await asyncio.sleep(backoff)

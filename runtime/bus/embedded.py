"""Embedded bus: follow a peer's log over HTTP and keep the cursor in our own database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import structlog

from runtime.consumer import Consumer

log = structlog.get_logger("closeloop.embedded")


class FeedFollower:
    """Reads `GET {peer}/v1/logs/{peer}?after=&limit=` in order and hands each page to the consumer."""

    def __init__(self, consumer: Consumer, *, feed: str, base_url: str, token: str | Callable[[], str],
                 interval: float = 0.2, batch: int = 200) -> None:
        self.consumer = consumer
        self.feed = feed
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.interval = interval
        self.batch = batch
        self.connected = False
        # How far this follower itself committed the cursor (None: not known, read it): only the consumer moves
        # a cursor, and only forward, so a value remembered here is never ahead of the database; were it behind
        # (another follower of the same consumer), the events read again are duplicates for the inbox.
        self._after: int | None = None

    def authorization(self) -> dict[str, str]:
        """The header that reads the peer's log (a token minted now when the follower was given a minter)."""
        return {"Authorization": f"Bearer {self.token() if callable(self.token) else self.token}"}

    async def poll_once(self, client: httpx.AsyncClient) -> int:
        """Fetch and handle one page; returns how many events it read."""
        after = self._after if self._after is not None else await self.consumer.cursor(self.feed)
        response = await client.get(
            f"{self.base_url}/v1/logs/{self.feed}",
            params={"after": after, "limit": self.batch},
            headers=self.authorization(),
        )
        response.raise_for_status()
        page = response.json()
        self.connected = True
        items = page["items"]
        if items:
            positions = [item["position"] for item in items]
            self._after = None  # until the page is committed
            # the page in one transaction with its inbox rows and the cursor (one by one if anything in it fails)
            await self.consumer.process_many(
                [item["event"] for item in items], origins=[f"{self.feed}@{item['position']}" for item in items],
                feed=self.feed, positions=positions)
            # process_many returns once every message is committed, handled or dead-lettered, with the cursor
            after = max(after, *positions)
        self._after = after
        return len(items)

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

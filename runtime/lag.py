"""How far a service has read each log it follows, against the end of that log.

Embedded bus: the consumer's cursor in a peer's log (feed_cursor) against the peer's newest sequenced position
(the `head` of `GET {peer}/v1/logs/{peer}`). Kafka bus: per partition, the group's committed offset (or the
offset handled and not committed yet, whichever is further) against the partition's high-water mark; and, since
a topic read to its end may still lack what the peer's outbox holds (the broker was down), each peer's log
`published` against its `head` (feed `<peer>:outbox`, not recorded with results: it is not a read position).

A position that cannot be read (the peer or the broker does not answer) is unknown, and unknown counts as behind:
whoever asks (e.g. publishing a ranking) must not take a stale view for a current one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from aiokafka import TopicPartition

from contracts.topics import SERVICES, topic_for
from runtime.auth import system_token
from runtime.bus.embedded import FeedFollower
from runtime.bus.kafka import KafkaFollower

if TYPE_CHECKING:
    from runtime.bootstrap import Runtime

PROBE_TIMEOUT = 3.0


@dataclass(frozen=True)
class FeedLag:
    """One log (a peer's feed, or a topic partition): how far it is read, and where it ends (None: unknown)."""

    feed: str
    partition: int | None
    position: int
    end: int | None
    error: str | None = None
    outbox: bool = False  # the peer's outbox against its topic, not a position of ours

    @property
    def lag(self) -> int | None:
        """Events not read yet; None when the end is unknown."""
        return None if self.end is None else max(self.end - self.position, 0)

    @property
    def behind(self) -> bool:
        return self.end is None or self.end > self.position

    def name(self) -> str:
        return self.feed if self.partition is None else f"{self.feed}/{self.partition}"

    def recorded(self) -> dict[str, Any]:
        """The position as a published result records it."""
        return {"feed": self.feed, "partition": self.partition, "position": self.position}


async def _feed(follower: FeedFollower, client: httpx.AsyncClient) -> FeedLag:
    position = await follower.consumer.cursor(follower.feed)
    try:
        r = await client.get(f"{follower.base_url}/v1/logs/{follower.feed}", params={"after": position, "limit": 1},
                             headers={"Authorization": f"Bearer {follower.token}"})
        r.raise_for_status()
        page = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        return FeedLag(follower.feed, None, position, None, f"{type(exc).__name__}: {exc}"[:200])
    head = page.get("head")
    if not isinstance(head, int):  # a peer that does not tell its head: behind by at least what it served
        head = page["items"][0]["position"] if page.get("items") else position
    return FeedLag(follower.feed, None, position, head)


async def _outbox(peer: str, base_url: str, token: str, client: httpx.AsyncClient) -> FeedLag:
    name = f"{peer}:outbox"
    try:
        r = await client.get(f"{base_url}/v1/logs/{peer}", params={"after": 0, "limit": 1},
                             headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        page = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        return FeedLag(name, None, 0, None, f"{type(exc).__name__}: {exc}"[:200], outbox=True)
    head, published = page.get("head"), page.get("published")
    if not isinstance(head, int) or not isinstance(published, int):
        return FeedLag(name, None, 0, None, "the peer does not tell how far its log is published", outbox=True)
    return FeedLag(name, None, published, head, None if published >= head else
                   f"{head - published} event(s) of {peer} not yet sent to its topic", outbox=True)


async def _kafka(follower: KafkaFollower) -> list[FeedLag]:
    kafka = follower.kafka
    if kafka is None:
        return [FeedLag(t, None, 0, None, "consumer not running (restarting)") for t in follower.topics]
    tps: list[TopicPartition] = []
    out: list[FeedLag] = []
    for topic in follower.topics:
        parts = kafka.partitions_for_topic(topic)
        if not parts:
            out.append(FeedLag(topic, None, 0, None, "no partition metadata yet"))
            continue
        tps.extend(TopicPartition(topic, p) for p in sorted(parts))
    if not tps:
        return out
    try:
        ends = await kafka.end_offsets(tps)
        committed = [await kafka.committed(tp) for tp in tps]
    except Exception as exc:  # noqa: BLE001 — a broker that does not answer leaves the positions unknown
        return out + [FeedLag(tp.topic, tp.partition, 0, None, f"{type(exc).__name__}: {exc}"[:200]) for tp in tps]
    pending = dict(follower.pending)
    for tp, done in zip(tps, committed, strict=True):
        out.append(FeedLag(tp.topic, tp.partition, max(done or 0, pending.get(tp, 0)), int(ends[tp])))
    return out


async def read_lag(rt: Runtime) -> list[FeedLag]:
    """Every log the runtime's followers read, with its position and end; [] when it follows none."""
    feeds = [f for f in rt.followers if isinstance(f, FeedFollower)]
    kafkas = [f for f in rt.followers if isinstance(f, KafkaFollower)]
    peers = [p for p in SERVICES if p != rt.settings.service and any(
        t == rt.settings.kafka_prefix + topic_for(p) for k in kafkas for t in k.topics)]
    out: list[FeedLag] = []
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            if feeds:
                async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
                    out.extend(await asyncio.gather(*(_feed(f, client) for f in feeds)))
            for k in kafkas:
                out.extend(await _kafka(k))
            if peers:
                token = system_token(rt.settings)
                async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
                    out.extend(await asyncio.gather(*(_outbox(p, rt.settings.peer_url(p), token, client)
                                                      for p in peers)))
    except TimeoutError:
        known = {x.name() for x in out}
        out.extend(FeedLag(f.feed, None, 0, None, "timed out") for f in feeds if f.feed not in known)
        out.extend(FeedLag(t, None, 0, None, "timed out") for k in kafkas for t in k.topics
                   if not any(x.feed == t for x in out))
        out.extend(FeedLag(f"{p}:outbox", None, 0, None, "timed out", outbox=True) for p in peers
                   if f"{p}:outbox" not in known)
    return out


async def wait_caught_up(rt: Runtime, *, within: float, every: float = 0.2) -> tuple[bool, list[FeedLag]]:
    """Poll the lag until every log is read to its end, for at most `within` seconds; (caught up, last reading)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        lags = await read_lag(rt)
        if not any(x.behind for x in lags):
            return True, lags
        if loop.time() + every > deadline:
            return False, lags
        await asyncio.sleep(every)

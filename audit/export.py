"""Export every service's log, checkpoints and public key to a folder of JSONL files."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from audit.files import checkpoints_file, dumps_line, events_file, public_key_file, write_manifest
from contracts.topics import topic_for

Progress = Callable[[str, int, int | None], None]  # (service, how many more, total if known)
PAGE = 1000


async def _pages(client: httpx.AsyncClient, path: str, *, key: str) -> Any:
    after = 0
    while True:
        r = await client.get(path, params={"after": after, "limit": PAGE})
        if r.status_code != 200:
            raise RuntimeError(f"GET {client.base_url}{path} answered {r.status_code}: {r.text[:300]}")
        items = r.json()["items"]
        if not items:
            return
        yield items
        after = int(items[-1][key])
        if len(items) < PAGE:
            return


async def export_service(client: httpx.AsyncClient, root: Path, service: str, *,
                         progress: Progress | None = None) -> dict[str, Any]:
    """One service: its public key, its checkpoints, then its log (so every checkpoint is within the log)."""
    r = await client.get(f"/v1/checkpoints/{service}/public-key")
    if r.status_code != 200:
        raise RuntimeError(f"GET {client.base_url}/v1/checkpoints/{service}/public-key answered {r.status_code}")
    public = r.json()
    public_key_file(root, service).write_bytes(orjson.dumps(public, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    checkpoints = 0
    with checkpoints_file(root, service).open("wb") as fh:
        async for items in _pages(client, f"/v1/checkpoints/{service}", key="size"):
            for cp in items:
                fh.write(dumps_line(cp))
            checkpoints += len(items)
    events = 0
    with events_file(root, service).open("wb") as fh:
        async for items in _pages(client, f"/v1/logs/{service}", key="position"):
            for item in items:
                fh.write(dumps_line({"position": item["position"], "log_hash": item["log_hash"],
                                     "event": item["event"]}))
            events += len(items)
            if progress:
                progress(service, len(items), None)
    return {"events": events, "checkpoints": checkpoints, "key_id": public.get("key_id")}


async def export_http(root: Path, urls: dict[str, str], *, token: str, progress: Progress | None = None,
                      transport: dict[str, httpx.AsyncBaseTransport] | None = None) -> dict[str, Any]:
    """Export from the running services (auditor token); `transport` lets tests use in-process apps."""
    root.mkdir(parents=True, exist_ok=True)
    services: dict[str, Any] = {}
    for service, url in urls.items():
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"},
                                     timeout=60, transport=(transport or {}).get(service)) as client:
            services[service] = await export_service(client, root, service, progress=progress)
    manifest = {"source": "services", "exported_at": datetime.now(UTC).isoformat(),
                "services": services, "urls": urls}
    write_manifest(root, manifest)
    return manifest


async def export_kafka(root: Path, services: list[str], *, bootstrap: str, progress: Progress | None = None,
                       topics: dict[str, str] | None = None) -> dict[str, Any]:
    """Export from the Kafka topics: each partition read from its beginning to the end offset seen at start."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    root.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    for service in services:
        topic = (topics or {}).get(service) or topic_for(service)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            partitions = sorted(await asyncio.wait_for(_partitions(bootstrap, topic), 30))
            tps = [TopicPartition(topic, p) for p in partitions]
            events = 0
            with events_file(root, service).open("wb") as fh:
                if tps:
                    consumer.assign(tps)
                    await consumer.seek_to_beginning(*tps)
                    ends = await consumer.end_offsets(tps)
                    total = sum(ends.values())
                    if progress:
                        progress(service, 0, total)
                    for tp in tps:
                        # One partition at a time: the file keeps each partition's offset order together.
                        consumer.assign([tp])
                        await consumer.seek_to_beginning(tp)
                        while ends[tp] and await consumer.position(tp) < ends[tp]:
                            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1000)
                            n = 0
                            for message in batch.get(tp, []):
                                if message.offset >= ends[tp]:
                                    break
                                fh.write(dumps_line({"partition": tp.partition, "offset": message.offset,
                                                     "event": orjson.loads(message.value)}))
                                n += 1
                            events += n
                            if progress and n:
                                progress(service, n, total)
            summary[service] = {"events": events, "topic": topic, "partitions": partitions}
        finally:
            await consumer.stop()
    manifest = {"source": "kafka", "bootstrap": bootstrap, "exported_at": datetime.now(UTC).isoformat(),
                "services": summary}
    write_manifest(root, manifest)
    return manifest


async def _partitions(bootstrap: str, topic: str) -> set[int]:
    """The topic's partitions (none when it does not exist)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return set()
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return {int(p["partition"]) for p in described[0]["partitions"]}

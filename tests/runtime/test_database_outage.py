"""A database outage: every request that needs it answers a JSON 503 with Retry-After in the error shape,
counted in /metrics and logged as one structured line; once the database is back, the same requests succeed.

The outage is real: the service reaches PostgreSQL through a TCP relay of this test, which is closed (every
connection cut, new ones refused) and opened again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from structlog.testing import capture_logs

from tests.support import running

pytestmark = pytest.mark.postgres


class TcpRelay:
    """Forwards a local port to the database; `cut()` closes it and every connection, `restore()` reopens it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers.difference_update((writer, up_writer))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)
        self.server = None

    async def restore(self) -> None:
        await self.start()


class RecoveringRelay(TcpRelay):
    """The relay, and a mode in which the "server" behind it is starting up again after a crash: every connection
    is cut, and each new one is answered as PostgreSQL answers while it recovers (FATAL 57P03 cannot_connect_now)."""

    recovering = False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.recovering:
            await super()._client(reader, writer)
            return
        try:
            length, code = struct.unpack(">ii", await reader.readexactly(8))
            if code == 80877103:  # SSLRequest: no SSL here, then the startup message
                writer.write(b"N")
                (length,) = struct.unpack(">i", await reader.readexactly(4))
                await reader.readexactly(length - 4)
            else:
                await reader.readexactly(length - 8)
            fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is not yet accepting connections\0\0"
            writer.write(b"E" + struct.pack(">i", len(fields) + 4) + fields)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def recover(self) -> None:
        self.recovering = True
        for w in list(self.writers):
            w.transport.abort()
        self.writers.clear()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_database_outage_is_a_json_503_counted_and_logged(tmp_path: Path, pg_url: str) -> None:
    parts = urlsplit(pg_url)
    relay = TcpRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    via_relay = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    async with running("scoring", tmp_path, database_url=via_relay) as s:
        reader = s.auth(roles="auditor")
        assert (await s.client.get("/v1/readings", headers=reader)).status_code == 200
        await relay.cut()
        try:
            with capture_logs() as logged:
                answers = [await asyncio.wait_for(s.client.get(path, headers=reader), 30)
                           for path in ("/v1/readings", "/v1/schemes", "/v1/dead-letters")]
                write = await asyncio.wait_for(s.client.put(
                    "/v1/calendar/2031", headers=s.auth(roles="admin"),
                    json={"holidays": [], "workdays": [], "source": "test"}), 30)
        finally:
            await relay.restore()
        for r in [*answers, write]:
            assert r.status_code == 503, (r.request.url, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert int(r.headers["retry-after"]) > 0
            error = r.json()["error"]
            assert error["code"] == "database_unavailable" and "数据库" in error["message"], error
        metrics = (await s.client.get("/metrics")).text
        assert _metric(metrics, "closeloop_database_unavailable_total") == 4
        assert 'status="503"' in metrics
        outages = [line for line in logged if line.get("event") == "database_unavailable"]
        assert [o["path"] for o in outages] == ["/v1/readings", "/v1/schemes", "/v1/dead-letters",
                                                "/v1/calendar/2031"], logged
        assert all(o["log_level"] == "error" and o["error_type"] and o["route"] for o in outages), outages
        # back again: the same requests succeed without a restart of the service
        again = await asyncio.wait_for(s.client.get("/v1/readings", headers=reader), 30)
        assert again.status_code == 200, again.text
    await relay.cut()


async def test_a_database_recovering_after_a_crash_is_a_503_not_a_500(tmp_path: Path, pg_url: str) -> None:
    """Right after a crash PostgreSQL refuses connections with "the database system is not yet accepting
    connections" (57P03), which SQLAlchemy hands on as a plain DBAPIError: still an outage, 503 with Retry-After."""
    parts = urlsplit(pg_url)
    relay = RecoveringRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    via_relay = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    async with running("scoring", tmp_path, database_url=via_relay) as s:
        reader = s.auth(roles="auditor")
        assert (await s.client.get("/v1/readings", headers=reader)).status_code == 200
        await relay.recover()
        with capture_logs() as logged:
            r = await asyncio.wait_for(s.client.get("/v1/readings", headers=reader), 30)
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.json()["error"]["code"] == "database_unavailable" and int(r.headers["retry-after"]) > 0
        [outage] = [e for e in logged if e.get("event") == "database_unavailable"]
        assert "not yet accepting connections" in outage["error"], outage
        relay.recovering = False
        again = await asyncio.wait_for(s.client.get("/v1/readings", headers=reader), 30)
        assert again.status_code == 200, again.text
    await relay.cut()

"""The four services as real processes (embedded or kafka mode), for end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from runtime.auth import issue_token
from runtime.settings import SERVICE_NAMES, get_settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """Four service processes sharing a data dir, one database each, and a bus."""

    data_dir: Path
    bus: str = "embedded"
    kafka: str | None = None
    databases: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in SERVICE_NAMES}
        # The processes read the install's secret from the shared data dir (made there on first use, 0600);
        # tokens for the tests are signed with that same file.
        self.settings = get_settings(env="test", data_dir=self.data_dir, jwt_secret="", jwt_secret_file=None)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSELOOP_") or k.startswith("CLOSELOOP_TEST")}
        env.update({
            "CLOSELOOP_ENV": "test", "CLOSELOOP_SERVICE": service, "CLOSELOOP_BUS": self.bus,
            "CLOSELOOP_DATA_DIR": str(self.data_dir), "CLOSELOOP_POLL_INTERVAL": "0.05",
            "CLOSELOOP_RETRY_BACKOFF": "0.02", "PYTHONUNBUFFERED": "1",
        })
        env.update({f"CLOSELOOP_{n.upper()}_URL": self.url(n) for n in SERVICE_NAMES})
        if self.kafka:
            env["CLOSELOOP_KAFKA_BOOTSTRAP"] = self.kafka
        if service in self.databases:
            env["CLOSELOOP_DATABASE_URL"] = self.databases[service]
        env.update(self.extra_env)
        return env

    def start(self, service: str, *, instance: str | None = None) -> None:
        """Start `service`; with `instance` (e.g. "notify-2"), one more replica of it under that name: its own port
        and log, the same database and consumer group."""
        name = instance or service
        if name not in self.ports:
            self.ports[name] = free_port()
        with (self.data_dir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "closeloop.cli", "serve", service, "--host", "127.0.0.1",
                 "--port", str(self.ports[name])],
                env=self.env(service), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, services: tuple[str, ...] = SERVICE_NAMES, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            for name in services:
                while True:
                    proc = self.procs[name]
                    if proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
                    try:
                        if (await client.get(f"{self.url(name)}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not ready:\n{self.log_tail(name)}")
                    await asyncio.sleep(0.1)

    def log_tail(self, service: str, lines: int = 40) -> str:
        path = self.data_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    async def start_all(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICE_NAMES:
            self.start(name)
        await self.wait_ready()

    def kill(self, service: str, sig: int = signal.SIGKILL, *, timeout: float = 20) -> None:
        """Send `sig` to a service (or replica) and wait for it to exit."""
        proc = self.procs[service]
        proc.send_signal(sig)
        proc.wait(timeout=timeout)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def auth(self, *, sub: str = "e2e", org: str | None = None, roles: str = "admin") -> dict[str, str]:
        if "admin" in roles.split(",") and org is None:
            org = self.settings.inspection_office_org
        return {"Authorization": f"Bearer {issue_token(self.settings, sub=sub, org=org, roles=roles.split(','))}"}


async def eventually(probe: Any, *, timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll an async probe until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


async def create_pg_databases(admin_dsn: str, prefix: str) -> dict[str, str]:
    """One fresh database per service on the test server; returns their SQLAlchemy URLs."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    urls = {}
    try:
        for name in SERVICE_NAMES:
            db = f"{prefix}_{name}"
            await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{db}"')
            urls[name] = admin_dsn.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{db}"
    finally:
        await conn.close()
    return urls


async def drop_pg_databases(admin_dsn: str, urls: dict[str, str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        for url in urls.values():
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()

"""The four services as real processes behind the gateway (one more process), for gateway and browser tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from closeloop.cli import DATA, REFERENCE_ROUND
from closeloop.seed import seed_reference
from runtime.auth import issue_token
from runtime.settings import SERVICE_NAMES
from tests.e2e.cluster import ROOT, Cluster, free_port


@dataclass
class Stack:
    """An embedded cluster and a gateway in front of it, serving the web app from `dist`."""

    data_dir: Path
    dist: Path
    gateway_env: dict[str, str] = field(default_factory=dict)
    cluster: Cluster = field(init=False)
    gateway_port: int = field(init=False)
    gateway: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.cluster = Cluster(data_dir=self.data_dir)
        self.gateway_port = free_port()

    @property
    def url(self) -> str:
        """The one address of the app and its APIs."""
        return f"http://127.0.0.1:{self.gateway_port}"

    def start_gateway(self) -> None:
        """Start the gateway process (development environment: the sign-in picker exists)."""
        env = self.cluster.env("issues")
        env.pop("CLOSELOOP_SERVICE", None)
        env.update({"CLOSELOOP_ENV": "development", "CLOSELOOP_WEB_DIST": str(self.dist)})
        env.update(self.gateway_env)
        log = (self.data_dir / "gateway.log").open("ab")
        self.gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--host", "127.0.0.1", "--port", str(self.gateway_port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    async def wait_gateway(self, timeout: float = 120) -> None:
        """Until the gateway answers and every service behind it is ready."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while True:
                assert self.gateway is not None
                if self.gateway.poll() is not None:
                    raise RuntimeError(f"gateway exited with {self.gateway.returncode}:\n{self.log_tail()}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"gateway not ready:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the gateway's log."""
        path = self.data_dir / "gateway.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    async def start(self, *, seed: bool = True) -> None:
        """Services, reference data, gateway (generous waits: the machine may be shared and busy)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICE_NAMES:
            self.cluster.start(name)
        await self.cluster.wait_ready(timeout=180)
        if seed:
            admin = issue_token(self.cluster.settings, sub="seed", org="inspection-office", roles=["admin"])
            async with httpx.AsyncClient(base_url=self.cluster.url("issues"), timeout=120, trust_env=False,
                                         headers={"Authorization": f"Bearer {admin}"}) as client:
                await seed_reference(client, data=DATA, round_=REFERENCE_ROUND, echo=lambda _: None)
        self.start_gateway()
        await self.wait_gateway()

    def stop(self) -> None:
        """Stop the gateway and the services."""
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.terminate()
            try:
                self.gateway.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
        self.cluster.stop_all()


MINIMAL_INDEX = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>闭环 · 测试页</title>
<script type="module" src="/assets/probe-3f2a9c1b.js"></script></head>
<body><h1>闭环</h1><p id="status">加载中…</p></body></html>
"""
# Calls a public API through the same origin and shows what it got, so a browser test sees both work.
MINIMAL_SCRIPT = """
const status = document.getElementById("status");
fetch("/v1/public/issues?limit=5").then(async (r) => {
  const body = await r.json();
  status.textContent = `公开问题：${r.status} ${body.items.length}`;
  status.dataset.count = String(body.items.length);
}).catch((e) => { status.textContent = `错误：${e}`; });
"""


def write_minimal_dist(dist: Path) -> Path:
    """A stand-in for the built web app: an index page and one hashed asset that calls the public API."""
    (dist / "assets").mkdir(parents=True, exist_ok=True)
    (dist / "index.html").write_text(MINIMAL_INDEX, encoding="utf-8")
    (dist / "assets" / "probe-3f2a9c1b.js").write_text(MINIMAL_SCRIPT, encoding="utf-8")
    return dist

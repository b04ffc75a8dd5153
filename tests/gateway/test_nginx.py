"""deploy/nginx.conf is what the generator makes of the route table, and real nginx routes by it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway import nginx
from gateway.routes import ROUTES, SERVICES
from tests.e2e.cluster import ROOT, free_port
from tests.gateway.stack import Stack

ISSUER = "http://localhost:9998/"


def test_the_committed_files_are_what_the_generator_writes() -> None:
    for name, text in nginx.files().items():
        committed = (ROOT / "deploy" / name).read_text(encoding="utf-8")
        assert committed == text, f"deploy/{name} is stale: run `.venv/bin/python -m gateway.nginx --write`"


def test_every_route_of_the_table_is_a_location_proxied_to_its_service() -> None:
    conf = nginx.render()
    for route in ROUTES:
        block = re.search(r"location (?:~ \^)?" + re.escape(route.prefix) + r"[^{]*\{([^}]*)\}", conf)
        assert block, route.prefix
        assert f"proxy_pass http://closeloop_{route.service}" in block.group(1)


def nginx_binary() -> Path:
    """Debian's nginx, unpacked once into ~/.cache/closeloop (fails, never skips, when it cannot be had)."""
    out = subprocess.run([str(ROOT / "scripts" / "nginx-binary.sh")], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, f"scripts/nginx-binary.sh failed:\n{out.stderr}"
    return Path(out.stdout.strip().splitlines()[-1])


def configure(work: Path, *, upstreams: dict[str, str], dist: Path, port: int, binary: Path) -> Path:
    """The compose setup on loopback: templates filled in as the nginx image does, service names → ports."""
    env = {"CLOSELOOP_OIDC_ISSUER": ISSUER}
    script = f". {ROOT / 'deploy' / 'nginx-origin.envsh'}; printf %s \"$CLOSELOOP_OIDC_ORIGIN\""
    origin = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    env["CLOSELOOP_OIDC_ORIGIN"] = origin
    server = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    for name, value in env.items():
        server = server.replace("${" + name + "}", value)
    for service in (*SERVICES, "gateway"):
        server = server.replace(f"server {service}:8000;", f"server {upstreams[service]};")
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("root /usr/share/nginx/html;", f"root {dist};")
    server = server.replace("/etc/nginx/closeloop-proxy.conf", str(ROOT / "deploy" / "nginx-proxy.conf"))
    (work / "default.conf").write_text(server, encoding="utf-8")
    main = work / "nginx.conf"
    temp = work / "temp"
    temp.mkdir(exist_ok=True)
    main.write_text("\n".join([
        f"pid {work}/nginx.pid;", f"error_log {work}/error.log warn;", "daemon off;", "user root;",
        "events { worker_connections 256; }",
        "http {",
        f"    include {binary.parent.parent.parent}/etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log off;",
        *[f"    {kind}_temp_path {temp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")],
        f"    include {work}/default.conf;",
        "}", ""]), encoding="utf-8")
    return main


@pytest.fixture(scope="module")
def binary() -> Path:
    return nginx_binary()


def test_nginx_accepts_the_generated_configuration(tmp_path: Path, binary: Path, minimal_dist: Path) -> None:
    conf = configure(tmp_path, upstreams={s: f"127.0.0.1:{free_port()}" for s in (*SERVICES, "gateway")},
                     dist=minimal_dist,
                     port=free_port(), binary=binary)
    out = subprocess.run([str(binary), "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr


@pytest.fixture
def nginx_front(stack: Stack, binary: Path, tmp_path: Path) -> Iterator[str]:
    """Real nginx in front of the running services, with notify pointed at a port where nothing listens."""
    port = free_port()
    upstreams = {s: f"127.0.0.1:{stack.cluster.ports[s]}" for s in SERVICES} | {
        "notify": f"127.0.0.1:{free_port()}", "gateway": f"127.0.0.1:{stack.gateway_port}"}
    conf = configure(tmp_path, upstreams=upstreams, dist=stack.dist, port=port, binary=binary)
    proc = subprocess.Popen([str(binary), "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", "")})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "error.log").read_text()
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.e2e
async def test_nginx_routes_like_the_gateway(stack: Stack, nginx_front: str) -> None:
    admin = stack.cluster.auth(org="inspection-office", roles="admin")
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        via_nginx = await client.get(f"{nginx_front}/v1/public/issues", params={"limit": 3},
                                     headers={"X-Correlation-ID": "ngx-1"})
        via_gateway = await client.get(f"{stack.url}/v1/public/issues", params={"limit": 3})
        assert via_nginx.status_code == 200 and via_nginx.json() == via_gateway.json()
        assert via_nginx.headers["x-correlation-id"] == "ngx-1"
        assert "frame-ancestors 'none'" in via_nginx.headers["content-security-policy"]
        dead = await client.get(f"{nginx_front}/v1/ops/verification/dead-letters", headers=admin)
        assert dead.status_code == 200 and dead.json()["items"] == []
        export = await client.get(f"{nginx_front}/v1/issues/export", headers=admin)
        assert export.status_code == 200 and export.content[:2] == b"PK"
        assert (await client.get(f"{nginx_front}/v1/issuesx")).status_code == 404
        down = await client.get(f"{nginx_front}/v1/inbox", headers=admin)
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert down.json()["error"]["code"] == "service_unavailable"
        assert down.json()["error"]["details"] == [{"service": "notify"}]
        assert down.json()["error"]["message"].startswith("notify 服务暂时无法访问")
        # Sign-in comes from the gateway process (here in development, so its picker answers too).
        config = await client.get(f"{nginx_front}/auth/config")
        assert config.json() == (await client.get(f"{stack.url}/auth/config")).json()
        me = await client.get(f"{nginx_front}/auth/me", headers=admin)
        assert me.json() == {"sub": "e2e", "org": "inspection-office", "roles": ["admin"]}
        page = await client.get(f"{nginx_front}/issues/HH-01")
        assert page.status_code == 200 and "闭环" in page.text and page.headers["cache-control"] == "no-cache"
        assert "connect-src 'self' http://localhost:9998;" in page.headers["content-security-policy"]
        asset = await client.get(f"{nginx_front}/assets/probe-3f2a9c1b.js")
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get(f"{nginx_front}/assets/missing-0000.js")).status_code == 404

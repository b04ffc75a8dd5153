"""Browser tests: Debian's Chromium driven by Playwright (async) against the real services behind the gateway.

The web app is built from web/ by scripts/build-web.sh (skipped when its sources and lock file have not
changed); until web/ exists the tests run against a stand-in index page. Each test gets a `page` at desktop
(1366×900) and phone (390×844) size and `screenshot(name)`, which saves under var/screenshots/<test>/.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.cluster import ROOT
from tests.gateway.oidc import Provider
from tests.gateway.stack import Stack, write_minimal_dist

CHROMIUM = Path("/usr/bin/chromium")
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, never a downloaded browser; a missing one fails the tests (scripts/test.sh installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (apt-get install chromium fonts-noto-cjk)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox", "--disable-gpu"]}


def built_web_app(tmp: Path) -> Path:
    """web/dist, built when web/ changed; the stand-in page when there is no web app yet."""
    if not (ROOT / "web" / "package.json").exists():
        return write_minimal_dist(tmp / "dist")
    out = subprocess.run([str(ROOT / "scripts" / "build-web.sh")], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200, check=False)
    assert out.returncode == 0, f"building the web app failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return ROOT / "web" / "dist"


@pytest.fixture(scope="session")
async def web_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The four services (embedded, seeded with the reference data) and the gateway serving the web app.

    The services also trust a real OpenID provider (`web_stack.provider`), whose sign-in returns to the
    gateway's /auth/callback; the gateway itself stays in development mode, so the app shows its picker.
    """
    root = tmp_path_factory.mktemp("web-stack")
    # The gateway does not pass the issuer on: it stays in development mode (the picker) for the journeys.
    stack = Stack(data_dir=root / "cluster", dist=built_web_app(root), gateway_env={"CLOSELOOP_OIDC_ISSUER": ""})
    provider = Provider(workdir=root, redirect_uri=f"{stack.url}/auth/callback")
    provider.start()
    stack.cluster.extra_env.update({k: v for k, v in provider.env().items() if k != "CLOSELOOP_OIDC_CLIENT_ID"})
    stack.provider = provider  # type: ignore[attr-defined]
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()
        provider.stop()


@pytest.fixture(params=list(SIZES))
def screen(request: pytest.FixtureRequest) -> str:
    """desktop or phone."""
    return str(request.param)


async def new_page(browser: Browser, *, screen: str, base_url: str) -> Page:
    """A fresh context (no cookies or storage) at the screen's size, Chinese locale, Beijing time."""
    context = await browser.new_context(
        viewport=SIZES[screen], base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
        is_mobile=screen == "phone", has_touch=screen == "phone", device_scale_factor=1)
    return await context.new_page()


@pytest.fixture
async def page(browser: Browser, screen: str, web_stack: Stack) -> AsyncIterator[Page]:
    """A page on the gateway's address at the screen's size."""
    p = await new_page(browser, screen=screen, base_url=web_stack.url)
    try:
        yield p
    finally:
        await p.context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, screen: str) -> Callable[[Page, str], Awaitable[Path]]:
    """Save a full-page screenshot as var/screenshots/<test>/<screen>-<name>.png (the test artefacts)."""
    test = re.sub(r"[^\w.-]+", "_", request.node.originalname)
    folder = SCREENSHOTS / test
    folder.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> Path:
        safe = re.sub(r"[^\w.-]+", "_", name)
        path = folder / f"{screen}-{safe}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session", autouse=True)
def _no_proxy_for_loopback() -> None:
    # Chromium and httpx must reach 127.0.0.1 and localhost directly even where a proxy is configured.
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))

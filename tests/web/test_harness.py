"""The browser harness itself: the gateway's page loads in Chromium and reaches a public API through the same origin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.gateway.stack import MINIMAL_INDEX, Stack


def stand_in(stack: Stack) -> bool:
    """Whether the gateway serves the stand-in page (no web app in web/ yet)."""
    return (stack.dist / "index.html").read_text(encoding="utf-8") == MINIMAL_INDEX


async def test_the_index_page_loads_and_calls_the_public_api_through_the_gateway(
        page: Page, web_stack: Stack, screenshot: Callable[[Page, str], Awaitable[Path]]) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # CSP refusals and script errors show in the console; failed loads are checked by their answers below.
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    answer = await page.goto("/")
    assert answer is not None and answer.status == 200
    assert "frame-ancestors 'none'" in (await answer.all_headers())["content-security-policy"]
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # A public API call from inside the page: same origin, no token, answered by the issues service.
    status, count = await page.evaluate(
        "async () => { const r = await fetch('/v1/public/issues?limit=5');"
        " return [r.status, (await r.json()).items.length]; }")
    assert (status, count) == (200, 5)
    if stand_in(web_stack):
        await expect(page.locator("#status")).to_have_text("公开问题：200 5", timeout=15000)
    await page.wait_for_load_state("networkidle")
    assert errors == [], errors  # nothing refused by the CSP, nothing thrown
    shot = await screenshot(page, "index")
    assert shot.stat().st_size > 1000


async def test_a_deep_link_of_the_app_opens_the_app(page: Page, web_stack: Stack) -> None:
    answer = await page.goto("/issues/HH-2020-01?from=inbox")
    assert answer is not None and answer.status == 200
    assert answer.headers["cache-control"] == "no-cache"
    assert (await page.content()).count("<html") == 1

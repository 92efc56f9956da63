"""Browser tests: Debian's Chromium, driven by Playwright, against the four services as processes.

The participant page comes from ws-gateway, the host console from poll-api; poll-api's
`public_base_url` points at the gateway, so the join link and its QR code lead to a real page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.pages import TOKEN_SECRET
from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.procs import Stack, supervised

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser_resources() -> Iterator[Resources]:
    with isolation.provisioned("browser") as res:
        yield res


@pytest.fixture(scope="module")
def stack(
    browser_resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("browser-logs")
    with supervised(browser_resources.env(), log_dir) as running:
        # Ports are picked at add(): the gateway's is needed in poll-api's join link.
        gateway = running.add("ws_gateway", "ws_gateway", {"WS_GATEWAY_TOKEN_SECRET": TOKEN_SECRET})
        api = running.add("poll_api", "poll_api", {"POLL_API_PUBLIC_BASE_URL": gateway.url})
        gateway.env["WS_GATEWAY_POLL_API_URL"] = api.url
        api.start().wait_ready()
        others = [
            gateway,
            running.add("vote_worker", "vote_worker"),
            running.add("audit_sink", "audit_sink"),
        ]
        for svc in others:
            svc.start()
        for svc in others:
            svc.wait_ready()
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()

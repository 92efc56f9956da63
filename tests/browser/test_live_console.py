"""The console and the presenter view follow the host's live connection: participants join
and vote, counts and results move, and not one request goes to poll-api meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Request, expect

from tests.browser.pages import PROJECTOR, create_poll, expect_counts, host_action, host_token
from tests.support.participant import Participant
from tests.support.procs import Stack

pytestmark = pytest.mark.browser


async def test_console_and_presenter_draw_from_the_live_connection_without_polling(
    stack: Stack, browser: Browser
) -> None:
    api = stack["poll_api"].url
    context = await browser.new_context(viewport=PROJECTOR)
    host = await context.new_page()
    room = await create_poll(host, api, "Coffee or tea?", ["Coffee", "Tea", "Water"])
    await host_action(host, "Open voting", "Voting is open")
    token = await host_token(host, room)
    presence = host.locator("#live-presence")
    await expect(presence).to_have_text("0 connected · 0 joined · 0 answers")

    # The presenter view, in a tab that holds the host token as one opened from the console.
    await context.add_init_script(f"sessionStorage.setItem('zephyr.host.{room}', {token!r})")
    present = await context.new_page()
    await present.goto(f"{api}/host/{room}/present")
    figures = present.locator("#present-figures")
    await expect(figures).to_have_text("0 connected · 0 joined · 0 answers")

    to_api: list[str] = []

    def record(request: Request) -> None:
        if request.url.startswith(api):
            to_api.append(f"{request.method} {request.url}")

    # Each page's first reads of poll-api (before its socket was up) end first.
    await host.wait_for_load_state("networkidle")
    await present.wait_for_load_state("networkidle")
    host.on("request", record)
    present.on("request", record)
    ws_url = f"ws://127.0.0.1:{stack['ws_gateway'].port}/ws/{room}"
    people = [Participant(ws_url, f"guest-{i}") for i in range(3)]
    await asyncio.gather(*(p.connect() for p in people))
    await asyncio.gather(*(p.join() for p in people))
    await expect(presence).to_have_text("3 connected · 3 joined · 0 answers")
    replies = [await people[0].vote(1), await people[1].vote(1), await people[2].vote(0)]
    assert all(r["type"] == "vote_accepted" for r in replies), replies

    await expect(presence).to_have_text("3 connected · 3 joined · 3 answers")
    await expect_counts(host, [1, 2, 0])
    await expect(host.locator("#total-votes")).to_have_text("3")
    await expect(figures).to_have_text("3 connected · 3 joined · 3 answers")
    await expect_counts(present, [1, 2, 0])

    await people[2].close()
    await expect(presence).to_have_text("2 connected · 3 joined · 3 answers")
    assert to_api == [], to_api

    # The host's own action is still read back from poll-api at once.
    await host_action(host, "Close voting", "Voting is closed")
    assert any("/close" in r for r in to_api), to_api
    for p in people[:2]:
        await p.close()
    await context.close()

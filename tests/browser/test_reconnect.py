"""A participant's gateway dies (SIGKILL) and comes back on the same port: the page shows that it
is reconnecting, then resumes with the same identity and the same vote."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import SCREENSHOTS, expect_bars, join, new_page, vote
from tests.support.eventually import eventually
from tests.support.procs import ServiceProcess, Stack

pytestmark = pytest.mark.browser


def create_open_poll(api_url: str, options: list[str]) -> tuple[str, str]:
    with httpx.Client(base_url=api_url, timeout=10) as http:
        created = http.post("/api/polls", json={"question": "Coffee or tea?", "options": options})
        assert created.status_code == 201, created.text
        room, token = created.json()["room_code"], created.json()["host_token"]
        opened = http.post(f"/api/polls/{room}/open", headers={"Authorization": f"Bearer {token}"})
        assert opened.status_code == 200, opened.text
    return room, token


def restart_on_same_port(stack: Stack, name: str) -> ServiceProcess:
    old = stack[name]
    fresh = ServiceProcess(package=old.package, port=old.port, env=old.env, log_path=old.log_path)
    stack.services[name] = fresh  # so the stack's teardown stops the new process
    fresh.start().wait_ready(timeout=60)
    return fresh


async def test_a_killed_gateway_shows_reconnecting_then_resumes_identity_and_vote(
    stack: Stack, browser: Browser
) -> None:
    api = stack["poll_api"]
    # A gateway of this test's own, so killing it leaves the others' pages alone.
    gateway = stack.add("ws_gateway_killed", "ws_gateway", {"WS_GATEWAY_POLL_API_URL": api.url})
    gateway.start().wait_ready(timeout=60)
    room, token = create_open_poll(api.url, ["Coffee", "Tea"])

    person = await new_page(browser)
    page = person.page
    await join(page, f"{gateway.url}/join/{room}", "Dee")
    await vote(page, 1)
    stored_before = await page.evaluate(f"localStorage.getItem('zephyr.participant.{room}')")
    assert stored_before is not None and "Dee" in stored_before

    gateway.kill()  # SIGKILL: no goodbye frame, no 1012, the socket just dies
    connection = page.locator("#connection")
    await expect(connection).to_have_attribute("data-state", "reconnecting")
    await expect(connection).to_contain_text("Reconnecting")
    # The page keeps the poll on screen while it retries (and the vote stays marked).
    await expect(page.locator("#poll-view")).to_be_visible()
    await page.screenshot(
        path=str(SCREENSHOTS / "participant-reconnecting.png"), animations="disabled"
    )

    restart_on_same_port(stack, "ws_gateway_killed")
    await expect(connection).to_have_attribute("data-state", "connected")
    await expect(page.locator("#me")).to_have_text("Dee")
    await expect(page.locator("#options button[data-index='1']")).to_have_attribute(
        "aria-pressed", "true"
    )
    stored_after = await page.evaluate(f"localStorage.getItem('zephyr.participant.{room}')")
    assert stored_after == stored_before  # the same signed identity
    await expect_bars(page, [0, 1])  # the vote cast before the crash is counted once

    # Still the same participant: changing the vote replaces the old one, never adds a second.
    await vote(page, 0)
    await expect_bars(page, [1, 0])
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:

        async def recorded() -> bool:
            resp = await http.get(
                f"/api/polls/{room}/results", headers={"Authorization": f"Bearer {token}"}
            )
            return bool(resp.json()["counts"] == [1, 0])

        await eventually(recorded, timeout=60)
    person.assert_clean()
    await person.context.close()

"""A host makes a host link on the laptop and carries on hosting from a phone (another
browser context, its own storage); revoking the link locks the phone out."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import PROJECTOR, create_poll, host_action, new_page, screenshot
from tests.support.procs import Stack

pytestmark = pytest.mark.browser


async def test_a_host_link_opens_the_console_on_another_device_until_revoked(
    stack: Stack, browser: Browser
) -> None:
    api = stack["poll_api"]
    laptop = await new_page(browser, PROJECTOR)
    room = await create_poll(laptop.page, api.url, "Lunch?", ["Pizza", "Salad"])
    await laptop.page.locator("#host-link-box summary").click()
    await laptop.page.fill("#host-link-label", "my phone")
    await laptop.page.click("#make-host-link")
    link = laptop.page.locator("#host-link-url")
    await expect(link).to_be_visible()
    url = await link.input_value()
    assert f"/host/{room}#key=hl-" in url
    await expect(laptop.page.locator("#host-links li")).to_have_text(["my phone Revoke"])
    await screenshot(laptop.page, "host-link.png")

    phone = await new_page(browser)
    await phone.page.goto(url)
    await expect(phone.page.locator("#room-code")).to_have_text(room)
    assert "#key" not in phone.page.url  # the key left the address bar at once
    await host_action(phone.page, "Open voting", "Voting is open")
    await expect(laptop.page.locator("#poll-status")).to_have_text("Voting is open")

    await laptop.page.click("#host-links button:has-text('Revoke')")
    await expect(laptop.page.locator("#host-links li")).to_have_text(["my phone (revoked)"])
    await phone.page.click("#action-close")
    await expect(phone.page.locator("#action-note")).to_contain_text("revoked")
    await expect(laptop.page.locator("#poll-status")).to_have_text("Voting is open")
    assert not laptop.errors and not phone.errors, (laptop.errors, phone.errors)

"""A host signs up on the laptop and creates a poll; on a phone (another browser context) the
same host signs in, finds the poll in "my polls" and runs it from there."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import (
    PROJECTOR,
    created_room,
    fill_draft,
    host_action,
    new_page,
    screenshot,
)
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


async def test_sign_in_on_another_device_and_run_the_poll_from_my_polls(
    stack: Stack, browser: Browser
) -> None:
    api = stack["poll_api"].url
    email = f"host-{uuid.uuid4().hex[:8]}@example.org"
    laptop = await new_page(browser, PROJECTOR)
    await laptop.page.goto(f"{api}/host")
    await laptop.page.fill("#account-email", email)
    await laptop.page.fill("#account-password", "short")
    await laptop.page.click("#account-signup")
    await expect(laptop.page.locator("#account-error")).to_contain_text("password")
    await laptop.page.fill("#account-password", PASSWORD)
    await laptop.page.click("#account-signup")
    await expect(laptop.page.locator("#account-who")).to_have_text(email)
    spec = {"kind": "single", "prompt": "Where to?", "options": ["Beach", "Mountains"]}
    await fill_draft(laptop.page, 0, spec)
    await laptop.page.get_by_role("button", name="Create the poll").click()
    room = await created_room(laptop.page)

    phone = await new_page(browser)
    await phone.page.goto(f"{api}/host")
    await phone.page.fill("#account-email", email)
    await phone.page.fill("#account-password", PASSWORD)
    await phone.page.click("#account-signin")
    mine = phone.page.locator("#my-polls li")
    await expect(mine).to_have_count(1)
    await expect(mine.first).to_contain_text(room)
    await phone.page.evaluate("window.scrollTo(0, 0)")
    await screenshot(phone.page, "host-my-polls.png")
    await mine.first.locator("a").click()
    await expect(phone.page.locator("#room-code")).to_have_text(room)
    await expect(phone.page.locator("#poll-status")).to_have_text("Draft: voting not open yet")
    await host_action(phone.page, "Open voting", "Voting is open")
    await expect(laptop.page.locator("#poll-status")).to_have_text("Voting is open")
    assert not laptop.errors and not phone.errors, (laptop.errors, phone.errors)

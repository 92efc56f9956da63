"""The Q&A board in Chromium (issue 13): a question asked on a phone, approved in the host
console, upvoted to the top by two other phones, marked answered; the presenter view shows the
top questions. And text that got past the validation (written straight into the database) is
shown as text on the presenter view, the console and a phone: no markup made, no script run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.pages import (
    PROJECTOR,
    Watched,
    created_room,
    fill_draft,
    join,
    new_page,
    screenshot,
    watch,
)
from tests.support.isolation import Resources
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

ANN_ASKS = "What comes after the launch?"
BO_ASKS = "Who designed the new logo?"


async def _create_with_board(host: Page, api_url: str, moderated: bool) -> str:
    await host.goto(f"{api_url}/host")
    await fill_draft(host, 0, {"kind": "single", "prompt": "Ready?", "options": ["Yes", "No"]})
    await host.locator("#qa-enabled").check()
    if moderated:
        await host.locator("#qa-moderated").check()
    await host.get_by_role("button", name="Create the poll").click()
    return await created_room(host)


async def _open_presenter(host: Watched) -> Watched:
    async with host.page.expect_popup() as popup_info:
        await host.page.get_by_role("link", name="Open the presenter view").click()
    presenter = watch(await popup_info.value, host.context)
    await presenter.page.set_viewport_size(PROJECTOR)
    return presenter


async def test_a_question_is_asked_approved_upvoted_to_the_top_and_answered(
    stack: Stack, browser: Browser
) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    room = await _create_with_board(host.page, api.url, moderated=True)
    await expect(host.page.locator("#qa-host")).to_be_visible()
    presenter = await _open_presenter(host)
    await expect(presenter.page.locator("#present-qa")).to_be_visible()

    phones = {name: await new_page(browser) for name in ("Ann", "Bo", "Cy")}
    for name, phone in phones.items():
        await join(phone.page, f"{gateway.url}/{room}", name)
        await expect(phone.page.locator("#qa-view")).to_be_visible()
    ann, bo, cy = (phones[n].page for n in ("Ann", "Bo", "Cy"))

    await ann.get_by_label("Your question").fill(ANN_ASKS)
    await ann.get_by_role("button", name="Ask").click()
    await expect(ann.locator("#qa-note")).to_contain_text("once the host approves it")
    await bo.get_by_label("Your question").fill(BO_ASKS)
    await bo.get_by_role("button", name="Ask").click()
    await expect(bo.locator("#qa-note")).to_contain_text("once the host approves it")

    # Moderated: only the host sees them, waiting.
    pending = host.page.locator("#qa-host-groups ol[data-status=pending] li")
    await expect(pending).to_have_count(2)
    for phone in (ann, bo, cy):
        await expect(phone.locator("#qa-items li")).to_have_count(0)
    await expect(presenter.page.locator("#present-qa-items li")).to_have_count(0)
    await screenshot(host.page, "host-console-qa.png", full_page=True)

    for text in (BO_ASKS, ANN_ASKS):
        row = host.page.locator("#qa-host-groups li", has_text=text)
        await row.get_by_role("button", name="Approve").click()
    for phone in (ann, bo, cy):
        await expect(phone.locator("#qa-items li")).to_have_count(2)
    # Ann cannot upvote her own question; Bo and Cy upvote it to the top.
    await expect(ann.locator("#qa-items li", has_text=ANN_ASKS).locator("button")).to_be_disabled()
    for phone in (bo, cy):
        button = phone.locator("#qa-items li", has_text=ANN_ASKS).locator("button")
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "true")
    cy_bo = cy.locator("#qa-items li", has_text=BO_ASKS).locator("button")
    await cy_bo.click()
    await expect(cy_bo).to_have_attribute("aria-pressed", "true")
    for phone in (ann, bo, cy):
        first = phone.locator("#qa-items li").first
        await expect(first).to_contain_text(ANN_ASKS)
        await expect(first.locator("button")).to_have_text("▲ 2")
    top = presenter.page.locator("#present-qa-items li").first
    await expect(top).to_contain_text(ANN_ASKS)
    await expect(top.locator(".qa-score")).to_have_text("▲ 2")
    await screenshot(cy, "participant-qa.png", full_page=True)

    # Answered: marked so on every screen.
    row = host.page.locator("#qa-host-groups li", has_text=ANN_ASKS)
    await row.get_by_role("button", name="Mark answered").click()
    await expect(
        host.page.locator("#qa-host-groups ol[data-status=answered] li", has_text=ANN_ASKS)
    ).to_have_count(1)
    for phone in (ann, bo, cy):
        item = phone.locator("#qa-items li", has_text=ANN_ASKS)
        await expect(item).to_have_attribute("data-status", "answered")
        await expect(item.locator(".qa-badges")).to_have_text("Answered")
    await expect(top.locator(".qa-badge")).to_have_text("Answered")
    await screenshot(presenter.page, "presenter-qa.png")

    for watched in (host, presenter, *phones.values()):
        watched.assert_clean()
    for watched in (host, *phones.values()):
        await watched.context.close()


PAYLOADS = [
    "<img src=x onerror=\"window.__xss='img'\"> question",
    "<script>window.__xss='script'</script>",
    "<b>bold</b> &amp; \u202eevil",
]


async def test_markup_on_the_board_is_shown_as_text(
    stack: Stack, browser: Browser, browser_resources: Resources
) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    room = await _create_with_board(host.page, api.url, moderated=False)
    conn = await asyncpg.connect(browser_resources.database_url)
    try:
        poll_id = await conn.fetchval("SELECT id FROM polls WHERE room_code = $1", room)
        for n, text in enumerate(PAYLOADS):
            await conn.execute(
                "INSERT INTO qa_items (item_id, poll_id, participant_id, text, status, seq,"
                " asked_at, score) VALUES ($1, $2, $3, $4, 'approved', 1, $5, $6)",
                uuid.uuid4(),
                poll_id,
                uuid.uuid4(),
                text,
                datetime.now(UTC),
                10 - n,
            )
        # A board version Redis does not have: the worker's restore loop publishes the board,
        # so the participant page gets the payloads in a `qa` frame too.
        await conn.execute("INSERT INTO qa_boards (poll_id, version) VALUES ($1, 1)", poll_id)
    finally:
        await conn.close()
    presenter = await _open_presenter(host)
    items = presenter.page.locator("#present-qa-items li .qa-text")
    await expect(items).to_have_count(len(PAYLOADS))
    for n, text in enumerate(PAYLOADS):
        await expect(items.nth(n)).to_have_text(text)
    console_items = host.page.locator("#qa-host-groups li .qa-text")
    await expect(console_items).to_have_count(len(PAYLOADS))
    phone = await new_page(browser)
    await join(phone.page, f"{gateway.url}/{room}", "Reader")
    phone_items = phone.page.locator("#qa-items li .qa-text")
    await expect(phone_items).to_have_count(len(PAYLOADS))
    for n, text in enumerate(PAYLOADS):
        await expect(phone_items.nth(n)).to_have_text(text)
    for page in (presenter.page, host.page, phone.page):
        assert await page.evaluate("() => window.__xss === undefined")
        made = await page.locator("main img:not(.qr), main b, main script").count()
        assert made == 0
    for watched in (presenter, host, phone):
        watched.assert_clean()
    await host.context.close()
    await phone.context.close()

"""User text that looks like HTML is shown as text on every page, and no script of it runs.

poll-api and the gateway refuse markup in questions, options and nicknames (contracts.text), so
the pages are tested both ways: the refusal is shown as text, and text that got past the
validation anyway (written straight into the database, or inside a signed resume token) is
displayed literally. The pages must never rely on the server having cleaned their input.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.pages import (
    PROJECTOR,
    TOKEN_SECRET,
    create_poll,
    expect_bars,
    host_action,
    join,
    new_page,
    vote,
)
from tests.support.isolation import Resources
from tests.support.procs import Stack
from ws_gateway.tokens import issue_token

pytestmark = pytest.mark.browser

QUESTION = "<script>window.__xss = 'question'</script> <img src=x onerror=\"window.__xss='img'\">?"
OPTIONS = ["<img src=x onerror=window.__xss='option'>", "<b>bold</b>"]
NICKNAME = "<img src=x onerror=window.__xss=1>"


async def nothing_ran(page: Page) -> bool:
    return bool(await page.evaluate("() => window.__xss === undefined"))


async def no_markup_made(page: Page) -> bool:
    """No element was created from the text: the only image on the page is the QR code."""
    made = await page.locator("main img:not(.qr), main b, main script").count()
    return made == 0


async def test_refused_markup_is_reported_as_text(stack: Stack, browser: Browser) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    await host.page.goto(f"{api.url}/host")
    await host.page.get_by_label("Question").fill(QUESTION)
    await host.page.get_by_label("Option 1", exact=True).fill(OPTIONS[0])
    await host.page.get_by_label("Option 2", exact=True).fill("Fine")
    await host.page.get_by_role("button", name="Create the poll").click()
    await expect(host.page.locator("#create-error")).to_contain_text("markup is not allowed")
    assert await nothing_ran(host.page)

    room = await create_poll(host.page, api.url, "Plain question", ["Yes", "No"])
    person = await new_page(browser)
    await person.page.goto(f"{gateway.url}/{room}")
    await person.page.get_by_label("Your nickname").fill(NICKNAME)
    await person.page.get_by_role("button", name="Join").click()
    await expect(person.page.locator("#join-error")).to_contain_text("Cannot join")
    await expect(person.page.locator("#join-error")).to_contain_text("markup is not allowed")
    assert await nothing_ran(person.page)
    assert await no_markup_made(person.page)
    host.assert_clean()
    person.assert_clean()
    await host.context.close()
    await person.context.close()


async def test_markup_that_got_past_validation_renders_as_text(
    stack: Stack, browser: Browser, browser_resources: Resources
) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    room = await create_poll(host.page, api.url, "Soon replaced", ["a", "b"])
    # As if an older version, or another writer, had stored it: straight into the row, before
    # the poll is opened (opening writes the row's view to the Redis cache the gateway reads).
    conn = await asyncpg.connect(browser_resources.database_url)
    try:
        poll_id = await conn.fetchval(
            "UPDATE polls SET question = $1, options = $2::jsonb WHERE room_code = $3 RETURNING id",
            QUESTION,
            json.dumps(OPTIONS),
            room,
        )
        # A poll is a run of questions: its question 0 (qid 0) holds the text the views show.
        await conn.execute(
            "UPDATE questions SET spec = jsonb_set(jsonb_set(spec, '{prompt}', to_jsonb($1::text)),"
            " '{options}', $2::jsonb) WHERE poll_id = $3 AND qid = 0",
            QUESTION,
            json.dumps(OPTIONS),
            poll_id,
        )
    finally:
        await conn.close()
    await host_action(host.page, "Open voting", "Voting is open")
    await expect(host.page.locator("#poll-question")).to_have_text(QUESTION)

    # A signed identity whose nickname is markup (the gateway's answer names the participant
    # from the token, not from the join frame), stored as the page stores it, then a load.
    person = await new_page(browser)
    page = person.page
    token = issue_token(TOKEN_SECRET, poll_id, uuid.uuid4(), NICKNAME)
    await page.goto(f"{gateway.url}/{room.lower()}")  # a lower-case link works too
    identity = json.dumps({"nickname": "Dee", "resume_token": token})
    await page.evaluate(
        "([key, value]) => localStorage.setItem(key, value)",
        [f"zephyr.participant.{room}", identity],
    )
    await page.reload()
    await expect(page.locator("#poll-view")).to_be_visible()
    await expect(page.locator("#me")).to_have_text(NICKNAME)
    await expect(page.locator("#question")).to_have_text(QUESTION)
    await expect(page.locator("#options .option-text")).to_have_text(OPTIONS)
    await vote(page, 0)
    await expect(page.locator("#bars .bar-label")).to_have_text(OPTIONS)
    await expect_bars(host.page, [1, 0])
    await expect(host.page.locator("#bars .bar-label")).to_have_text(OPTIONS)

    async with host.page.expect_popup() as popup_info:
        await host.page.get_by_role("link", name="Open the presenter view").click()
    presenter = await popup_info.value
    await expect(presenter.locator("#present-question")).to_have_text(QUESTION)
    await expect(presenter.locator("#bars .bar-label")).to_have_text(OPTIONS)

    for screen in (host.page, page, presenter):
        assert await no_markup_made(screen)
        assert await nothing_ran(screen)
    host.assert_clean()
    person.assert_clean()
    await host.context.close()
    await person.context.close()


async def test_a_join_link_still_works_for_the_plain_join_form(
    stack: Stack, browser: Browser
) -> None:
    """Sanity for the two tests above: the same flow with plain text joins normally."""
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    room = await create_poll(host.page, api.url, "a < b, x<5 and <3 are fine", ["<3", "->"])
    person = await new_page(browser)
    await join(person.page, f"{gateway.url}/join/{room}", "Ed <3")
    await expect(person.page.locator("#question")).to_have_text("a < b, x<5 and <3 are fine")
    await expect(person.page.locator("#me")).to_have_text("Ed <3")
    await expect(person.page.locator("#options .option-text")).to_have_text(["<3", "->"])
    host.assert_clean()
    person.assert_clean()
    await host.context.close()
    await person.context.close()

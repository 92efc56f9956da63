"""A host and three participants, each in their own browser, run a poll from start to finish."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import (
    PROJECTOR,
    SCREENSHOTS,
    Watched,
    create_poll,
    expect_bars,
    host_action,
    join,
    loaded_image_width,
    new_page,
    vote,
    watch,
)
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

OPTIONS = ["Red", "Green", "Blue"]


async def test_host_and_three_participants_see_the_same_live_results(
    stack: Stack, browser: Browser
) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    host = await new_page(browser, PROJECTOR)
    room = await create_poll(host.page, api.url, "Which colour for the new logo?", OPTIONS)

    # The join link points at the gateway's participant page; its QR code is an SVG image.
    join_url = f"{gateway.url}/join/{room}"
    await expect(host.page.locator("#join-link")).to_have_text(join_url)
    await expect(host.page.locator("#join-link")).to_have_attribute("href", join_url)
    assert await loaded_image_width(host.page, "#qr") > 0
    await expect(host.page.locator("#participants")).to_have_text("0")
    await host_action(host.page, "Open voting", "Voting is open")

    people: list[Watched] = []
    for nickname in ["Ann", "Bo", "Cy"]:
        person = await new_page(browser)
        await join(person.page, join_url, nickname)
        await expect(person.page.locator("#me")).to_have_text(nickname)
        await expect(person.page.locator("#poll-room")).to_have_text(room)
        await expect(person.page.locator("#poll-status")).to_have_text("Voting is open")
        people.append(person)
    await expect(host.page.locator("#participants")).to_have_text("3")

    # Ann votes Red; Bo and Cy vote Green. Results are live (not hidden until the reveal).
    await vote(people[0].page, 0)
    await vote(people[1].page, 1)
    await vote(people[2].page, 1)
    for screen in (host, *people):
        await expect_bars(screen.page, [1, 2, 0])
    await expect(host.page.locator("#total-votes")).to_have_text("3")

    await host_action(host.page, "Reveal results", "Voting is open")
    await expect(host.page.locator("#poll-revealed")).to_be_visible()

    # The presenter view opens from the console and inherits the tab's host token.
    async with host.page.expect_popup() as popup_info:
        await host.page.get_by_role("link", name="Open the presenter view").click()
    presenter = watch(await popup_info.value, host.context)
    await presenter.page.set_viewport_size(PROJECTOR)
    await expect(presenter.page.locator("#present-room")).to_have_text(room)
    await expect(presenter.page.locator("#present-link")).to_have_text(join_url)

    for screen in (host, presenter, *people):
        await expect_bars(screen.page, [1, 2, 0])

    # The screenshots the README shows (transitions finished, so the bars are at rest).
    assert await loaded_image_width(presenter.page, "#present-qr") > 0
    await people[0].page.screenshot(
        path=str(SCREENSHOTS / "participant-phone.png"), animations="disabled"
    )
    await presenter.page.screenshot(path=str(SCREENSHOTS / "presenter.png"), animations="disabled")
    await host.page.screenshot(
        path=str(SCREENSHOTS / "host-console.png"), animations="disabled", full_page=True
    )

    # Cy changes their vote: every screen follows.
    await vote(people[2].page, 2)
    for screen in (host, presenter, *people):
        await expect_bars(screen.page, [1, 1, 1])
    await expect(people[2].page.locator("#options button[data-index='1']")).to_have_attribute(
        "aria-pressed", "false"
    )

    # Closing shows on the phones and the option buttons stop taking votes.
    await host_action(host.page, "Close voting", "Voting is closed")
    for person in people:
        await expect(person.page.locator("#poll-status")).to_have_text("Voting is closed")
        await expect(person.page.locator("#options button").first).to_be_disabled()

    # The CSV export, fetched with the host token and saved as a file.
    async with host.page.expect_download() as download_info:
        await host.page.get_by_role("button", name="Download CSV").click()
    download = await download_info.value
    assert download.suggested_filename == f"poll-{room}-results.csv"
    csv_text = (await download.path()).read_text(encoding="utf-8")
    for option in OPTIONS:
        assert option in csv_text

    # The server's truth matches what every screen showed.
    results = httpx.get(f"{api.url}/api/polls/{room}/results", timeout=10).json()
    assert results["counts"] == [1, 1, 1]

    # A reload keeps the identity and shows the participant's own vote.
    ann = people[0].page
    await ann.reload()
    await expect(ann.locator("#poll-view")).to_be_visible()
    await expect(ann.locator("#me")).to_have_text("Ann")
    await expect(ann.locator("#options button[data-index='0']")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect_bars(ann, [1, 1, 1])

    for screen in (host, presenter, *people):
        screen.assert_clean()
    for screen in (host, *people):
        await screen.context.close()

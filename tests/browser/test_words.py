"""A word cloud filled by three phones: the presenter view draws it (size by count), the host
console lists the words, a banned one is withheld everywhere, and a word the host hides
disappears from the presenter view and the phones. Text is only ever text: an entry that
looks like markup is shown as typed and no element comes of it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.pages import (
    PROJECTOR,
    created_room,
    draft,
    fill_draft,
    host_token,
    join,
    new_page,
    screenshot,
    watch,
)
from tests.support.host import bearer
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

PROMPT = "One word for this week?"
CLOUD: dict[str, Any] = {
    "kind": "wordcloud",
    "prompt": PROMPT,
    "max_entries": 3,
    "banned_words": ["boring"],
}
# Three spellings of one word: the label is the most frequent one (a tie: code point order).
ENTRIES = {
    "Ann": ["Python", "Rust", "coffee"],
    "Bo": ["python!", "Go", "coffee"],
    "Cy": ["PYTHON", "Boring", "x&lt;b&gt;y"],
}


async def send_words(phone: Page, words: list[str]) -> None:
    """Type the entries into the word fields, send, wait for the acceptance."""
    fields = phone.locator("#options .word-entry")
    await expect(fields).to_have_count(3)
    for position, word in enumerate(words):
        await fields.nth(position).fill(word)
    await phone.get_by_role("button", name="Send my words").click()
    await expect(phone.locator("#vote-note")).to_contain_text("Your answer is counted")


def cloud_word(presenter: Page, text: str) -> Any:
    return presenter.locator("#present-cloud .cloud-word", has_text=text)


async def test_three_phones_fill_a_word_cloud_and_the_host_hides_a_word(
    stack: Stack, browser: Browser
) -> None:
    api_url = stack["poll_api"].url
    host = await new_page(browser, PROJECTOR)
    console = host.page
    # The host creates the word cloud in the console's form.
    await console.goto(f"{api_url}/host")
    await fill_draft(console, 0, CLOUD)
    editor = draft(console, 0)
    await editor.locator("input[data-field=max_entries]").fill(str(CLOUD["max_entries"]))
    await expect(editor.locator("input[data-field=profanity_filter]")).to_be_checked()
    await editor.locator("textarea[data-field=banned_words]").fill("\n".join(CLOUD["banned_words"]))
    await console.get_by_role("button", name="Create the poll").click()
    room = await created_room(console)
    await expect(console.locator("#poll-settings")).to_have_text("up to 3 entries")
    token = await host_token(console, room)
    async with httpx.AsyncClient(base_url=api_url, timeout=15) as http:
        stored = await http.get(f"/api/polls/{room}/questions", headers=bearer(token))
        spec = stored.json()["questions"][0]["spec"]
        assert (spec["max_entries"], spec["profanity_filter"], spec["banned_words"]) == (
            3,
            True,
            ["boring"],
        )
    await console.get_by_role("button", name="Open voting").click()
    await expect(console.locator("#poll-status")).to_have_text("Voting is open")
    async with console.expect_popup() as popup_info:
        await console.get_by_role("link", name="Open the presenter view").click()
    presenter = watch(await popup_info.value, host.context)
    presenter_page = presenter.page
    await presenter_page.set_viewport_size(PROJECTOR)
    await expect(presenter_page.locator("#present-question")).to_have_text(PROMPT)

    phones = {}
    for nickname, words in ENTRIES.items():
        phone = await new_page(browser)
        await join(phone.page, f"{stack['ws_gateway'].url}/{room}", nickname)
        await expect(phone.page.locator("#question")).to_have_text(PROMPT)
        await send_words(phone.page, words)
        phones[nickname] = phone
    await expect(phones["Ann"].page.locator("#my-answer")).to_have_text(
        "Your answer: Python, Rust, coffee"
    )

    # The presenter view draws the cloud: "PYTHON" (3 people) bigger than "Rust" (1).
    python = cloud_word(presenter_page, "PYTHON")
    await expect(python).to_have_attribute("data-count", "3")
    await expect(cloud_word(presenter_page, "coffee")).to_have_attribute("data-count", "2")
    await expect(presenter_page.locator("#present-cloud .cloud-word")).to_have_count(5)
    await expect(presenter_page.locator("#bars")).to_be_hidden()
    big = await python.evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
    small = await cloud_word(presenter_page, "Rust").evaluate(
        "n => parseFloat(getComputedStyle(n).fontSize)"
    )
    assert big > 1.4 * small, (big, small)  # square-root scale: 3 times the count, 1.5 the size
    # The banned word is on no screen; the markup-looking entry is text, not an element.
    await expect(cloud_word(presenter_page, "Boring")).to_have_count(0)
    await expect(cloud_word(presenter_page, "x&lt;b&gt;y")).to_have_count(1)
    assert await presenter_page.locator("#present-cloud b").count() == 0
    for phone in phones.values():
        await expect(phone.page.locator("#bars .bar-label").first).to_have_text("PYTHON")
        await expect(phone.page.locator("#bars")).not_to_contain_text("Boring")

    # Stable placement: a new answer moves no word that still fits where it was.
    before = await presenter_page.locator("#present-cloud .cloud-word").evaluate_all(
        "ns => ns.map(n => [n.textContent, n.style.left, n.style.top])"
    )
    extra = await new_page(browser)
    await join(extra.page, f"{stack['ws_gateway'].url}/{room}", "Di")
    await send_words(extra.page, ["Zig"])
    await expect(cloud_word(presenter_page, "Zig")).to_have_count(1)
    after = await presenter_page.locator("#present-cloud .cloud-word").evaluate_all(
        "ns => ns.map(n => [n.textContent, n.style.left, n.style.top])"
    )
    assert [w for w in after if w[0] != "Zig"] == before

    # The console lists the words: shown ones with Hide, the withheld one with why and Show.
    panel = console.locator("#words-panel")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_role("button", name="Hide PYTHON")).to_be_visible()
    await expect(panel.locator("li", has_text="Boring")).to_contain_text("a banned word")
    await expect(panel.get_by_role("button", name="Show Boring")).to_be_visible()
    await screenshot(presenter_page, "presenter-wordcloud.png")
    await screenshot(phones["Bo"].page, "participant-wordcloud.png", full_page=True)
    await screenshot(console, "host-console-words.png", full_page=True)

    # The host hides a word: it leaves the presenter view and every phone.
    await panel.get_by_role("button", name="Hide PYTHON").click()
    await expect(panel.locator(".word-status")).to_have_text("Hidden: PYTHON")
    await expect(cloud_word(presenter_page, "PYTHON")).to_have_count(0)
    await expect(presenter_page.locator("#present-cloud .cloud-word")).to_have_count(5)
    for phone in phones.values():
        await expect(phone.page.locator("#bars")).not_to_contain_text("PYTHON")
    await expect(panel.locator("li", has_text="PYTHON")).to_contain_text("hidden by you")
    await screenshot(presenter_page, "presenter-wordcloud-hidden.png")

    # Shown again, with its count.
    await panel.get_by_role("button", name="Show PYTHON").click()
    await expect(cloud_word(presenter_page, "PYTHON")).to_have_attribute("data-count", "3")

    for watched in (host, presenter, *phones.values(), extra):
        watched.assert_clean()

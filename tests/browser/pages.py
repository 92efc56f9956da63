"""Helpers that drive the pages the way a person would, and read what they show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

# Generous: the machine is small and shared; these bound waits, they do not measure speed.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1280, "height": 720}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The gateways' resume-token secret, so a test can mint an identity the way a gateway does.
TOKEN_SECRET = "browser-tests-token-secret-0123456789"
_ROOM_RE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$")


@dataclass
class Watched:
    """A page plus every console message and uncaught error it produced."""

    page: Page
    context: BrowserContext
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.csp_violations() == [], self.csp_violations()


async def new_page(browser: Browser, viewport: dict[str, int] | None = None) -> Watched:
    """A page in a fresh context (its own storage: one person, one device)."""
    context = await browser.new_context(viewport=viewport or PHONE, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    watched = Watched(page=page, context=context)
    page.on("console", lambda msg: _note(watched, msg))
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    return watched


def watch(page: Page, context: BrowserContext) -> Watched:
    watched = Watched(page=page, context=context)
    page.on("console", lambda msg: _note(watched, msg))
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    return watched


def _note(watched: Watched, msg: ConsoleMessage) -> None:
    watched.console.append(f"{msg.type}: {msg.text}")


# ---- host console ---------------------------------------------------------------------------


async def create_poll(host: Page, api_url: str, question: str, options: list[str]) -> str:
    """Fill in the console's form; returns the room code it shows."""
    await host.goto(f"{api_url}/host")
    await host.get_by_label("Question").fill(question)
    while await host.locator("#option-inputs input").count() < len(options):
        await host.get_by_role("button", name="Add an option").click()
    for index, text in enumerate(options):
        await host.get_by_label(f"Option {index + 1}", exact=True).fill(text)
    await host.get_by_role("button", name="Create the poll").click()
    await expect(host.locator("#console-view")).to_be_visible()
    await expect(host.locator("#room-code")).to_have_text(_ROOM_RE)
    return (await host.locator("#room-code").text_content() or "").strip()


async def host_action(host: Page, label: str, status_text: str) -> None:
    await host.get_by_role("button", name=label).click()
    await expect(host.locator("#poll-status")).to_have_text(status_text)


# ---- participant page -----------------------------------------------------------------------


async def join(participant: Page, url: str, nickname: str) -> None:
    await participant.goto(url)
    await participant.get_by_label("Your nickname").fill(nickname)
    await participant.get_by_role("button", name="Join").click()
    await expect(participant.locator("#poll-view")).to_be_visible()
    await expect(participant.locator("#connection")).to_have_attribute("data-state", "connected")


async def vote(participant: Page, option: int) -> None:
    """Tap an option and wait until the gateway accepted it (the button says so)."""
    button = participant.locator(f"#options button[data-index='{option}']")
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true")
    await expect(button.locator(".option-mark")).to_have_text("Your vote")


async def expect_counts(page: Page, counts: list[int]) -> None:
    """The bars show exactly these counts (waits for the live updates to arrive)."""
    await expect(page.locator("#bars li .count")).to_have_text([str(c) for c in counts])


def percents(counts: list[int]) -> list[str]:
    total = sum(counts)
    # Math.round in the pages rounds halves up (Python's round() would round them to even).
    return [f"{int(100 * c / total + 0.5) if total else 0}%" for c in counts]


async def expect_bars(page: Page, counts: list[int]) -> None:
    await expect_counts(page, counts)
    await expect(page.locator("#bars li .pct")).to_have_text(percents(counts))


async def loaded_image_width(page: Page, selector: str) -> int:
    """The natural width of the image at `selector` once it has loaded (it loads after render)."""
    handle = await page.wait_for_function(
        "sel => { const img = document.querySelector(sel);"
        " return img && img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0; }",
        arg=selector,
        timeout=10_000,
    )
    return int(await handle.json_value())

"""Helpers that drive the pages the way a person would, and read what they show."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect

# Generous: the machine is small and shared; these bound waits, they do not measure speed.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1280, "height": 720}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The question-run test writes its screenshots only when asked (ZEPHYR_SCREENSHOTS=1).
WRITE_SCREENSHOTS = os.environ.get("ZEPHYR_SCREENSHOTS") == "1"
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
    """Fill in the console's form (one single-choice question); returns the room code it shows."""
    await host.goto(f"{api_url}/host")
    await fill_draft(host, 0, {"kind": "single", "prompt": question, "options": options})
    await host.get_by_role("button", name="Create the poll").click()
    return await created_room(host)


async def create_run(
    host: Page, api_url: str, questions: list[dict[str, Any]], title: str | None = None
) -> str:
    """Create a run of questions in the console's form; returns the room code it shows."""
    await host.goto(f"{api_url}/host")
    if title is not None:
        await host.get_by_label("Title (optional)").fill(title)
    for index, spec in enumerate(questions):
        if index > 0:
            await host.get_by_role("button", name="Add a question").click()
        await fill_draft(host, index, spec)
    await host.get_by_role("button", name="Create the poll").click()
    return await created_room(host)


def draft(host: Page, index: int) -> Locator:
    """The editor of the index-th question (0-based) of the create form."""
    return host.locator("#question-drafts > li.draft").nth(index)


async def fill_draft(host: Page, index: int, spec: dict[str, Any]) -> None:
    """Fill the index-th question editor of the create form from a question spec."""
    box = draft(host, index)
    await box.locator("select[data-field=kind]").select_option(spec["kind"])
    await box.locator("textarea[data-field=prompt]").fill(spec["prompt"])
    options = spec.get("options", [])
    inputs = box.locator("input[data-field=option]")
    while await inputs.count() < len(options):
        await box.get_by_role("button", name="Add an option").click()
    for position, text in enumerate(options):
        await inputs.nth(position).fill(text)
    marks = box.locator("input[data-field=correct]")
    for position in spec.get("correct", []):
        await marks.nth(position).check()
    if "points" in spec:
        await box.locator("select[data-field=points]").select_option(str(spec["points"]))
    for name in ("min_choices", "max_choices", "max", "rank_count", "time_limit_s"):
        if name in spec:
            await box.locator(f"input[data-field={name}]").fill(str(spec[name]))
    if "min" in spec:
        await box.locator("select[data-field=min]").select_option(str(spec["min"]))
    for name in ("min_label", "max_label"):
        if name in spec:
            await box.locator(f"input[data-field={name}]").fill(spec[name])


async def created_room(host: Page) -> str:
    await expect(host.locator("#console-view")).to_be_visible()
    await expect(host.locator("#room-code")).to_have_text(_ROOM_RE)
    return (await host.locator("#room-code").text_content() or "").strip()


def run_item(host: Page, index: int) -> Locator:
    """The console's item of the question at `index` in the run."""
    return host.locator(f"#question-list > li[data-index='{index}']")


async def question_action(host: Page, index: int, action: str) -> None:
    """Press show/open/close/reveal/reset on the console's item of question `index`."""
    await run_item(host, index).locator(f"button[data-action='{action}']").click()


async def host_token(host: Page, room: str) -> str:
    token = await host.evaluate(f"sessionStorage.getItem('zephyr.host.{room}')")
    assert isinstance(token, str) and token
    return token


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """docs/screenshots/<name>, only with ZEPHYR_SCREENSHOTS=1."""
    if WRITE_SCREENSHOTS:
        await page.screenshot(
            path=str(SCREENSHOTS / name), animations="disabled", full_page=full_page
        )


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


async def expect_question(participant: Page, prompt: str, status_text: str) -> None:
    """The participant page shows this question in this state."""
    await expect(participant.locator("#question")).to_have_text(prompt)
    await expect(participant.locator("#poll-status")).to_have_text(status_text)


async def choose(participant: Page, options: list[int]) -> None:
    """Tick these options of a multiple-choice question, send, wait for the acceptance."""
    for index in options:
        await participant.locator(f"#options input[data-index='{index}']").check()
    await participant.locator("#send-answer").click()
    await expect(participant.locator("#vote-note")).to_contain_text("Your answer is counted")


async def rate(participant: Page, value: int) -> None:
    """Tap a value of a rating scale and wait until the gateway accepted it."""
    button = participant.locator(f"#scale button[data-value='{value}']")
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true")


async def rank(participant: Page, ranking: list[int]) -> None:
    """Tap the options of a ranking question in order, send, wait for the acceptance."""
    await participant.locator("#clear-answer").click()
    for index in ranking:
        await participant.locator(f"#options button[data-index='{index}']").click()
    await participant.locator("#send-answer").click()
    await expect(participant.locator("#vote-note")).to_contain_text("Your answer is counted")


async def expect_counts(page: Page, counts: list[int], bars: str = "#bars") -> None:
    """The bars show exactly these counts (waits for the live updates to arrive)."""
    await expect(page.locator(f"{bars} li .count")).to_have_text([str(c) for c in counts])


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

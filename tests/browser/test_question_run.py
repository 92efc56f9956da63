"""A host runs four questions (single, multiple, rating, ranking) in the console; three
participants answer each on their phones; the console, the phones and the presenter view show
each question's aggregate in its kind's form, equal to what was sent and to the server's
results."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import (
    PROJECTOR,
    Watched,
    choose,
    create_run,
    expect_counts,
    expect_question,
    host_token,
    join,
    new_page,
    question_action,
    rank,
    rate,
    run_item,
    screenshot,
    vote,
    watch,
)
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

TITLE = "Team retro"
RUN: list[dict[str, Any]] = [
    {"kind": "single", "prompt": "Lunch?", "options": ["Pizza", "Soup", "Salad"]},
    {
        "kind": "multiple",
        "prompt": "Which languages?",
        "options": ["Python", "Rust", "Go", "Java"],
        "min_choices": 1,
        "max_choices": 2,
    },
    {
        "kind": "rating",
        "prompt": "How was the week?",
        "min": 1,
        "max": 5,
        "min_label": "awful",
        "max_label": "great",
        "time_limit_s": 600,
    },
    {
        "kind": "ranking",
        "prompt": "Order these",
        "options": ["Coffee", "Tea", "Water"],
        "rank_count": 2,
    },
]
OPEN, CLOSED = "Voting is open", "Voting is closed"
WAITING = "Waiting for the host to open this question"
_CLOCK = re.compile(r"^Closes in \d+:\d\d$")
_LEFT = re.compile(r"^Time left \d+:\d\d$")
_PRESENT_LEFT = re.compile(r"^\d+:\d\d left$")


async def run_four_questions(browser: Browser, api_url: str, join_base: str) -> None:
    """The whole scenario; `join_base` + room code is the participant page's address."""
    host = await new_page(browser, PROJECTOR)
    room = await create_run(host.page, api_url, RUN, title=TITLE)
    console = host.page
    for index, spec in enumerate(RUN):
        item = run_item(console, index)
        await expect(item.locator(".run-prompt")).to_have_text(spec["prompt"])
        await expect(item.locator(".status")).to_have_text("Draft")
    await expect(console.locator("#question-list > li")).to_have_count(4)
    await expect(console.locator("#poll-question")).to_have_text("Lunch?")
    await expect(console.locator("#poll-heading")).to_contain_text("Question 1 of 4")

    people: list[Watched] = []
    for nickname in ["Ann", "Bo", "Cy"]:
        person = await new_page(browser)
        await join(person.page, f"{join_base}{room}", nickname)
        await expect_question(person.page, "Lunch?", WAITING)
        await expect(person.page.locator("#question-position")).to_have_text(
            f"{TITLE} · Question 1 of 4"
        )
        people.append(person)
    ann, bo, cy = (p.page for p in people)
    await expect(console.locator("#participants")).to_have_text("3")

    # Question 1, single choice: one tap each.
    await console.get_by_role("button", name="Open voting").click()
    await expect(console.locator("#poll-status")).to_have_text(OPEN)
    for page in (ann, bo, cy):
        await expect_question(page, "Lunch?", OPEN)
    await vote(ann, 0)
    await vote(bo, 1)
    await vote(cy, 1)
    await expect(ann.locator("#my-answer")).to_have_text("Your answer: Pizza")
    for page in (console, ann, bo, cy):
        await expect_counts(page, [1, 2, 0])
    await expect(console.locator("#bars li .pct")).to_have_text(["33%", "67%", "0%"])
    await console.get_by_role("button", name="Close voting").click()
    for page in (ann, bo, cy):
        await expect_question(page, "Lunch?", CLOSED)
    # Per-question controls in the run: reveal question 1 from its item.
    await question_action(console, 0, "reveal")
    await expect(run_item(console, 0).locator(".revealed")).to_be_visible()
    await expect(console.locator("#poll-revealed")).to_be_visible()

    # Question 2, multiple choice (1 to 2): the rule is shown and enforced before sending.
    await console.get_by_role("button", name="Show the next one").click()
    await expect(console.locator("#poll-question")).to_have_text("Which languages?")
    await expect(run_item(console, 1).locator(".current-mark")).to_be_visible()
    await console.get_by_role("button", name="Open voting").click()
    for page in (ann, bo, cy):
        await expect_question(page, "Which languages?", OPEN)
        await expect(page.locator("#options-legend")).to_have_text("Choose 1 to 2 options")
    await bo.locator("#send-answer").click()
    await expect(bo.locator("#vote-note")).to_have_text("Choose at least 1 option.")
    await choose(ann, [0, 2])
    await bo.locator("#options input[data-index='1']").check()
    await bo.locator("#options input[data-index='2']").check()
    third = bo.locator("#options input[data-index='3']")
    await third.click()
    await expect(third).not_to_be_checked()
    await expect(bo.locator("#vote-note")).to_contain_text("at most 2 options")
    await bo.locator("#send-answer").click()
    await expect(bo.locator("#vote-note")).to_contain_text("Your answer is counted")
    await expect(ann.locator("#my-answer")).to_have_text("Your answer: Python, Go")
    await expect(bo.locator("#my-answer")).to_have_text("Your answer: Rust, Go")
    await choose(cy, [2])
    # Percentages of respondents (3), so Go is at 100 %.
    for page in (console, ann, bo, cy):
        await expect_counts(page, [1, 1, 3, 0])
        await expect(page.locator("#bars li .pct")).to_have_text(["33%", "33%", "100%", "0%"])
    await screenshot(ann, "participant-multiple.png")
    await console.get_by_role("button", name="Close voting").click()
    await expect(ann.locator("#options input[data-index='0']")).to_be_disabled()

    # Question 3, rating 1 to 5 with a time limit: a countdown everywhere.
    await console.get_by_role("button", name="Show the next one").click()
    await expect(console.locator("#poll-question")).to_have_text("How was the week?")
    await console.get_by_role("button", name="Open voting").click()
    await expect(console.locator("#countdown")).to_have_text(_CLOCK)
    for page in (ann, bo, cy):
        await expect_question(page, "How was the week?", OPEN)
        await expect(page.locator("#countdown")).to_have_text(_LEFT)
        await expect(page.locator("#scale-ends")).to_have_text("1 = awful 5 = great")
    await rate(ann, 4)
    await rate(bo, 5)
    await rate(cy, 3)
    await expect(ann.locator("#my-answer")).to_have_text("Your answer: 4")
    for page in (console, ann, bo, cy):
        await expect_counts(page, [0, 0, 1, 1, 1])
    await expect(console.locator("#aggregate-summary .summary-value")).to_have_text("4.00")
    await expect(ann.locator("#results-summary .summary-value")).to_have_text("4.00")
    await expect(console.locator("#total-votes")).to_have_text("3")

    # The presenter view, opened from the console (it inherits the tab's host token).
    async with console.expect_popup() as popup_info:
        await console.get_by_role("link", name="Open the presenter view").click()
    presenter = watch(await popup_info.value, host.context)
    await presenter.page.set_viewport_size(PROJECTOR)
    await expect(presenter.page.locator("#present-question")).to_have_text("How was the week?")
    await expect_counts(presenter.page, [0, 0, 1, 1, 1])
    await expect(presenter.page.locator("#present-summary .summary-value")).to_have_text("4.00")
    await expect(presenter.page.locator("#present-countdown")).to_have_text(_PRESENT_LEFT)
    # Its figures come from the host's live connection (presence across gateways).
    await expect(presenter.page.locator("#present-figures")).to_have_text(
        "3 connected · 3 joined · 3 answers"
    )

    # Every question's live results stay in the console's run, in their kind's form.
    await expect_counts(console, [1, 2, 0], bars="#question-list > li[data-index='0'] .bars")
    await expect_counts(console, [1, 1, 3, 0], bars="#question-list > li[data-index='1'] .bars")
    await expect_counts(console, [0, 0, 1, 1, 1], bars="#question-list > li[data-index='2'] .bars")
    await expect(run_item(console, 2).locator(".summary-value")).to_have_text("4.00")
    statuses = ["Closed", "Closed", "Open"]
    for index, status in enumerate(statuses):
        await expect(run_item(console, index).locator(".status")).to_have_text(status)
    await screenshot(bo, "participant-rating.png")
    await screenshot(presenter.page, "presenter-rating.png")
    await screenshot(console, "host-console-run.png", full_page=True)

    # A reload keeps the identity and shows the participant's own answer (joined.my_answers).
    await ann.reload()
    await expect_question(ann, "How was the week?", OPEN)
    await expect(ann.locator("#my-answer")).to_have_text("Your answer: 4")
    await expect(ann.locator("#scale button[data-value='4']")).to_have_attribute(
        "aria-pressed", "true"
    )
    await console.get_by_role("button", name="Close voting").click()
    for page in (ann, bo, cy):
        await expect_question(page, "How was the week?", CLOSED)
        await expect(page.locator("#countdown")).to_be_hidden()

    # Question 4, ranking (2 of 3) by tapping in order: Borda points, best first.
    await console.get_by_role("button", name="Show the next one").click()
    await expect(console.locator("#poll-question")).to_have_text("Order these")
    await console.get_by_role("button", name="Open voting").click()
    for page in (ann, bo, cy):
        await expect_question(page, "Order these", OPEN)
    await rank(ann, [0, 1])
    await rank(bo, [1, 0])
    await rank(cy, [1, 2])
    await expect(ann.locator("#my-answer")).to_have_text("Your answer: 1. Coffee · 2. Tea")
    # Coffee 2 + 1 = 3, Tea 1 + 2 + 2 = 5, Water 1; rows sorted by points.
    for page in (console, ann, bo, cy):
        await expect_counts(page, [5, 3, 1])
        await expect(page.locator("#bars li .bar-label")).to_have_text(["Tea", "Coffee", "Water"])
    await screenshot(cy, "participant-ranking.png")
    await console.get_by_role("button", name="Close voting").click()

    # The server's truth is what every screen showed.
    token = await host_token(console, room)
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        resp = await http.get(
            f"/api/polls/{room}/results", headers={"Authorization": f"Bearer {token}"}
        )
    assert resp.status_code == 200, resp.text
    by_index = {q["index"]: q for q in resp.json()["questions"]}
    assert by_index[0]["counts"] == [1, 2, 0]
    assert (by_index[1]["counts"], by_index[1]["total"]) == ([1, 1, 3, 0], 3)
    assert (by_index[2]["counts"], by_index[2]["mean"]) == ([0, 0, 1, 1, 1], "4.00")
    assert (by_index[3]["points"], by_index[3]["total"]) == ([3, 5, 1], 3)

    for screen in (host, presenter, *people):
        screen.assert_clean()
    for screen in (host, *people):
        await screen.context.close()


async def test_a_run_of_four_questions_in_the_console_on_phones_and_on_the_projector(
    stack: Stack, browser: Browser
) -> None:
    api, gateway = stack["poll_api"], stack["ws_gateway"]
    await run_four_questions(browser, api.url, f"{gateway.url}/join/")

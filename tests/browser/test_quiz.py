"""Three phones play a quiz of three questions to the podium: the host runs it from the console,
each phone's first answer locks, and at every close the phones show their own result (correct or
not, points, streak bonus, score, rank), the presenter view the correct answer with the counts,
then the leaderboard, and after the last quiz question the podium; the console shows the full
table and exports it. Every figure equals the server's leaderboard and a recomputation from the
stored answers (contracts.scoring)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from contracts.answers import ANSWER_ADAPTER, QuizAnswer
from contracts.questions import QuizQuestion, parse_question
from contracts.scoring import QuizResponse, Standing, rank_standings, score_quiz
from tests.browser.pages import (
    PROJECTOR,
    Watched,
    create_run,
    expect_counts,
    expect_question,
    host_token,
    join,
    new_page,
    screenshot,
    watch,
)
from tests.support.isolation import Resources
from tests.support.procs import Stack

pytestmark = pytest.mark.browser

TITLE = "Friday quiz"
QUIZ: list[dict[str, Any]] = [
    {
        "kind": "quiz",
        "prompt": "Capital of France?",
        "options": ["Lyon", "Paris", "Nice"],
        "correct": [1],
        "time_limit_s": 300,
    },
    {
        "kind": "quiz",
        "prompt": "Which are prime?",
        "options": ["2", "4", "5", "9"],
        "correct": [0, 2],
        "time_limit_s": 300,
    },
    {
        "kind": "quiz",
        "prompt": "The largest planet?",
        "options": ["Jupiter", "Mars"],
        "correct": [0],
        "time_limit_s": 300,
        "points": 2000,
    },
]
# Who answers what: Ann is right three times (a streak), Bo is wrong first, Cy skips question 2.
ANSWERS: list[dict[str, list[int] | None]] = [
    {"Ann": [1], "Bo": [2], "Cy": [1]},
    {"Ann": [0, 2], "Bo": [0, 2], "Cy": None},
    {"Ann": [0], "Bo": [0], "Cy": [1]},
]
OPEN, CLOSED = "Voting is open", "Voting is closed"
# A test hook on one phone: keep its sockets, to send what the page itself never would.
KEEP_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();
"""
_POINTS = re.compile(r"^\+\d+ points")
_STANDING = re.compile(r"^Your score: (\d+) · rank (\d) of 3$")


async def answer(phone: Page, spec: dict[str, Any], options: list[int]) -> None:
    """Answer the quiz question on screen and wait until it is locked in."""
    if len(spec["correct"]) > 1:
        for index in options:
            await phone.locator(f"#options input[data-index='{index}']").check()
        await phone.locator("#send-answer").click()
    else:
        await phone.locator(f"#options button[data-index='{options[0]}']").click()
    await expect(phone.locator("#vote-note")).to_contain_text("Your answer is locked in")
    # The first answer locks: nothing on the page can change it any more.
    if len(spec["correct"]) > 1:
        await expect(phone.locator("#send-answer")).to_be_disabled()
        await expect(phone.locator("#options input").first).to_be_disabled()
    else:
        await expect(phone.locator("#options button").first).to_be_disabled()


async def recomputed(database_url: str, poll_id: str) -> list[dict[str, Any]]:
    """The leaderboard recomputed from the stored rows: t = cast_at - opened_at (docs/quiz.md)."""
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        questions = await conn.fetch(
            "SELECT qid, position, spec, epoch, opened_at FROM questions WHERE poll_id = $1"
            " ORDER BY opened_at, position",
            UUID(poll_id),
        )
        votes = await conn.fetch(
            "SELECT qid, participant_id, answer, epoch, cast_at FROM votes WHERE poll_id = $1",
            UUID(poll_id),
        )
        people = await conn.fetch(
            "SELECT participant_id, nickname FROM participants WHERE poll_id = $1", UUID(poll_id)
        )
    finally:
        await conn.close()
    specs: list[QuizQuestion] = []
    for q in questions:
        spec = parse_question(json.loads(q["spec"]))
        assert isinstance(spec, QuizQuestion)
        specs.append(spec)
    answers: dict[tuple[int, UUID], QuizResponse] = {}
    for v in votes:
        q = next(q for q in questions if q["qid"] == v["qid"])
        if v["epoch"] == q["epoch"]:
            stored = ANSWER_ADAPTER.validate_python(json.loads(v["answer"]))
            assert isinstance(stored, QuizAnswer)
            answers[(v["qid"], v["participant_id"])] = QuizResponse(
                stored, v["cast_at"] - q["opened_at"]
            )
    standings = []
    for person in people:
        pid = person["participant_id"]
        card = score_quiz(specs, [answers.get((q["qid"], pid)) for q in questions])
        standings.append(Standing(pid, card.score, card.correct_time, person["nickname"]))
    return [
        {"rank": r.rank, "nickname": r.standing.nickname, "score": r.standing.score}
        for r in rank_standings(standings)
    ]


async def test_three_phones_play_a_quiz_to_the_podium(
    stack: Stack, browser: Browser, browser_resources: Resources, tmp_path: Path
) -> None:
    api_url, gateway_url = stack["poll_api"].url, stack["ws_gateway"].url
    # The host writes the quiz in the console: options, the correct ones ticked, points.
    host = await new_page(browser, PROJECTOR)
    room = await create_run(host.page, api_url, QUIZ, title=TITLE)
    console = host.page
    token = await host_token(console, room)
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        resp = await http.get(
            f"/api/polls/{room}/questions", headers={"Authorization": f"Bearer {token}"}
        )
        poll = await http.get(f"/api/polls/{room}")
    assert resp.status_code == 200, resp.text
    specs = [q["spec"] for q in resp.json()["questions"]]
    assert specs == [{"points": 1000, **spec} for spec in QUIZ], specs
    poll_id = poll.json()["id"]
    await expect(console.locator("#quiz-board")).to_be_visible()
    await expect(console.locator("#quiz-board-caption")).to_have_text(
        "No quiz question is scored yet."
    )
    async with console.expect_popup() as popup_info:
        await console.get_by_role("link", name="Open the presenter view").click()
    presenter = watch(await popup_info.value, host.context)
    screen = presenter.page
    await screen.set_viewport_size(PROJECTOR)

    people: dict[str, Watched] = {}
    for nickname in ["Ann", "Bo", "Cy"]:
        person = await new_page(browser)
        if nickname == "Bo":
            await person.context.add_init_script(KEEP_SOCKETS)
        await join(person.page, f"{gateway_url}/join/{room}", nickname)
        people[nickname] = person
    phones = {name: p.page for name, p in people.items()}
    await expect(console.locator("#participants")).to_have_text("3")

    for index, spec in enumerate(QUIZ):
        if index > 0:
            await console.get_by_role("button", name="Show the next one").click()
        await expect(console.locator("#poll-question")).to_have_text(spec["prompt"])
        await console.get_by_role("button", name="Open voting").click()
        for phone in phones.values():
            await expect_question(phone, spec["prompt"], OPEN)
        # Open: the presenter projects no counts (they would give the answer away).
        await expect(screen.locator("#present-hidden")).to_have_text(
            "The answers appear when the question closes."
        )
        await expect(screen.locator("#bars")).to_be_hidden()
        for name, chosen in ANSWERS[index].items():
            if chosen is not None:
                await answer(phones[name], spec, chosen)
        if index == 0:
            # A second answer sent anyway is refused: the page says so clearly.
            bo = phones["Bo"]
            await bo.evaluate(
                "() => window.__sockets.at(-1).send(JSON.stringify("
                "{type: 'vote', question: 0, option: 1, client_vote_id: 'second-try'}))"
            )
            await expect(bo.locator("#vote-alert")).to_contain_text("Your first answer is locked")
            await expect(bo.locator("#my-answer")).to_have_text("Your answer: Nice")
        await console.get_by_role("button", name="Close voting").click()
        labels = [spec["options"][i] for i in spec["correct"]]
        correct_text = (
            "Correct answer: " if len(labels) == 1 else "Correct answers: "
        ) + ", ".join(labels)
        counts = [0] * len(spec["options"])
        for chosen in ANSWERS[index].values():
            for i in chosen or []:
                counts[i] += 1

        # Each phone: its own verdict, points and standing; the correct options are marked.
        for name, phone in phones.items():
            await expect_question(phone, spec["prompt"], CLOSED)
            chosen = ANSWERS[index][name]
            verdict = (
                "No answer"
                if chosen is None
                else "Correct!"
                if sorted(chosen) == spec["correct"]
                else "Wrong answer"
            )
            await expect(phone.locator("#quiz-verdict")).to_have_text(verdict)
            await expect(phone.locator("#quiz-standing")).to_have_text(_STANDING)
            if verdict == "Correct!":
                await expect(phone.locator("#quiz-points")).to_have_text(_POINTS)
            else:
                await expect(phone.locator("#quiz-points")).to_have_text("No points")
            await expect(phone.locator("#bars li.correct")).to_have_count(len(spec["correct"]))
        if index == 0:
            await expect(
                phones["Bo"].locator("#options button[data-index='1'] .option-mark")
            ).to_have_text("Correct answer")
            await expect(
                phones["Bo"].locator("#options button[data-index='2'] .option-mark")
            ).to_have_text("Your answer")
        if index == 1:
            await expect(phones["Ann"].locator("#quiz-points")).to_contain_text(
                "+100 streak bonus (2 in a row)"
            )
            await screenshot(phones["Ann"], "participant-quiz-result.png")

        # The projector: the correct answer with the counts, then the leaderboard.
        await expect(screen.locator("#present-correct")).to_have_text(correct_text)
        await expect(console.locator("#poll-correct")).to_have_text(correct_text)
        await expect_counts(console, counts)
        await expect(console.locator("#bars li.correct .bar-mark")).to_have_count(len(labels))
        if index < len(QUIZ) - 1:
            await expect(screen.locator("#present-board")).to_be_visible()
            await expect(screen.locator("#present-caption")).to_have_text(
                f"After question {index + 1} · 3 participants ranked"
            )
            await expect(screen.locator("#present-leaders li")).to_have_count(3)
        if index == 1:
            await screenshot(screen, "presenter-quiz-leaderboard.png")
        await expect(console.locator("#quiz-board-caption")).to_have_text(
            f"After question {index + 1} · 3 participants ranked"
        )
        await expect(console.locator("#quiz-board-rows tr")).to_have_count(3)

    # After the last quiz question: the podium, first to third.
    await expect(screen.locator("#present-podium")).to_be_visible()
    await expect(screen.locator("#present-places .step-name")).to_have_text(["Ann", "Bo", "Cy"])
    await screenshot(screen, "presenter-quiz-podium.png")

    # Every screen's figures are the server's, and the server's are the stored answers'.
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        board = (await http.get(f"/api/polls/{room}/leaderboard?top=1000")).json()
    assert (board["question"], board["participants"]) == (2, 3)
    assert [row["nickname"] for row in board["top"]] == ["Ann", "Bo", "Cy"]
    assert board["top"] == await recomputed(browser_resources.database_url, poll_id)
    for row in board["top"]:
        await expect(phones[row["nickname"]].locator("#quiz-standing")).to_have_text(
            f"Your score: {row['score']} · rank {row['rank']} of 3"
        )
    cells = console.locator("#quiz-board-rows tr td")
    await expect(cells).to_have_text(
        [str(v) for row in board["top"] for v in (row["rank"], row["nickname"], row["score"])]
    )
    await expect(screen.locator("#present-places .step-score")).to_have_text(
        [f"{row['score']} points" for row in board["top"]]
    )

    # The host's export: one row per participant, best first.
    async with console.expect_download() as download_info:
        await console.get_by_role("button", name="Download the leaderboard (CSV)").click()
    download = await download_info.value
    assert download.suggested_filename == f"poll-{room}-leaderboard.csv"
    saved = tmp_path / "leaderboard.csv"
    await download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0][0] == "nickname" and rows[0][-2:] == ["total", "rank"]
    assert [(r[0], r[-2], r[-1]) for r in rows[1:]] == [
        (row["nickname"], str(row["score"]), str(row["rank"])) for row in board["top"]
    ]
    assert (rows[1][1], rows[2][1]) == ("Paris", "Nice")  # Ann's and Bo's first answers

    # A reload resumes: the phone shows its last result and standing again (joined.quiz_result).
    cy = phones["Cy"]
    await cy.reload()
    await expect_question(cy, QUIZ[2]["prompt"], CLOSED)
    await expect(cy.locator("#quiz-verdict")).to_have_text("Wrong answer")
    cy_row = board["top"][2]
    await expect(cy.locator("#quiz-standing")).to_have_text(
        f"Your score: {cy_row['score']} · rank 3 of 3"
    )

    for watched in (host, presenter, *people.values()):
        watched.assert_clean()
    for watched in (host, *people.values()):
        await watched.context.close()

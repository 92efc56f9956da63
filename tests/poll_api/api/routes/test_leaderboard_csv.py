"""`GET /api/polls/{room}/leaderboard.csv`: for the host only, one spreadsheet-safe row per
ranked participant with each closed quiz question's answer, time, points and bonus, streamed
page by page in rank order."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from poll_api import leaderboard_csv
from tests.poll_api.quiz_rows import (
    Player,
    store_answer,
    store_points,
    store_scores,
)
from tests.poll_api.utils import (
    CLIENT_IP,
    app_settings,
    audit_kinds,
    bearer,
    create_run,
    outbox_rows,
    running_app,
)

RUN: list[dict[str, Any]] = [
    {
        "kind": "quiz",
        "prompt": "Capital?",
        "options": ["Lyon", "=Paris", "Nice"],
        "correct": [1],
        "time_limit_s": 20,
    },
    {"kind": "single", "prompt": "Fun?", "options": ["Yes", "No"]},
    {
        "kind": "quiz",
        "prompt": "Primes?",
        "options": ["2", "4", "5"],
        "correct": [0, 2],
        "time_limit_s": 30,
    },
    {"kind": "quiz", "prompt": "Open", "options": ["a", "b"], "correct": [0], "time_limit_s": 60},
]
HEADER = [
    "nickname",
    *("q1_answer", "q1_time_s", "q1_points", "q1_bonus"),
    *("q3_answer", "q3_time_s", "q3_points", "q3_bonus"),
    "total",
    "rank",
]


@pytest.fixture
async def quiz(client: httpx.AsyncClient) -> dict[str, Any]:
    """Questions 1 and 3 (index 0 and 2) closed, question 4 still open."""
    created = await create_run(client, RUN)
    for index, actions in ((0, ["open", "close"]), (2, ["open", "close"]), (3, ["open"])):
        for action in actions:
            resp = await client.post(
                f"/api/polls/{created['room_code']}/questions/{index}/{action}",
                headers=bearer(created["host_token"]),
            )
            assert resp.status_code == 200, resp.text
    return created


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def _csv(client: httpx.AsyncClient, created: dict[str, Any]) -> httpx.Response:
    return await client.get(
        f"/api/polls/{created['room_code']}/leaderboard.csv",
        headers=bearer(created["host_token"]),
    )


async def test_one_row_per_participant_with_every_closed_quiz_question(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    poll = quiz["id"]
    players = [Player("Ann", 1900, 4_321_500), Player("@Bo", 1000, 0), Player("Cy", 0, 0)]
    ids = await store_scores(db, poll, players, qid=2, version=2)
    ann, bo, cy = ids["Ann"], ids["@Bo"], ids["Cy"]
    # Ann: right on both (a streak bonus on the second); Bo: wrong, then right; Cy: silent.
    await store_answer(db, poll, 0, ann, {"kind": "quiz", "options": [1]})
    await store_points(db, poll, 0, ann, points=900, elapsed_us=4_000_000, streak=1)
    await store_answer(db, poll, 2, ann, {"kind": "quiz", "options": [0, 2]})
    await store_points(db, poll, 2, ann, points=900, bonus=100, elapsed_us=321_500, streak=2)
    await store_answer(db, poll, 0, bo, {"kind": "quiz", "options": [2]})
    await store_points(db, poll, 0, bo, points=0, elapsed_us=19_999_999, correct=False)
    await store_answer(db, poll, 2, bo, {"kind": "quiz", "options": [0, 2]})
    await store_points(db, poll, 2, bo, points=1000, elapsed_us=0, streak=1)
    await store_points(db, poll, 0, cy, points=0, elapsed_us=None, correct=False)
    await store_answer(db, poll, 3, cy, {"kind": "quiz", "options": [0]})  # still open: no column
    await store_answer(db, poll, 2, cy, {"kind": "quiz", "options": [1]}, epoch=7)  # stale epoch

    resp = await _csv(client, quiz)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert (
        resp.headers["content-disposition"]
        == f'attachment; filename="poll-{quiz["room_code"]}-leaderboard.csv"'
    )
    assert resp.text.endswith("\r\n")
    assert _rows(resp.text) == [
        HEADER,
        ["Ann", "'=Paris", "4.000", "900", "0", "2;5", "0.322", "900", "100", "1900", "1"],
        ["'@Bo", "Nice", "20.000", "0", "0", "2;5", "0.000", "1000", "0", "1000", "2"],
        ["Cy", "", "", "0", "0", "", "", "0", "0", "0", "3"],
    ]


async def test_streamed_page_by_page_in_rank_order(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    quiz: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seven rows in pages of two, with equal rows across a page's edge: each row once, in
    order, each page its own piece of the answer body."""
    monkeypatch.setattr(leaderboard_csv, "PAGE_SIZE", 2)
    same = sorted(uuid.uuid4() for _ in range(3))
    players = [
        Player("p1", 3000, 1),
        Player("tie-a", 2000, 5, participant_id=same[0]),
        Player("tie-b", 2000, 5, participant_id=same[1]),
        Player("tie-c", 2000, 5, participant_id=same[2]),
        Player("p5", 2000, 6),
        Player("p6", 10, 0),
        Player("p7", 0, 0),
    ]
    await store_scores(db, quiz["id"], list(reversed(players)), qid=2, version=1)

    pieces: list[bytes] = []
    async with running_app(app_settings()) as (app, _):

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            async def keep(message: Message) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    pieces.append(message["body"])
                await send(message)

            await app(scope, receive, keep)

        transport = httpx.ASGITransport(app=recording, client=(CLIENT_IP, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://poll-api.test") as http:
            resp = await _csv(http, quiz)
    assert resp.status_code == 200, resp.text
    assert "content-length" not in resp.headers
    rows = _rows(resp.text)
    assert [row[0] for row in rows[1:]] == [p.nickname for p in players]
    assert [row[-1] for row in rows[1:]] == ["1", "2", "2", "2", "5", "6", "7"]
    # The header, then pages of 2, 2, 2 and 1 rows.
    assert len(pieces) == 5, pieces
    assert [len(_rows(p.decode())) for p in pieces] == [1, 2, 2, 2, 1]


async def test_without_scores_only_the_header(
    client: httpx.AsyncClient, quiz: dict[str, Any]
) -> None:
    resp = await _csv(client, quiz)
    assert resp.status_code == 200, resp.text
    assert _rows(resp.text) == [HEADER]


async def test_only_the_host_gets_the_export(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    await store_scores(db, quiz["id"], [Player("Ann", 10, 1)], qid=0, version=1)
    path = f"/api/polls/{quiz['room_code']}/leaderboard.csv"
    missing = await client.get(path)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await client.get(path, headers=bearer("not-the-token"))
    assert wrong.status_code == 403, wrong.text
    assert "Ann" not in missing.text + wrong.text
    kinds = audit_kinds(await outbox_rows(db, quiz["id"]))
    assert kinds.count("security.auth_failed") == 2
    unknown = await client.get("/api/polls/ZZZZZZ/leaderboard.csv", headers=bearer("x"))
    assert unknown.status_code == 404, unknown.text

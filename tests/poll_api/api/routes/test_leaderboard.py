"""`GET /api/polls/{room}/leaderboard`: the quiz's ranked table from the worker's rows, in
rank order with competition ranks, bounded by `top`, public, and empty before any close."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.poll_api.quiz_rows import Player, store_scores
from tests.poll_api.utils import bearer, create_run

QUIZ: list[dict[str, Any]] = [
    {
        "kind": "quiz",
        "prompt": "Capital of France?",
        "options": ["Lyon", "Paris", "Nice"],
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
        "points": 2000,
    },
]
# Ann and Bo tie on score and time (rank 2 twice, then 4); Cy has Bo's score but more time.
PLAYERS = [
    Player("Dee", 900, 4_000_000),
    Player("Ann", 1500, 2_500_000),
    Player("Cy", 1500, 3_000_000),
    Player("Eve", 0, 0),
    Player("Bo", 1500, 2_500_000),
    Player("Max", 2600, 1_000_000),
]


@pytest.fixture
async def quiz(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_run(client, QUIZ)


async def _act(client: httpx.AsyncClient, created: dict[str, Any], index: int, action: str) -> None:
    resp = await client.post(
        f"/api/polls/{created['room_code']}/questions/{index}/{action}",
        headers=bearer(created["host_token"]),
    )
    assert resp.status_code == 200, resp.text


async def _board(client: httpx.AsyncClient, room: str, query: str = "") -> httpx.Response:
    return await client.get(f"/api/polls/{room}/leaderboard{query}")


async def test_ranks_by_score_then_time_with_shared_ranks(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    await _act(client, quiz, 0, "open")
    await _act(client, quiz, 0, "close")
    shuffled = PLAYERS[:]
    random.Random(7).shuffle(shuffled)
    ids = await store_scores(db, quiz["id"], shuffled, qid=0, version=3)
    resp = await _board(client, quiz["room_code"])  # anyone: no token
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["question"], body["qid"], body["version"], body["participants"]) == (0, 0, 3, 6)
    assert body["correct_options"] == [1]  # closed: its answer is public now
    ann_bo = sorted(["Ann", "Bo"], key=lambda n: ids[n])  # equal rows: by participant id
    assert body["top"] == [
        {"rank": 1, "nickname": "Max", "score": 2600},
        {"rank": 2, "nickname": ann_bo[0], "score": 1500},
        {"rank": 2, "nickname": ann_bo[1], "score": 1500},
        {"rank": 4, "nickname": "Cy", "score": 1500},
        {"rank": 5, "nickname": "Dee", "score": 900},
        {"rank": 6, "nickname": "Eve", "score": 0},
    ]
    # The same rows, recomputed in SQL from the stored standings.
    expected = await db.fetch(
        """
        SELECT nickname, RANK() OVER (ORDER BY score DESC, correct_time_us) AS rank
        FROM quiz_scores WHERE poll_id = $1
        ORDER BY score DESC, correct_time_us, participant_id
        """,
        uuid.UUID(quiz["id"]),
    )
    assert [(r["nickname"], r["rank"]) for r in expected] == [
        (row["nickname"], row["rank"]) for row in body["top"]
    ]


async def test_top_bounds_the_rows_and_is_checked(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    await _act(client, quiz, 0, "open")
    await _act(client, quiz, 0, "close")
    await store_scores(db, quiz["id"], PLAYERS, qid=0, version=1)
    room = quiz["room_code"]
    default = (await _board(client, room)).json()
    assert len(default["top"]) == 6  # default 10: every one of the six
    one = (await _board(client, room, "?top=1")).json()
    assert one["top"] == [{"rank": 1, "nickname": "Max", "score": 2600}]
    assert one["participants"] == 6
    three = (await _board(client, room, "?top=3")).json()
    assert [r["rank"] for r in three["top"]] == [1, 2, 2]
    assert len((await _board(client, room, "?top=1000")).json()["top"]) == 6
    for bad in ("0", "1001", "-1", "ten", "2.5"):
        refused = await _board(client, room, f"?top={bad}")
        assert refused.status_code == 422, (bad, refused.text)
        problem = refused.json()["detail"][0]
        assert problem["loc"] == ["query", "top"], problem
        assert problem["msg"], problem


async def test_before_any_scored_question_the_board_is_empty(
    client: httpx.AsyncClient, quiz: dict[str, Any]
) -> None:
    await _act(client, quiz, 0, "open")  # open, not closed: nothing scored, nothing told
    resp = await _board(client, quiz["room_code"])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "poll_id": quiz["id"],
        "room_code": quiz["room_code"],
        "question": None,
        "qid": None,
        "correct_options": [],
        "version": 0,
        "participants": 0,
        "top": [],
    }


async def test_the_correct_options_only_while_the_scored_question_is_closed(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    for action in ("show", "open", "close"):
        await _act(client, quiz, 2, action)
    await store_scores(db, quiz["id"], PLAYERS[:2], qid=2, version=5)
    body = (await _board(client, quiz["room_code"])).json()
    assert (body["question"], body["qid"], body["correct_options"]) == (2, 2, [0, 2])
    await _act(client, quiz, 2, "open")  # open again: its answer is not told while open
    body = (await _board(client, quiz["room_code"])).json()
    assert (body["question"], body["correct_options"], body["version"]) == (2, [], 5)


async def test_a_board_after_every_quiz_question_was_reset_names_none(
    client: httpx.AsyncClient, db: asyncpg.Connection, quiz: dict[str, Any]
) -> None:
    """The worker keeps the board (its version goes on) with no question scored."""
    await store_scores(db, quiz["id"], PLAYERS[:2], qid=None, version=4)
    body = (await _board(client, quiz["room_code"])).json()
    assert (body["question"], body["qid"], body["correct_options"]) == (None, None, [])
    assert (body["version"], body["participants"], len(body["top"])) == (4, 2, 2)


async def test_an_unknown_room_is_404(client: httpx.AsyncClient, quiz: dict[str, Any]) -> None:
    for room in ("ZZZZZZ", "nope"):
        resp = await _board(client, room)
        assert resp.status_code == 404, resp.text
        assert resp.json()["detail"] == "no poll with this room code"

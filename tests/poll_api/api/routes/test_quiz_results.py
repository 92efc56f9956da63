"""A quiz question's results carry its correct options for the host once it is closed, and
never before the close, nor for anyone else (invariant 6)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.poll_api.utils import bearer, create_run, set_tally

QUIZ: dict[str, Any] = {
    "kind": "quiz",
    "prompt": "Primes?",
    "options": ["2", "4", "5"],
    "correct": [2, 0],
    "time_limit_s": 30,
}
RUN = [QUIZ, {"kind": "single", "prompt": "Fun?", "options": ["Yes", "No"]}]


async def _act(client: httpx.AsyncClient, created: dict[str, Any], action: str) -> None:
    resp = await client.post(
        f"/api/polls/{created['room_code']}/questions/0/{action}",
        headers=bearer(created["host_token"]),
    )
    assert resp.status_code == 200, resp.text


async def _seen(
    client: httpx.AsyncClient, created: dict[str, Any], headers: dict[str, str]
) -> list[dict[str, Any]]:
    """Question 0 as /results and /questions/0/results show it to these headers."""
    room = created["room_code"]
    every = await client.get(f"/api/polls/{room}/results", headers=headers)
    one = await client.get(f"/api/polls/{room}/questions/0/results", headers=headers)
    assert every.status_code == 200 and one.status_code == 200, every.text + one.text
    return [every.json()["questions"][0], one.json()]


async def test_correct_for_the_host_only_after_the_close(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await create_run(client, RUN)
    answers = [{"kind": "quiz", "options": [0, 2]}, {"kind": "quiz", "options": [1]}]
    await set_tally(db, created["id"], QUIZ, answers, version=2)
    host = bearer(created["host_token"])

    for status in ("draft", "open"):
        if status == "open":
            await _act(client, created, "open")
        for seen in await _seen(client, created, host):
            assert seen["status"] == status
            assert "correct" not in seen, seen
    await _act(client, created, "reveal")  # revealed while open: public, still no answer
    for seen in await _seen(client, created, {}):
        assert seen["counts"] == [1, 1, 1] and "correct" not in seen, seen

    await _act(client, created, "close")
    for seen in await _seen(client, created, host):
        assert (seen["status"], seen["correct"], seen["counts"]) == ("closed", [0, 2], [1, 1, 1])
    for headers in ({}, bearer("not-the-token")):
        for seen in await _seen(client, created, headers):
            assert seen["status"] == "closed" and "correct" not in seen, seen

    # A single-choice question has no such field, for the host either.
    room = created["room_code"]
    other = await client.get(f"/api/polls/{room}/questions/1/results", headers=host)
    assert "correct" not in other.json()

    await _act(client, created, "open")  # open again: not told while it is open
    for seen in await _seen(client, created, host):
        assert "correct" not in seen, seen

"""Migrations poll-api 0002 and vote-worker 0003 turn first-version data into a run of one
question (qid 0) with the same counts, and their downgrades give the first version back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from contracts.aggregates import decode_counters
from contracts.questions import parse_question
from tests.support import isolation
from zephyr_runtime.migrations import Migrations

POLL = uuid.UUID("00000000-0000-4000-8000-000000000001")
PEOPLE = [uuid.UUID(int=i + 10) for i in range(3)]


@pytest.fixture
async def resources() -> AsyncIterator[isolation.Resources]:
    res = await isolation.create("qmigr")
    yield res
    await isolation.destroy(res)


async def _first_version_data(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """INSERT INTO polls (id, room_code, question, options, status, epoch,
                   host_token_hash, opened_at, closed_at, expires_at)
               VALUES ($1, 'ABCDEF', 'Lunch?', '["Pizza", "Soup"]', 'closed', 2, 'x',
                   now(), now(), now() + interval '1 day')""",
            POLL,
        )
        for n, person in enumerate(PEOPLE):
            option = 1 if n else 0
            await conn.execute(
                """INSERT INTO ballots (vote_id, poll_id, participant_id, option, seq, epoch,
                       cast_at) VALUES ($1, $2, $3, $4, 1, 2, now())""",
                uuid.uuid4(),
                POLL,
                person,
                option,
            )
            await conn.execute(
                """INSERT INTO votes (poll_id, participant_id, option, seq, vote_id, epoch,
                       cast_at) VALUES ($1, $2, $3, 1, $4, 2, now())""",
                POLL,
                person,
                option,
                uuid.uuid4(),
            )
        await conn.execute(
            "INSERT INTO tallies (poll_id, epoch, counts, total, version)"
            " VALUES ($1, 2, '{1,2}', 3, 7)",
            POLL,
        )
    finally:
        await conn.close()


async def test_first_version_polls_become_one_question_and_come_back(
    resources: isolation.Resources,
) -> None:
    url = resources.database_url
    api, worker = Migrations("poll_api"), Migrations("vote_worker")
    await asyncio.to_thread(api.upgrade, url)
    await asyncio.to_thread(api.downgrade, url, "0001")
    await asyncio.to_thread(worker.upgrade, url)
    await asyncio.to_thread(worker.downgrade, url, "0002")
    await _first_version_data(url)

    await asyncio.to_thread(api.upgrade, url)
    await asyncio.to_thread(worker.upgrade, url)
    conn = await asyncpg.connect(url)
    try:
        question = await conn.fetchrow("SELECT * FROM questions WHERE poll_id = $1", POLL)
        assert (question["qid"], question["position"], question["kind"]) == (0, 0, "single")
        assert (question["status"], question["epoch"], question["ever_opened"]) == (
            "closed",
            2,
            True,
        )
        spec = parse_question(json.loads(question["spec"]))
        assert spec.model_dump() == {
            "kind": "single",
            "prompt": "Lunch?",
            "options": ["Pizza", "Soup"],
            "time_limit_s": None,
        }
        answers = await conn.fetch("SELECT qid, answer FROM votes ORDER BY participant_id")
        assert [(r["qid"], json.loads(r["answer"])) for r in answers] == [
            (0, {"kind": "single", "option": 0}),
            (0, {"kind": "single", "option": 1}),
            (0, {"kind": "single", "option": 1}),
        ]
        tally = await conn.fetchrow("SELECT * FROM tallies WHERE poll_id = $1", POLL)
        assert decode_counters(json.loads(tally["counters"])) == {
            ("counts", 0): 1,
            ("counts", 1): 2,
            ("total",): 3,
        }
        assert json.loads(tally["aggregate"]) == {"kind": "single", "counts": [1, 2], "total": 3}
    finally:
        await conn.close()

    await asyncio.to_thread(worker.downgrade, url, "0002")
    await asyncio.to_thread(api.downgrade, url, "0001")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM votes") == 3
        assert await conn.fetchval("SELECT counts FROM tallies") == [1, 2]
        assert await conn.fetchval("SELECT to_regclass('questions')") is None
    finally:
        await conn.close()

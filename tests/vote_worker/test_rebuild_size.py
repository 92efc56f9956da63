"""A rebuild of one poll of 10,000 participants, each with three stored answers: everything
comes back, and the time it took is printed (`pytest -s`; docs/reliability.md records it).
A measurement, not a timed assertion."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from tests.support.isolation import Resources
from tests.vote_worker.factories import answer, create_run, single
from tests.vote_worker.test_rebuild import QUIZ, lose
from vote_worker.rebuild import RedisRebuild
from vote_worker.record import record_votes
from zephyr_runtime.keys import RedisKeys

PARTICIPANTS = 10_000
MULTIPLE = {"kind": "multiple", "prompt": "Which?", "options": ["a", "b", "c", "d"]}


async def test_ten_thousand_participants_come_back(
    db: asyncpg.Connection, redis_client: aioredis.Redis, resources: Resources
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    poll = await create_run(db, [single(4), MULTIPLE, QUIZ])
    people = [uuid.uuid4() for _ in range(PARTICIPANTS)]
    now = datetime.now(UTC)
    await db.execute(
        """
        INSERT INTO participants (poll_id, participant_id, nickname, joined_at, last_seen_at)
        SELECT $1, p, 'Player ' || n, $3, $3 FROM unnest($2::uuid[]) WITH ORDINALITY AS t(p, n)
        """,
        poll,
        people,
        now,
    )
    for start in range(0, PARTICIPANTS, 1000):
        votes = []
        for n, who in enumerate(people[start : start + 1000], start=start):
            votes += [
                answer(poll, who, 0, {"kind": "single", "option": n % 4}, seq=3 * n + 1),
                answer(poll, who, 1, {"kind": "multiple", "options": [n % 4]}, seq=3 * n + 2),
                answer(poll, who, 2, {"kind": "quiz", "options": [n % 2]}, seq=3 * n + 3),
            ]
        await record_votes(db, votes)
    await lose(redis_client, keys, poll)

    pool = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=2)
    client = aioredis.from_url(resources.redis_url)
    rebuild = RedisRebuild(pool, client, keys, window_s=3600)
    try:
        started = time.perf_counter()
        assert await rebuild.ensure() is True
        took = time.perf_counter() - started
    finally:
        await client.aclose()
        await pool.close()
    assert rebuild.last is not None
    print(
        f"\nrebuild of {PARTICIPANTS} participants ({rebuild.last.answers} answers, "
        f"{rebuild.last.polls} polls in the test database): {took:.2f} s "
        f"(the worker's own count: {rebuild.last.seconds:.2f} s)"
    )
    assert await redis_client.hlen(keys.nicknames(poll)) == PARTICIPANTS
    assert await redis_client.hlen(keys.my_votes(poll)) == 3 * PARTICIPANTS
    # A sequence and a quiz lock per participant.
    assert await redis_client.hlen(keys.vote_seq(poll)) == 2 * PARTICIPANTS
    last = people[-1]
    assert await redis_client.hget(keys.vote_seq(poll), str(last)) == str(3 * PARTICIPANTS)

"""How long one quiz recomputation takes: 10,000 participants x 5 closed quiz questions.

    uv run --no-sync python -m tests.vote_worker.bench_quiz [participants] [runs]

Not a test (no timed assertion anywhere): it prints the time of `recompute_quiz` (one
transaction: read, score, replace 50,000 + 10,000 rows) and of the Redis write that follows, on
a private database and Redis prefix, destroyed afterwards. Answers: 80 % answered, 70 % of those
correct, times spread over each question's limit.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import redis.asyncio as aioredis

from tests.support import isolation
from tests.vote_worker.factories import create_run
from vote_worker.quiz import recompute_quiz
from vote_worker.quiz_cache import QuizCache
from zephyr_runtime.keys import RedisKeys

QUESTIONS = 5
SPEC = {
    "kind": "quiz",
    "prompt": "Which?",
    "options": ["a", "b", "c", "d"],
    "correct": [2],
    "time_limit_s": 20,
    "points": 1000,
}


async def _fill(db: asyncpg.Connection, people: int) -> uuid.UUID:
    poll = await create_run(db, [SPEC] * QUESTIONS, status="closed")
    start = datetime.now(UTC) - timedelta(hours=1)
    for qid in range(QUESTIONS):
        await db.execute(
            "UPDATE questions SET opened_at = $3 WHERE poll_id = $1 AND qid = $2",
            poll,
            qid,
            start + timedelta(minutes=qid),
        )
    rng = random.Random(1)
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(people)]
    await db.copy_records_to_table(
        "participants",
        records=[(poll, pid, f"p{i}", now, now) for i, pid in enumerate(ids)],
        columns=["poll_id", "participant_id", "nickname", "joined_at", "last_seen_at"],
    )
    votes = []
    for pid in ids:
        for qid in range(QUESTIONS):
            if rng.random() < 0.2:
                continue
            option = 2 if rng.random() < 0.7 else rng.choice([0, 1, 3])
            at = start + timedelta(minutes=qid, microseconds=rng.randrange(20_000_000))
            body = json.dumps({"kind": "quiz", "options": [option]})
            votes.append((poll, qid, pid, body, 1, uuid.uuid4(), 0, at))
    await db.copy_records_to_table(
        "votes",
        records=votes,
        columns=[
            "poll_id",
            "qid",
            "participant_id",
            "answer",
            "seq",
            "vote_id",
            "epoch",
            "cast_at",
        ],
    )
    return poll


async def main(people: int, runs: int) -> None:
    res = await isolation.create("bench")
    try:
        await asyncio.to_thread(isolation.migrate, res)
        db = await asyncpg.connect(res.database_url)
        client = aioredis.from_url(res.redis_url)
        cache = QuizCache(client, RedisKeys(res.redis_prefix), 3600)
        try:
            poll = await _fill(db, people)
            recompute, write = [], []
            for _ in range(runs):
                began = time.perf_counter()
                outcome = await recompute_quiz(db, poll)
                recompute.append(time.perf_counter() - began)
                assert outcome is not None
                began = time.perf_counter()
                await cache.write(outcome)
                write.append(time.perf_counter() - began)
            print(
                f"{people} participants x {QUESTIONS} questions, {runs} runs:"
                f" recompute_quiz median {statistics.median(recompute) * 1000:.0f} ms"
                f" (min {min(recompute) * 1000:.0f}, max {max(recompute) * 1000:.0f});"
                f" Redis write median {statistics.median(write) * 1000:.0f} ms"
            )
        finally:
            await client.aclose()
            await db.close()
    finally:
        await isolation.destroy(res)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [10_000, 5][len(args) :])))

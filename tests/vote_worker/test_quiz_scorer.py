"""QuizScorer and the quiz's Redis copy on the real Postgres and Redis, with a recording stand-in
for RabbitMQ: a publish that fails is retried without committing again, requests of one poll
are coalesced, a reset of every closed quiz question clears the scores, an older recomputation
never overwrites a newer one in Redis, and someone who answered without a participants row is
still ranked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest
import redis.asyncio as aioredis

from contracts import AuditEvent, QuizScored
from tests.support.isolation import Resources
from tests.vote_worker.factories import answer, create_run, set_question
from vote_worker.publish import Outbound
from vote_worker.quiz import recompute_quiz
from vote_worker.quiz_cache import QuizCache
from vote_worker.quiz_scorer import QuizScorer
from vote_worker.record import record_votes
from zephyr_runtime.keys import RedisKeys

QUIZ = {
    "kind": "quiz",
    "prompt": "Which?",
    "options": ["a", "b", "c"],
    "correct": [2],
    "time_limit_s": 10,
    "points": 1000,
}


class Recorder:
    """Outbound's quiz and audit publishing, recorded; the first `failures` quiz publishes fail."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts = 0
        self.published: list[QuizScored] = []
        self.events: list[AuditEvent] = []

    async def quiz(self, scored: QuizScored, correlation_id: str) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("broker unavailable")
        self.published.append(scored)

    async def audit(self, events: list[AuditEvent], correlation_id: str) -> None:
        self.events.extend(events)


@pytest.fixture
async def pool(resources: Resources) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=3)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def redis_bytes(resources: Resources) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(resources.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def scorer_for(
    pool: asyncpg.Pool, client: aioredis.Redis, resources: Resources, outbound: Recorder
) -> QuizScorer:
    cache = QuizCache(client, RedisKeys(resources.redis_prefix), 3600)
    return QuizScorer(pool, cache, cast(Outbound, outbound), min_interval_s=0.01)


async def closed_quiz(db: asyncpg.Connection, *answers: tuple[uuid.UUID, list[int]]) -> uuid.UUID:
    """A poll of two quiz questions, question 0 answered 2 s after it opened, then closed."""
    poll = await create_run(db, [QUIZ, QUIZ])
    opened = datetime.now(UTC) - timedelta(minutes=5)
    await set_question(db, poll, 0, opened_at=opened)
    votes = [
        answer(poll, who, 0, {"kind": "quiz", "options": options}, seq=1).model_copy(
            update={"cast_at": opened + timedelta(seconds=2)}
        )
        for who, options in answers
    ]
    await record_votes(db, votes)
    await set_question(db, poll, 0, status="closed")
    return poll


async def join(db: asyncpg.Connection, poll: uuid.UUID, who: uuid.UUID, nickname: str) -> None:
    await db.execute(
        "INSERT INTO participants VALUES ($1, $2, $3, now(), now())", poll, who, nickname
    )


async def test_a_failed_publish_is_retried_without_scoring_again(
    pool: asyncpg.Pool, redis_bytes: aioredis.Redis, db: asyncpg.Connection, resources: Resources
) -> None:
    ann = uuid.uuid4()
    poll = await closed_quiz(db, (ann, [2]))
    await join(db, poll, ann, "Ann")
    outbound = Recorder(failures=2)
    outcome = await scorer_for(pool, redis_bytes, resources, outbound).rescore(poll, "c")
    assert outcome is not None and outcome.version == 1
    # Returned only once published: committed once (version 1), published on the third try.
    assert outbound.attempts == 3 and [m.version for m in outbound.published] == [1]
    assert await db.fetchval("SELECT version FROM quiz_boards WHERE poll_id = $1", poll) == 1
    assert [(e.kind, e.data) for e in outbound.events] == [
        ("quiz.scored", {"qid": 0, "version": 1, "participants": 1})
    ]
    top = outbound.published[0].top
    assert [(e.rank, e.nickname, e.score) for e in top] == [(1, "Ann", 900)]  # 1000 x (1 - 2/10/2)


async def test_requests_of_one_poll_are_coalesced_into_one_run(
    pool: asyncpg.Pool, redis_bytes: aioredis.Redis, db: asyncpg.Connection, resources: Resources
) -> None:
    poll = await closed_quiz(db, (uuid.uuid4(), [2]))
    outbound = Recorder()
    scorer = scorer_for(pool, redis_bytes, resources, outbound)
    await asyncio.gather(*(scorer.request(poll, f"c{n}") for n in range(10)))
    assert [m.version for m in outbound.published] == [1]
    # A request after that run waits for a run of its own.
    await scorer.request(poll, "again")
    assert [m.version for m in outbound.published] == [1, 2]
    acked: list[str] = []

    async def done() -> None:
        acked.append("acked")

    async def failed(exc: BaseException) -> None:
        raise AssertionError(exc)

    scorer.after_rescore([poll], "c", done, failed)
    await scorer.drain()
    assert acked == ["acked"] and outbound.published[-1].version == 3


async def test_resetting_every_closed_quiz_question_clears_the_scores(
    pool: asyncpg.Pool, redis_bytes: aioredis.Redis, db: asyncpg.Connection, resources: Resources
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    poll = await closed_quiz(db, (uuid.uuid4(), [2]), (uuid.uuid4(), [1]))
    assert await recompute_quiz(db, await create_run(db, [QUIZ])) is None  # nothing closed
    outbound = Recorder()
    scorer = scorer_for(pool, redis_bytes, resources, outbound)
    await scorer.rescore(poll, "c")
    assert await redis_bytes.hlen(keys.quiz_results(poll)) == 2
    await set_question(db, poll, 0, status="draft", epoch=1, opened_at=None)
    outcome = await scorer.rescore(poll, "c")
    assert outcome is not None and outcome.last is None and outcome.version == 2
    count = "SELECT count(*) FROM {} WHERE poll_id = $1"
    assert [await db.fetchval(count.format(t), poll) for t in ("quiz_points", "quiz_scores")] == [
        0,
        0,
    ]
    assert not await redis_bytes.exists(keys.quiz_results(poll), keys.leaderboard(poll))
    assert len(outbound.published) == 1  # QuizScored names a scored question: none to name
    assert outbound.events[-1].data == {"qid": None, "version": 2, "participants": 0}


async def test_redis_takes_a_recomputation_only_when_newer(
    db: asyncpg.Connection, redis_bytes: aioredis.Redis, resources: Resources
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    cache = QuizCache(redis_bytes, keys, 3600)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    poll = await closed_quiz(db, (ann, [2]))
    older = await recompute_quiz(db, poll)
    await join(db, poll, bob, "Bob")
    newer = await recompute_quiz(db, poll)
    assert older is not None and newer is not None
    assert await cache.write(newer) is True
    assert await cache.write(older) is False  # finished last, changes nothing
    assert await cache.write(newer) is False  # a retry of the same version: already there
    board = QuizScored.model_validate_json(await redis_bytes.get(keys.leaderboard(poll)))
    assert (board.version, board.participants) == (2, 2)
    assert await redis_bytes.hlen(keys.quiz_results(poll)) == 2
    staged = await redis_bytes.keys(f"{keys.quiz_results(poll)}:staged:*")
    assert staged == []
    other = uuid.uuid4()
    assert await cache.missing_boards([poll, other]) == [other]


async def test_an_answer_without_a_participants_row_is_still_ranked(
    db: asyncpg.Connection,
) -> None:
    ann, ghost = uuid.uuid4(), uuid.uuid4()
    poll = await closed_quiz(db, (ann, [1]), (ghost, [2]))
    await join(db, poll, ann, "Ann")
    outcome = await recompute_quiz(db, poll)
    assert outcome is not None
    ranked: list[tuple[Any, ...]] = [(r.rank, r.nickname, r.card.score) for r in outcome.results]
    assert ranked == [(1, "", 900), (2, "Ann", 0)]

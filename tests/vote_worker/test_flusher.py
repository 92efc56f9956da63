"""The flusher under failures: retried without nacking, acked once; bad data dead-letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from contracts import Vote
from tests.support.isolation import Resources
from tests.vote_worker.factories import (
    answer,
    batch,
    create_poll,
    create_run,
    group_by,
    set_question,
    vote,
)
from vote_worker.flusher import AfterCommit, Delivery, VoteFlusher
from vote_worker.publish import Outbound
from vote_worker.quiz_cache import QuizCache
from vote_worker.quiz_scorer import QuizScorer
from vote_worker.record import RecordResult
from vote_worker.tally_cache import TallyCache
from zephyr_runtime.amqp import ConfirmedPublisher, connect, declare_topology
from zephyr_runtime.keys import RedisKeys


class RecordingMessage:
    def __init__(self) -> None:
        self.message_id = f"test-{uuid.uuid4()}"
        self.headers: dict[str, object] = {}
        self.acks = 0
        self.rejects: list[bool] = []

    async def ack(self) -> None:
        self.acks += 1

    async def reject(self, requeue: bool = False) -> None:
        self.rejects.append(requeue)


class FlakyPool:
    """Postgres is unreachable for the first `failures` acquisitions."""

    def __init__(self, pool: asyncpg.Pool, failures: int) -> None:
        self._pool = pool
        self.failures = failures

    def acquire(self):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("postgres is down")
        return self._pool.acquire()


class FlakyCache(TallyCache):
    failures = 2

    async def write(self, tallies):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("redis is down")
        return await super().write(tallies)


@dataclass
class Parts:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    outbound: Outbound
    keys: RedisKeys


@pytest.fixture
async def parts(resources: Resources) -> AsyncIterator[Parts]:
    pool = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=2)
    redis = aioredis.from_url(resources.redis_url)
    connection = await connect(resources.amqp_url, name="vote-worker flusher test")
    channel = await connection.channel()
    await declare_topology(channel)
    await channel.close()
    outbound = Outbound(ConfirmedPublisher(connection))
    try:
        yield Parts(pool, redis, outbound, RedisKeys(resources.redis_prefix))
    finally:
        await connection.close()
        await redis.aclose()
        await pool.close()


def _delivery(*votes: Vote) -> Delivery:
    return Delivery(batch(*votes), RecordingMessage(), "flusher-test")


def _retries(step: str) -> float:
    value = REGISTRY.get_sample_value("zephyr_vote_worker_flush_retries_total", {"step": step})
    return value or 0.0


async def test_failures_are_retried_and_messages_acked_once(
    parts: Parts, db: asyncpg.Connection
) -> None:
    poll = await create_poll(db)
    cache = FlakyCache(parts.redis, parts.keys, 3600)
    flaky = FlakyPool(parts.pool, failures=3)
    flusher = VoteFlusher(flaky, cache, parts.outbound)  # type: ignore[arg-type]
    deliveries = [_delivery(vote(poll, uuid.uuid4(), i, seq=1)) for i in range(3)]
    record_retries, cache_retries = _retries("record"), _retries("cache")

    await flusher.flush(deliveries)

    assert await group_by(db, poll, 3) == [1, 1, 1]
    assert [d.message.acks for d in deliveries] == [1, 1, 1]
    assert all(d.message.rejects == [] for d in deliveries)
    assert _retries("record") == record_retries + 3
    assert _retries("cache") == cache_retries + 2
    cached = await parts.redis.hgetall(parts.keys.tally(poll))
    assert cached[b"total"] == b"3"


class RefusesOneVote(VoteFlusher):
    """Postgres refuses any batch holding the poisoned vote (as it would out-of-range data)."""

    poisoned: uuid.UUID

    async def _record(self, votes: list[Vote]) -> RecordResult:
        if any(v.vote_id == self.poisoned for v in votes):
            raise asyncpg.DataError("value out of range")
        return await super()._record(votes)


async def test_data_postgres_refuses_dead_letters_only_its_message(
    parts: Parts, db: asyncpg.Connection
) -> None:
    poll = await create_poll(db)
    flusher = RefusesOneVote(parts.pool, TallyCache(parts.redis, parts.keys, 3600), parts.outbound)
    good, bad, other = (_delivery(vote(poll, uuid.uuid4(), i, seq=1)) for i in range(3))
    flusher.poisoned = bad.batch.votes[0].vote_id

    await flusher.flush([good, bad, other])

    assert await group_by(db, poll, 3) == [1, 0, 1]
    assert (good.message.acks, other.message.acks, bad.message.acks) == (1, 1, 0)
    assert bad.message.rejects == [False]


class Buggy(VoteFlusher):
    """A flush that fails with an error nobody retries (a bug, not an outage)."""

    async def _flush(self, deliveries: Sequence[Delivery]) -> None:
        raise RuntimeError("bug")


async def test_a_bug_in_a_flush_requeues_its_messages_and_the_next_batch_goes_on() -> None:
    flusher = Buggy(None, None, None)  # type: ignore[arg-type]
    batcher = flusher.batcher(max_votes=1, max_wait_s=0)
    batcher.start()
    first, second = (_delivery(vote(uuid.uuid4(), uuid.uuid4(), 0, seq=1)) for _ in range(2))
    batcher.add(first)
    batcher.add(second)
    assert await batcher.stop(timeout=5)
    assert (first.message.rejects, second.message.rejects) == ([True], [True])
    assert REGISTRY.get_sample_value("zephyr_vote_worker_pending_votes") == 0


async def test_after_commit_steps_overlap_and_a_failing_one_requeues() -> None:
    after_commit = AfterCommit(depth=2)
    release = asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        await release.wait()
        done.append("slow")

    async def failing() -> None:
        raise RuntimeError("bug")

    slow_delivery, failing_delivery = (
        _delivery(vote(uuid.uuid4(), uuid.uuid4(), 0, seq=1)) for _ in range(2)
    )
    await after_commit.run(slow, [slow_delivery])  # in the background: returns at once
    await after_commit.run(failing, [failing_delivery])
    assert done == []
    release.set()
    await after_commit.wait()
    assert done == ["slow"]
    assert (slow_delivery.message.rejects, failing_delivery.message.rejects) == ([], [True])


class GatedScorer(QuizScorer):
    """Rescores only once `gate` is set."""

    gate: asyncio.Event

    async def rescore(self, poll_id, correlation_id, trigger="event"):
        await self.gate.wait()
        return await super().rescore(poll_id, correlation_id, trigger)


async def test_an_answer_to_a_closed_quiz_question_is_acked_only_after_the_rescore(
    parts: Parts, db: asyncpg.Connection
) -> None:
    quiz = {
        "kind": "quiz",
        "prompt": "Q?",
        "options": ["a", "b"],
        "correct": [0],
        "time_limit_s": 5,
    }
    poll = await create_run(db, [quiz, quiz])
    await set_question(db, poll, 0, status="closed")
    scorer = GatedScorer(
        parts.pool, QuizCache(parts.redis, parts.keys, 3600), parts.outbound, min_interval_s=0.01
    )
    scorer.gate = asyncio.Event()
    cache = TallyCache(parts.redis, parts.keys, 3600)
    flusher = VoteFlusher(parts.pool, cache, parts.outbound, quiz=scorer)
    to_open = _delivery(answer(poll, uuid.uuid4(), 1, {"kind": "quiz", "options": [0]}, seq=1))
    await flusher.flush([to_open])
    assert to_open.message.acks == 1  # question 1 is open: nothing to rescore

    late = _delivery(answer(poll, uuid.uuid4(), 0, {"kind": "quiz", "options": [0]}, seq=1))
    await flusher.flush([late])
    await asyncio.sleep(0.05)
    assert late.message.acks == 0  # stored, but not yet in the scores
    scorer.gate.set()
    await scorer.drain()
    assert late.message.acks == 1 and not late.message.rejects
    board = "SELECT version, qid, participants FROM quiz_boards WHERE poll_id = $1"
    assert tuple(await db.fetchrow(board, poll)) == (1, 0, 1)  # who answered a closed one

"""The rebuild of the gateway's per-participant Redis state from Postgres (vote_worker.rebuild),
on the real servers. The shared Redis is never flushed: a "loss" deletes this session's keys of
a poll and the sentinel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
import redis.asyncio as aioredis

from contracts import ParticipantJoined
from contracts.answers import ANSWER_ADAPTER
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.vote_worker.factories import answer, create_run, set_question, single
from vote_worker.participants import upsert_participants
from vote_worker.rebuild import RedisRebuild
from vote_worker.record import record_votes
from vote_worker.worker import Worker
from zephyr_runtime.keys import RedisKeys

QUIZ = {
    "kind": "quiz",
    "prompt": "2 + 2?",
    "options": ["3", "4"],
    "correct": [1],
    "time_limit_s": 30,
}
WORDS = {"kind": "wordcloud", "prompt": "One word?"}


@pytest.fixture
def keys(resources: Resources) -> RedisKeys:
    return RedisKeys(resources.redis_prefix)


@pytest.fixture
async def rebuild(resources: Resources, keys: RedisKeys) -> AsyncIterator[RedisRebuild]:
    pool = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=2)
    client = aioredis.from_url(resources.redis_url)
    try:
        yield RedisRebuild(pool, client, keys, window_s=3600)
    finally:
        await client.aclose()
        await pool.close()


async def join(db: asyncpg.Connection, poll: UUID, nickname: str, at: datetime) -> UUID:
    participant = uuid.uuid4()
    joined = ParticipantJoined(
        poll_id=poll, participant_id=participant, nickname=nickname, joined_at=at
    )
    await upsert_participants(db, [joined])
    return participant


async def lose(redis: aioredis.Redis, keys: RedisKeys, *polls: UUID) -> None:
    """What a FLUSHALL does to this session's keys of `polls`."""
    for poll in polls:
        await redis.delete(keys.nicknames(poll), keys.my_votes(poll), keys.vote_seq(poll))
    await redis.delete(keys.alive(), keys.rebuilding())


def mine(epoch: int, fields: dict[str, object]) -> str:
    """The gateway's format of a `myvotes` value (ws_gateway.confirms)."""
    return f"{epoch}:{ANSWER_ADAPTER.validate_python(fields).model_dump_json()}"


async def test_the_rebuild_writes_back_claims_answers_sequences_and_quiz_locks(
    rebuild: RedisRebuild, db: asyncpg.Connection, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll = await create_run(db, [single(3), QUIZ, WORDS])
    now = datetime.now(UTC)
    ann = await join(db, poll, "Ann", now - timedelta(minutes=2))
    bob = await join(db, poll, "Bob", now - timedelta(minutes=1))
    late_ann = await join(db, poll, "ANN", now)  # only possible through an earlier loss
    quiz_vote = uuid.uuid4()
    await record_votes(
        db,
        [
            answer(poll, ann, 0, {"kind": "single", "option": 2}, seq=10),
            answer(poll, ann, 0, {"kind": "single", "option": 1}, seq=12),
            answer(poll, ann, 1, {"kind": "quiz", "options": [1]}, seq=11, vote_id=quiz_vote),
            answer(poll, ann, 2, {"kind": "wordcloud", "words": ["  Blue  Sky "]}, seq=13),
            answer(poll, bob, 0, {"kind": "single", "option": 0}, seq=20),
        ],
    )
    # Question 2 is reset (epoch 1): Ann's word is no longer her answer.
    await set_question(db, poll, 2, epoch=1)
    await lose(redis_client, keys, poll)
    # During the gap Bob answered again (the gateway wrote it after the confirm) and got a seq.
    await redis_client.hset(
        keys.my_votes(poll), f"{bob}:0", mine(0, {"kind": "single", "option": 2})
    )
    await redis_client.hset(keys.vote_seq(poll), str(bob), "99999999999999")

    assert await rebuild.ensure() is True
    assert await redis_client.get(keys.alive())
    assert await redis_client.hgetall(keys.nicknames(poll)) == {"ann": str(ann), "bob": str(bob)}
    assert str(late_ann) not in (await redis_client.hgetall(keys.nicknames(poll))).values()
    assert await redis_client.hgetall(keys.my_votes(poll)) == {
        f"{ann}:0": mine(0, {"kind": "single", "option": 1}),
        f"{ann}:1": mine(0, {"kind": "quiz", "options": [1]}),
        f"{bob}:0": mine(0, {"kind": "single", "option": 2}),  # the gap's answer is kept
    }
    assert await redis_client.hgetall(keys.vote_seq(poll)) == {
        str(ann): "13",
        f"lock:{ann}:1": f"0:{quiz_vote}",
        str(bob): "99999999999999",  # newer than Postgres's: kept
    }
    assert rebuild.last is not None and rebuild.last.polls >= 1
    # The sentinel is there: the next passes do nothing.
    await redis_client.delete(keys.nicknames(poll))
    assert await rebuild.ensure() is False
    assert await redis_client.hlen(keys.nicknames(poll)) == 0


async def test_expired_polls_and_polls_closed_long_ago_are_left_alone(
    rebuild: RedisRebuild, db: asyncpg.Connection, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    active, closed_now, closed_long_ago, expired = [
        await create_run(db, [single()]) for _ in range(4)
    ]
    for poll in (active, closed_now, closed_long_ago, expired):
        await join(db, poll, "Dee", datetime.now(UTC))
    await db.execute("UPDATE polls SET status = 'closed' WHERE id = $1", closed_now)
    await db.execute(
        "UPDATE polls SET status = 'closed', updated_at = now() - interval '2 hours' WHERE id = $1",
        closed_long_ago,
    )
    await db.execute(
        "UPDATE polls SET expires_at = now() - interval '1 second' WHERE id = $1", expired
    )
    await lose(redis_client, keys, active, closed_now, closed_long_ago, expired)

    assert await rebuild.ensure() is True
    assert [
        await redis_client.hlen(keys.nicknames(poll))
        for poll in (active, closed_now, closed_long_ago, expired)
    ] == [1, 1, 0, 0]


async def test_another_replica_rebuilding_and_a_loss_during_the_rebuild(
    rebuild: RedisRebuild, db: asyncpg.Connection, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll = await create_run(db, [single()])
    eve = await join(db, poll, "Eve", datetime.now(UTC))
    await lose(redis_client, keys, poll)
    await redis_client.set(keys.rebuilding(), "other-replica", px=10_000)
    assert await rebuild.ensure() is False  # the other replica is at it
    assert await redis_client.hlen(keys.nicknames(poll)) == 0
    assert not await redis_client.exists(keys.alive())

    # The lock goes with the data: Redis lost it again halfway, so no sentinel is set.
    await redis_client.delete(keys.rebuilding())
    write = rebuild._write_poll

    async def lost_meanwhile(poll_id: UUID, fields: object) -> int:
        written = await write(poll_id, fields)  # type: ignore[arg-type]
        await redis_client.delete(keys.rebuilding(), keys.nicknames(poll_id))
        return written

    rebuild._write_poll = lost_meanwhile  # type: ignore[method-assign]
    assert await rebuild.ensure() is False
    assert not await redis_client.exists(keys.alive())
    rebuild._write_poll = write  # type: ignore[method-assign]
    assert await rebuild.ensure() is True
    assert await redis_client.hget(keys.nicknames(poll), "eve") == str(eve)


async def test_the_running_worker_notices_the_loss_and_rebuilds(
    worker: Worker, db: asyncpg.Connection, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    assert await redis_client.exists(keys.alive())  # set at start, before the worker is ready
    poll = await create_run(db, [single()])
    fay = await join(db, poll, "Fay", datetime.now(UTC))
    await record_votes(db, [answer(poll, fay, 0, {"kind": "single", "option": 1}, seq=5)])
    await lose(redis_client, keys, poll)

    async def rebuilt() -> bool:
        return bool(await redis_client.exists(keys.alive()))

    await eventually(rebuilt, timeout=15, what="the worker's rebuild")
    assert await redis_client.hget(keys.nicknames(poll), "fay") == str(fay)
    assert await redis_client.hget(keys.my_votes(poll), f"{fay}:0") == mine(
        0, {"kind": "single", "option": 1}
    )

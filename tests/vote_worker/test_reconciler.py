"""The reconciler on its own, on the real servers: each quiet tally is recounted once per
stored state, at most `recounts_per_pass` a pass, and drift is fixed and cached."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support.isolation import Resources
from tests.vote_worker.factories import aggregate, answer, create_run, single, tally
from vote_worker.publish import Outbound
from vote_worker.reconciler import Reconciler
from vote_worker.record import record_votes
from vote_worker.tally_cache import TallyCache
from zephyr_runtime.amqp import ConfirmedPublisher, connect, declare_topology
from zephyr_runtime.keys import RedisKeys


class CountingReconciler(Reconciler):
    recounted: list[tuple[UUID, int]]

    async def recount(self, poll_id: UUID, qid: int, correlation_id: str) -> bool:
        self.recounted.append((poll_id, qid))
        return await super().recount(poll_id, qid, correlation_id)


@pytest.fixture
async def reconciler(resources: Resources) -> AsyncIterator[CountingReconciler]:
    pool = await asyncpg.create_pool(resources.database_url, min_size=1, max_size=2)
    client = aioredis.from_url(resources.redis_url)
    connection = await connect(resources.amqp_url, name="vote-worker reconciler test")
    channel = await connection.channel()
    await declare_topology(channel)
    await channel.close()
    cache = TallyCache(client, RedisKeys(resources.redis_prefix), 3600)
    found = CountingReconciler(
        pool, cache, Outbound(ConfirmedPublisher(connection)), window_s=3600, quiet_s=0
    )
    found.recounted = []
    try:
        yield found
    finally:
        await connection.close()
        await client.aclose()
        await pool.close()


async def test_each_quiet_tally_is_recounted_once_and_drift_fixed(
    reconciler: CountingReconciler, db: asyncpg.Connection, redis_client, resources: Resources
) -> None:
    spec = {"kind": "multiple", "prompt": "Which?", "options": ["a", "b", "c"]}
    poll = await create_run(db, [single(2), spec])
    who = uuid.uuid4()
    await record_votes(db, [answer(poll, who, 1, {"kind": "multiple", "options": [0, 2]}, seq=1)])
    right = await aggregate(db, poll, 1)

    # Question 0 has no answer: the first pass creates its (open) tally, the next recounts it.
    await reconciler.reconcile_once()
    await reconciler.reconcile_once()
    mine = [key for key in reconciler.recounted if key[0] == poll]
    assert sorted(mine) == [(poll, 0), (poll, 1)]
    await reconciler.reconcile_once()
    assert [key for key in reconciler.recounted if key[0] == poll] == mine  # nothing changed

    version = (await tally(db, poll, 1))["version"]
    await db.execute(
        'UPDATE tallies SET aggregate = \'{"kind": "multiple", "counts": [9, 0, 0],'
        ' "total": 9}\'::jsonb WHERE poll_id = $1 AND qid = $2',
        poll,
        1,
    )
    await reconciler.reconcile_once()
    assert await aggregate(db, poll, 1) == right
    assert (await tally(db, poll, 1))["version"] == version + 1
    cached = await redis_client.hgetall(RedisKeys(resources.redis_prefix).tally(poll, 1))
    assert (int(cached["version"]), json.loads(cached["aggregate"])) == (version + 1, right)


async def test_recounts_are_capped_per_pass(
    reconciler: CountingReconciler, db: asyncpg.Connection
) -> None:
    reconciler.recounts_per_pass = 2
    poll = await create_run(db, [single(2)] * 5)
    for qid in range(5):
        await record_votes(
            db, [answer(poll, uuid.uuid4(), qid, {"kind": "single", "option": 1}, 1)]
        )
    passes = 0
    while len({key for key in reconciler.recounted if key[0] == poll}) < 5:
        before = len(reconciler.recounted)
        await reconciler.reconcile_once()
        assert len(reconciler.recounted) - before <= 2
        passes += 1
        assert passes <= 20
    assert passes >= 3

"""Retention deletes expired polls with their questions and every question's Redis keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import redis.asyncio as aioredis

from poll_api.retention import delete_expired_polls
from tests.poll_api.utils import create_run
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


async def test_expired_polls_go_with_their_questions_and_cached_keys(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    redis_client: aioredis.Redis,
    keys: RedisKeys,
    resources: Resources,
) -> None:
    spec = {"kind": "rating", "prompt": "Old?"}
    expired = await create_run(client, [spec, spec, spec])
    kept = await create_run(client, [spec])
    poll_id = uuid.UUID(expired["id"])
    await db.execute(
        "UPDATE polls SET expires_at = now() - interval '1 day' WHERE id = $1", poll_id
    )
    tally_keys = [keys.tally(poll_id, qid) for qid in range(3)]
    for key in tally_keys:
        await redis_client.hset(key, mapping={"version": "1"})

    report = await delete_expired_polls(
        resources.database_url,
        cutoff=datetime.now(UTC) - timedelta(seconds=1),
        redis=redis_client,
        keys=keys,
    )
    assert report.polls >= 1
    assert await db.fetchval("SELECT count(*) FROM questions WHERE poll_id = $1", poll_id) == 0
    assert await db.fetchval("SELECT count(*) FROM polls WHERE id = $1", poll_id) == 0
    assert await redis_client.exists(*tally_keys, keys.poll_state(poll_id)) == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM questions WHERE poll_id = $1", uuid.UUID(kept["id"])
        )
        == 1
    )

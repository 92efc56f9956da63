"""Room lookup: Redis first, poll-api's read-through on a miss."""

from __future__ import annotations

import redis.asyncio as aioredis

from contracts import PollView
from tests.ws_gateway.conftest import PollApiStub, client, join, seed_poll
from zephyr_runtime.keys import RedisKeys


async def test_cache_miss_reads_through_poll_api(
    start_gateway, poll_api: PollApiStub, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    view, version = await seed_poll(redis_client, keys, write_room=False)
    await redis_client.delete(keys.poll_state(view.id))
    poll_api.polls[view.room_code] = (view, version)
    async with start_gateway(poll_api_url=poll_api.url) as gw, client(gw, view.room_code) as ws:
        joined = await join(ws, "Fay")
    assert joined["type"] == "joined"
    assert PollView.model_validate(joined["poll"]) == view
    assert poll_api.requests == [f"/api/polls/{view.room_code}"]

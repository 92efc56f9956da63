"""zephyr_runtime.redis_scripts on the real Redis: EVALSHA, NOSCRIPT reload, no SCRIPT EXISTS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from tests.support.isolation import REDIS_URL
from zephyr_runtime.redis_scripts import RedisScript, run_pipelined

# A script unique to this run, so SCRIPT FLUSH is not needed to see a NOSCRIPT.
INCR_BY = RedisScript(f"-- {uuid.uuid4()}\nreturn redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))")
FAILS = RedisScript("return redis.error_reply('refused on purpose')")


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(REDIS_URL, decode_responses=True)
    yield redis
    await redis.aclose()


async def _script_exists_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_script|exists", {}).get("calls", 0))


async def test_run_loads_an_unknown_script_and_answers(client: aioredis.Redis) -> None:
    key = f"test:scripts:{uuid.uuid4()}"
    script = RedisScript(f"-- {uuid.uuid4()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await client.script_exists(script.sha) == [False]
    assert await script.run(client, [key], [5]) == 5
    assert await client.script_exists(script.sha) == [True]
    assert await script.run(client, [key], [2]) == 7
    await client.delete(key)


async def test_pipelined_calls_keep_their_order_and_send_no_script_exists(
    client: aioredis.Redis,
) -> None:
    keys = [f"test:scripts:{uuid.uuid4()}" for _ in range(3)]
    before = await _script_exists_calls(client)
    first = await run_pipelined(client, [(INCR_BY, [k], [i + 1]) for i, k in enumerate(keys)])
    again = await run_pipelined(client, [(INCR_BY, [k], [10]) for k in keys])
    assert first == [1, 2, 3]
    assert again == [11, 12, 13]
    assert await _script_exists_calls(client) == before
    await client.delete(*keys)


async def test_an_error_is_raised_or_returned_in_place(client: aioredis.Redis) -> None:
    key = f"test:scripts:{uuid.uuid4()}"
    with pytest.raises(ResponseError, match="refused on purpose"):
        await run_pipelined(client, [(INCR_BY, [key], [1]), (FAILS, [], [])])
    results = await run_pipelined(
        client, [(INCR_BY, [key], [1]), (FAILS, [], [])], raise_on_error=False
    )
    assert results[0] == 2  # the first call ran both times
    assert isinstance(results[1], ResponseError)
    await client.delete(key)

"""Presence across gateways in Redis (ws_gateway.presence): sums of live gateways only."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from tests.support.eventually import eventually
from ws_gateway.presence import Presence
from zephyr_runtime.keys import RedisKeys


def _gateway(redis: aioredis.Redis, keys: RedisKeys, name: str, ttl: float = 30.0) -> Presence:
    return Presence(redis, keys, f"{name}-{uuid.uuid4().hex[:6]}", ttl)


async def test_counts_of_every_live_gateway_are_summed(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll, other = uuid.uuid4(), uuid.uuid4()
    a, b = _gateway(redis_client, keys, "a"), _gateway(redis_client, keys, "b")
    await a.publish({poll: 3, other: 1})
    await b.publish({poll: 4})
    assert (await a.read(poll, 0)).connected == 7
    assert (await b.read(other, 0)).connected == 1
    await a.publish({poll: 1})  # two left gateway a, and the other poll's one
    assert (await b.read(poll, 0)).connected == 5
    assert (await b.read(other, 0)).connected == 0
    assert await redis_client.hkeys(keys.presence(other)) == []


async def test_a_gateway_that_stops_beating_drops_out_and_its_field_is_pruned(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll = uuid.uuid4()
    dying = _gateway(redis_client, keys, "dying", ttl=0.3)
    survivor = _gateway(redis_client, keys, "survivor")
    await dying.publish({poll: 5})
    await survivor.publish({poll: 2})
    assert (await survivor.read(poll, 0)).connected == 7
    # No more heartbeats from `dying` (as after SIGKILL): its alive key expires.
    await eventually(
        lambda: _connected(survivor, poll, 2),
        what="the dead gateway's participants dropped out",
    )
    fields = await redis_client.hkeys(keys.presence(poll))
    assert fields == [survivor.gateway]


async def _connected(presence: Presence, poll: uuid.UUID, expected: int) -> bool:
    return (await presence.read(poll, 0)).connected == expected


async def test_a_clean_stop_withdraws_at_once(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll = uuid.uuid4()
    leaving, staying = _gateway(redis_client, keys, "leaving"), _gateway(redis_client, keys, "s")
    await leaving.publish({poll: 3})
    await staying.publish({poll: 1})
    await leaving.withdraw()
    assert (await staying.read(poll, 0)).connected == 1
    assert await redis_client.exists(keys.gateway_alive(leaving.gateway)) == 0


async def test_joined_and_the_current_tally_come_from_their_hashes(
    redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    poll = uuid.uuid4()
    reader = _gateway(redis_client, keys, "r")
    empty = await reader.read(poll, 2)
    assert (empty.connected, empty.joined, empty.tally_epoch, empty.tally_total) == (
        0,
        0,
        None,
        None,
    )
    await redis_client.hset(keys.nicknames(poll), mapping={"ann": "1", "bob": "2", "cy": "3"})
    await redis_client.hset(keys.tally(poll, 2), mapping={"epoch": "1", "total": "2"})
    found = await reader.read(poll, 2)
    assert (found.joined, found.tally_epoch, found.tally_total) == (3, 1, 2)

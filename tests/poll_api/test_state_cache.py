"""The Redis poll state: the read-through of GET /api/polls/{room_code} and the Lua write."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from contracts.polls import PollStatus, PollView
from poll_api import crud, state_cache
from poll_api.state_cache import PollStateCache
from tests.poll_api.utils import create_poll
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript


async def test_read_through_rewrites_deleted_keys(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_poll(client)  # a draft: the reconciler leaves it alone
    room_key, state_key = keys.room(created["room_code"]), keys.poll_state(created["id"])
    assert await redis_client.get(room_key) == created["id"]
    await redis_client.delete(room_key, state_key)

    resp = await client.get(f"/api/polls/{created['room_code']}")
    assert resp.status_code == 200
    assert await redis_client.get(room_key) == created["id"]
    state = await redis_client.hgetall(state_key)
    assert state["status"] == "draft"
    assert state["epoch"] == "0"
    assert state["revealed"] == "0"
    assert state["state_version"] == "1"
    view = PollView.model_validate_json(state["view"])
    assert str(view.id) == created["id"]
    assert view.room_code == created["room_code"]


async def test_read_through_never_overwrites_a_newer_cached_state(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_poll(client)
    state_key = keys.poll_state(created["id"])
    await redis_client.hset(state_key, mapping={"state_version": "99", "status": "closed"})
    await client.get(f"/api/polls/{created['room_code']}")
    state = await redis_client.hgetall(state_key)
    assert state["state_version"] == "99"
    assert state["status"] == "closed"


def _view(status: PollStatus = PollStatus.OPEN) -> PollView:
    return PollView(
        id=uuid.uuid4(),
        room_code=crud.new_room_code(),
        question="Cached?",
        options=["yes", "no"],
        status=status,
        epoch=0,
    )


@pytest.fixture
def unknown_script(monkeypatch: pytest.MonkeyPatch) -> RedisScript:
    """The write script as a Redis that has lost its scripts sees it (a restart, a failover)."""
    script = RedisScript(f"{state_cache.WRITE_STATE.source}-- {uuid.uuid4().hex}\n")
    monkeypatch.setattr(state_cache, "WRITE_STATE", script)
    return script


async def test_writes_load_the_script_when_redis_does_not_know_it(
    redis_client: aioredis.Redis, keys: RedisKeys, unknown_script: RedisScript
) -> None:
    cache = PollStateCache(redis_client, keys)
    view = _view()
    await redis_client.hset(keys.nicknames(view.id), mapping={"ann": "p1"})
    assert await redis_client.script_exists(unknown_script.sha) == [False]
    assert await cache.write_and_count(view, 3) == 1
    assert await redis_client.script_exists(unknown_script.sha) == [True]
    assert (await redis_client.hgetall(keys.poll_state(view.id)))["state_version"] == "3"
    assert await redis_client.get(keys.room(view.room_code)) == str(view.id)


async def test_many_states_are_written_in_one_go_and_only_when_newer(
    redis_client: aioredis.Redis, keys: RedisKeys, unknown_script: RedisScript
) -> None:
    cache = PollStateCache(redis_client, keys)
    first, second = _view(), _view(PollStatus.CLOSED)
    await redis_client.hset(keys.poll_state(second.id), mapping={"state_version": "9"})
    await cache.write_many([(first, 2), (second, 5)])
    assert (await redis_client.hgetall(keys.poll_state(first.id)))["status"] == "open"
    assert await redis_client.hgetall(keys.poll_state(second.id)) == {"state_version": "9"}
    assert await cache.cached_versions([first.id, second.id, uuid.uuid4()]) == [2, 9, None]
    assert await cache.write(first, 2) is False  # the same version again: nothing to do
    assert await cache.write(first, 3) is True

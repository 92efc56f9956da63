"""GET /api/polls/{room_code}: the public view, and the Redis read-through it performs."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio as aioredis

from contracts.polls import PollView
from tests.poll_api.utils import create_poll
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


@pytest.fixture
def keys(resources: Resources) -> RedisKeys:
    return RedisKeys(resources.redis_prefix)


async def test_public_view_has_every_poll_view_field(client: httpx.AsyncClient) -> None:
    created = await create_poll(client, settings={"hide_results_until_reveal": True})
    resp = await client.get(f"/api/polls/{created['room_code'].lower()}")
    assert resp.status_code == 200
    body = resp.json()
    view = PollView.model_validate({k: body[k] for k in PollView.model_fields})
    assert str(view.id) == created["id"]
    assert view.room_code == created["room_code"]
    assert view.question == "Best colour?"
    assert view.options == ["Red", "Green", "Blue"]
    assert view.status == "draft"
    assert view.hide_results_until_reveal is True
    for extra in ("state_version", "participant_count", "created_at", "opened_at", "closed_at"):
        assert extra in body
    assert body["expires_at"]
    assert body["results"] is None
    assert "host_token" not in resp.text
    assert "host_token_hash" not in resp.text


@pytest.mark.parametrize("code", ["ZZZZZZ", "abc", "ABCDE0", "ABCDEFG", "!!!!!!", "ABC%20D"])
async def test_unknown_or_malformed_room_code_is_404(client: httpx.AsyncClient, code: str) -> None:
    resp = await client.get(f"/api/polls/{code}")
    assert resp.status_code == 404
    assert resp.json() == {
        "detail": "no poll with this room code",
        "correlation_id": resp.headers["X-Request-ID"],
    }


async def test_participant_count_comes_from_the_nickname_hash(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    created = await create_poll(client)
    await redis_client.hset(keys.nicknames(created["id"]), mapping={"ann": "p1", "bob": "p2"})
    resp = await client.get(f"/api/polls/{created['room_code']}")
    assert resp.json()["participant_count"] == 2


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

"""The reconciler rewrites missing or older Redis states of recently active polls."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from tests.poll_api.utils import bearer, create_poll
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys


async def test_lost_or_stale_state_of_an_open_poll_is_rewritten(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, resources: Resources
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    created = await create_poll(client)
    resp = await client.post(
        f"/api/polls/{created['room_code']}/open", headers=bearer(created["host_token"])
    )
    assert resp.status_code == 200
    state_key, room_key = keys.poll_state(created["id"]), keys.room(created["room_code"])

    await redis_client.delete(state_key, room_key)  # as after a Redis restart

    async def restored() -> dict[str, str] | None:
        state: dict[str, str] = await redis_client.hgetall(state_key)
        return state if state.get("state_version") == "2" else None

    state = await eventually(restored)
    assert state["status"] == "open"
    assert await redis_client.get(room_key) == created["id"]

    # An older cached version is replaced too.
    await redis_client.hset(state_key, mapping={"state_version": "1", "status": "draft"})
    state = await eventually(restored)
    assert state["status"] == "open"


async def test_a_poll_whose_open_question_is_not_current_is_reconciled(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, resources: Resources
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    spec = {"kind": "single", "prompt": "q", "options": ["a", "b"]}
    resp = await client.post("/api/polls", json={"questions": [spec, spec]})
    created = resp.json()
    opened = await client.post(
        f"/api/polls/{created['room_code']}/questions/1/open",
        headers=bearer(created["host_token"]),
    )
    assert opened.status_code == 200
    assert opened.json()["status"] == "draft"  # the current question (0) is still a draft
    state_key = keys.poll_state(created["id"])
    await redis_client.delete(state_key)

    async def restored() -> dict[str, str] | None:
        state: dict[str, str] = await redis_client.hgetall(state_key)
        return state or None

    state = await eventually(restored)
    assert (state["q0:status"], state["q1:status"]) == ("draft", "open")

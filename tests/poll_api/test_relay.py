"""The outbox relay publishes committed rows to RabbitMQ, resumes after a crash, backs off."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from prometheus_client import REGISTRY

from contracts import PollEvent, PollStateChanged
from contracts.topology import LIVE_EXCHANGE, POLLS_EXCHANGE, poll_binding_key
from poll_api.amqp_link import AmqpLink, RawConfirmedPublisher
from poll_api.db import make_engine, make_sessions
from poll_api.relay import OutboxRelay
from poll_api.settings import Settings
from poll_api.state_cache import PollStateCache
from tests.poll_api.utils import app_settings, bearer, create_poll, outbox_rows, running_app
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from zephyr_runtime.amqp import PublishFailed, declare_topology
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.resilience import backoff_delay


@pytest.fixture
async def listener(resources: Resources) -> AsyncIterator[AbstractQueue]:
    """A private exclusive queue bound to every poll event (live bindings added per test)."""
    connection = await aio_pika.connect_robust(resources.amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(POLLS_EXCHANGE, routing_key="poll.#")
        yield queue
    finally:
        await connection.close()


async def _collect(
    queue: AbstractQueue, poll_id: str, wanted: int, timeout: float = 15.0
) -> list[AbstractIncomingMessage]:
    """Messages about `poll_id` until `wanted` of them arrived (others are acked and skipped)."""
    found: list[AbstractIncomingMessage] = []
    async with asyncio.timeout(timeout):
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                body = orjson.loads(message.body)
                if body.get("poll", {}).get("id") == poll_id:
                    found.append(message)
                    if len(found) >= wanted:
                        return found
    return found


def _by_type(messages: list[AbstractIncomingMessage]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        out.setdefault(str(m.type), []).append(orjson.loads(m.body))
    return out


async def test_relay_publishes_events_and_live_state(
    client: httpx.AsyncClient, db: asyncpg.Connection, listener: AbstractQueue
) -> None:
    created = await create_poll(client)

    async def all_published() -> bool:
        rows = await outbox_rows(db, created["id"])
        return all(r["published_at"] is not None for r in rows)

    # Bind the live key only now, so the one state message expected is the "opened" one.
    await eventually(all_published)
    await listener.bind(LIVE_EXCHANGE, routing_key=poll_binding_key(created["id"]))
    request_id = f"relay-{uuid.uuid4().hex[:8]}"
    resp = await client.post(
        f"/api/polls/{created['room_code']}/open",
        headers={**bearer(created["host_token"]), "X-Request-ID": request_id},
    )
    assert resp.status_code == 200
    # created (PollEvent) + opened (PollEvent + PollStateChanged)
    messages = await _collect(listener, created["id"], wanted=3)
    by_type = _by_type(messages)
    assert sorted(e["event"] for e in by_type[PollEvent.message_type()]) == ["created", "opened"]
    (state,) = by_type[PollStateChanged.message_type()]
    assert PollStateChanged.model_validate(state).state_version == 2
    assert state["poll"]["status"] == "open"

    rows = {str(r["message_id"]): r for r in await outbox_rows(db, created["id"])}
    for message in messages:
        row = rows[str(message.message_id)]
        assert message.type == row["message_type"]
        assert message.headers["x-correlation-id"] == row["headers"]["x-correlation-id"]
        versions = {PollEvent.message_type(): PollEvent.VERSION, "zephyr.poll_state_changed.v2": 2}
        assert message.headers["x-contract-version"] == versions[message.type]
        assert "x-occurred-at" in message.headers
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    opened = next(m for m in messages if orjson.loads(m.body).get("event") == "opened")
    assert opened.headers["x-correlation-id"] == request_id
    assert opened.routing_key == "poll.opened"
    await eventually(all_published)


async def test_rows_written_while_no_relay_ran_are_published_when_one_starts(
    resources: Resources,
    db: asyncpg.Connection,
    listener: AbstractQueue,
    redis_client: aioredis.Redis,
) -> None:
    keys = RedisKeys(resources.redis_prefix)
    async with running_app(app_settings(relay_enabled=False)) as (_, client):
        created = await create_poll(client)
        await listener.bind(LIVE_EXCHANGE, routing_key=poll_binding_key(created["id"]))
    rows = await outbox_rows(db, created["id"])
    assert len(rows) == 3
    assert all(r["published_at"] is None for r in rows)
    # The relay must write the state to Redis before it publishes PollStateChanged.
    await redis_client.delete(keys.poll_state(created["id"]))

    async with running_app(app_settings()) as _:
        messages = await _collect(listener, created["id"], wanted=2)
        by_type = _by_type(messages)
        assert [e["event"] for e in by_type[PollEvent.message_type()]] == ["created"]
        assert len(by_type[PollStateChanged.message_type()]) == 1
        state = await redis_client.hgetall(keys.poll_state(created["id"]))
        assert state["state_version"] == "1"  # a draft: only the relay could have written it
        assert state["status"] == "draft"

        async def all_published() -> bool:
            rows = await outbox_rows(db, created["id"])
            return all(r["published_at"] is not None for r in rows)

        await eventually(all_published)


@asynccontextmanager
async def _relay_without_broker(
    resources: Resources, settings: Settings, **options: Any
) -> AsyncIterator[OutboxRelay]:
    """A relay (not started) whose broker is unreachable: every publish fails."""
    engine = make_engine(settings)
    redis = aioredis.from_url(resources.redis_url, decode_responses=True)
    # Nothing listens on port 1.
    link = AmqpLink("amqp://guest:guest@127.0.0.1:1/", name="test-broken", timeout=1)
    try:
        yield OutboxRelay(
            sessions=make_sessions(engine),
            publisher=RawConfirmedPublisher(link),
            state_cache=PollStateCache(redis, RedisKeys(resources.redis_prefix)),
            listen_dsn=settings.asyncpg_dsn(),
            **options,
        )
    finally:
        await link.close()
        await redis.aclose()
        await engine.dispose()


async def test_failed_publish_leaves_rows_unpublished_and_counts_attempts(
    resources: Resources, db: asyncpg.Connection
) -> None:
    async with running_app(app_settings(relay_enabled=False)) as (_, client):
        created = await create_poll(client)
    async with _relay_without_broker(resources, app_settings()) as relay:
        first_id = await db.fetchval("SELECT min(id) FROM outbox WHERE published_at IS NULL")
        attempts_before = await db.fetchval("SELECT attempts FROM outbox WHERE id = $1", first_id)
        with pytest.raises(PublishFailed):
            await relay.relay_batch()
        assert (
            await db.fetchval("SELECT attempts FROM outbox WHERE id = $1", first_id)
            == attempts_before + 1
        )
        rows = await outbox_rows(db, created["id"])
        assert all(r["published_at"] is None for r in rows)
    # A healthy relay then delivers them.
    async with running_app(app_settings()):

        async def all_published() -> bool:
            rows = await outbox_rows(db, created["id"])
            return all(r["published_at"] is not None for r in rows)

        await eventually(all_published)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    """The relay's backoff between failed passes (relay_max_backoff_seconds is the cap)."""
    delays = [backoff_delay(n, cap=5.0) for n in range(1, 40)]
    assert all(0 < d <= 5.0 for d in delays)
    assert backoff_delay(1, cap=5.0) <= 0.1
    assert max(backoff_delay(20, cap=5.0) for _ in range(50)) > 2.5


def _failures() -> float:
    return REGISTRY.get_sample_value("zephyr_poll_api_outbox_relay_failures_total") or 0.0


async def test_a_failing_relay_backs_off_counts_each_failure_and_stops_at_once(
    resources: Resources,
) -> None:
    settings = app_settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async with _relay_without_broker(resources, settings, max_backoff_seconds=60) as relay:
        before = _failures()
        relay.start()
        try:
            await eventually(lambda: _failures() >= before + 3, what="three failed relay passes")
        finally:
            stop_began = time.monotonic()
            await relay.stop(timeout=5)
            stop_took = time.monotonic() - stop_began
    assert stop_took < 2  # stopping cuts the backoff short


async def test_two_relays_share_the_backlog_without_duplicates(
    resources: Resources, db: asyncpg.Connection, listener: AbstractQueue
) -> None:
    async with running_app(app_settings(relay_enabled=False)) as (_, client):
        polls = [await create_poll(client) for _ in range(15)]
    wanted = {p["id"] for p in polls}

    async def all_published() -> bool:
        for poll in polls:
            if any(r["published_at"] is None for r in await outbox_rows(db, poll["id"])):
                return False
        return True

    async with (
        running_app(app_settings(relay_batch_size=4)),
        running_app(app_settings(relay_batch_size=4)),
    ):
        await eventually(all_published, timeout=30)
    # Every row was confirmed, so every routed message is already in the queue: drain it.
    seen: list[str] = []
    while (message := await listener.get(fail=False, timeout=5)) is not None:
        await message.ack()
        if orjson.loads(message.body).get("poll", {}).get("id") in wanted:
            seen.append(str(message.message_id))
    assert len(seen) == 15  # one PollEvent "created" per poll through the poll.# binding
    assert len(set(seen)) == 15

"""poll-api on a real streaming replica: the host reads its own writes, every read-only route is
the replica's, the public view never writes a lagging replica's state into Redis, and without a
replica nothing changes. Helpers: tests/poll_api/replica_support.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from tests.poll_api.replica_support import (
    Pair,
    app_on,
    connect,
    fallback,
    metric,
    primary_reads,
    replica_reads,
    settled,
    started_pair,
    tally,
    total,
)
from tests.poll_api.utils import app_settings, bearer, create_poll, running_app
from tests.support.isolation import Resources
from zephyr_runtime.keys import RedisKeys

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with started_pair() as started:
        yield started


async def test_a_host_reads_its_own_writes_while_replay_is_paused(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client, connect(pair.replica_url) as replica:
        changed = await create_poll(client)
        host = bearer(changed["host_token"])
        room = changed["room_code"]
        resp = await client.post(f"/api/polls/{room}/open", headers=host)
        assert resp.status_code == 200, resp.text
        edited = await create_poll(client)
        untouched = await create_poll(client)
        await tally(pair, untouched, [1, 0, 0], version=1)
        await settled(pair, client, untouched, want=1)  # the others' windows are over too

        await replica.execute("SELECT pg_wal_replay_pause()")
        try:
            resp = await client.post(f"/api/polls/{room}/close", headers=host)
            assert resp.status_code == 200, resp.text
            results = await client.get(f"/api/polls/{room}/results", headers=host)
            assert results.json()["status"] == "closed"
            assert (await client.get(f"/api/polls/{room}")).json()["status"] == "closed"

            edit_host = bearer(edited["host_token"])
            resp = await client.patch(
                f"/api/polls/{edited['room_code']}/questions/0",
                json={"prompt": "Edited while the replica is paused"},
                headers=edit_host,
            )
            assert resp.status_code == 200, resp.text
            listed = await client.get(
                f"/api/polls/{edited['room_code']}/questions", headers=edit_host
            )
            assert (
                listed.json()["questions"][0]["spec"]["prompt"]
                == "Edited while the replica is paused"
            )

            resp = await client.post(f"/api/polls/{room}/reset", headers=host)
            assert resp.status_code == 200, resp.text
            results = await client.get(f"/api/polls/{room}/results", headers=host)
            assert (results.json()["status"], results.json()["epoch"]) == ("draft", 1)

            created = await create_poll(client)  # not on the paused replica, yet readable
            assert (await client.get(f"/api/polls/{created['room_code']}")).status_code == 200
            on_replica = await replica.fetchval(
                "SELECT count(*) FROM polls WHERE room_code = $1", created["room_code"]
            )
            assert on_replica == 0

            # Meanwhile the replica serves the poll nobody changed through the API: stale.
            await tally(pair, untouched, [2, 1, 0], version=2)
            served = replica_reads()
            assert await total(client, untouched) == 1
            assert replica_reads() == served + 1
            assert fallback() == 0
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")


async def test_every_read_only_route_is_answered_by_the_replica(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client:
        poll = await create_poll(client)
        await tally(pair, poll, [0, 2, 0], version=1)
        await settled(pair, client, poll, want=2)
        room, host = poll["room_code"], bearer(poll["host_token"])
        for path, headers in [
            (f"/api/polls/{room}", {}),
            (f"/api/polls/{room}/results.csv", host),
            (f"/api/polls/{room}/questions/0/results", host),
            (f"/api/polls/{room}/questions", host),
            (f"/api/polls/{room}/leaderboard", {}),
            (f"/api/polls/{room}/leaderboard.csv", host),
            (f"/api/polls/{room}/join", {}),
            (f"/api/polls/{room}/qr.svg", {}),
        ]:
            served = replica_reads()
            resp = await client.get(path, headers=headers)
            assert resp.status_code == 200, (path, resp.text)
            assert replica_reads() > served, path
        # A stranger's refused read is recorded on the primary (the replica is read-only).
        resp = await client.get(f"/api/polls/{room}/results", headers=bearer("wrong"))
        assert resp.status_code == 403
        async with connect(pair.primary_url) as db:
            refusals = await db.fetchval(
                "SELECT count(*) FROM outbox WHERE body::text LIKE '%security.auth_failed%' "
                "AND body::text LIKE $1",
                f"%{poll['id']}%",
            )
        assert refusals == 1


async def test_the_public_view_never_puts_an_older_state_into_redis(
    resources: Resources, pair: Pair, redis_client: aioredis.Redis, keys: RedisKeys
) -> None:
    """After a Redis loss the gateway rebuilds a poll's state from GET /api/polls/{room}: a
    lagging replica's copy must not be the one written back."""
    async with app_on(pair) as client, connect(pair.replica_url) as replica:
        poll = await create_poll(client)
        await tally(pair, poll, [1, 0, 0], version=1)
        await settled(pair, client, poll, want=1)
        state = keys.poll_state(poll["id"])
        old = int(await redis_client.hget(state, "state_version"))

        await replica.execute("SELECT pg_wal_replay_pause()")
        try:
            async with connect(pair.primary_url) as db:  # a change the replica has not seen
                await db.execute(
                    "UPDATE polls SET title = 'Fresh', state_version = $2 WHERE id = $1",
                    uuid.UUID(poll["id"]),
                    old + 1,
                )
            await redis_client.delete(state)  # as after a Redis loss
            stale = metric("zephyr_poll_api_primary_reads_total", reason="stale")
            resp = await client.get(f"/api/polls/{poll['room_code']}")
            assert resp.status_code == 200, resp.text
            assert resp.json()["title"] == "Fresh"
            assert int(await redis_client.hget(state, "state_version")) == old + 1
            assert metric("zephyr_poll_api_primary_reads_total", reason="stale") == stale + 1
            assert fallback() == 0  # the replica was in use: the version check decided
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")


async def test_without_a_replica_every_read_is_the_primarys_and_uncounted(
    resources: Resources,
) -> None:
    async with running_app(app_settings(rate_limit_enabled=False)) as (app, client):
        assert app.state.ctx.read_engine is None
        poll = await create_poll(client)
        served = replica_reads()
        on_primary = primary_reads()
        for path in ("", "/results", "/questions", "/leaderboard", "/join"):
            resp = await client.get(
                f"/api/polls/{poll['room_code']}{path}", headers=bearer(poll["host_token"])
            )
            assert resp.status_code == 200, (path, resp.text)
        assert (await client.get("/api/polls/ZZZZZZ")).status_code == 404
        assert replica_reads() == served
        assert on_primary == primary_reads()

"""poll-api on a real streaming replica: reads from it, falls back to the primary, reads its writes.

A private primary and a hot standby of it (`tests.fault.servers`), poll-api in process with
DATABASE_URL = primary and READ_DATABASE_URL = replica. Which server answered is told by data:
with the replica's replay paused, a row changed on the primary reads old from the replica and new
from the primary, so a stale answer proves the replica served it. The fallback and recovery times
are printed (docs/reliability.md, "Read replica", quotes them).
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from poll_api.settings import Settings
from tests.fault.servers import PrivatePostgres, PrivateReplica
from tests.poll_api.utils import app_settings, bearer, create_poll, running_app, set_tally
from tests.support.eventually import eventually
from tests.support.isolation import OWNERS_OF_TABLES, Resources
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.migrations import Migrations

pytestmark = pytest.mark.timeout(240)

MAX_LAG = 3.0
CHECK = 0.2
SPEC = {"kind": "single", "prompt": "q", "options": ["Red", "Green", "Blue"]}


@dataclass
class Pair:
    primary: PrivatePostgres
    replica: PrivateReplica
    primary_url: str
    replica_url: str


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    primary = PrivatePostgres(Path("unused")).init().start()
    replica: PrivateReplica | None = None
    try:
        url = asyncio.run(primary.create_database("zephyr_replica"))
        for package in OWNERS_OF_TABLES:
            Migrations(package).upgrade(url)
        replica = PrivateReplica(Path("unused"), primary=primary).init().start()
        yield Pair(primary, replica, url, url.replace(f":{primary.port}/", f":{replica.port}/"))
    finally:
        for server in (replica, primary):
            if server is not None:
                server.stop("immediate")
                shutil.rmtree(server.root, ignore_errors=True)


def settings_for(pair: Pair) -> Settings:
    return app_settings(
        database_url=pair.primary_url,
        read_database_url=pair.replica_url,
        read_replica_max_lag_seconds=MAX_LAG,
        read_replica_check_seconds=CHECK,
        read_replica_timeout_seconds=0.5,
        rate_limit_enabled=False,
    )


@asynccontextmanager
async def app_on(pair: Pair) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings_for(pair)) as (_, client):
        yield client


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        yield conn
    finally:
        await conn.close()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def fallback() -> float:
    return metric("zephyr_poll_api_read_replica_fallback")


def primary_reads() -> float:
    """Reads sent to the primary instead of the replica, every reason together."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "zephyr_poll_api_primary_reads"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def replica_reads() -> float:
    return metric("zephyr_poll_api_replica_reads_total")


async def tally(pair: Pair, poll: dict[str, Any], votes: list[int], version: int) -> None:
    answers = [{"kind": "single", "option": i} for i, n in enumerate(votes) for _ in range(n)]
    async with connect(pair.primary_url) as db:
        await set_tally(db, poll["id"], SPEC, answers, version=version)


async def total(client: httpx.AsyncClient, poll: dict[str, Any]) -> int:
    resp = await client.get(
        f"/api/polls/{poll['room_code']}/results", headers=bearer(poll["host_token"])
    )
    assert resp.status_code == 200, resp.text
    return int(resp.json()["total"])


async def total_is(client: httpx.AsyncClient, poll: dict[str, Any], want: int) -> bool:
    return await total(client, poll) == want


async def settled(pair: Pair, client: httpx.AsyncClient, poll: dict[str, Any], want: int) -> None:
    """The replica caught up, in use, the poll's read-your-writes window over, and reads from
    the replica show `want`."""
    await asyncio.sleep(settings_for(pair).read_your_writes_seconds + 0.2)
    before = replica_reads()
    await eventually(lambda: fallback() == 0, timeout=60, what="replica in use")
    await eventually(lambda: total_is(client, poll, want), timeout=30, what=f"total {want}")
    assert replica_reads() > before


async def test_reads_come_from_the_replica_and_move_to_the_primary_when_it_lags(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client, connect(pair.replica_url) as replica:
        poll = await create_poll(client)
        await tally(pair, poll, [1, 0, 0], version=1)
        await settled(pair, client, poll, want=1)

        await replica.execute("SELECT pg_wal_replay_pause()")
        lagging = metric("zephyr_poll_api_primary_reads_total", reason="replica_lagging")
        try:
            await tally(pair, poll, [2, 1, 0], version=2)  # on the primary only
            written = time.monotonic()
            served = replica_reads()
            assert await total(client, poll) == 1  # stale: the replica answered
            assert replica_reads() == served + 1
            # Past the lag bound, the same read is answered by the primary, with the new data.
            await eventually(lambda: total_is(client, poll, 3), timeout=60, what="new data")
            after_pause = time.monotonic() - written
            assert fallback() == 1
            assert metric("zephyr_poll_api_read_replica_lag_seconds") > MAX_LAG
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_lagging") > (
                lagging
            )
            assert await total(client, poll) == 3
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")
        resumed = time.monotonic()
        await eventually(lambda: fallback() == 0, timeout=60, what="back on the replica")
        back = time.monotonic() - resumed
        served = replica_reads()
        assert await total(client, poll) == 3
        assert replica_reads() == served + 1
    print(
        f"\nreplica paused: reads on the primary {after_pause:.2f}s after the write "
        f"(bound {MAX_LAG}s, check every {CHECK}s); back on the replica {back:.2f}s after resume"
    )


async def test_reads_keep_answering_when_the_replica_stops(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client:
        poll = await create_poll(client)
        await tally(pair, poll, [1, 1, 0], version=1)
        await settled(pair, client, poll, want=2)

        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        down = metric("zephyr_poll_api_primary_reads_total", reason="replica_down")
        pair.replica.stop("immediate")
        stopped = time.monotonic()
        try:
            assert await total(client, poll) == 2  # answered, by the primary if need be
            await eventually(lambda: fallback() == 1, timeout=30, what="fallback")
            noticed = time.monotonic() - stopped
            await tally(pair, poll, [1, 1, 1], version=2)
            assert await total(client, poll) == 3  # the primary's data, at once
            moved = metric("zephyr_poll_api_primary_reads_total", reason="replica_error") - errors
            moved += metric("zephyr_poll_api_primary_reads_total", reason="replica_down") - down
            assert moved >= 2
        finally:
            pair.replica.start()
        started = time.monotonic()
        await eventually(lambda: fallback() == 0, timeout=60, what="back on the replica")
        back = time.monotonic() - started
        served = replica_reads()
        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        await eventually(lambda: total_is(client, poll, 3), timeout=30, what="total 3")
        assert replica_reads() > served
        # The pool's connections of before the restart were dropped, not tried and failed.
        assert metric("zephyr_poll_api_primary_reads_total", reason="replica_error") == errors
    print(
        f"\nreplica stopped: fallback gauge set {noticed:.2f}s after the stop (every read "
        f"answered 200); back on the replica {back:.2f}s after its start"
    )


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


async def test_a_read_failing_on_the_replica_runs_again_on_the_primary(
    resources: Resources, pair: Pair
) -> None:
    async with app_on(pair) as client:
        poll = await create_poll(client)
        await tally(pair, poll, [0, 0, 4], version=1)
        await settled(pair, client, poll, want=4)
    # A process whose monitor checks once at start and then not for 30 s: the replica's death
    # is noticed by the read itself.
    slow_checks = settings_for(pair).model_copy(update={"read_replica_check_seconds": 30.0})
    async with running_app(slow_checks) as (_, client):
        await eventually(lambda: fallback() == 0, timeout=30, what="replica in use")
        served = replica_reads()
        assert await total(client, poll) == 4
        assert replica_reads() == served + 1
        errors = metric("zephyr_poll_api_primary_reads_total", reason="replica_error")
        pair.replica.stop("immediate")
        try:
            assert await total(client, poll) == 4
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_error") == (
                errors + 1
            )
            assert fallback() == 1  # marked down by that read, 30 s before the next check
            down = metric("zephyr_poll_api_primary_reads_total", reason="replica_down")
            assert await total(client, poll) == 4  # straight to the primary now
            assert metric("zephyr_poll_api_primary_reads_total", reason="replica_down") == down + 1
        finally:
            pair.replica.start()


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

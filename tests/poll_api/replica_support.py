"""A private PostgreSQL primary with a real streaming replica, and poll-api on both.

`started_pair()` runs `tests.fault.servers`' primary and `PrivateReplica` (`pg_basebackup -R -X
stream`); `app_on(pair)` is poll-api in process with DATABASE_URL = primary and READ_DATABASE_URL
= replica. Which server answered is told by data: with the replica's replay paused, a row changed
on the primary reads old from the replica and new from the primary.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client import REGISTRY

from poll_api.settings import Settings
from tests.fault.servers import PrivatePostgres, PrivateReplica
from tests.poll_api.utils import app_settings, bearer, running_app, set_tally
from tests.support.eventually import eventually
from tests.support.isolation import OWNERS_OF_TABLES
from zephyr_runtime.migrations import Migrations

MAX_LAG = 3.0
CHECK = 0.2
SPEC = {"kind": "single", "prompt": "q", "options": ["Red", "Green", "Blue"]}


@dataclass
class Pair:
    primary: PrivatePostgres
    replica: PrivateReplica
    primary_url: str
    replica_url: str


@contextmanager
def started_pair() -> Iterator[Pair]:
    """A private primary (migrated) and a streaming replica of it, removed afterwards."""
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

"""Session-wide fixtures: private resources on the real PostgreSQL, RabbitMQ and Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support import isolation
from tests.support.isolation import Resources


@pytest.fixture(scope="session")
def resources() -> Iterator[Resources]:
    """A fresh database (migrated), vhost and Redis prefix for the whole test session."""
    res = asyncio.run(isolation.create("t"))
    try:
        isolation.migrate(res)
        saved = {k: os.environ.get(k) for k in res.env()}
        os.environ.update(res.env())
        yield res
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        asyncio.run(isolation.destroy(res))


@pytest.fixture
async def db(resources: Resources) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(resources.database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def redis_client(resources: Resources) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(resources.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()

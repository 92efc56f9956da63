"""Fresh, private resources for one test session on the machine's shared servers.

A new Postgres database, a new RabbitMQ vhost and a new Redis key prefix, so two runs never see
each other's data. A missing server fails loudly: these tests never skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis

from zephyr_runtime.migrations import Migrations

PG_ADMIN_URL = os.environ.get(
    "ZEPHYR_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
AMQP_BASE_URL = os.environ.get("ZEPHYR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("ZEPHYR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Resources:
    name: str
    database_url: str
    amqp_url: str
    redis_url: str
    redis_prefix: str
    vhost: str

    def env(self) -> dict[str, str]:
        return {
            "ZEPHYR_ENVIRONMENT": "test",
            "ZEPHYR_DATABASE_URL": self.database_url,
            "ZEPHYR_AMQP_URL": self.amqp_url,
            "ZEPHYR_REDIS_URL": self.redis_url,
            "ZEPHYR_REDIS_PREFIX": self.redis_prefix,
        }


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _rabbitmqctl(*args: str) -> None:
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        raise RuntimeError("rabbitmqctl not found: the tests need the local RabbitMQ server")
    subprocess.run([exe, "-q", *args], check=True, capture_output=True, timeout=60)


async def create(label: str = "t") -> Resources:
    name = f"zephyr_{label}_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    vhost = name.replace("_", "-")
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", vhost)
    await asyncio.to_thread(_rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        raise RuntimeError(f"Redis is not reachable at {REDIS_URL}: {exc}") from exc
    finally:
        await client.aclose()
    return Resources(
        name=name,
        database_url=_with_database(PG_ADMIN_URL, name),
        amqp_url=AMQP_BASE_URL.rstrip("/") + "/" + quote(vhost, safe=""),
        redis_url=REDIS_URL,
        redis_prefix=name,
        vhost=vhost,
    )


OWNERS_OF_TABLES = ("poll_api", "vote_worker", "audit_sink")


def migrate(resources: Resources) -> None:
    """Every owning service's migrations, as `make run` applies them."""
    for package in OWNERS_OF_TABLES:
        Migrations(package).upgrade(resources.database_url)


async def destroy(resources: Resources) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{resources.name}" WITH (FORCE)')
    finally:
        await admin.close()
    await asyncio.to_thread(_rabbitmqctl, "delete_vhost", resources.vhost)
    client = aioredis.from_url(resources.redis_url)
    try:
        async for key in client.scan_iter(match=f"{resources.redis_prefix}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


@contextmanager
def provisioned(label: str) -> Iterator[Resources]:
    """Fresh migrated resources for a test module, destroyed afterwards (sync fixtures)."""
    res = asyncio.run(create(label))
    try:
        migrate(res)
        yield res
    finally:
        asyncio.run(destroy(res))

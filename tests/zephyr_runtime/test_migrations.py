"""zephyr_runtime.migrations: each owning service's migrations, up and down, on a fresh database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support import isolation
from zephyr_runtime.migrations import Migrations


@pytest.fixture
async def resources() -> AsyncIterator[isolation.Resources]:
    res = await isolation.create("migr")
    yield res
    await isolation.destroy(res)


async def _tables(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


def test_a_package_names_its_folder_and_version_table() -> None:
    migrations = Migrations("vote_worker")
    assert migrations.version_table == "alembic_version_vote_worker"
    assert (migrations.script_location / "env.py").is_file()


async def test_every_owner_upgrades_and_downgrades_without_touching_the_others(
    resources: isolation.Resources,
) -> None:
    for package in isolation.OWNERS_OF_TABLES:
        await asyncio.to_thread(Migrations(package).upgrade, resources.database_url)
    tables = await _tables(resources.database_url)
    assert {"polls", "outbox", "ballots", "votes", "tallies", "audit_log"} <= tables
    await asyncio.to_thread(Migrations("audit_sink").downgrade, resources.database_url, "base")
    after = await _tables(resources.database_url)
    assert "audit_log" not in after
    assert {"polls", "ballots", "votes", "tallies"} <= after
    # And up again: the downgrade left a database the migration can apply to.
    await asyncio.to_thread(Migrations("audit_sink").upgrade, resources.database_url)
    assert "audit_log" in await _tables(resources.database_url)

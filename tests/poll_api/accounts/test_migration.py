"""Migration 0003 (host accounts) goes down to 0002 and up again, keeping the polls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support import isolation
from zephyr_runtime.migrations import Migrations


@pytest.fixture
async def fresh() -> AsyncIterator[isolation.Resources]:
    res = await isolation.create("acct")
    yield res
    await isolation.destroy(res)


async def _columns(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name || '.' || column_name AS c FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        )
    finally:
        await conn.close()
    return {r["c"] for r in rows}


async def test_0003_downgrades_to_0002_and_upgrades_again(fresh: isolation.Resources) -> None:
    for package in isolation.OWNERS_OF_TABLES:
        await asyncio.to_thread(Migrations(package).upgrade, fresh.database_url)
    assert {"polls.owner_id", "host_accounts.email", "refresh_tokens.family"} <= await _columns(
        fresh.database_url
    )
    await asyncio.to_thread(Migrations("poll_api").downgrade, fresh.database_url, "0002")
    after = await _columns(fresh.database_url)
    assert "polls.owner_id" not in after and not any(c.startswith("host_accounts.") for c in after)
    assert "polls.room_code" in after  # 0002 is intact
    await asyncio.to_thread(Migrations("poll_api").upgrade, fresh.database_url)
    assert "polls.owner_id" in await _columns(fresh.database_url)

"""vote-worker's migration 0004 (quiz scores) upgrades and downgrades on a fresh database,
leaving the earlier tables and their rows as they were."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support import isolation
from zephyr_runtime.migrations import Migrations

QUIZ_TABLES = {"quiz_points", "quiz_scores", "quiz_boards"}


@pytest.fixture
async def fresh() -> AsyncIterator[isolation.Resources]:
    res = await isolation.create("quizmigr")
    yield res
    await isolation.destroy(res)


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r["tablename"] for r in rows}


async def test_the_quiz_tables_come_and_go_with_revision_0004(
    fresh: isolation.Resources,
) -> None:
    await asyncio.to_thread(isolation.migrate, fresh)
    worker = Migrations("vote_worker")
    conn = await asyncpg.connect(fresh.database_url)
    try:
        assert await _tables(conn) >= QUIZ_TABLES
        indexes = await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'quiz_scores'"
        )
        assert any("score DESC, correct_time_us" in r["indexdef"] for r in indexes)
        poll = uuid.uuid4()
        await conn.execute(
            "INSERT INTO participants VALUES ($1, $2, 'Ann', now(), now())", poll, uuid.uuid4()
        )
        await conn.execute("INSERT INTO quiz_boards (poll_id, version) VALUES ($1, 3)", poll)

        await asyncio.to_thread(worker.downgrade, fresh.database_url, "0003")
        tables = await _tables(conn)
        assert not QUIZ_TABLES & tables and {"votes", "tallies", "questions"} <= tables
        assert await conn.fetchval("SELECT count(*) FROM participants") == 1

        await asyncio.to_thread(worker.upgrade, fresh.database_url)
        assert await _tables(conn) >= QUIZ_TABLES
        assert await conn.fetchval("SELECT count(*) FROM quiz_boards") == 0
    finally:
        await conn.close()

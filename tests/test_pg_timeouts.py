"""Every database connection carries the service's timeouts (real PostgreSQL)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text

from poll_api.db import make_engine
from poll_api.settings import Settings as PollApiSettings
from tests.support.isolation import Resources
from vote_worker.settings import Settings as WorkerSettings
from zephyr_runtime.pg import create_pool
from zephyr_runtime.settings import load_settings


async def test_a_pool_carries_the_statement_timeout_and_cancels_a_long_statement(
    resources: Resources,
) -> None:
    settings = load_settings(WorkerSettings, db_statement_timeout_seconds=0.5)
    pool = await create_pool(settings, application_name="timeout-test", max_size=2)
    try:
        assert await pool.fetchval("SHOW statement_timeout") == "500ms"
        assert await pool.fetchval("SHOW application_name") == "timeout-test"
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.fetchval("SELECT pg_sleep(3)")
        assert await pool.fetchval("SELECT 1") == 1  # the connection is still good
    finally:
        await pool.close()


async def test_waiting_for_a_pooled_connection_is_bounded(resources: Resources) -> None:
    settings = load_settings(WorkerSettings, db_acquire_timeout_seconds=0.3)
    pool = await create_pool(settings, application_name="timeout-test", max_size=1)
    try:
        async with pool.acquire():
            with pytest.raises(TimeoutError):
                await pool.fetchval("SELECT 1")  # acquires inside, without a timeout of its own
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_poll_api_connections_carry_the_statement_timeout(resources: Resources) -> None:
    engine = make_engine(load_settings(PollApiSettings, db_statement_timeout_seconds=2))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "2s"
            idle = (await conn.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar()
            assert idle == "1min"
    finally:
        await engine.dispose()


def test_the_client_gives_up_a_second_after_the_server() -> None:
    settings = load_settings(WorkerSettings, db_statement_timeout_seconds=4)
    assert settings.db_command_timeout_seconds == 5
    assert settings.db_server_settings("x")["statement_timeout"] == "4000"


async def test_a_connection_released_inside_a_transaction_comes_back_without_it(
    resources: Resources,
) -> None:
    """The pool's cheap reset still rolls back what a holder left open, and keeps the
    connection's settings (the timeouts above, which RESET ALL would also have kept)."""
    settings = load_settings(WorkerSettings, db_statement_timeout_seconds=0.5)
    pool = await create_pool(settings, application_name="reset-test", max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            exists = await conn.fetchval("SELECT to_regclass('pg_temp.left_open') IS NOT NULL")
            assert exists is False  # rolled back
            assert await conn.fetchval("SHOW statement_timeout") == "500ms"
    finally:
        await pool.close()

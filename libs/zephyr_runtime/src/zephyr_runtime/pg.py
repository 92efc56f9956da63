"""asyncpg pools with every timeout set (docs/reliability.md, "A hung dependency").

asyncpg has a per-statement client timeout (`command_timeout`) but waits for a pooled
connection for ever unless each `acquire` passes one; `BoundedPool` gives every acquire,
including those inside `pool.fetch`/`execute`, the service's acquire timeout. Each connection
also carries the server-side `statement_timeout` (`ServiceSettings.db_server_settings`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import asyncpg.pool

from zephyr_runtime.settings import ServiceSettings


class BoundedPool(asyncpg.pool.Pool):  # type: ignore[misc]  # asyncpg has no types
    """A pool whose `acquire()` without a timeout waits at most `acquire_timeout` seconds."""

    acquire_timeout: float = 5.0

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def reset_on_release(conn: asyncpg.Connection) -> None:
    """What a released connection needs before the next acquirer: no open transaction.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;` on every release, a round trip and 7 % of the worker's CPU while it stored
    participants one by one (py-spy, 2026-12-07). The services' pooled connections take only
    transaction-scoped advisory locks, never LISTEN (poll-api's relay listens on a connection
    of its own), declare no cursors outside a transaction and never SET a session variable."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(
    settings: ServiceSettings,
    *,
    application_name: str,
    min_size: int = 1,
    max_size: int = 10,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> BoundedPool:
    """A started pool on `settings.database_url` with the service's timeouts."""
    pool = BoundedPool(
        settings.asyncpg_dsn(),
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        loop=None,
        connect=None,
        setup=None,
        init=init,
        reset=reset_on_release,
        max_inactive_connection_lifetime=300.0,
        timeout=settings.db_connect_timeout_seconds,
        command_timeout=settings.db_command_timeout_seconds,
        server_settings=settings.db_server_settings(application_name),
    )
    pool.acquire_timeout = settings.db_acquire_timeout_seconds
    await pool
    return pool

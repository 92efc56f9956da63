"""Database query latency and pool use, for asyncpg pools and SQLAlchemy engines."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from zephyr_runtime.opsmetrics import DB_POOL_CONNECTIONS, DB_QUERY_SECONDS

# Bounded label values: the statement's first keyword, when it is one of these.
_OPERATIONS = frozenset(
    {"select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "listen"}
)


def operation_of(statement: str) -> str:
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    first = words[0].lower() if words else ""
    return first if first in _OPERATIONS else "other"


def _observe_asyncpg(record: Any) -> None:
    DB_QUERY_SECONDS.labels(operation_of(str(record.query))).observe(float(record.elapsed))


async def observe_queries(conn: asyncpg.Connection) -> None:
    """asyncpg pool `init=` hook: time every statement of the connection."""
    conn.add_query_logger(_observe_asyncpg)


def record_asyncpg_pool(pool: asyncpg.Pool | None) -> None:
    if pool is None:
        return
    size, idle = pool.get_size(), pool.get_idle_size()
    DB_POOL_CONNECTIONS.labels("in_use").set(size - idle)
    DB_POOL_CONNECTIONS.labels("idle").set(idle)
    DB_POOL_CONNECTIONS.labels("max").set(pool.get_max_size())


def forget_failed(context: Any) -> None:
    """`handle_error`: drop the failed statement's start mark. A connection lost before its
    statement ran reaches here with none; raising then would hide the real error."""
    connection = getattr(context, "connection", None)
    started = connection.info.get("zephyr_query_started") if connection is not None else None
    if started:
        started.pop()


def instrument_sqlalchemy(engine: Any) -> None:
    """Time every statement of an (async) SQLAlchemy engine through its sync events."""
    from sqlalchemy import event

    sync_engine = getattr(engine, "sync_engine", engine)

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info.setdefault("zephyr_query_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info.get("zephyr_query_started")
        if started:
            DB_QUERY_SECONDS.labels(operation_of(statement)).observe(
                time.perf_counter() - started.pop()
            )

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", forget_failed)


def record_sqlalchemy_pool(engine: Any) -> None:
    """Pool use of a SQLAlchemy QueuePool: checked out, idle, and its limit (size + overflow)."""
    pool = getattr(engine, "sync_engine", engine).pool
    checked_out = int(pool.checkedout())
    DB_POOL_CONNECTIONS.labels("in_use").set(checked_out)
    DB_POOL_CONNECTIONS.labels("idle").set(int(pool.checkedin()))
    DB_POOL_CONNECTIONS.labels("max").set(int(pool.size()) + int(getattr(pool, "_max_overflow", 0)))

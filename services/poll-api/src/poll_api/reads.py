"""Where a read-only request reads: the read replica when it is usable, else the primary.

A read of a poll goes to the primary when no replica is configured, when the monitor finds the
replica down or lagging (`poll_api.replica`), or for `read_your_writes_seconds` after any change
of that poll (read your writes: the mark is kept in this process and in Redis, so every poll-api
process honours it; without Redis the read goes to the primary). A read that fails on the replica
with a connection error, or finds no such poll there, is run once more on the primary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import redis.asyncio as aioredis
import sqlalchemy.exc
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from poll_api.errors import PollNotFound
from poll_api.metrics import PRIMARY_READS, REPLICA_READS
from poll_api.replica import ReplicaMonitor

log = logging.getLogger(__name__)

T = TypeVar("T")
Read = Callable[[AsyncSession], Awaitable[T]]
_MAX_MARKS = 10_000
# SQLSTATEs worth another try on the primary: 57P01-57P03 (the server shuts down or cannot take
# connections yet), class 08 (connection exception), 40001 (a recovery conflict cancelled the
# query). Not 57014: a statement cancelled by `statement_timeout` is the request's own (slow)
# work; running it again on the primary would only load the primary with it.
_RETRY_STATES = ("57P01", "57P02", "57P03", "08", "40001")


def is_replica_failure(exc: BaseException) -> bool:
    """A failure of the replica rather than of the request, anywhere in the exception's chain:
    worth running on the primary. (SQLAlchemy may fail *while handling* a lost connection, e.g.
    an AttributeError from its pre-ping or an error hook: the lost connection is the cause.)"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _connection_failure(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(
            exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
        ):
            return True
        state = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        return state.startswith(_RETRY_STATES)
    return isinstance(
        exc,
        sqlalchemy.exc.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | OSError
        | TimeoutError,
    )


class ReadRouter:
    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replica: async_sessionmaker[AsyncSession] | None,
        monitor: ReplicaMonitor | None,
        redis: aioredis.Redis,
        redis_prefix: str,
        window_seconds: float,
        replica_engine: AsyncEngine | None = None,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.monitor = monitor
        self._replica_engine = replica_engine
        self._was_usable = False
        self._redis = redis
        self._prefix = redis_prefix
        self.window_seconds = window_seconds
        self._marks: dict[str, float] = {}  # room code -> monotonic end of its window

    def _key(self, room_code: str) -> str:
        return f"{self._prefix}:poll-api:written:{room_code}"

    async def mark_written(self, room_code: str) -> None:
        """A change of this poll committed: its reads go to the primary for the window."""
        if self.replica is None:
            return
        now = time.monotonic()
        if len(self._marks) >= _MAX_MARKS:
            self._marks = {k: v for k, v in self._marks.items() if v > now}
        self._marks[room_code] = now + self.window_seconds
        try:
            await self._redis.set(self._key(room_code), "1", px=int(self.window_seconds * 1000))
        except (RedisError, OSError) as exc:  # this process still knows; others may not
            log.warning("could not record a write for read-your-writes", extra={"error": repr(exc)})

    async def _recently_written(self, room_code: str) -> bool:
        ends = self._marks.get(room_code)
        if ends is not None:
            if ends > time.monotonic():
                return True
            del self._marks[room_code]
        try:
            return bool(await self._redis.exists(self._key(room_code)))
        except (RedisError, OSError):
            return True  # cannot tell: the primary is always right

    async def reason_for_primary(self, room_code: str | None) -> str | None:
        """Why this read must go to the primary; None when the replica may answer it."""
        if self.replica is None or self.monitor is None:
            return "no_replica"
        health = self.monitor.health
        if not health.usable:
            self._was_usable = False
            return health.reason
        if not self._was_usable:
            # Back in use: drop the pool's connections of before (dead after a restart: their
            # pre-ping fails with an error instead of reconnecting).
            self._was_usable = True
            await self.reset_pool()
        if room_code is not None and await self._recently_written(room_code):
            return "recent_write"
        return None

    async def reset_pool(self) -> None:
        if self._replica_engine is not None:
            await self._replica_engine.dispose(close=False)

    def session(self, room_code: str | None) -> ReadSession:
        return ReadSession(self, room_code)


class ReadSession:
    """One request's reads (`ReadSessionDep`): `await reads.run(fn)` runs `fn(session)` in a
    read-only transaction where the router says, retried once on the primary after a replica
    failure. `on_replica` tells where the last `run` was answered."""

    def __init__(self, router: ReadRouter, room_code: str | None) -> None:
        self._router = router
        self._room_code = room_code
        self.on_replica = False

    async def run(self, read: Read[T]) -> T:
        router = self._router
        reason = await router.reason_for_primary(self._room_code)
        if reason is None and router.replica is not None:
            try:
                found = await _in_transaction(router.replica, read)
            except PollNotFound:
                reason = "not_found"  # not replicated yet, perhaps: the primary decides
            except Exception as exc:
                if not is_replica_failure(exc):
                    raise
                if router.monitor is not None:
                    router.monitor.mark_down(exc)
                await router.reset_pool()
                reason = "replica_error"
            else:
                REPLICA_READS.inc()
                self.on_replica = True
                return found
        return await self.on_primary(read, reason or "no_replica")

    async def run_again(self, read: Read[T]) -> T:
        """Another read of the same request (the next page of an export) where the last one
        was answered: pages never go back in time from the primary to a lagging replica. A
        replica that fails meanwhile hands over to the primary (forward in time only)."""
        router = self._router
        if router.replica is None:
            return await self.on_primary(read, "no_replica")
        if not self.on_replica:
            return await self.on_primary(read, "export_pages")
        try:
            found = await _in_transaction(router.replica, read)
        except Exception as exc:
            if not is_replica_failure(exc):
                raise
            if router.monitor is not None:
                router.monitor.mark_down(exc)
            await router.reset_pool()
            return await self.on_primary(read, "replica_error")
        REPLICA_READS.inc()
        return found

    async def on_primary(self, read: Read[T], reason: str) -> T:
        self.on_replica = False
        if reason != "no_replica":
            PRIMARY_READS.labels(reason).inc()
        return await _in_transaction(self._router.primary, read)


async def _in_transaction(sessions: async_sessionmaker[AsyncSession], read: Read[T]) -> T:
    async with sessions() as session, session.begin():
        return await read(session)

"""Everything a running poll-api holds: connections, caches and background tasks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from poll_api.amqp_link import AmqpLink, RawConfirmedPublisher
from poll_api.db import make_engine, make_sessions
from poll_api.metrics import sample_poll_gauges
from poll_api.reads import ReadRouter
from poll_api.reconciler import StateReconciler
from poll_api.relay import OutboxRelay
from poll_api.replica import ReplicaMonitor
from poll_api.settings import Settings
from poll_api.state_cache import PollStateCache
from poll_api.timers import QuestionTimer
from zephyr_runtime.dbmetrics import record_sqlalchemy_pool
from zephyr_runtime.health import run_checks
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.sampler import PeriodicSampler, ops_sampler

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    redis: aioredis.Redis
    amqp: AmqpLink
    read_engine: AsyncEngine | None = None  # the read replica's, when configured
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    reads: ReadRouter = field(init=False)
    replica_monitor: ReplicaMonitor | None = field(default=None, init=False)
    keys: RedisKeys = field(init=False)
    state_cache: PollStateCache = field(init=False)
    relay: OutboxRelay | None = None
    reconciler: StateReconciler | None = None
    timer: QuestionTimer | None = None
    publisher: RawConfirmedPublisher | None = None
    sampler: PeriodicSampler | None = None
    # The clock of access and refresh tokens; a test moves it to see them expire.
    clock: Callable[[], datetime] = utcnow

    def __post_init__(self) -> None:
        self.sessions = make_sessions(self.engine)
        self.keys = RedisKeys(self.settings.redis_prefix)
        self.state_cache = PollStateCache(self.redis, self.keys)
        settings = self.settings
        if self.read_engine is not None and settings.read_database_url is not None:
            self.replica_monitor = ReplicaMonitor(
                primary_dsn=settings.asyncpg_dsn(),
                replica_dsn=settings.read_database_url,
                max_lag_seconds=settings.read_replica_max_lag_seconds,
                interval_seconds=settings.read_replica_check_seconds,
                timeout_seconds=settings.read_replica_timeout_seconds,
            )
        self.reads = ReadRouter(
            primary=self.sessions,
            replica=make_sessions(self.read_engine) if self.read_engine is not None else None,
            monitor=self.replica_monitor,
            redis=self.redis,
            redis_prefix=settings.redis_prefix,
            window_seconds=settings.read_your_writes_seconds,
            replica_engine=self.read_engine,
        )

    @classmethod
    async def start(cls, settings: Settings) -> AppContext:
        """Open lazily-connecting clients and start the relay, reconciler and question timer.

        Nothing here needs a dependency to be up: the service starts, reports 503 on
        /health/ready and recovers by itself when the dependency comes back.
        """
        ctx = cls(
            settings=settings,
            engine=make_engine(settings),
            redis=aioredis.from_url(
                settings.redis_url,
                decode_responses=True,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
            ),
            amqp=AmqpLink(
                settings.amqp_url,
                name=f"poll-api {settings.instance_id}",
                timeout=settings.amqp_timeout_seconds,
            ),
            read_engine=(
                make_engine(settings, settings.read_database_url, "poll-api-read")
                if settings.read_database_url
                else None
            ),
        )
        if ctx.replica_monitor is not None:
            ctx.replica_monitor.start()
        if settings.relay_enabled:
            ctx.publisher = RawConfirmedPublisher(ctx.amqp, timeout=settings.amqp_timeout_seconds)
            ctx.relay = OutboxRelay(
                sessions=ctx.sessions,
                publisher=ctx.publisher,
                state_cache=ctx.state_cache,
                listen_dsn=settings.asyncpg_dsn(),
                batch_size=settings.relay_batch_size,
                poll_seconds=settings.relay_poll_seconds,
                max_backoff_seconds=settings.relay_max_backoff_seconds,
            )
            ctx.relay.start()
        ctx.reconciler = StateReconciler(
            sessions=ctx.sessions,
            state_cache=ctx.state_cache,
            interval_seconds=settings.reconcile_interval_seconds,
            window=timedelta(hours=settings.reconcile_window_hours),
        )
        ctx.reconciler.start()
        if settings.timer_enabled:
            ctx.timer = QuestionTimer(
                sessions=ctx.sessions,
                state_cache=ctx.state_cache,
                max_sleep_seconds=settings.timer_max_sleep_seconds,
                mark_written=ctx.reads.mark_written,
            )
            ctx.timer.start()
        ctx.sampler = ops_sampler(
            ctx.readiness,  # runs the dependency checks, exporting them as gauges
            partial(record_sqlalchemy_pool, ctx.engine),
            partial(sample_poll_gauges, ctx.engine),
            interval=settings.metrics_sample_seconds,
        )
        ctx.sampler.start()
        return ctx

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        if self.sampler is not None:
            await self.sampler.stop()
        if self.replica_monitor is not None:
            await self.replica_monitor.stop()
        if self.timer is not None:
            await self.timer.stop()
        if self.reconciler is not None:
            await self.reconciler.stop()
        if self.relay is not None:
            await self.relay.stop(timeout=max(grace / 2, 0.5))
        if self.publisher is not None:
            await _quietly(self.publisher.close(), "AMQP channel")
        await _quietly(self.amqp.close(), "AMQP connection")
        await _quietly(self.redis.aclose(), "Redis client")
        await _quietly(self.engine.dispose(), "database engine")
        if self.read_engine is not None:
            await _quietly(self.read_engine.dispose(), "read replica engine")

    async def readiness(self) -> tuple[bool, dict[str, object]]:
        async def postgres() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def redis() -> None:
            await self.redis.ping()

        return await run_checks({"postgres": postgres, "redis": redis, "rabbitmq": self.amqp.check})


async def _quietly(closing: Awaitable[object], what: str) -> None:
    try:
        await closing
    except Exception as exc:
        log.warning("error while closing %s", what, extra={"error": repr(exc)})

"""The vote-worker process: connections, consumers, flusher, reconciler and HTTP, started and
stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection
from faststream.rabbit import RabbitBroker

from vote_worker.batcher import Accumulator
from vote_worker.consumers import build_broker
from vote_worker.deadletter_watch import DeadLetterWatch
from vote_worker.flusher import VoteFlusher
from vote_worker.handlers import Handlers
from vote_worker.http import HttpServer, build_http_app
from vote_worker.ops_sampler import build_sampler
from vote_worker.outbound import Outbound
from vote_worker.reconciler import Reconciler
from vote_worker.settings import SERVICE_NAME, Settings
from vote_worker.tally_cache import TallyCache
from zephyr_runtime.amqp import ConfirmedPublisher, connect, declare_topology
from zephyr_runtime.dbmetrics import observe_queries
from zephyr_runtime.health import run_checks
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.retry import retry_async
from zephyr_runtime.sampler import PeriodicSampler

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.redis: aioredis.Redis | None = None
        self.connection: AbstractRobustConnection | None = None
        self.publisher: ConfirmedPublisher | None = None
        self.broker: RabbitBroker | None = None
        self.http: HttpServer | None = None
        self.accumulator = Accumulator(settings.batch_max_votes, settings.batch_max_wait_ms / 1000)
        self.stopping = asyncio.Event()
        self._flusher_task: asyncio.Task[None] | None = None
        self._reconciler_task: asyncio.Task[None] | None = None
        self._dead_letter_task: asyncio.Task[None] | None = None
        self.reconciler: Reconciler | None = None
        self.sampler: PeriodicSampler | None = None

    async def start(self) -> None:
        s = self.settings
        # A restart may race a dependency's own restart: retry the first connections a while.
        self.pool = await retry_async(
            lambda: asyncpg.create_pool(
                s.asyncpg_dsn(),
                min_size=1,
                max_size=s.db_pool_size,
                command_timeout=30,
                init=observe_queries,  # zephyr_db_query_duration_seconds
            ),
            what="postgres",
            attempts=8,
            timeout=15,
        )
        self.redis = aioredis.from_url(s.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.connection = await retry_async(
            lambda: connect(s.amqp_url, name=f"{SERVICE_NAME} {s.instance_id}"),
            what="rabbitmq",
            attempts=8,
            timeout=15,
        )
        channel = await self.connection.channel()
        await declare_topology(channel, delivery_limit=s.delivery_limit)
        await channel.close()
        self.publisher = ConfirmedPublisher(self.connection)
        outbound = Outbound(self.publisher)
        cache = TallyCache(self.redis, RedisKeys(s.redis_prefix), s.tally_ttl_seconds)
        handlers = Handlers(self.pool, cache, outbound, self.accumulator, self.stopping)
        flusher = VoteFlusher(self.pool, cache, outbound, self.accumulator, s.flush_overlap)
        self.reconciler = Reconciler(
            self.pool,
            cache,
            outbound,
            handlers.refresh_tally,
            interval_s=s.reconcile_interval_s,
            window_s=s.reconcile_window_hours * 3600,
        )
        self._flusher_task = asyncio.create_task(flusher.run(), name="flusher")
        self.broker = build_broker(s, handlers)
        # Before the broker starts: the ASGI app hands the broker its dependency context.
        http_app = build_http_app(self.broker, self.readiness)
        await self.broker.start()
        self._reconciler_task = asyncio.create_task(self.reconciler.run(), name="reconciler")
        watch = DeadLetterWatch(self.connection, outbound, interval_s=s.dead_letter_sample_s)
        self._dead_letter_task = asyncio.create_task(watch.run(), name="dead-letter-watch")
        self.sampler = build_sampler(
            self.pool, self.connection, self.readiness, s.metrics_sample_seconds
        )
        self.sampler.start()
        self.http = HttpServer(http_app, s.host, s.port)
        await self.http.start()
        log.info(
            "vote-worker ready on port %d",
            s.port,
            extra={"prefetch": s.prefetch, "batch_max_votes": s.batch_max_votes},
        )

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        async def postgres() -> None:
            assert self.pool is not None
            await self.pool.fetchval("SELECT 1")

        async def redis() -> None:
            assert self.redis is not None
            await self.redis.ping()

        async def rabbitmq() -> None:
            if self.broker is None or not await self.broker.ping(timeout=1.0):
                raise ConnectionError("consumer connection down")
            if self.connection is None or self.connection.is_closed:
                raise ConnectionError("publisher connection down")
            if not self.connection.connected.is_set():
                raise ConnectionError("publisher connection reconnecting")

        return await run_checks({"postgres": postgres, "redis": redis, "rabbitmq": rabbitmq})

    async def stop(self) -> None:
        """Stop consuming, flush and ack what is pending, then close everything."""
        deadline = time.monotonic() + max(0.5, self.settings.shutdown_grace_seconds - 1.0)
        self.stopping.set()
        if self.sampler is not None:
            await self.sampler.stop()
        if self.broker is not None:
            for subscriber in self.broker.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
        self.accumulator.close()
        if self._flusher_task is not None:
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._flusher_task), max(0.1, deadline - time.monotonic())
                )
            except TimeoutError:
                log.warning(
                    "shutdown grace over: %d votes left unacked for redelivery",
                    self.accumulator.pending_votes,
                )
            except Exception:
                log.exception("flusher failed")
            await _cancel(self._flusher_task)
        await _cancel(self._reconciler_task)
        await _cancel(self._dead_letter_task)
        await self.close()

    async def close(self) -> None:
        """Close every connection that was opened (also after a failed start)."""
        if self.http is not None:
            await self.http.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        for closer in (self.publisher, self.connection):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 2)
            self.pool.terminate()
        log.info("vote-worker stopped")


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task

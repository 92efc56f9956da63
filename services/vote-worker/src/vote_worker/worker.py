"""The vote-worker process: connections, consumers, flusher, quiz scorer, reconciler, dead-letter
watch and HTTP, started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection
from faststream.asgi import AsgiFastStream
from faststream.rabbit import RabbitBroker

from vote_worker.consume import Consumer, build_broker
from vote_worker.deadletter_watch import DeadLetterWatch
from vote_worker.flusher import Delivery, VoteFlusher
from vote_worker.publish import Outbound
from vote_worker.qa import QaBoardCache, QaDelivery, QaFlusher
from vote_worker.quiz_cache import QuizCache
from vote_worker.quiz_scorer import QuizScorer
from vote_worker.rebuild import RedisRebuild
from vote_worker.reconciler import Reconciler
from vote_worker.settings import SERVICE_NAME, Settings
from vote_worker.tally_cache import TallyCache
from zephyr_runtime.amqp import ConfirmedPublisher, connect_declared
from zephyr_runtime.asgi_server import BackgroundHttpServer
from zephyr_runtime.batching import Batcher
from zephyr_runtime.dbmetrics import observe_queries, record_asyncpg_pool
from zephyr_runtime.health import run_checks
from zephyr_runtime.health_routes import health_routes
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.pg import create_pool
from zephyr_runtime.queuedepth import QueueDepthSampler
from zephyr_runtime.resilience import wait_for_dependency
from zephyr_runtime.sampler import PeriodicSampler, ops_sampler, run_every
from zephyr_runtime.tasks import cancel_all

log = logging.getLogger(__name__)

# How long the start waits for a dependency that is down or restarting before it gives up.
START_WAIT_S = 90.0


class Worker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.quiz_pool: asyncpg.Pool | None = None  # the rescore's, with a longer timeout
        self.redis: aioredis.Redis | None = None
        self.connection: AbstractRobustConnection | None = None
        self.publisher: ConfirmedPublisher | None = None
        self.broker: RabbitBroker | None = None
        self.http: BackgroundHttpServer | None = None
        self.batcher: Batcher[Delivery] | None = None
        self.qa_batcher: Batcher[QaDelivery] | None = None
        self.stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self.reconciler: Reconciler | None = None
        self.quiz: QuizScorer | None = None
        self.sampler: PeriodicSampler | None = None

    async def start(self) -> None:
        s = self.settings
        # A restart may race a dependency's own restart: retry the first connections a while.
        self.pool = await wait_for_dependency(
            "postgres",
            lambda: create_pool(
                s,
                application_name=SERVICE_NAME,
                max_size=s.db_pool_size,
                init=observe_queries,  # zephyr_db_query_duration_seconds
            ),
            give_up_after=START_WAIT_S,
        )
        quiz_settings = s.model_copy(
            update={"db_statement_timeout_seconds": s.quiz_statement_timeout_seconds}
        )
        self.quiz_pool = await wait_for_dependency(
            "postgres",
            lambda: create_pool(
                quiz_settings,
                application_name=f"{SERVICE_NAME}-quiz",
                min_size=0,
                max_size=2,
                init=observe_queries,
            ),
            give_up_after=START_WAIT_S,
        )
        self.redis = aioredis.from_url(
            s.redis_url,
            socket_timeout=s.redis_timeout_seconds,
            socket_connect_timeout=s.redis_timeout_seconds,
        )
        self.connection = await wait_for_dependency(
            "rabbitmq",
            lambda: connect_declared(
                s.amqp_url,
                name=f"{SERVICE_NAME} {s.instance_id}",
                timeout=s.amqp_timeout_seconds,
                delivery_limit=s.delivery_limit,
            ),
            give_up_after=START_WAIT_S,
        )
        self.publisher = ConfirmedPublisher(self.connection, timeout=s.amqp_timeout_seconds)
        outbound = Outbound(self.publisher)
        keys = RedisKeys(s.redis_prefix)
        cache = TallyCache(self.redis, keys, s.tally_ttl_seconds)
        window_s = s.reconcile_window_hours * 3600
        self.quiz = QuizScorer(
            self.quiz_pool,
            QuizCache(self.redis, keys, s.tally_ttl_seconds),
            outbound,
            stopping=self.stopping,
            window_s=window_s,
        )
        flusher = VoteFlusher(self.pool, cache, outbound, s.flush_overlap, quiz=self.quiz)
        self.batcher = flusher.batcher(
            max_votes=s.batch_max_votes, max_wait_s=s.batch_max_wait_ms / 1000
        )
        self.reconciler = Reconciler(self.pool, cache, outbound, window_s=window_s, quiz=self.quiz)
        qa_cache = QaBoardCache(self.redis, keys, s.tally_ttl_seconds)
        qa = QaFlusher(self.pool, qa_cache, outbound, window_s=s.reconcile_window_hours * 3600)
        self.qa_batcher = qa.batcher(
            max_actions=s.batch_max_votes, max_wait_s=s.batch_max_wait_ms / 1000
        )
        consumer = Consumer(
            self.pool,
            outbound,
            self.batcher,
            self.reconciler.refresh_tally,
            self.stopping,
            score_quiz=self.quiz.on_poll_event,
            qa_batcher=self.qa_batcher,
        )
        window_s = s.reconcile_window_hours * 3600
        rebuild = RedisRebuild(self.pool, self.redis, RedisKeys(s.redis_prefix), window_s)
        await rebuild.first_pass()  # before ready: joins wait for it (docs/reliability.md)
        self.batcher.start()
        self.qa_batcher.start()
        self.broker = build_broker(s, consumer)
        # Before the broker starts: the ASGI app hands the broker its dependency context.
        http_app = AsgiFastStream(
            self.broker, asgi_routes=health_routes(self.readiness), asyncapi_path="/docs/asyncapi"
        )
        await wait_for_dependency(
            "rabbitmq consumers",
            self._start_consuming,
            give_up_after=START_WAIT_S,
            attempt_timeout=30,
        )
        watch = DeadLetterWatch(self.connection, outbound, interval_s=s.dead_letter_sample_s)
        self._loops = [
            run_every(s.reconcile_interval_s, self.reconciler.reconcile_once, what="reconcile"),
            run_every(watch.interval_s, watch.sample_once, what="dead-letter sample"),
            run_every(s.reconcile_interval_s, rebuild.ensure, what="redis rebuild"),
            run_every(s.reconcile_interval_s, qa.restore_boards, what="qa boards"),
        ]
        self.sampler = ops_sampler(
            self.readiness,  # runs the dependency checks, exporting them as gauges
            partial(record_asyncpg_pool, self.pool),
            QueueDepthSampler(self.connection),  # what operators scale the worker on
            interval=s.metrics_sample_seconds,
        )
        self.sampler.start()
        self.http = BackgroundHttpServer(http_app, s)
        await self.http.start()
        log.info(
            "vote-worker ready on port %d",
            s.port,
            extra={"prefetch": s.prefetch, "batch_max_votes": s.batch_max_votes},
        )

    async def _start_consuming(self) -> None:
        """Start the broker's subscribers; a broker restarting meanwhile fails the attempt,
        which is undone (channels and connection closed) so that the next one starts clean."""
        assert self.broker is not None
        try:
            await self.broker.start()
        except Exception:
            with contextlib.suppress(Exception):
                await self.broker.stop()
            raise

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
        if self.batcher is not None:
            try:
                drained = await self.batcher.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("flusher failed")
            else:
                if not drained:
                    log.warning(
                        "shutdown grace over: %d votes left unacked for redelivery",
                        self.batcher.pending,
                    )
        if self.qa_batcher is not None:
            try:
                await self.qa_batcher.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("qa flusher failed")
        await cancel_all(self._loops)
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
        for pool in (self.quiz_pool, self.pool):
            if pool is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await pool.close()
                pool.terminate()
        log.info("vote-worker stopped")

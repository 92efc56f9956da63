"""The gateway's lifecycle: connect to Redis and RabbitMQ, start the parts in order, serve the
WebSocket port; on stop, drain the votes and close every socket with 1012."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.asyncio.server import Server, serve
from websockets.frames import CloseCode

from contracts.frames import MAX_FRAME_BYTES
from ws_gateway.admission import Admission
from ws_gateway.connection import make_handler
from ws_gateway.context import GatewayContext
from ws_gateway.routes import make_process_request
from ws_gateway.settings import Settings
from ws_gateway.votes import ACCEPT
from zephyr_runtime import amqp
from zephyr_runtime.health import dependency_sample
from zephyr_runtime.resilience import wait_for_dependency
from zephyr_runtime.sampler import PeriodicSampler, ops_sampler

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _wait_for(what: str, connect: Callable[[], Awaitable[T]], give_up_after: float) -> T:
    """Dependencies may start after us (compose, CI): retry with backoff for a while."""
    return await wait_for_dependency(what, connect, give_up_after=give_up_after)


def _redis_client(s: Settings) -> aioredis.Redis:
    # A blocking pool: past max_connections a command waits (up to the timeout) for a free
    # connection instead of failing with MaxConnectionsError when thousands join at once.
    return aioredis.Redis.from_pool(
        aioredis.BlockingConnectionPool.from_url(
            s.redis_url,
            decode_responses=True,
            socket_timeout=s.redis_timeout_seconds,
            socket_connect_timeout=s.redis_timeout_seconds,
            max_connections=s.redis_max_connections,
            timeout=s.redis_timeout_seconds,
            # After a Redis restart every pooled connection is dead; without a retry each
            # one fails its next command (a join storm then sees a burst of refusals).
            retry=Retry(
                ExponentialWithJitterBackoff(base=0.01, cap=0.1),
                retries=1,
                supported_errors=(RedisConnectionError,),
            ),
        )
    )


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: aioredis.Redis | None = None
        self._amqp: AbstractRobustConnection | None = None
        self._http: httpx.AsyncClient | None = None
        self._ctx: GatewayContext | None = None
        self._server: Server | None = None
        self._sampler: PeriodicSampler | None = None

    @property
    def context(self) -> GatewayContext:
        assert self._ctx is not None, "gateway not started"
        return self._ctx

    @property
    def port(self) -> int:
        """The port actually bound (settings.port may be 0 in tests)."""
        assert self._server is not None, "gateway not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, connect_timeout: float = 60.0) -> None:
        s = self.settings
        redis = self._redis = _redis_client(s)
        await _wait_for("redis", lambda: ACCEPT.load(redis), connect_timeout)
        self._amqp = connection = await _wait_for(
            "rabbitmq",
            lambda: amqp.connect_declared(
                s.amqp_url, name=f"ws-gateway {s.instance_id}", timeout=s.amqp_timeout_seconds
            ),
            connect_timeout,
        )
        self._http = httpx.AsyncClient(timeout=s.poll_api_timeout_seconds)

        ctx = self._ctx = GatewayContext(s, redis, connection, self._http)
        admission = Admission(s, ctx.limits.limiter, ctx.events)
        ctx.events.start()
        # The broker may go down between the connect and this (a restart while we start):
        # retried like the connect, instead of exiting 1.
        await _wait_for("rabbitmq live queue", ctx.live.start, connect_timeout)
        ctx.guard.start()
        ctx.batcher.start()
        ctx.fanout.start()
        ctx.qa.start()
        ctx.idle.start()
        ctx.hosts.start()
        self._sampler = ops_sampler(
            dependency_sample(ctx.dependency_checks()), interval=s.metrics_sample_seconds
        )
        self._sampler.start()
        self._server = await serve(
            admission.guard_connection(make_handler(ctx)),
            s.host,
            s.port,
            process_request=make_process_request(ctx, admission),
            compression=None,
            max_size=MAX_FRAME_BYTES,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=min(5.0, s.shutdown_grace_seconds / 3),
            server_header=None,
            backlog=s.listen_backlog,
        )
        log.info("ws-gateway listening", extra={"host": s.host, "port": self.port})

    async def stop(self) -> None:
        """Stop taking connections, flush pending votes, close every socket with 1012."""
        ctx = self._ctx
        if ctx is not None:
            ctx.draining = True
        if self._sampler is not None:
            await self._sampler.stop()
        if self._server is not None:
            # Stop listening first (new clients go to another replica); sockets stay open
            # so the votes still being flushed can be answered.
            self._server.server.close()
        if ctx is not None:
            await ctx.batcher.drain()
            await ctx.joins.drain()
        if self._server is not None:
            self._server.close(code=CloseCode.SERVICE_RESTART, reason="service restart")
            await self._server.wait_closed()
        if ctx is not None:
            await ctx.guard.stop()
            await ctx.events.stop()  # emits the last security events
            await ctx.fanout.stop()
            await ctx.qa.stop()
            await ctx.idle.stop()
            await ctx.hosts.stop()
            await ctx.live.close()
            await ctx.publisher.close()
        if self._amqp is not None:
            await self._amqp.close()
        if self._http is not None:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        log.info("ws-gateway stopped")


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """Start a gateway and stop it gracefully afterwards (tests, embedding)."""
    gateway = Gateway(settings)
    try:
        await gateway.start()
        yield gateway
    finally:
        await gateway.stop()

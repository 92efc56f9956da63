"""Wiring: Redis, RabbitMQ, the batcher, the live feed and the WebSocket server, in order."""

from __future__ import annotations

import asyncio
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
from ws_gateway.context import GatewayContext
from ws_gateway.fanout import Fanout
from ws_gateway.guard import GuardedPublisher, LoadGuard
from ws_gateway.handler import make_handler
from ws_gateway.http import make_process_request
from ws_gateway.live import LiveFeed
from ws_gateway.ops_sampler import build_sampler
from ws_gateway.rooms import RoomDirectory
from ws_gateway.security import Security
from ws_gateway.settings import Settings
from ws_gateway.votes import ACCEPT_SCRIPT, VoteBatcher
from zephyr_runtime import amqp
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.sampler import PeriodicSampler

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _retry(what: str, attempt: Callable[[], Awaitable[T]], give_up_after: float) -> T:
    """Dependencies may start after us (compose, CI): retry with backoff for a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    delay = 0.2
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if loop.time() + delay > deadline:
                raise
            log.warning("waiting for %s", what, extra={"error": repr(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


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
        # A blocking pool: past max_connections a command waits (up to the timeout) for a free
        # connection instead of failing with MaxConnectionsError when thousands join at once.
        redis = aioredis.Redis.from_pool(
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
        self._redis = redis
        await _retry("redis", lambda: redis.script_load(ACCEPT_SCRIPT), connect_timeout)
        self._amqp = await _retry(
            "rabbitmq",
            lambda: amqp.connect(s.amqp_url, name=f"ws-gateway {s.instance_id}"),
            connect_timeout,
        )
        channel = await self._amqp.channel()
        await amqp.declare_topology(channel)
        await channel.close()
        self._http = httpx.AsyncClient(timeout=s.poll_api_timeout_seconds)

        keys = RedisKeys(s.redis_prefix)
        guard = LoadGuard(
            self._amqp,
            redis,
            max_backlog=s.shed_votes_backlog,
            max_in_flight=s.shed_votes_in_flight,
            sample_seconds=s.guard_sample_ms / 1000,
            timeout=s.redis_timeout_seconds,
            breaker_failures=s.breaker_failures,
            breaker_reset_seconds=s.breaker_reset_seconds,
        )
        publisher = GuardedPublisher(
            self._amqp, timeout=s.publish_timeout_seconds, breaker=guard.amqp_breaker
        )
        rooms = RoomDirectory(redis, keys, self._http, s.poll_api_url)
        fanout = Fanout(rooms, redis, keys, s.tally_interval_ms, s.tally_frame_budget)
        live = LiveFeed(self._amqp, fanout, rooms, s.instance_id)
        rooms.set_liveness(live.is_bound)
        batcher = VoteBatcher(
            redis=redis,
            keys=keys,
            publisher=publisher,
            refresh_poll=rooms.refresh_from_api,
            gateway_id=s.instance_id,
            batch_max=s.vote_batch_max,
            batch_wait_ms=s.vote_batch_wait_ms,
            max_pending=s.max_pending_votes,
            publish_depth=s.vote_publish_depth,
        )
        self._ctx = GatewayContext(
            settings=s,
            redis=redis,
            keys=keys,
            publisher=publisher,
            rooms=rooms,
            batcher=batcher,
            fanout=fanout,
            live=live,
            guard=guard,
        )
        security = Security(s, redis, publisher, poll_api_url=s.poll_api_url)
        self._ctx.security = security
        security.start()
        await live.start()
        guard.start()
        batcher.start()
        fanout.start()
        self._sampler = build_sampler(self._ctx)
        self._sampler.start()
        self._server = await serve(
            security.guard_connection(make_handler(self._ctx)),
            s.host,
            s.port,
            process_request=security.guard_handshake(make_process_request(self._ctx)),
            compression=None,
            max_size=MAX_FRAME_BYTES,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=min(5.0, s.shutdown_grace_seconds / 3),
            server_header=None,
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
        if self._server is not None:
            self._server.close(code=CloseCode.SERVICE_RESTART, reason="service restart")
            await self._server.wait_closed()
        if ctx is not None:
            if ctx.guard is not None:
                await ctx.guard.stop()
            if ctx.security is not None:
                await ctx.security.stop()  # emits the last security events
            await ctx.fanout.stop()
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

"""Load shedding and circuit breakers for the gateway: refuse a vote early and clearly.

A sampler runs every `guard_sample_ms` (0.5 s by default): it reads the `votes` queue depth with
a passive declare and pings Redis, each bounded by a timeout. Failures open that dependency's
circuit breaker (confirmed publishes that fail count too); while it is open new votes and joins
get `unavailable` with `retry_after` at once, and the connection stays open. The next successful
sample closes it again: the gateway recovers by itself.

New votes are also shed with `overloaded` + `retry_after` while the `votes` backlog or the votes
this process has in flight (queued, or published and waiting for the confirm) pass their bounds,
so a slow worker or broker makes clients back off instead of growing the gateway's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from pydantic import BaseModel

from contracts import Contract
from contracts.topology import VOTES_QUEUE
from ws_gateway.metrics import VOTES_BACKLOG, VOTES_IN_FLIGHT
from ws_gateway.wire import Refusal
from zephyr_runtime.amqp import ConfirmedPublisher, PublishFailed
from zephyr_runtime.queues import queue_depth
from zephyr_runtime.resilience import CircuitBreaker
from zephyr_runtime.sampler import PeriodicSampler

log = logging.getLogger(__name__)


class LoadGuard:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        redis: aioredis.Redis,
        *,
        max_backlog: int,
        max_in_flight: int,
        sample_seconds: float = 0.5,
        timeout: float = 1.0,
        breaker_failures: int = 2,
        breaker_reset_seconds: float = 1.0,
        retry_after: float = 1.0,
    ) -> None:
        self._connection, self._redis = connection, redis
        self.max_backlog, self.max_in_flight = max_backlog, max_in_flight
        self._timeout, self._retry_after = timeout, retry_after
        # Each probe bounds itself by `timeout`; the sampler's own bound is only a backstop.
        self._sampler = PeriodicSampler(
            [self.sample_redis, self.sample_backlog], interval=sample_seconds, timeout=timeout + 1
        )
        self.redis_breaker = CircuitBreaker(
            "redis", failure_threshold=breaker_failures, reset_timeout=breaker_reset_seconds
        )
        self.amqp_breaker = CircuitBreaker(
            "rabbitmq", failure_threshold=breaker_failures, reset_timeout=breaker_reset_seconds
        )
        self.backlog = 0
        self.in_flight = 0
        self._channel: AbstractChannel | None = None
        # Read at scrape time: a `set()` per vote takes the metric's lock twice per vote.
        VOTES_IN_FLIGHT.set_function(lambda: self.in_flight)

    # ---- decisions -------------------------------------------------------------------------

    def refuse_join(self) -> Refusal | None:
        for breaker in (self.redis_breaker, self.amqp_breaker):
            if breaker.is_open:
                return "unavailable", f"{breaker.name} is unavailable; retry", breaker.retry_after()
        return None

    def refuse_vote(self) -> Refusal | None:
        """Why a new vote must be refused now, or None to take it."""
        refusal = self.refuse_join()
        if refusal is not None:
            return refusal
        if self.in_flight >= self.max_in_flight:
            return "overloaded", "too many votes in flight; retry", self._retry_after
        if self.backlog >= self.max_backlog:
            return "overloaded", "the vote backlog is full; retry", self._retry_after
        return None

    def track(self, reply: Callable[[BaseModel], None]) -> Callable[[BaseModel], None]:
        """Count a submitted vote until its reply is sent."""
        self.in_flight += 1

        def answered(frame: BaseModel) -> None:
            self.in_flight -= 1
            reply(frame)

        return answered

    # ---- the sampler -----------------------------------------------------------------------

    def start(self) -> None:
        self._sampler.start()

    async def stop(self) -> None:
        await self._sampler.stop()
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def sample_redis(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except Exception as exc:
            self._failed(self.redis_breaker, exc)
        else:
            self.redis_breaker.record_success()

    async def sample_backlog(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                if self._channel is None or self._channel.is_closed:
                    self._channel = await self._connection.channel()
                self.backlog = await queue_depth(self._channel, VOTES_QUEUE)
        except Exception as exc:
            self._channel = None  # a failed passive declare closes the channel
            self._failed(self.amqp_breaker, exc)
        else:
            VOTES_BACKLOG.set(self.backlog)
            self.amqp_breaker.record_success()

    @staticmethod
    def _failed(breaker: CircuitBreaker, exc: BaseException) -> None:
        was_open = breaker.is_open
        breaker.record_failure()
        if breaker.is_open and not was_open:
            log.warning("%s unavailable: failing fast", breaker.name, extra={"error": repr(exc)})


class GuardedPublisher(ConfirmedPublisher):
    """A ConfirmedPublisher whose failures feed the RabbitMQ breaker and which fails fast while
    that breaker is open (the sampler's next successful probe closes it)."""

    def __init__(self, *args: Any, breaker: CircuitBreaker, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._breaker = breaker

    async def publish(self, message: Contract, **kwargs: Any) -> None:
        if self._breaker.is_open:
            raise PublishFailed("rabbitmq circuit open")
        try:
            await super().publish(message, **kwargs)
        except PublishFailed:
            self._breaker.record_failure()
            raise
        self._breaker.record_success()

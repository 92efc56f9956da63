"""The RabbitMQ side of poll-api: a lazily opened robust connection and a raw confirmed publisher.

The outbox stores each message's body and headers as they were when the change committed, so
the relay publishes those bytes as they are. `zephyr_runtime.amqp.ConfirmedPublisher` builds
messages from contract objects (and stamps a new x-occurred-at), hence this small sibling.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from contracts.topology import LIVE_EXCHANGE
from zephyr_runtime.amqp import PublishFailed, connect_declared, publish_destination
from zephyr_runtime.opsmetrics import MESSAGES_PUBLISHED

log = logging.getLogger(__name__)

# A live update nobody listens to is not a failure: no gateway has a screen of that poll.
UNROUTABLE_IS_FINE = frozenset({LIVE_EXCHANGE})


class AmqpLink:
    """Connects on first use (the service starts while RabbitMQ is down); declares topology."""

    def __init__(self, url: str, *, name: str, timeout: float = 5.0) -> None:
        self._url = url
        self._name = name
        self._timeout = timeout
        self._connection: AbstractRobustConnection | None = None
        self._lock = asyncio.Lock()

    async def connection(self) -> AbstractRobustConnection:
        async with self._lock:
            if self._connection is None:
                self._connection = await connect_declared(
                    self._url, name=self._name, timeout=self._timeout
                )
            return self._connection

    async def check(self) -> None:
        """Readiness: connected now (a robust connection may be between reconnects)."""
        connection = await self.connection()
        if connection.is_closed or not connection.connected.is_set():
            raise ConnectionError("RabbitMQ connection is down")

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None


class RawConfirmedPublisher:
    """Publishes stored bytes with publisher confirms and `mandatory`; raises PublishFailed."""

    def __init__(self, link: AmqpLink, *, timeout: float = 10.0) -> None:
        self._link = link
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}

    async def _exchange(self, name: str) -> AbstractExchange:
        if self._channel is None or self._channel.is_closed:
            connection = await self._link.connection()
            # Returns come back as the publish result, so each exchange can decide about them.
            self._channel = await connection.channel(
                publisher_confirms=True, on_return_raises=False
            )
            self._exchanges.clear()
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
        return self._exchanges[name]

    async def publish(self, *, exchange: str, routing_key: str, **message: Any) -> None:
        """Publish and wait for the confirm, counting the outcome in
        `zephyr_messages_published_total`."""
        destination = publish_destination(exchange, routing_key)
        try:
            await self._publish(exchange=exchange, routing_key=routing_key, **message)
        except PublishFailed:
            MESSAGES_PUBLISHED.labels(destination, "failed").inc()
            raise
        MESSAGES_PUBLISHED.labels(destination, "confirmed").inc()

    async def _publish(
        self,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        message_type: str,
        headers: dict[str, Any],
        correlation_id: str | None,
    ) -> None:
        message = aio_pika.Message(
            body=body,
            content_type="application/json",
            message_id=message_id,
            type=message_type,
            correlation_id=correlation_id,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            target = await self._exchange(exchange)
            result: Any = await target.publish(
                message, routing_key=routing_key, mandatory=True, timeout=self._timeout
            )
        except (
            aiormq.exceptions.AMQPError,
            aiormq.exceptions.ChannelInvalidStateError,
            OSError,  # connection refused or lost; TimeoutError is an OSError too
        ) as exc:
            self._channel = None
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(result, DeliveredMessage):
            if exchange in UNROUTABLE_IS_FINE:
                return
            raise PublishFailed(f"unroutable: {exchange} {routing_key}")
        if result is not None and not isinstance(result, aiormq.spec.Basic.Ack):
            raise PublishFailed(f"broker did not ack: {type(result).__name__}")

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = None

"""RabbitMQ plumbing: robust connections, topology declaration and confirmed publishing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
    TimeoutType,
)
from pamqp.commands import Basic

from contracts import Contract, envelope_headers
from contracts.topology import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_VOTES_MAX_LENGTH,
    durable_queues,
    exchanges,
)
from zephyr_runtime.opsmetrics import MESSAGES_PUBLISHED
from zephyr_runtime.tracing import current_trace_headers

log = logging.getLogger(__name__)


def publish_destination(exchange: str, routing_key: str) -> str:
    """The metrics label of a publish: the queue for the default exchange, else the exchange
    (routing keys on topic exchanges hold poll ids: unbounded label values)."""
    return routing_key if exchange == "" else exchange


class PublishFailed(Exception):
    """The broker did not confirm a message (nack, unroutable, timeout or connection lost)."""


class _ClosedOnFailedConnect(aio_pika.RobustConnection):
    """A robust connection that closes itself when its first connect fails.

    aio-pika leaves such a connection open-but-never-connected; when it is garbage collected
    outside a running loop its `__del__` creates a `close()` coroutine nobody awaits.
    """

    async def connect(self, timeout: TimeoutType = None) -> None:
        try:
            await super().connect(timeout)
        except BaseException:
            await self.close()
            raise


async def connect(url: str, *, name: str, timeout: float = 10.0) -> AbstractRobustConnection:
    """A robust connection that reconnects by itself; `name` shows in the management UI."""
    return await aio_pika.connect_robust(
        url,
        timeout=timeout,
        client_properties={"connection_name": name},
        connection_class=_ClosedOnFailedConnect,
    )


async def connect_declared(
    url: str,
    *,
    name: str,
    timeout: float = 10.0,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
) -> AbstractRobustConnection:
    """A connection on which the topology was declared, as one step to retry: a broker that
    shuts down between the connect and the declarations (CONNECTION_FORCED) fails the whole
    step, and the connection it opened is closed rather than left reconnecting."""
    connection = await connect(url, name=name, timeout=timeout)
    try:
        channel = await connection.channel()
        await declare_topology(channel, delivery_limit=delivery_limit)
        await channel.close()
    except BaseException:
        await connection.close()
        raise
    return connection


async def declare_topology(
    channel: AbstractChannel,
    *,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
    votes_max_length: int = DEFAULT_VOTES_MAX_LENGTH,
) -> None:
    """Declare every exchange, durable queue and binding. Idempotent; arguments must agree."""
    declared: dict[str, AbstractExchange] = {}
    for spec in exchanges():
        declared[spec.name] = await channel.declare_exchange(
            spec.name, aio_pika.ExchangeType(spec.kind), durable=True
        )
    for queue in durable_queues(delivery_limit, votes_max_length):
        q = await channel.declare_queue(queue.name, durable=True, arguments=queue.arguments)
        for exchange, key in queue.bindings:
            await q.bind(declared[exchange], routing_key=key)


def encode(message: Contract) -> bytes:
    return orjson.dumps(message.model_dump(mode="json"))


def build_message(
    message: Contract,
    *,
    correlation_id: str,
    trace_headers: dict[str, str] | None = None,
    message_id: str | None = None,
    persistent: bool = True,
) -> aio_pika.Message:
    return aio_pika.Message(
        body=encode(message),
        content_type="application/json",
        message_id=message_id or str(uuid.uuid4()),
        type=message.message_type(),
        correlation_id=correlation_id,
        # Without explicit trace headers the current span's context travels (W3C traceparent).
        headers=envelope_headers(
            message,
            correlation_id=correlation_id,
            trace_headers=trace_headers if trace_headers is not None else current_trace_headers(),
        ),
        delivery_mode=(
            aio_pika.DeliveryMode.PERSISTENT if persistent else aio_pika.DeliveryMode.NOT_PERSISTENT
        ),
    )


class ConfirmedPublisher:
    """Publishes contracts with publisher confirms and `mandatory`; raises PublishFailed."""

    def __init__(self, connection: AbstractRobustConnection, *, timeout: float = 10.0) -> None:
        self._connection = connection
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()

    async def _exchange(self, name: str) -> AbstractExchange:
        async with self._lock:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                self._exchanges.clear()
            if name not in self._exchanges:
                if name == "":
                    self._exchanges[name] = self._channel.default_exchange
                else:
                    self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
            return self._exchanges[name]

    async def publish(
        self,
        message: Contract,
        *,
        exchange: str,
        routing_key: str,
        correlation_id: str,
        trace_headers: dict[str, str] | None = None,
        message_id: str | None = None,
        persistent: bool = True,
        mandatory: bool = True,
    ) -> None:
        """Publish and wait for the broker's confirm.

        `mandatory=False` is for fan-out where no bound queue is a normal case (a tally for a
        poll that no gateway is watching); everything that must reach a queue stays mandatory.
        """
        amqp_message = build_message(
            message,
            correlation_id=correlation_id,
            trace_headers=trace_headers,
            message_id=message_id,
            persistent=persistent,
        )
        destination = publish_destination(exchange, routing_key)
        try:
            # Opening the channel waits on a reconnecting connection: bound it too.
            async with asyncio.timeout(self._timeout):
                target = await self._exchange(exchange)
            confirmation: Any = await target.publish(
                amqp_message, routing_key=routing_key, mandatory=mandatory, timeout=self._timeout
            )
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            MESSAGES_PUBLISHED.labels(destination, "failed").inc()
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
        if confirmation is not None and not isinstance(confirmation, Basic.Ack):
            MESSAGES_PUBLISHED.labels(destination, "failed").inc()
            raise PublishFailed(f"broker did not ack: {type(confirmation).__name__}")
        MESSAGES_PUBLISHED.labels(destination, "confirmed").inc()

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

"""RabbitMQ helpers for vote-worker tests: publish like a gateway, listen like a screen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

import vote_worker  # noqa: F401 - installs the aiormq.spec alias before zephyr_runtime.amqp
from contracts import Contract
from zephyr_runtime.amqp import build_message

WAIT_S = 30.0


async def publish(
    channel: AbstractChannel,
    message: Contract,
    *,
    routing_key: str,
    exchange: str = "",
    correlation_id: str = "test-correlation",
) -> str:
    """Publish a contract persistently with confirms; returns its message id."""
    amqp_message = build_message(message, correlation_id=correlation_id)
    target = channel.default_exchange if exchange == "" else await channel.get_exchange(exchange)
    await target.publish(amqp_message, routing_key=routing_key, mandatory=True)
    assert amqp_message.message_id is not None
    return amqp_message.message_id


async def publish_raw(
    channel: AbstractChannel, body: bytes, *, routing_key: str, message_id: str
) -> None:
    await channel.default_exchange.publish(
        aio_pika.Message(
            body=body,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=routing_key,
        mandatory=True,
    )


async def listen(channel: AbstractChannel, exchange: str, binding_key: str) -> AbstractQueue:
    """A private queue bound to `exchange`, deleted with the channel."""
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(await channel.get_exchange(exchange), routing_key=binding_key)
    return queue


async def receive_until(
    queue: AbstractQueue,
    done: Callable[[list[AbstractIncomingMessage]], bool],
    timeout: float = WAIT_S,
) -> list[AbstractIncomingMessage]:
    """Collect (and ack) messages until `done(received)` holds."""
    received: list[AbstractIncomingMessage] = []
    async with asyncio.timeout(timeout), queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            received.append(message)
            if done(received):
                return received
    raise AssertionError("queue iterator ended")

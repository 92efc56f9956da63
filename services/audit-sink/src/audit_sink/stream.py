"""Replay the audit stream (`audit.stream`, a RabbitMQ stream) from any offset or time.

For analysts: every AuditBatch ever published to `zephyr.audit` is kept in the stream for
`AUDIT_STREAM_MAX_AGE`. `read_audit_stream` yields its events over plain AMQP 0.9.1 (aio-pika)::

    async with contextlib.aclosing(read_audit_stream(url, offset="first")) as events:
        async for event in events:
            ...

A timestamp offset is as precise as RabbitMQ's: it starts at the first chunk written at or after
that second, so a few events from just before it may come too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from contracts import AuditBatch, AuditEvent
from contracts.topology import AUDIT_STREAM

log = logging.getLogger(__name__)

NamedOffset = Literal["first", "last", "next"]
StreamOffset = NamedOffset | int | datetime
NAMED_OFFSETS: tuple[NamedOffset, ...] = ("first", "last", "next")


def parse_offset(text: str) -> StreamOffset:
    """Read an offset as a CLI would take it: first, last, next, an integer or an ISO time."""
    value = text.strip()
    for name in NAMED_OFFSETS:
        if value == name:
            return name
    if value.lstrip("+-").isdigit():
        number = int(value)
        if number < 0:
            raise ValueError(f"a stream offset cannot be negative: {number}")
        return number
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"not a stream offset: {text!r} (use first, last, next, an integer or an ISO time)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stream_offset_argument(offset: StreamOffset) -> str | int | datetime:
    """The `x-stream-offset` consumer argument. A datetime goes as an AMQP timestamp."""
    if isinstance(offset, datetime):
        return offset if offset.tzinfo else offset.replace(tzinfo=UTC)
    if isinstance(offset, bool) or (isinstance(offset, int) and offset < 0):
        raise ValueError(f"invalid stream offset: {offset!r}")
    if isinstance(offset, str) and offset not in NAMED_OFFSETS:
        raise ValueError(f"invalid stream offset: {offset!r}")
    return offset


async def read_audit_stream(
    amqp_url: str,
    offset: StreamOffset = "first",
    *,
    limit: int | None = None,
    idle_timeout: float | None = 2.0,
    prefetch: int = 200,
) -> AsyncIterator[AuditEvent]:
    """Yield the audit events in the stream from `offset`, in order.

    Stops after `limit` events, or when no message came for `idle_timeout` seconds (the end
    of the stream, for a replay; None follows it until cancelled). Messages that are not valid
    AuditBatches are logged and skipped. Streams need a prefetch and manual acks: each message
    is acked once read.
    """
    argument = stream_offset_argument(offset)
    if limit is not None and limit <= 0:
        return
    connection = await aio_pika.connect(
        amqp_url, timeout=10, client_properties={"connection_name": "audit-stream-reader"}
    )
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        stream = await channel.get_queue(AUDIT_STREAM, ensure=False)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        await stream.consume(inbox.put, arguments={"x-stream-offset": argument})
        yielded = 0
        while True:
            try:
                async with asyncio.timeout(idle_timeout):
                    message = await inbox.get()
            except TimeoutError:
                return
            await message.ack()
            for event in _events(message):
                yield event
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
    finally:
        await connection.close()


def _events(message: AbstractIncomingMessage) -> list[AuditEvent]:
    try:
        return list(AuditBatch.model_validate_json(message.body).events)
    except ValidationError as exc:
        log.warning(
            "skipping a stream message that is not an AuditBatch",
            extra={
                "message_id": message.message_id,
                "stream_offset": (message.headers or {}).get("x-stream-offset"),
                "error": str(exc)[:300],
            },
        )
        return []

"""What audit-sink consumes: the FastStream broker and its subscriber on the `audit` queue, which
parses each message and hands it to the batcher (the flusher acks after the INSERT)."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas import Channel
from faststream.rabbit.subscriber import RabbitSubscriber

from audit_sink import metrics
from audit_sink.flusher import Delivery
from audit_sink.rows import InvalidMessage, parse_message
from audit_sink.settings import Settings
from contracts.base import HEADER_CORRELATION_ID
from contracts.topology import AUDIT_QUEUE
from zephyr_runtime import tracing
from zephyr_runtime.batching import Batcher
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)


def build_broker(settings: Settings) -> RabbitBroker:
    return RabbitBroker(
        settings.amqp_url,
        default_channel=Channel(prefetch_count=settings.prefetch),
        graceful_timeout=settings.shutdown_grace_seconds,
        logger=logging.getLogger("audit_sink.faststream"),
        # FastStream logs every message at this level: keep it out of INFO.
        log_level=logging.DEBUG,
    )


async def _as_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """The message itself as the handler's one argument: FastStream's context field
    (`message: RabbitMessage`) costs a thread hop per message (fast_depends runs its
    synchronous resolver in a worker thread)."""
    return message


def subscribe_audit_queue(broker: RabbitBroker, batcher: Batcher[Delivery]) -> RabbitSubscriber:
    """Register the audit consumer with manual acks: the flusher acks after the INSERT."""
    # declare=False: declare_topology owns the queue's arguments; FastStream only consumes it.
    subscriber = broker.subscriber(
        RabbitQueue(AUDIT_QUEUE, declare=False),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
        # We parse the raw body ourselves: FastStream's JSON decoding would fail on a poison
        # message before our handler could reject it.
        decoder=_as_message,
        title="audit",
        description="Every service's AuditBatch messages, stored in audit_log.",
    )

    @subscriber
    async def record_audit_batch(decoded: Any) -> None:
        message: RabbitMessage = decoded
        # Never raise: with manual acks an exception would leave the message unacked forever.
        metrics.message_consumed()
        headers = message.headers or {}
        correlation_id = headers.get(HEADER_CORRELATION_ID) or message.correlation_id
        token = correlation_id_var.set(str(correlation_id) if correlation_id else None)
        try:
            # The span continues the publisher's trace; the INSERT happens later, in a batch.
            with tracing.span(
                "audit receive",
                parent_headers=headers,
                kind=tracing.SpanKind.CONSUMER,
                attributes={"messaging.destination.name": AUDIT_QUEUE},
            ):
                rows = parse_message(message.body, message.raw_message.type)
                log.debug("audit batch received", extra={"events": len(rows)})
        except InvalidMessage as exc:
            metrics.message_rejected("invalid")
            log.warning(
                "invalid audit message rejected to the dead-letter queue",
                extra={"message_id": message.message_id, "reason": str(exc)},
            )
            await _reject(message)
            return
        finally:
            correlation_id_var.reset(token)
        batcher.add(Delivery(message, rows, message.message_id))

    return subscriber


async def _reject(message: RabbitMessage) -> None:
    try:
        await message.reject(requeue=False)
    except Exception as exc:
        # The channel is gone; the broker redelivers the message and we reject it again.
        log.warning("could not reject an audit message", extra={"error": repr(exc)})

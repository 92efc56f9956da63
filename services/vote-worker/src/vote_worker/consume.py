"""The FastStream broker and its three subscribers.

The queues are declared by `zephyr_runtime.amqp.declare_topology` at start-up with their exact
arguments; FastStream only looks them up (`declare=False`, a passive declare) so it can never
redeclare them differently. Each subscriber hands the raw body to its handler, which parses it.

No `from __future__ import annotations` here: FastDepends reads the handlers' annotations at
run time to inject the message from the context.
"""

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, QueueType, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

from contracts.topology import PARTICIPANTS_QUEUE, VOTES_QUEUE, WORKER_POLL_EVENTS_QUEUE
from vote_worker.handlers import Handlers
from vote_worker.settings import SERVICE_NAME, Settings
from zephyr_runtime import tracing

log = logging.getLogger(__name__)

# Participants and poll events are handled one message at a time each; no batch to fill.
EVENTS_PREFETCH = 50


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """Decoder: the body as bytes, so an invalid body reaches the handler instead of failing."""
    return bytes(message.body)


@contextlib.contextmanager
def consume_span(queue: str, message: RabbitMessage) -> Iterator[None]:
    """A consumer span continuing the publisher's trace; a debug line once handled."""
    with tracing.span(
        f"{queue} receive",
        parent_headers=message.headers or {},
        kind=tracing.SpanKind.CONSUMER,
        attributes={"messaging.destination.name": queue},
    ):
        yield
    # The handler has bound the message's correlation id: this line carries it.
    log.debug("consumed a message", extra={"queue": queue, "message_id": message.message_id})


def _queue(name: str) -> RabbitQueue:
    return RabbitQueue(name, QueueType.QUORUM, declare=False)


def build_broker(settings: Settings, handlers: Handlers) -> RabbitBroker:
    broker = RabbitBroker(
        settings.amqp_url,
        app_id=SERVICE_NAME,
        graceful_timeout=min(5.0, settings.shutdown_grace_seconds / 2),
        logger=logging.getLogger("vote_worker.faststream"),
        # Per-message "received/processed" lines at DEBUG: thousands a second otherwise.
        log_level=logging.DEBUG,
        description="vote-worker: records votes, keeps tallies, publishes them.",
    )
    votes_channel = Channel(prefetch_count=settings.prefetch)
    events_channel = Channel(prefetch_count=EVENTS_PREFETCH)

    @broker.subscriber(
        _queue(VOTES_QUEUE),
        channel=votes_channel,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        no_reply=True,
        title="votes",
        description="contracts.VoteBatch from the gateways; micro-batched, acked after commit.",
    )
    async def on_votes(body: bytes, message: RabbitMessage) -> None:
        with consume_span(VOTES_QUEUE, message):
            await handlers.on_votes(body, message)

    @broker.subscriber(
        _queue(PARTICIPANTS_QUEUE),
        channel=events_channel,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        no_reply=True,
        title="participants",
        description="contracts.ParticipantJoined from the gateways; upserts participants.",
    )
    async def on_participant(body: bytes, message: RabbitMessage) -> None:
        with consume_span(PARTICIPANTS_QUEUE, message):
            await handlers.on_participant(body, message)

    @broker.subscriber(
        _queue(WORKER_POLL_EVENTS_QUEUE),
        channel=events_channel,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        no_reply=True,
        title="vote-worker.poll-events",
        description="contracts.PollEvent from poll-api; resets and opens publish the tally.",
    )
    async def on_poll_event(body: bytes, message: RabbitMessage) -> None:
        with consume_span(WORKER_POLL_EVENTS_QUEUE, message):
            await handlers.on_poll_event(body, message)

    return broker

"""What vote-worker consumes: the FastStream broker, its three subscribers, and what each does
with a message.

- `votes`: parsed and handed to the batcher; the flusher acks after the batch is recorded.
- `participants`: upserted, then acked.
- `vote-worker.poll-events`: a reset, an open or an edit of a question refreshes and publishes
  its tally (every question's for an event without `qid`); the close of a quiz question (or a
  reset in a scored quiz) rescores the poll's quiz (`quiz_scorer`); then acked.

The queues are declared by `zephyr_runtime.amqp.declare_topology` at start-up with their exact
arguments; FastStream only looks them up (`declare=False`, a passive declare) so it can never
redeclare them differently. Each subscriber hands the raw body on and `Consumer` parses it, so a
body that is not a valid contract is rejected (dead-lettered) instead of retried.

No `from __future__ import annotations` here: FastDepends reads the subscribers' annotations at
run time to inject the message from the context.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, QueueType, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from contracts import ParticipantJoined, PollEvent, QaActions, VoteBatch
from contracts.topology import PARTICIPANTS_QUEUE, QA_QUEUE, VOTES_QUEUE, WORKER_POLL_EVENTS_QUEUE
from vote_worker.flusher import Delivery
from vote_worker.metrics import MESSAGES_ACKED, counting_db_errors
from vote_worker.participants import JOINS_ADAPTER, joins_of, upsert_participants
from vote_worker.poison import (
    Delivered,
    InvalidBody,
    correlation_id_of,
    describe_invalid,
    parse_body,
    reject_poison,
)
from vote_worker.publish import Outbound
from vote_worker.qa import QaDelivery
from vote_worker.retention import delete_rows_of
from vote_worker.settings import SERVICE_NAME, Settings
from vote_worker.steps import retry_step
from zephyr_runtime import opsmetrics as ops
from zephyr_runtime import tracing
from zephyr_runtime.batching import Batcher
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.resilience import Stopping

M = TypeVar("M")
C = TypeVar("C")

log = logging.getLogger(__name__)

# Participants and poll events are handled one message at a time each; no batch to fill.
EVENTS_PREFETCH = 50
MAX_SEQ = 2**63 - 1  # bigint
MAX_EPOCH = 2**31 - 1  # integer
# Poll events after which screens need the question's tally now (empty after a reset, zeros
# at a first open, another shape after an edit of a draft), or after which it goes (a deleted
# draft's).
TALLY_EVENTS = frozenset({"reset", "opened", "question_edited", "question_deleted"})
# The `step` label of zephyr_vote_worker_flush_retries_total for each queue's retried work.
STEPS = {PARTICIPANTS_QUEUE: "participant", WORKER_POLL_EVENTS_QUEUE: "poll_event"}

RefreshTally = Callable[[UUID, int | None, str], Awaitable[object]]
ScoreQuiz = Callable[[PollEvent, str], Awaitable[None]]


def parse_vote_batch(body: bytes) -> VoteBatch:
    batch = parse_body(VoteBatch, body)
    for index, vote in enumerate(batch.votes):
        # Beyond the columns' range Postgres would refuse the whole batch on every retry.
        if vote.seq > MAX_SEQ or vote.epoch > MAX_EPOCH:
            raise InvalidBody(f"invalid_schema: votes.{index}: seq or epoch out of range")
    return batch


def _parse_joins(body: bytes) -> list[ParticipantJoined]:
    """A `ParticipantsJoined` or a single `ParticipantJoined`, as the list of its joins."""
    try:
        return joins_of(JOINS_ADAPTER.validate_json(body))
    except ValidationError as exc:
        raise InvalidBody(describe_invalid(exc)) from exc


@dataclass
class Consumer:
    pool: asyncpg.Pool
    outbound: Outbound
    batcher: Batcher[Delivery]
    refresh_tally: RefreshTally
    stopping: asyncio.Event
    score_quiz: ScoreQuiz | None = None
    qa_batcher: Batcher[QaDelivery] | None = None

    async def on_votes(self, body: bytes, message: Delivered) -> None:
        received = await self._receive(VOTES_QUEUE, body, message, parse_vote_batch, audit=True)
        if received is not None:
            batch, correlation_id = received
            self.batcher.add(Delivery(batch, message, correlation_id))

    async def on_qa(self, body: bytes, message: Delivered) -> None:
        received = await self._receive(QA_QUEUE, body, message, partial(parse_body, QaActions))
        if received is not None:
            assert self.qa_batcher is not None
            actions, correlation_id = received
            self.qa_batcher.add(QaDelivery(actions, message, correlation_id))

    async def on_participant(self, body: bytes, message: Delivered) -> None:
        await self._apply(PARTICIPANTS_QUEUE, body, message, _parse_joins, self._store)

    async def on_poll_event(self, body: bytes, message: Delivered) -> None:
        await self._apply(
            WORKER_POLL_EVENTS_QUEUE,
            body,
            message,
            partial(parse_body, PollEvent),
            self._poll_event,
        )

    async def _store(self, joins: list[ParticipantJoined], correlation_id: str) -> None:
        with counting_db_errors():
            await upsert_participants(self.pool, joins)

    async def _poll_event(self, event: PollEvent, correlation_id: str) -> None:
        if event.event == "deleted":
            with counting_db_errors():
                async with self.pool.acquire() as conn:
                    deleted = await delete_rows_of(conn, [event.poll.id])
            log.info("deleted a poll's rows", extra={"poll_id": str(event.poll.id), **deleted})
            return
        if event.event in TALLY_EVENTS:
            await self.refresh_tally(event.poll.id, event.qid, correlation_id)
        if self.score_quiz is not None:
            # After the tally: a reset's old answers are gone, a close's counts are current.
            await self.score_quiz(event, correlation_id)

    async def _apply(
        self,
        queue: str,
        body: bytes,
        message: Delivered,
        parse: Callable[[bytes], C],
        act: Callable[[C, str], Awaitable[None]],
    ) -> None:
        """Parse, `act` until it succeeds (each retry counted under the queue's `STEPS` name),
        then ack. Poison is dead-lettered; at shutdown a failing `act` leaves it unacked."""
        received = await self._receive(queue, body, message, parse)
        if received is None:
            return
        parsed, correlation_id = received
        if await self._retry(STEPS[queue], lambda: act(parsed, correlation_id)):
            await self._ack(message, queue)

    async def _receive(
        self,
        queue: str,
        body: bytes,
        message: Delivered,
        parse: Callable[[bytes], M],
        *,
        audit: bool = False,
    ) -> tuple[M, str] | None:
        """Count the message, bind its correlation id and parse it: the contract and the id,
        or None when it was poison (dead-lettered, and audited with `audit`)."""
        ops.MESSAGES_CONSUMED.labels(queue).inc()
        correlation_id = correlation_id_of(message)
        correlation_id_var.set(correlation_id)
        try:
            return parse(body), correlation_id
        except InvalidBody as exc:
            await reject_poison(
                message,
                queue=queue,
                reason=str(exc),
                correlation_id=correlation_id,
                outbound=self.outbound if audit else None,
            )
            return None

    async def _retry(self, step: str, operation: Callable[[], Awaitable[object]]) -> bool:
        """Retry until done; False when shutting down (the message stays unacked)."""
        try:
            await retry_step(step, operation, stopping=self.stopping)
        except Stopping:
            return False
        return True

    @staticmethod
    async def _ack(message: Delivered, queue: str) -> None:
        try:
            await message.ack()
            MESSAGES_ACKED.labels(queue).inc()
        except Exception as exc:
            log.warning("could not ack message on %s: %s", queue, exc)


# A `Consumer` method, taken from the class: the broker is built (and documented) before any
# message needs a consumer.
Handle = Callable[[Consumer, bytes, Delivered], Awaitable[None]]


async def as_message(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """Decoder: the message itself, so an invalid body reaches the consumer instead of failing.

    The handler takes it as its one argument rather than through FastStream's context
    (`message: RabbitMessage`): that context field is resolved by a synchronous call, which
    fast_depends runs in a worker thread, a thread hop per message (5 % of the worker's CPU
    at 2,000 votes/s in a py-spy profile, docs/performance.md)."""
    return message


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
    # The consumer has bound the message's correlation id: this line carries it.
    log.debug("consumed a message", extra={"queue": queue, "message_id": message.message_id})


def build_broker(settings: Settings, consumer: Consumer) -> RabbitBroker:
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
    subscriptions: list[tuple[str, Channel, str, str, Handle]] = [
        (
            VOTES_QUEUE,
            votes_channel,
            "votes",
            "contracts.VoteBatch (v1 and v2) from the gateways; micro-batched, acked after commit.",
            Consumer.on_votes,
        ),
        (
            PARTICIPANTS_QUEUE,
            events_channel,
            "participants",
            "contracts.ParticipantJoined and ParticipantsJoined (the joins of one publish "
            "round trip) from the gateways; upserts participants.",
            Consumer.on_participant,
        ),
        (
            WORKER_POLL_EVENTS_QUEUE,
            events_channel,
            "vote-worker.poll-events",
            "contracts.PollEvent from poll-api; resets, opens and edits publish the tally; "
            "a quiz question's close rescores the quiz (QuizScored).",
            Consumer.on_poll_event,
        ),
        (
            QA_QUEUE,
            events_channel,
            "qa",
            "contracts.QaActions (asks, upvotes from the gateways; moderation from poll-api); "
            "micro-batched, acked after commit; publishes QaBoardUpdated.",
            Consumer.on_qa,
        ),
    ]
    for queue, channel, title, description, handle in subscriptions:
        _subscribe(broker, consumer, queue, channel, title, description, handle)
    return broker


def _subscribe(
    broker: RabbitBroker,
    consumer: Consumer,
    queue: str,
    channel: Channel,
    title: str,
    description: str,
    handle: Handle,
) -> None:
    """One subscriber with manual acks: the consumer acks or rejects each message itself."""

    @broker.subscriber(
        RabbitQueue(queue, QueueType.QUORUM, declare=False),
        channel=channel,
        ack_policy=AckPolicy.MANUAL,
        decoder=as_message,
        no_reply=True,
        title=title,
        description=description,
    )
    async def consume(decoded: Any) -> None:
        message: RabbitMessage = decoded
        with consume_span(queue, message):
            await handle(consumer, bytes(message.body), message)

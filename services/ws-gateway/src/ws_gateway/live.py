"""The process's one live queue on `zephyr.live`, bound per poll while it has local participants."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from typing import Any
from uuid import UUID

from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from contracts import PollStateChanged, QaBoardUpdated, QuizScored, TallyUpdated
from contracts.base import HEADER_CORRELATION_ID
from contracts.questions import STORED
from contracts.topology import LIVE_EXCHANGE, poll_binding_key
from ws_gateway import metrics
from ws_gateway.fanout import Fanout
from ws_gateway.qa import QaDesk
from ws_gateway.quiz import QuizFanout, has_quiz
from ws_gateway.rooms import RoomDirectory
from zephyr_runtime import tracing
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.opsmetrics import MESSAGES_CONSUMED, MESSAGES_FAILED

log = logging.getLogger(__name__)

TALLY_TYPE = TallyUpdated.message_type()
STATE_TYPE = PollStateChanged.message_type()
QUIZ_TYPE = QuizScored.message_type()
QA_TYPE = QaBoardUpdated.message_type()
# Every gateway's live queue has its own name; metrics label them all as one.
LIVE_QUEUE_LABEL = "ws-gateway.live"


class LiveFeed:
    """Consumes tally, state and quiz messages for the polls this process serves."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        fanout: Fanout,
        rooms: RoomDirectory,
        instance_id: str,
        quiz: QuizFanout,
        qa: QaDesk | None = None,
    ) -> None:
        self._connection = connection
        self._qa = qa
        self._fanout = fanout
        self._quiz = quiz
        self._rooms = rooms
        # A robust channel re-declares the queue after a reconnect, so the client names it.
        self._queue_name = f"ws-gateway.live.{instance_id}.{uuid.uuid4().hex[:8]}"
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._users: Counter[UUID] = Counter()
        self._bound: set[UUID] = set()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Declare and consume this process's live queue. A failure (the broker shutting down
        meanwhile) closes the half-made channel, so the caller may simply call again."""
        channel = await self._connection.channel()
        try:
            exchange = await channel.get_exchange(LIVE_EXCHANGE)
            queue = await channel.declare_queue(self._queue_name, exclusive=True, auto_delete=True)
            # Live updates are transient (the worker republishes tallies): no acks needed.
            await queue.consume(self._on_traced_message, no_ack=True)
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        self._channel, self._exchange, self._queue = channel, exchange, queue
        self._connection.reconnect_callbacks.add(self._on_reconnect)

    async def check(self) -> None:
        """Readiness: the connection is up and the live exchange answers."""
        if self._channel is None or self._channel.is_closed:
            raise ConnectionError("live channel closed")
        await self._channel.get_exchange(LIVE_EXCHANGE, ensure=True)

    def is_bound(self, poll_id: UUID) -> bool:
        return poll_id in self._bound

    async def acquire(self, poll_id: UUID) -> None:
        """A participant of `poll_id` joined here: bind the poll if it is the first."""
        self._users[poll_id] += 1
        try:
            await self._sync_binding(poll_id)
        except BaseException:
            self._forget_user(poll_id)
            raise

    async def release(self, poll_id: UUID) -> None:
        """A participant left: unbind the poll after the last one."""
        self._forget_user(poll_id)
        await self._sync_binding(poll_id)

    def _forget_user(self, poll_id: UUID) -> None:
        self._users[poll_id] -= 1
        if self._users[poll_id] <= 0:
            del self._users[poll_id]

    async def _sync_binding(self, poll_id: UUID) -> None:
        # Under one lock, bring the binding in line with the current count: concurrent
        # joins and leaves of one poll converge whatever order they run in.
        assert self._queue is not None and self._exchange is not None
        async with self._lock:
            wanted = self._users[poll_id] > 0
            if wanted and poll_id not in self._bound:
                await self._queue.bind(self._exchange, routing_key=poll_binding_key(poll_id))
                self._bound.add(poll_id)
            elif not wanted and poll_id in self._bound:
                self._bound.discard(poll_id)
                try:
                    await self._queue.unbind(self._exchange, routing_key=poll_binding_key(poll_id))
                except Exception as exc:  # the channel may be gone at shutdown: nothing to undo
                    log.warning(
                        "unbind failed", extra={"poll_id": str(poll_id), "error": repr(exc)}
                    )

    async def _on_traced_message(self, message: AbstractIncomingMessage) -> None:
        """Handle a live message in a span continuing its publisher's trace (a kept tally
        remembers it for its broadcast), with the message's correlation id on every log line."""
        correlation_id = (message.headers or {}).get(HEADER_CORRELATION_ID)
        if isinstance(correlation_id, bytes):
            correlation_id = correlation_id.decode(errors="replace")
        token = correlation_id_var.set(str(correlation_id) if correlation_id else None)
        try:
            with tracing.span(
                "live receive",
                parent_headers=message.headers or {},
                kind=tracing.SpanKind.CONSUMER,
                attributes={"messaging.rabbitmq.routing_key": message.routing_key or ""},
            ):
                log.debug("live message", extra={"type": message.type})
                await self._on_message(message)
        finally:
            correlation_id_var.reset(token)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        kind = message.type or ""
        if not kind and message.routing_key:
            kind = _type_of(message.routing_key)
        MESSAGES_CONSUMED.labels(LIVE_QUEUE_LABEL).inc()
        try:
            if kind == TALLY_TYPE:
                tally = TallyUpdated.model_validate_json(message.body)
                if self._fanout.offer_tally(tally):
                    metrics.tally_received(tally.poll_id, metrics.occurred_at(message.headers))
            elif kind == STATE_TYPE:
                await self._fanout.on_poll_state(
                    PollStateChanged.model_validate_json(message.body, context=STORED)
                )
            elif kind == QUIZ_TYPE:
                # Taken (newer than the last sent) or dropped; the sending runs in its own task.
                self._quiz.offer(QuizScored.model_validate_json(message.body))
            elif kind == QA_TYPE and self._qa is not None:
                self._qa.offer(QaBoardUpdated.model_validate_json(message.body))
            else:
                log.warning("unexpected live message", extra={"type": kind})
        except ValidationError as exc:
            MESSAGES_FAILED.labels(LIVE_QUEUE_LABEL).inc()
            log.warning("invalid live message", extra={"type": kind, "errors": exc.error_count()})

    def _on_reconnect(self, *_: Any) -> None:
        # Messages may have been missed while disconnected: re-read what Redis says now.
        task = asyncio.create_task(self.resync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resync(self) -> None:
        for poll_id in list(self._bound):
            try:
                previous = self._rooms.get(poll_id)
                current = await self._rooms.reload(poll_id)
                if current is not None and current is not previous:
                    await self._fanout.announce(previous, current)
                if current is not None:
                    qids = [q.qid for q in current.view.questions]
                    await self._fanout.load_tallies(poll_id, qids)
                    if has_quiz(current):
                        await self._quiz.load(poll_id)
                if self._qa is not None:
                    await self._qa.reload(poll_id)
            except Exception as exc:
                log.warning(
                    "live resync failed", extra={"poll_id": str(poll_id), "error": repr(exc)}
                )

    async def close(self) -> None:
        await self._quiz.close()
        for task in list(self._tasks):
            task.cancel()
        self._connection.reconnect_callbacks.discard(self._on_reconnect)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()


def _type_of(routing_key: str) -> str:
    """A message without a `type` property, by its routing key (`poll.<id>.<what>`)."""
    if routing_key.endswith(".tally"):
        return TALLY_TYPE
    if routing_key.endswith(".quiz"):
        return QUIZ_TYPE
    if routing_key.endswith(".qa"):
        return QA_TYPE
    return STATE_TYPE

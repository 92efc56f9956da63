"""What the worker does with each consumed message. Handlers parse the raw body themselves,
so a body that is not a valid contract is rejected (dead-lettered) instead of retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from contracts import ParticipantJoined, PollEvent, VoteBatch
from contracts.topology import PARTICIPANTS_QUEUE, VOTES_QUEUE, WORKER_POLL_EVENTS_QUEUE
from vote_worker.backoff import Stopping, retry
from vote_worker.batcher import Accumulator, Delivery
from vote_worker.metrics import DB_ERRORS, MESSAGES_ACKED, MESSAGES_CONSUMED
from vote_worker.outbound import Outbound
from vote_worker.participants import upsert_participant
from vote_worker.poison import Delivered, correlation_id_of, describe_invalid, reject_poison
from vote_worker.record import TallySnapshot, sync_tally
from vote_worker.tally_cache import TallyCache
from zephyr_runtime import opsmetrics as ops
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1  # bigint
MAX_EPOCH = 2**31 - 1  # integer

# Poll events after which screens need the tally now (zeros after a reset or an open).
TALLY_EVENTS = frozenset({"reset", "opened"})


class InvalidBody(ValueError):
    """The message body is not a valid contract; the text is the reason."""


def parse_vote_batch(body: bytes) -> VoteBatch:
    try:
        batch = VoteBatch.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidBody(describe_invalid(exc)) from exc
    for index, vote in enumerate(batch.votes):
        # Beyond the columns' range Postgres would refuse the whole batch on every retry.
        if vote.seq > MAX_SEQ or vote.epoch > MAX_EPOCH:
            raise InvalidBody(f"invalid_schema: votes.{index}: seq or epoch out of range")
    return batch


@dataclass
class Handlers:
    pool: asyncpg.Pool
    cache: TallyCache
    outbound: Outbound
    accumulator: Accumulator
    stopping: asyncio.Event

    async def on_votes(self, body: bytes, message: Delivered) -> None:
        """Parse and hand to the batcher; the flusher acks after the batch is recorded."""
        MESSAGES_CONSUMED.labels(VOTES_QUEUE).inc()
        ops.MESSAGES_CONSUMED.labels(VOTES_QUEUE).inc()
        correlation_id = correlation_id_of(message)
        correlation_id_var.set(correlation_id)
        try:
            batch = parse_vote_batch(body)
        except InvalidBody as exc:
            await reject_poison(
                message,
                queue=VOTES_QUEUE,
                reason=str(exc),
                correlation_id=correlation_id,
                outbound=self.outbound,
            )
            return
        self.accumulator.add(Delivery(batch, message, correlation_id))

    async def on_participant(self, body: bytes, message: Delivered) -> None:
        MESSAGES_CONSUMED.labels(PARTICIPANTS_QUEUE).inc()
        ops.MESSAGES_CONSUMED.labels(PARTICIPANTS_QUEUE).inc()
        correlation_id = correlation_id_of(message)
        correlation_id_var.set(correlation_id)
        try:
            joined = ParticipantJoined.model_validate_json(body)
        except ValidationError as exc:
            await reject_poison(
                message,
                queue=PARTICIPANTS_QUEUE,
                reason=describe_invalid(exc),
                correlation_id=correlation_id,
            )
            return

        async def store() -> None:
            try:
                await upsert_participant(self.pool, joined)
            except Exception:
                DB_ERRORS.inc()
                raise

        if await self._retry("participant", store):
            await self._ack(message, PARTICIPANTS_QUEUE)

    async def on_poll_event(self, body: bytes, message: Delivered) -> None:
        MESSAGES_CONSUMED.labels(WORKER_POLL_EVENTS_QUEUE).inc()
        ops.MESSAGES_CONSUMED.labels(WORKER_POLL_EVENTS_QUEUE).inc()
        correlation_id = correlation_id_of(message)
        correlation_id_var.set(correlation_id)
        try:
            event = PollEvent.model_validate_json(body)
        except ValidationError as exc:
            await reject_poison(
                message,
                queue=WORKER_POLL_EVENTS_QUEUE,
                reason=describe_invalid(exc),
                correlation_id=correlation_id,
            )
            return
        if event.event in TALLY_EVENTS:

            async def refresh() -> None:
                await self.refresh_tally(event.poll.id, correlation_id)

            if not await self._retry("poll_event", refresh):
                return
        await self._ack(message, WORKER_POLL_EVENTS_QUEUE)

    async def refresh_tally(self, poll_id: UUID, correlation_id: str) -> TallySnapshot | None:
        """Bring a poll's tally up to its epoch (a reset zeroes it), then cache and publish it."""
        try:
            async with self.pool.acquire() as conn:
                tally, _ = await sync_tally(conn, poll_id)
        except Exception:
            DB_ERRORS.inc()
            raise
        if tally is None:
            log.info("poll event for unknown poll %s ignored", poll_id)
            return None
        await self.cache.write([tally])
        await self.outbound.tallies([tally], correlation_id)
        return tally

    async def _retry(self, step: str, operation: Callable[[], Awaitable[object]]) -> bool:
        """Retry until done; False when shutting down (the message stays unacked)."""
        try:
            await retry(step, operation, stopping=self.stopping)
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

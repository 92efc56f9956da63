"""Flushing one batch of vote messages: record, cache, publish, audit, then ack.

Each step is retried on its own until it succeeds, with the messages still unacked: a nack
would burn the delivery limit and dead-letter good votes. If the AMQP channel dies meanwhile,
the broker redelivers the messages and `ballots` makes that harmless. Retrying step by step
keeps the recorded result, so a tally committed once is still cached and published.

The batches themselves come from `zephyr_runtime.batching` (`VoteFlusher.batcher`): due at
`batch_max_votes` votes or `batch_max_wait_ms` after the first pending one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg

from contracts import Vote, VoteBatch
from contracts.topology import VOTES_QUEUE
from vote_worker import metrics
from vote_worker.audit import vote_events
from vote_worker.poison import Delivered, reject_poison
from vote_worker.publish import Outbound
from vote_worker.record import RecordResult, record_votes
from vote_worker.steps import retry_step
from vote_worker.tally_cache import TallyCache
from zephyr_runtime import tracing
from zephyr_runtime.batching import Batcher
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.resilience import Stopping

if TYPE_CHECKING:
    from vote_worker.quiz_scorer import QuizScorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One consumed `votes` message, parsed, waiting to be flushed and acked."""

    batch: VoteBatch
    message: Delivered
    correlation_id: str


def votes_in(delivery: Delivery) -> int:
    return len(delivery.batch.votes)


def is_bad_data(exc: BaseException) -> bool:
    """Errors that the same votes would raise again: retrying cannot help."""
    return isinstance(
        exc,
        asyncpg.DataError | asyncpg.IntegrityConstraintViolationError | OverflowError | TypeError,
    )


async def requeue(deliveries: Sequence[Delivery], why: str) -> None:
    """After a bug, not an outage (those are retried): requeue, so that the delivery limit, not
    this process, decides the messages' fate. Call it while handling the exception."""
    log.exception("%s; requeueing %d messages", why, len(deliveries))
    await asyncio.gather(
        *(d.message.reject(requeue=True) for d in deliveries), return_exceptions=True
    )


class AfterCommit:
    """Overlapping a flushed batch's after-commit steps with the next batch's transaction.

    After a batch is committed, writing the tally cache, publishing tallies and audit events and
    acking the messages are round trips to Redis and RabbitMQ. They need no order between
    batches (the cache and the screens keep the newest tally version, audit ids are idempotent,
    acks are per message), so with `depth` > 1 they run in the background while the next batch
    is recorded; at most `depth` batches are in that state. `depth` 1 runs them inline.
    """

    def __init__(self, depth: int = 1) -> None:
        self._depth = depth
        self._slots = asyncio.Semaphore(depth)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(
        self, finish: Callable[[], Awaitable[None]], deliveries: Sequence[Delivery]
    ) -> None:
        """Run `finish` inline (depth 1) or in the background once a slot is free."""
        if self._depth <= 1:
            await finish()
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._guarded(finish, deliveries))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(
        self, finish: Callable[[], Awaitable[None]], deliveries: Sequence[Delivery]
    ) -> None:
        try:
            await finish()
        except Exception:
            # The votes are committed: a redelivery is a no-op.
            await requeue(deliveries, "after-commit failed")
        finally:
            self._slots.release()

    async def wait(self) -> None:
        """Until every background batch has finished (shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


class VoteFlusher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cache: TallyCache,
        outbound: Outbound,
        overlap: int = 1,
        quiz: QuizScorer | None = None,
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._outbound = outbound
        self._after_commit = AfterCommit(overlap)
        self._quiz = quiz

    def batcher(self, *, max_votes: int, max_wait_s: float) -> Batcher[Delivery]:
        """The batches of consumed vote messages, flushed here one after the other."""

        async def failed(deliveries: list[Delivery], exc: Exception) -> None:
            await requeue(deliveries, "flush failed unexpectedly")

        return Batcher(
            self.flush,
            max_size=max_votes,
            max_wait=max_wait_s,
            size=votes_in,
            on_pending=metrics.PENDING_VOTES.set,
            on_failure=failed,
            on_drained=self._drained,
            name="flusher",
        )

    async def flush(self, deliveries: Sequence[Delivery]) -> None:
        """Flush in a span continuing the first message's trace (the others are linked), with
        its correlation id bound, so the tallies and audit events published carry both."""
        token = correlation_id_var.set(deliveries[0].correlation_id)
        try:
            with tracing.span(
                "votes flush",
                parent_headers=deliveries[0].message.headers or {},
                links=[d.message.headers for d in deliveries[1:]],
                attributes={"zephyr.messages": len(deliveries)},
            ):
                await self._flush(deliveries)
        finally:
            correlation_id_var.reset(token)

    async def _flush(self, deliveries: Sequence[Delivery]) -> None:
        started = time.perf_counter()
        votes = [vote for delivery in deliveries for vote in delivery.batch.votes]
        correlation_id = deliveries[0].correlation_id
        try:
            result = await retry_step("record", lambda: self._record(votes), permanent=is_bad_data)
        except Exception as exc:
            await self._isolate_bad_data(deliveries, exc)
            return

        async def finish() -> None:
            await retry_step("cache", lambda: self._cache.write(result.changed))
            await retry_step(
                "publish_tallies", lambda: self._outbound.tallies(result.changed, correlation_id)
            )
            events = vote_events(result, correlation_id)
            await retry_step("audit", lambda: self._outbound.audit(events, correlation_id))
            late = await self._late_quiz_polls(result)
            if late and self._quiz is not None:
                # Answers to a closed quiz question: acked once the poll's scores include them.
                ack = partial(self._ack, deliveries)
                failed = partial(self._rescore_failed, deliveries)
                self._quiz.after_rescore(late, correlation_id, ack, failed)
            else:
                await self._ack(deliveries)
            self._count(result, len(votes), time.perf_counter() - started)

        # Committed: the rest may overlap the next batch's transaction (AfterCommit).
        await self._after_commit.run(finish, deliveries)

    async def _late_quiz_polls(self, result: RecordResult) -> set[UUID]:
        if self._quiz is None:
            return set()
        quiz = self._quiz
        return await retry_step("quiz_check", lambda: quiz.late_polls(result.valid))

    @staticmethod
    async def _rescore_failed(deliveries: Sequence[Delivery], exc: BaseException) -> None:
        if isinstance(exc, Stopping):
            log.warning("stopping before a quiz rescore: %d messages left unacked", len(deliveries))
            return
        log.error("quiz rescore failed; requeueing %d messages", len(deliveries), exc_info=exc)
        await asyncio.gather(
            *(d.message.reject(requeue=True) for d in deliveries), return_exceptions=True
        )

    async def _drained(self) -> None:
        await self._after_commit.wait()
        if self._quiz is not None:
            await self._quiz.drain()

    async def _record(self, votes: list[Vote]) -> RecordResult:
        with metrics.counting_db_errors():
            async with self._pool.acquire() as conn:
                return await record_votes(conn, votes)

    async def _isolate_bad_data(self, deliveries: Sequence[Delivery], exc: BaseException) -> None:
        """Postgres refuses this data: flush message by message; the guilty one dead-letters."""
        if len(deliveries) > 1:
            for delivery in deliveries:
                await self.flush([delivery])
            return
        delivery = deliveries[0]
        await reject_poison(
            delivery.message,
            queue=VOTES_QUEUE,
            reason=f"refused by postgres: {type(exc).__name__}: {exc}"[:300],
            correlation_id=delivery.correlation_id,
            outbound=self._outbound,
        )

    async def _ack(self, deliveries: Sequence[Delivery]) -> None:
        results = await asyncio.gather(
            *(delivery.message.ack() for delivery in deliveries), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        metrics.MESSAGES_ACKED.labels(VOTES_QUEUE).inc(len(results) - len(failed))
        if failed:
            # The channel died: the broker redelivers these and ballots dedupe them.
            log.warning("could not ack %d vote messages: %s", len(failed), failed[0])

    @staticmethod
    def _count(result: RecordResult, size: int, seconds: float) -> None:
        metrics.BATCHES_FLUSHED.inc()
        metrics.BATCH_SIZE.observe(size)
        metrics.FLUSH_SECONDS.observe(seconds)
        metrics.VOTES_RECORDED.inc(len(result.new_vote_ids))
        metrics.VOTES_DUPLICATE.inc(result.duplicates)
        for rejected in result.rejected:
            metrics.VOTES_REJECTED.labels(rejected.reason).inc()
        log.debug(
            "flushed %d votes: %d new, %d duplicate, %d rejected, %d tallies changed",
            size,
            len(result.new_vote_ids),
            result.duplicates,
            len(result.rejected),
            len(result.changed),
        )

"""Flushing one batch of vote messages: record, cache, publish, audit, then ack.

Each step is retried on its own until it succeeds, with the messages still unacked: a nack
would burn the delivery limit and dead-letter good votes. If the AMQP channel dies meanwhile,
the broker redelivers the messages and `ballots` makes that harmless. Retrying step by step
keeps the recorded result, so a tally committed once is still cached and published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg

from contracts import Vote
from contracts.topology import VOTES_QUEUE
from vote_worker import metrics
from vote_worker.audit import vote_events
from vote_worker.backoff import retry
from vote_worker.batcher import Accumulator, Delivery
from vote_worker.outbound import Outbound
from vote_worker.overlap import AfterCommit
from vote_worker.poison import reject_poison
from vote_worker.record import RecordResult, record_votes
from vote_worker.tally_cache import TallyCache
from zephyr_runtime import tracing
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)


def is_bad_data(exc: BaseException) -> bool:
    """Errors that the same votes would raise again: retrying cannot help."""
    return isinstance(
        exc,
        asyncpg.DataError | asyncpg.IntegrityConstraintViolationError | OverflowError | TypeError,
    )


class VoteFlusher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cache: TallyCache,
        outbound: Outbound,
        accumulator: Accumulator,
        overlap: int = 1,
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._outbound = outbound
        self._accumulator = accumulator
        self._after_commit = AfterCommit(overlap)

    async def run(self) -> None:
        """Flush batches as they fall due, until the accumulator is closed and empty."""
        while deliveries := await self._accumulator.next_batch():
            try:
                await self.flush(deliveries)
            except Exception:
                # Infrastructure failures are retried inside flush(); this is a bug. Requeue so
                # the delivery limit, not this process, decides the messages' fate.
                log.exception("flush failed unexpectedly; requeueing %d messages", len(deliveries))
                await asyncio.gather(
                    *(d.message.reject(requeue=True) for d in deliveries), return_exceptions=True
                )
        await self._after_commit.wait()

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
            result = await retry("record", lambda: self._record(votes), permanent=is_bad_data)
        except Exception as exc:
            await self._isolate_bad_data(deliveries, exc)
            return

        async def finish() -> None:
            await retry("cache", lambda: self._cache.write(result.changed))
            await retry(
                "publish_tallies", lambda: self._outbound.tallies(result.changed, correlation_id)
            )
            events = vote_events(result, correlation_id)
            await retry("audit", lambda: self._outbound.audit(events, correlation_id))
            await self._ack(deliveries)
            self._count(result, len(votes), time.perf_counter() - started)

        # Committed: the rest may overlap the next batch's transaction (overlap.py).
        await self._after_commit.run(finish, deliveries)

    async def _record(self, votes: list[Vote]) -> RecordResult:
        try:
            async with self._pool.acquire() as conn:
                return await record_votes(conn, votes)
        except Exception:
            metrics.DB_ERRORS.inc()
            raise

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

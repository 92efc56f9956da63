"""Flushing one batch of audit messages: one INSERT of all their events, then the acks.

Messages are acked only once their events are in audit_log. When the database fails the batch
is retried with exponential backoff and jitter while its messages stay unacked, so nothing is
lost and no good message is ever dead-lettered; the prefetch limit bounds what piles up. The
batches come from `zephyr_runtime.batching` (`AuditFlusher.batcher`): due at
`batch_max_events` events or `batch_max_wait_ms` after the first pending one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from audit_sink import metrics
from audit_sink.rows import AuditRow
from audit_sink.store import UnstorableRows
from zephyr_runtime.batching import Batcher, FlushRetry

log = logging.getLogger(__name__)


class Delivered(Protocol):
    """The broker's handle on one message (FastStream's RabbitMessage is one)."""

    async def ack(self) -> None: ...

    async def reject(self, requeue: bool = False) -> None: ...


class RowStore(Protocol):
    async def insert(self, rows: Sequence[AuditRow]) -> int: ...


@dataclass
class Delivery:
    """One consumed audit message, parsed, waiting to be stored and acked."""

    message: Delivered
    rows: list[AuditRow]
    message_id: str | None = None


def events_in(delivery: Delivery) -> int:
    return len(delivery.rows)


def _retrying(batch: Sequence[Delivery], attempt: int, delay: float, exc: BaseException) -> None:
    metrics.FLUSH_RETRIES.inc()
    log.warning(
        "audit flush failed; messages stay unacked and the flush is retried",
        extra={
            "error": f"{type(exc).__name__}: {exc}",
            "attempt": attempt,
            "retry_in_s": round(delay, 3),
            "messages": len(batch),
        },
    )


class AuditFlusher:
    def __init__(self, store: RowStore) -> None:
        self._store = store

    def batcher(
        self, *, max_events: int, max_wait: float, retry_base: float = 0.1, retry_cap: float = 5.0
    ) -> Batcher[Delivery]:
        """The batches of consumed audit messages, each flushed here until it succeeds."""
        return Batcher(
            self.flush,
            max_size=max_events,
            max_wait=max_wait,
            size=events_in,
            # Received and not yet stored and acked: the batch being written counts too.
            on_pending=metrics.PENDING_EVENTS.set,
            count_in_flight=True,
            retry_flush=FlushRetry("audit flush", _retrying, base=retry_base, cap=retry_cap),
            name="audit-batcher",
        )

    async def flush(self, batch: Sequence[Delivery]) -> None:
        """Store the batch and settle its messages; raises when the database fails."""
        offered = sum(len(p.rows) for p in batch)
        started = time.perf_counter()
        try:
            inserted = await self._store.insert([row for p in batch for row in p.rows])
            stored, refused = list(batch), list[Delivery]()
        except UnstorableRows:
            inserted, stored, refused = await self._isolate(batch)
        metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
        metrics.BATCHES_FLUSHED.inc()
        metrics.EVENTS_STORED.inc(inserted)
        metrics.DUPLICATES_SKIPPED.inc(sum(len(p.rows) for p in stored) - inserted)
        log.debug(
            "audit batch stored",
            extra={"messages": len(batch), "events": offered, "inserted": inserted},
        )
        for delivery in stored:
            await _settle(delivery, reject=False)
        for delivery in refused:
            metrics.message_rejected("unstorable")
            await _settle(delivery, reject=True)

    async def _isolate(
        self, batch: Sequence[Delivery]
    ) -> tuple[int, list[Delivery], list[Delivery]]:
        """Find the messages PostgreSQL refuses by writing them one by one; the rest are stored."""
        inserted = 0
        stored: list[Delivery] = []
        refused: list[Delivery] = []
        for delivery in batch:
            try:
                inserted += await self._store.insert(delivery.rows)
                stored.append(delivery)
            except UnstorableRows as exc:
                log.error(
                    "audit message refused by the database; dead-lettering it",
                    extra={"message_id": delivery.message_id, "error": str(exc)},
                )
                refused.append(delivery)
        return inserted, stored, refused


async def _settle(delivery: Delivery, *, reject: bool) -> None:
    try:
        if reject:
            await delivery.message.reject(requeue=False)
        else:
            await delivery.message.ack()
    except Exception as exc:
        # The channel is gone: the broker redelivers the message and the insert is idempotent.
        log.warning(
            "could not settle an audit message; it will be redelivered",
            extra={"message_id": delivery.message_id, "error": f"{type(exc).__name__}: {exc}"},
        )

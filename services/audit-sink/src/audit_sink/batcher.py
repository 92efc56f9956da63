"""Micro-batching across messages: many messages, one INSERT, then the acks.

Messages are acked only once their events are in audit_log. When the database fails the batch
is retried with exponential backoff and jitter while its messages stay unacked, so nothing is
lost and no good message is ever dead-lettered; the prefetch limit bounds what piles up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from audit_sink import metrics
from audit_sink.rows import AuditRow
from audit_sink.store import UnstorableRows
from zephyr_runtime.retry import backoff_delay

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """The broker's handle on one message (FastStream's RabbitMessage is one)."""

    async def ack(self) -> None: ...

    async def reject(self, requeue: bool = False) -> None: ...


class RowStore(Protocol):
    async def insert(self, rows: Sequence[AuditRow]) -> int: ...


@dataclass
class Pending:
    delivery: Delivery
    rows: list[AuditRow]
    message_id: str | None = None


class AuditBatcher:
    def __init__(
        self,
        store: RowStore,
        *,
        max_events: int,
        max_wait: float,
        retry_base: float = 0.1,
        retry_cap: float = 5.0,
    ) -> None:
        self._store = store
        self._max_events = max_events
        self._max_wait = max_wait
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._pending: list[Pending] = []
        self._pending_events = 0
        self._first_at = 0.0
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending_events(self) -> int:
        return self._pending_events

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-batcher")

    def add(self, delivery: Delivery, rows: list[AuditRow], message_id: str | None = None) -> None:
        """Queue one message's rows; it is acked after they are stored."""
        if not self._pending:
            self._first_at = time.monotonic()
            self._wake.set()
        self._pending.append(Pending(delivery, rows, message_id))
        self._pending_events += len(rows)
        metrics.PENDING_EVENTS.set(self._pending_events)
        if self._pending_events >= self._max_events:
            self._wake.set()

    async def close(self, timeout: float) -> None:
        """Flush and ack what is pending, then stop. After `timeout` give up: whatever is still
        unacked goes back to the queue when the channel closes, and is stored once later."""
        self._closing = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            log.warning(
                "audit flush did not finish before shutdown; the broker will redeliver",
                extra={"pending_events": self._pending_events},
            )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            remaining = self._first_at + self._max_wait - time.monotonic()
            if not self._closing and self._pending_events < self._max_events and remaining > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
                continue
            batch, self._pending = self._pending, []
            await self._flush(batch)
            self._pending_events -= sum(len(p.rows) for p in batch)
            metrics.PENDING_EVENTS.set(self._pending_events)

    async def _flush(self, batch: list[Pending]) -> None:
        attempt = 0
        while True:
            try:
                await self._store_and_settle(batch)
                return
            except Exception as exc:
                attempt += 1
                delay = backoff_delay(attempt, base=self._retry_base, cap=self._retry_cap)
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
                await asyncio.sleep(delay)

    async def _store_and_settle(self, batch: list[Pending]) -> None:
        offered = sum(len(p.rows) for p in batch)
        started = time.perf_counter()
        try:
            inserted = await self._store.insert([row for p in batch for row in p.rows])
            stored, refused = batch, list[Pending]()
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
        for pending in stored:
            await _settle(pending, reject=False)
        for pending in refused:
            metrics.message_rejected("unstorable")
            await _settle(pending, reject=True)

    async def _isolate(self, batch: list[Pending]) -> tuple[int, list[Pending], list[Pending]]:
        """Find the messages PostgreSQL refuses by writing them one by one; the rest are stored."""
        inserted = 0
        stored: list[Pending] = []
        refused: list[Pending] = []
        for pending in batch:
            try:
                inserted += await self._store.insert(pending.rows)
                stored.append(pending)
            except UnstorableRows as exc:
                log.error(
                    "audit message refused by the database; dead-lettering it",
                    extra={"message_id": pending.message_id, "error": str(exc)},
                )
                refused.append(pending)
        return inserted, stored, refused


async def _settle(pending: Pending, *, reject: bool) -> None:
    try:
        if reject:
            await pending.delivery.reject(requeue=False)
        else:
            await pending.delivery.ack()
    except Exception as exc:
        # The channel is gone: the broker redelivers the message and the insert is idempotent.
        log.warning(
            "could not settle an audit message; it will be redelivered",
            extra={"message_id": pending.message_id, "error": f"{type(exc).__name__}: {exc}"},
        )

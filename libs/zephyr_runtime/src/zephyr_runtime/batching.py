"""Micro-batching across messages: collect items until a batch is due, then flush it.

A consumer that writes each message on its own pays one round trip per message; a batch pays one
for many. vote-worker (votes into Postgres) and audit-sink (events into audit_log) both do it:

- `Accumulator` holds the items. A batch is due once `max_size` units are pending (an item may
  count several units, e.g. the votes of one message) or `max_wait` seconds after the first
  pending one. A batch is whole items up to `max_size` units, at least one item; the rest is due
  right after it. After `close()` whatever is pending is due at once.
- `Batcher` runs the flush loop in a task: it takes each due batch and awaits `flush(batch)`,
  retried with `zephyr_runtime.resilience.retry` when a `FlushRetry` is given (the items stay
  unsettled meanwhile), else handed to `on_failure` when it raises. `stop(timeout)` closes the
  accumulator and waits for the loop to flush what is left; after the timeout it cancels the
  loop, and whatever is unsettled is redelivered by the broker.

What a flush does (insert, ack, reject) is the service's: this module knows nothing of messages.
The settings of a batching consumer are declared with `max_batch_setting`, `max_wait_setting`
and `prefetch_setting`, so that they mean the same, and are bounded the same, in every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import Field

from zephyr_runtime.resilience import retry
from zephyr_runtime.tasks import cancel_and_wait

T = TypeVar("T")

log = logging.getLogger(__name__)

Flush = Callable[[list[T]], Awaitable[None]]
# (batch, attempt, delay, error), before each wait of a retried flush: count it, log it.
BatchRetryHook = Callable[[Sequence[T], int, float, BaseException], None]


def max_batch_setting(default: int, unit: str) -> Any:
    """A `batch_max_<unit>` setting: a batch is due once this many units are pending."""
    return Field(
        default=default, ge=1, le=100_000, description=f"Flush once this many {unit} are pending."
    )


def max_wait_setting(default_ms: float, unit: str, *, most_ms: float) -> Any:
    """A `batch_max_wait_ms` setting: a batch is due this long after its first unit."""
    return Field(
        default=default_ms,
        ge=0,
        le=most_ms,
        description=f"Flush this long after the first pending {unit}.",
    )


def prefetch_setting(default: int, unacked: str) -> Any:
    """A `prefetch` setting: the broker's unacked messages per consumer, which must be enough
    for a batch to fill up before it is acked."""
    return Field(
        default=default, ge=1, le=65_535, description=f"{unacked}; must let a batch fill up."
    )


def _one(_: object) -> int:
    return 1


def _ignore(_: int) -> None:
    return None


class Accumulator(Generic[T]):
    """Collects items; `next_batch()` waits until a batch is due and takes it ([] once closed
    and empty)."""

    def __init__(
        self,
        *,
        max_size: int,
        max_wait: float,
        size: Callable[[T], int] = _one,
        on_change: Callable[[int], None] = _ignore,
    ) -> None:
        self._max_size = max_size
        self._max_wait = max_wait
        self._size = size
        self._on_change = on_change
        self._pending: deque[T] = deque()
        self._units = 0
        self._first_at = 0.0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def pending(self) -> int:
        """Units (the sum of the items' sizes) waiting for a batch."""
        return self._units

    def add(self, item: T) -> None:
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(item)
        self._units += self._size(item)
        self._on_change(self._units)
        self._wakeup.set()

    def close(self) -> None:
        """No more items: what is pending is due now."""
        self._closed = True
        self._wakeup.set()

    async def next_batch(self) -> list[T]:
        while True:
            if not self._pending:
                if self._closed:
                    return []
                await self._wait(None)
                continue
            if self._closed or self._units >= self._max_size:
                return self._take()
            remaining = self._first_at + self._max_wait - time.monotonic()
            if remaining <= 0:
                return self._take()
            await self._wait(remaining)

    async def _wait(self, timeout: float | None) -> None:
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()

    def _take(self) -> list[T]:
        taken: list[T] = []
        units = 0
        while self._pending and (not taken or units < self._max_size):
            item = self._pending.popleft()
            taken.append(item)
            units += self._size(item)
        self._units -= units
        if self._pending:
            # The leftovers have waited since before this flush: due right after it.
            self._first_at = time.monotonic() - self._max_wait
        self._on_change(self._units)
        return taken


@dataclass(frozen=True)
class FlushRetry(Generic[T]):
    """Retry a failed flush until it succeeds: backoff from `base` doubling up to `cap` (with
    jitter), `on_retry` before each wait."""

    what: str
    on_retry: BatchRetryHook[T]
    base: float = 0.1
    cap: float = 5.0


async def _log_failure(batch: Sequence[object], exc: Exception) -> None:
    log.error("flush of %d items failed: %s: %s", len(batch), type(exc).__name__, exc)


class Batcher(Generic[T]):
    """An `Accumulator` and the task that flushes its batches one after the other.

    `on_pending(n)` follows the units not flushed yet: waiting ones, plus with
    `count_in_flight` those of the batch being flushed. `on_drained()` runs once the
    accumulator is closed and empty, before the loop ends (e.g. to wait for work the flushes
    left running in the background).
    """

    def __init__(
        self,
        flush: Flush[T],
        *,
        max_size: int,
        max_wait: float,
        size: Callable[[T], int] = _one,
        on_pending: Callable[[int], None] = _ignore,
        count_in_flight: bool = False,
        retry_flush: FlushRetry[T] | None = None,
        on_failure: Callable[[list[T], Exception], Awaitable[None]] = _log_failure,
        on_drained: Callable[[], Awaitable[None]] | None = None,
        name: str = "batcher",
    ) -> None:
        self._flush = flush
        self._size = size
        self._on_pending = on_pending
        self._count_in_flight = count_in_flight
        self._retry = retry_flush
        self._on_failure = on_failure
        self._on_drained = on_drained
        self._name = name
        self._flushing = 0
        self._task: asyncio.Task[None] | None = None
        self.accumulator: Accumulator[T] = Accumulator(
            max_size=max_size, max_wait=max_wait, size=size, on_change=self._report
        )

    @property
    def pending(self) -> int:
        """Units waiting for a batch."""
        return self.accumulator.pending

    @property
    def unflushed(self) -> int:
        """Units waiting or in the batch being flushed."""
        return self.accumulator.pending + self._flushing

    def add(self, item: T) -> None:
        self.accumulator.add(item)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self._name)

    async def run(self) -> None:
        """Flush batches as they fall due, until the accumulator is closed and empty."""
        while batch := await self.accumulator.next_batch():
            self._flushing = sum(self._size(item) for item in batch)
            self._report(self.accumulator.pending)
            await self._flush_once(batch)
            # Not on cancellation: a batch abandoned at shutdown is still unflushed.
            self._flushing = 0
            self._report(self.accumulator.pending)
        if self._on_drained is not None:
            await self._on_drained()

    async def stop(self, timeout: float) -> bool:
        """Close, then wait up to `timeout` seconds for the loop to flush what is pending.

        Returns False when the time ran out (the loop is cancelled; its items stay unsettled).
        An error the loop raised is raised here. Stopping again answers the same.
        """
        self.accumulator.close()
        task = self._task
        if task is None:
            return True
        if not task.done():
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                await cancel_and_wait(task)
        if not task.done() or task.cancelled():
            return False
        task.result()  # raises what the loop raised
        return True

    async def _flush_once(self, batch: list[T]) -> None:
        policy = self._retry
        try:
            if policy is None:
                await self._flush(batch)
                return

            def on_retry(what: str, attempt: int, delay: float, exc: BaseException) -> None:
                policy.on_retry(batch, attempt, delay, exc)

            await retry(
                lambda: self._flush(batch),
                what=policy.what,
                base=policy.base,
                cap=policy.cap,
                on_retry=on_retry,
            )
        except Exception as exc:
            await self._on_failure(batch, exc)

    def _report(self, waiting: int) -> None:
        self._on_pending(waiting + (self._flushing if self._count_in_flight else 0))

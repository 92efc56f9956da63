"""The micro-batcher across vote messages: a batch is due at `max_votes` or `max_wait`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from contracts import VoteBatch
from vote_worker.metrics import PENDING_VOTES
from vote_worker.poison import Delivered


@dataclass(frozen=True)
class Delivery:
    """One consumed `votes` message, parsed, waiting to be flushed and acked."""

    batch: VoteBatch
    message: Delivered
    correlation_id: str


class Accumulator:
    """Collects deliveries; `next_batch()` waits until a batch is due and takes it.

    Due means `max_votes` votes are pending or `max_wait` seconds passed since the first pending
    one. After `close()`, whatever is pending is due at once, then `next_batch()` returns [].
    """

    def __init__(self, max_votes: int, max_wait_s: float) -> None:
        self._max_votes = max_votes
        self._max_wait = max_wait_s
        self._pending: list[Delivery] = []
        self._votes = 0
        self._first_at = 0.0
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def pending_votes(self) -> int:
        return self._votes

    def add(self, delivery: Delivery) -> None:
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(delivery)
        self._votes += len(delivery.batch.votes)
        PENDING_VOTES.set(self._votes)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def next_batch(self) -> list[Delivery]:
        while True:
            if not self._pending:
                if self._closed:
                    return []
                await self._wait(None)
                continue
            if self._closed or self._votes >= self._max_votes:
                return self._take()
            remaining = self._first_at + self._max_wait - time.monotonic()
            if remaining <= 0:
                return self._take()
            await self._wait(remaining)

    async def _wait(self, timeout: float | None) -> None:
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _take(self) -> list[Delivery]:
        """Whole messages up to `max_votes` votes (at least one message); the rest waits."""
        taken: list[Delivery] = []
        votes = 0
        while self._pending and (not taken or votes < self._max_votes):
            delivery = self._pending.pop(0)
            taken.append(delivery)
            votes += len(delivery.batch.votes)
        self._votes -= votes
        if self._pending:
            # The leftovers have waited since before this flush: due right after it.
            self._first_at = time.monotonic() - self._max_wait
        PENDING_VOTES.set(self._votes)
        return taken

"""Overlapping a flushed batch's after-commit steps with the next batch's transaction.

After a batch is committed, writing the tally cache, publishing tallies and audit events and
acking the messages are round trips to Redis and RabbitMQ. They need no order between batches
(the cache and the screens keep the newest tally version, audit ids are idempotent, acks are
per message), so with `depth` > 1 they run in the background while the next batch is recorded;
at most `depth` batches are in that state. `depth` 1 runs them inline, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from vote_worker.batcher import Delivery

log = logging.getLogger(__name__)


class AfterCommit:
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
            # The steps retry infrastructure failures themselves: this is a bug. Requeue, so
            # the delivery limit decides (the votes are committed; a redelivery is a no-op).
            log.exception("after-commit failed; requeueing %d messages", len(deliveries))
            await asyncio.gather(
                *(d.message.reject(requeue=True) for d in deliveries), return_exceptions=True
            )
        finally:
            self._slots.release()

    async def wait(self) -> None:
        """Until every background batch has finished (shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

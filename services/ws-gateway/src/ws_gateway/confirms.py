"""Several vote batches waiting for their broker confirm at once, answered in batch order.

A confirm takes a round trip to RabbitMQ and a quorum-queue write (milliseconds to tens of
milliseconds on a busy machine). Waiting for each before accepting the next batch capped a
gateway near one batch per confirm; with `depth` publishes in flight the accept step (the Redis
script, which orders each participant's votes) stays strictly serial and only the waiting
overlaps. Replies are held back until every earlier batch has answered, so a connection sees
its `vote_accepted` frames in the order it sent the votes, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

Reply = Callable[[BaseModel], None]


class OrderedPipeline:
    def __init__(
        self,
        depth: int,
        publish: Callable[[list[tuple[Any, Any]]], Awaitable[None]],
        fail: Callable[[list[Any], str], None],
    ) -> None:
        self._slots = asyncio.Semaphore(depth)
        self._publish = publish
        self._fail = fail
        self._last: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.votes = 0  # votes started and not yet answered

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, accepted: list[tuple[Any, Any]]) -> None:
        """Start publishing `accepted` (pairs of PendingVote, Vote); waits for a free slot."""
        await self._slots.acquire()
        held: list[tuple[Reply, BaseModel]] = []
        answered: set[int] = set()
        for index, (pending, _vote) in enumerate(accepted):
            pending.reply = _holding(pending.reply, held, answered, index)
        self.votes += len(accepted)
        task = asyncio.create_task(self._run(accepted, self._last, held, answered))
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        accepted: list[tuple[Any, Any]],
        previous: asyncio.Task[None] | None,
        held: list[tuple[Reply, BaseModel]],
        answered: set[int],
    ) -> None:
        try:
            await self._publish(accepted)
        except Exception:
            # Never leave a vote unanswered: whatever went wrong, the rest hear `unavailable`.
            log.exception("vote publish failed")
            self._fail([p for i, (p, _) in enumerate(accepted) if i not in answered], "unavailable")
        finally:
            self._slots.release()
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        self.votes -= len(accepted)
        for reply, frame in held:
            reply(frame)

    async def wait_idle(self) -> None:
        """Until every batch started so far has been published and answered."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


def _holding(
    reply: Reply, held: list[tuple[Reply, BaseModel]], answered: set[int], index: int
) -> Reply:
    def hold(frame: BaseModel) -> None:
        answered.add(index)
        held.append((reply, frame))

    return hold

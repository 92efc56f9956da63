"""Announcing joins: the joins of one publish round trip go out together.

A join is announced twice: `ParticipantJoined` to vote-worker (confirmed: the join waits for
it, and fails without it) and a `participant.joined` audit event (best effort). One join alone
is published at once; the joins that arrive while a publish is out wait for it to come back and
then go as one `ParticipantsJoined` and one `AuditBatch`, each under one publisher confirm. So a
quiet room pays no wait, and a join storm pays one confirm per round trip instead of two per
join (docs/performance.md, "join storm").
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from contracts import AuditEvent, ParticipantJoined, ParticipantsJoined
from contracts.participants import MAX_JOINS_PER_BATCH
from contracts.topology import PARTICIPANTS_QUEUE
from ws_gateway.audit import publish_audit
from zephyr_runtime.amqp import ConfirmedPublisher

log = logging.getLogger(__name__)


@dataclass
class _Join:
    joined: ParticipantJoined
    audit: AuditEvent
    correlation_id: str
    done: asyncio.Future[bool]


class JoinAnnouncer:
    """Publishes joins in batches of what arrived during the previous publish."""

    def __init__(self, publisher: ConfirmedPublisher, max_batch: int = 500) -> None:
        self._publisher = publisher
        self._max_batch = min(max_batch, MAX_JOINS_PER_BATCH)
        self._pending: list[_Join] = []
        self._task: asyncio.Task[None] | None = None

    async def announce(
        self, joined: ParticipantJoined, audit: AuditEvent, correlation_id: str
    ) -> bool:
        """True once vote-worker's event is confirmed by the broker; False when it was not."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Join(joined, audit, correlation_id, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="join-announcer")
        return await asyncio.shield(done)

    async def drain(self) -> None:
        """Wait until every join handed over has its answer (at shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            confirmed = False
            try:
                confirmed = await self._publish(batch)
            finally:
                for join in batch:
                    if not join.done.done():
                        join.done.set_result(confirmed)

    async def _publish(self, batch: list[_Join]) -> bool:
        first = batch[0].correlation_id
        joined: ParticipantJoined | ParticipantsJoined = (
            batch[0].joined
            if len(batch) == 1
            else ParticipantsJoined(joins=[j.joined for j in batch])
        )
        results = await asyncio.gather(
            self._publisher.publish(
                joined, exchange="", routing_key=PARTICIPANTS_QUEUE, correlation_id=first
            ),
            publish_audit(self._publisher, [j.audit for j in batch], correlation_id=first),
            return_exceptions=True,
        )
        for name, result in zip(("participant", "audit"), results, strict=True):
            if isinstance(result, BaseException):
                # "message" is a reserved LogRecord attribute: using it raised KeyError here.
                log.warning(
                    "join publish failed",
                    extra={"published": name, "joins": len(batch), "error": repr(result)},
                )
        return not isinstance(results[0], BaseException)

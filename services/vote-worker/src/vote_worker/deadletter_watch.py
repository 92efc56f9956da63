"""Makes dead letters visible: samples every `<queue>.dead` depth into a metric and audits growth.

A message dead-letters when a consumer rejects it as poison (those are audited where they are
rejected) or when the broker drops it after `x-delivery-limit` deliveries (nobody is told).
Either way the dead-letter queue grows, so `sample_once` (every `dead_letter_sample_s`) sets
`zephyr_vote_worker_dead_letter_messages{queue}` and, when a depth grows, publishes a
`deadletter.detected` audit event. Inspect and replay them with
`python -m zephyr_runtime.deadletters` (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from contracts import AuditEvent
from vote_worker.audit import dead_letter_event
from vote_worker.metrics import DEAD_LETTERS
from vote_worker.publish import Outbound
from zephyr_runtime.queues import dead_letter_queues, queue_depth

log = logging.getLogger(__name__)


class DeadLetterWatch:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        outbound: Outbound,
        *,
        interval_s: float,
        timeout_s: float = 5.0,
    ) -> None:
        self._connection = connection
        self._outbound = outbound
        self.interval_s = interval_s
        self._timeout = timeout_s
        self._channel: AbstractChannel | None = None
        self._depths: dict[str, int] = {}

    async def sample_once(self) -> dict[str, int]:
        try:
            depths = await self._sample_depths()
        except Exception:
            self._channel = None  # a failed passive declare closed it: open a fresh one next time
            raise
        grown: list[AuditEvent] = []
        for queue, depth in depths.items():
            DEAD_LETTERS.labels(queue).set(depth)
            previous = self._depths.get(queue, 0)
            if depth > previous:
                log.error("%d new dead letter(s) in %s (now %d)", depth - previous, queue, depth)
                grown.append(dead_letter_event(queue, depth, previous))
        if grown:
            try:
                await self._outbound.audit(grown, grown[0].correlation_id or "")
            except Exception as exc:  # the metric and the log already tell; retry next sample
                log.warning("could not audit dead letters: %s", exc)
                return depths
        self._depths = depths
        return depths

    async def _sample_depths(self) -> dict[str, int]:
        async with asyncio.timeout(self._timeout):
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel()
            return {q: await queue_depth(self._channel, q) for q in dead_letter_queues()}

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

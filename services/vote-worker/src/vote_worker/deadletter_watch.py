"""Makes dead letters visible: samples every `<queue>.dead` depth into a metric and audits growth.

A message dead-letters when a consumer rejects it as poison (those are audited where they are
rejected) or when the broker drops it after `x-delivery-limit` deliveries (nobody is told). Either
way the dead-letter queue grows, so a sampler here sets `zephyr_dead_letter_messages{queue}` and,
when a depth grows, publishes a `deadletter.detected` audit event. Inspect and replay them with
`python -m zephyr_runtime.deadletters` (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from prometheus_client import Gauge

from contracts import AuditEvent, utcnow
from vote_worker.audit import event_id
from vote_worker.outbound import Outbound
from vote_worker.settings import SERVICE_NAME
from zephyr_runtime.queues import dead_letter_queues, queue_depth

log = logging.getLogger(__name__)

DEAD_LETTERS = Gauge(
    "zephyr_dead_letter_messages", "Messages waiting in a dead-letter queue.", ["queue"]
)


def dead_letter_event(queue: str, depth: int, previous: int) -> AuditEvent:
    # The id is stable per queue, depth and minute: two replicas sampling the same growth store
    # one event (audit_log's event_id is unique).
    minute = int(time.time() // 60)
    return AuditEvent(
        event_id=event_id("deadletter.detected", f"{queue}:{depth}:{minute}"),
        kind="deadletter.detected",
        service=SERVICE_NAME,
        occurred_at=utcnow(),
        correlation_id=uuid.uuid4().hex,
        data={"queue": queue, "depth": depth, "new": depth - previous},
    )


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
        self._interval = interval_s
        self._timeout = timeout_s
        self._channel: AbstractChannel | None = None
        self._depths: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.sample_once()
            except Exception as exc:
                self._channel = None
                log.warning("dead-letter sample failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self._interval)

    async def sample_once(self) -> dict[str, int]:
        async with asyncio.timeout(self._timeout):
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel()
            depths = {q: await queue_depth(self._channel, q) for q in dead_letter_queues()}
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

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

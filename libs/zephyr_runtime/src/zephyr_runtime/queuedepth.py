"""Sample each durable queue's depth and consumers with a passive declare (no management API).

A passive declare of a queue that does not exist closes the channel; the next sample opens a
new one, so a missing queue costs one error, not a broken sampler.
"""

from __future__ import annotations

import logging

from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from contracts.topology import durable_queues
from zephyr_runtime.opsmetrics import QUEUE_CONSUMERS, QUEUE_MESSAGES

log = logging.getLogger(__name__)


def sampled_queues() -> list[str]:
    """Every quorum work queue and its dead-letter queue (streams have no depth to sample)."""
    return [q.name for q in durable_queues() if q.arguments.get("x-queue-type") == "quorum"]


class QueueDepthSampler:
    def __init__(self, connection: AbstractRobustConnection, queues: list[str] | None = None):
        self._connection = connection
        self._queues = queues if queues is not None else sampled_queues()
        self._channel: AbstractChannel | None = None

    async def __call__(self) -> None:
        for name in self._queues:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel()
            try:
                queue = await self._channel.declare_queue(name, passive=True)
            except Exception as exc:
                log.debug("queue depth sample failed", extra={"queue": name, "error": repr(exc)})
                self._channel = None
                continue
            result = queue.declaration_result
            QUEUE_MESSAGES.labels(name).set(result.message_count or 0)
            QUEUE_CONSUMERS.labels(name).set(result.consumer_count or 0)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

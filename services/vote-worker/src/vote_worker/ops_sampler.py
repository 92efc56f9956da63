"""vote-worker's periodic samples: dependency health, pool use, and the queues' depths.

The worker samples every quorum queue and its dead-letter queue (`zephyr_queue_messages`,
`zephyr_queue_consumers`) with a passive declare: the `votes` backlog is what operators (and
KEDA) scale vote-worker on, and a non-empty `<queue>.dead` is an alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aio_pika.abc import AbstractRobustConnection

from zephyr_runtime.dbmetrics import record_asyncpg_pool
from zephyr_runtime.opsmetrics import sample_memory_limit
from zephyr_runtime.queuedepth import QueueDepthSampler
from zephyr_runtime.sampler import PeriodicSampler


def build_sampler(
    pool: asyncpg.Pool,
    connection: AbstractRobustConnection,
    readiness: Callable[[], Awaitable[object]],
    interval: float,
) -> PeriodicSampler:
    async def pool_use() -> None:
        record_asyncpg_pool(pool)

    queues = QueueDepthSampler(connection)
    return PeriodicSampler([readiness, pool_use, queues, sample_memory_limit], interval=interval)

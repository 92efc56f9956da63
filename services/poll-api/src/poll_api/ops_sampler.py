"""poll-api's periodic samples: dependency health, pool use, polls by status, participants.

Each replica samples the same database numbers; dashboards take `max()` across replicas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from poll_api.metrics import OPEN_POLL_PARTICIPANTS, POLLS_BY_STATUS
from zephyr_runtime.dbmetrics import record_sqlalchemy_pool
from zephyr_runtime.opsmetrics import sample_memory_limit
from zephyr_runtime.sampler import PeriodicSampler

STATUSES = ("draft", "open", "closed")

_POLLS_BY_STATUS = text("SELECT status, count(*) FROM polls GROUP BY status")
# participants is vote-worker's table; reading it is allowed (only its owner writes it).
_OPEN_PARTICIPANTS = text(
    "SELECT count(*) FROM participants p JOIN polls ON polls.id = p.poll_id "
    "WHERE polls.status = 'open'"
)


async def sample_polls(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        counts = {row[0]: int(row[1]) for row in await conn.execute(_POLLS_BY_STATUS)}
        for status in STATUSES:
            POLLS_BY_STATUS.labels(status).set(counts.get(status, 0))
        OPEN_POLL_PARTICIPANTS.set(int((await conn.execute(_OPEN_PARTICIPANTS)).scalar() or 0))


def build_sampler(
    engine: AsyncEngine,
    readiness: Callable[[], Awaitable[object]],
    interval: float,
) -> PeriodicSampler:
    async def pool() -> None:
        record_sqlalchemy_pool(engine)

    async def polls() -> None:
        await sample_polls(engine)

    return PeriodicSampler([readiness, pool, polls, sample_memory_limit], interval=interval)

"""Makes Redis and the screens converge on Postgres.

`reconcile_once` (every `reconcile_interval_s`) rewrites missing or older Redis tallies of
recently active polls: a flush that committed but crashed before writing Redis, a Redis restart,
a lost key; within one interval the tally is back and republished, so screens converge too.
`refresh_tally` brings one poll's tally up to its epoch (a reset zeroes it) and publishes it: the
poll events `reset` and `opened` call it, and so does a pass that finds a reset not yet applied.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import KW_ONLY, dataclass
from uuid import UUID

import asyncpg

from vote_worker.metrics import TALLIES_RECONCILED, counting_db_errors
from vote_worker.publish import Outbound
from vote_worker.record import TallySnapshot, sync_tally
from vote_worker.tally_cache import TallyCache

log = logging.getLogger(__name__)

_ACTIVE_TALLIES = """
SELECT t.poll_id, t.epoch, t.counts, t.total, t.version, p.epoch AS poll_epoch
FROM tallies t
JOIN polls p ON p.id = t.poll_id
WHERE p.status = 'open'
   OR p.updated_at > now() - make_interval(secs => $1)
   OR t.updated_at > now() - make_interval(secs => $1)
ORDER BY t.updated_at DESC
LIMIT $2
"""


@dataclass
class Reconciler:
    pool: asyncpg.Pool
    cache: TallyCache
    outbound: Outbound
    _: KW_ONLY
    window_s: float
    limit: int = 20_000

    async def refresh_tally(self, poll_id: UUID, correlation_id: str) -> TallySnapshot | None:
        """Bring a poll's tally up to its epoch (a reset zeroes it), then cache and publish it."""
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                tally, _ = await sync_tally(conn, poll_id)
        if tally is None:
            log.info("poll event for unknown poll %s ignored", poll_id)
            return None
        await self.cache.write([tally])
        await self.outbound.tallies([tally], correlation_id)
        return tally

    async def reconcile_once(self) -> int:
        """One pass; returns how many Redis tallies were rewritten."""
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(_ACTIVE_TALLIES, self.window_s, self.limit)
        correlation_id = uuid.uuid4().hex
        current: list[TallySnapshot] = []
        for row in rows:
            if row["epoch"] < row["poll_epoch"]:
                # A reset whose event has not been applied yet: apply it (zeroes, publishes).
                await self.refresh_tally(row["poll_id"], correlation_id)
            else:
                current.append(TallySnapshot.from_row(row))
        versions = await self.cache.versions(current)
        behind = [
            tally
            for tally, version in zip(current, versions, strict=True)
            if version is None or version < tally.version
        ]
        if behind:
            await self.cache.write(behind)
            await self.outbound.tallies(behind, correlation_id)
            TALLIES_RECONCILED.inc(len(behind))
            log.info("reconciled %d tallies into redis", len(behind))
        return len(behind)

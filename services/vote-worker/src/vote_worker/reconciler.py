"""Makes Redis converge on Postgres: rewrites missing or older tallies of recently active polls.

A flush that committed but crashed before writing Redis, a Redis restart, a lost key: within one
interval the tally is back and republished, so screens converge too.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg

from vote_worker.metrics import DB_ERRORS, TALLIES_RECONCILED
from vote_worker.outbound import Outbound
from vote_worker.record import TallySnapshot
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

RefreshTally = Callable[[UUID, str], Awaitable[object]]


class Reconciler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cache: TallyCache,
        outbound: Outbound,
        refresh_tally: RefreshTally,
        *,
        interval_s: float,
        window_s: float,
        limit: int = 20_000,
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._outbound = outbound
        self._refresh_tally = refresh_tally
        self._interval = interval_s
        self._window = window_s
        self._limit = limit

    async def run(self) -> None:
        while True:
            try:
                await self.reconcile_once()
            except Exception as exc:
                log.warning("reconcile failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self._interval)

    async def reconcile_once(self) -> int:
        """One pass; returns how many Redis tallies were rewritten."""
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_ACTIVE_TALLIES, self._window, self._limit)
        except Exception:
            DB_ERRORS.inc()
            raise
        correlation_id = uuid.uuid4().hex
        current: list[TallySnapshot] = []
        for row in rows:
            if row["epoch"] < row["poll_epoch"]:
                # A reset whose event has not been applied yet: apply it (zeroes, publishes).
                await self._refresh_tally(row["poll_id"], correlation_id)
            else:
                current.append(TallySnapshot.from_row(row))
        versions = await self._cache.versions(current)
        behind = [
            tally
            for tally, version in zip(current, versions, strict=True)
            if version is None or version < tally.version
        ]
        if behind:
            await self._cache.write(behind)
            await self._outbound.tallies(behind, correlation_id)
            TALLIES_RECONCILED.inc(len(behind))
            log.info("reconciled %d tallies into redis", len(behind))
        return len(behind)

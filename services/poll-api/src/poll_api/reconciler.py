"""Rewrites the Redis state of recently active polls whose cached state is missing or older.

Redis is a cache that can always be rebuilt: after a Redis restart the gateway's accept script
would find no state and refuse votes until someone asked poll-api; this repairs it within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.polls import PollStatus
from poll_api.models import Poll
from poll_api.state_cache import PollStateCache
from poll_api.views import poll_view

log = logging.getLogger(__name__)

MAX_POLLS_PER_PASS = 2000


class StateReconciler:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        state_cache: PollStateCache,
        interval_seconds: float = 2.0,
        window: timedelta = timedelta(hours=24),
    ) -> None:
        self._sessions = sessions
        self._state_cache = state_cache
        self._interval = interval_seconds
        self._window = window
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="state-reconciler")

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the pass in flight finish (cancelling a query mid-way breaks its connection)."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                repaired = await self.reconcile_once()
                if repaired:
                    log.info("rewrote poll states in Redis", extra={"polls": repaired})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("state reconciliation failed", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def reconcile_once(self) -> int:
        """One pass; returns how many polls had their Redis state rewritten."""
        since = utcnow() - self._window
        async with self._sessions() as session:
            polls = (
                await session.exec(
                    select(Poll)
                    .where(col(Poll.status) != PollStatus.DRAFT.value)
                    .where(col(Poll.updated_at) > since)
                    .order_by(col(Poll.updated_at).desc())
                    .limit(MAX_POLLS_PER_PASS)
                )
            ).all()
        if not polls:
            return 0
        cached = await self._state_cache.cached_versions([p.id for p in polls])
        stale = [
            (poll_view(p), p.state_version)
            for p, version in zip(polls, cached, strict=True)
            if version is None or version < p.state_version
        ]
        if stale:
            await self._state_cache.write_many(stale)
        return len(stale)

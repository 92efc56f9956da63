"""Rewrites the Redis state of recently active polls whose cached state is missing or older.

Redis is a cache that can always be rebuilt: after a Redis restart the gateway's accept script
would find no state and refuse votes until someone asked poll-api; this repairs it within seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.polls import PollStatus
from poll_api import crud
from poll_api.background import BackgroundLoop
from poll_api.models import Poll, Question
from poll_api.state_cache import PollStateCache
from poll_api.views import poll_view

log = logging.getLogger(__name__)

MAX_POLLS_PER_PASS = 2000


@dataclass(kw_only=True, eq=False)
class StateReconciler(BackgroundLoop):
    task_name = "state-reconciler"

    sessions: async_sessionmaker[AsyncSession]
    state_cache: PollStateCache
    interval_seconds: float = 2.0
    window: timedelta = timedelta(hours=24)

    async def step(self) -> None:
        """One pass (a failure is logged: the next pass tries again), then `interval_seconds`."""
        try:
            repaired = await self.reconcile_once()
            if repaired:
                log.info("rewrote poll states in Redis", extra={"polls": repaired})
        except Exception as exc:
            log.warning("state reconciliation failed", extra={"error": repr(exc)})
        await self.pause(self.interval_seconds)

    async def reconcile_once(self) -> int:
        """One pass; returns how many polls had their Redis state rewritten."""
        since = utcnow() - self.window
        # A poll takes answers once one of its questions left draft: only those need Redis.
        started = exists().where(
            col(Question.poll_id) == col(Poll.id), col(Question.status) != PollStatus.DRAFT.value
        )
        async with self.sessions() as session:
            polls = (
                await session.exec(
                    select(Poll)
                    .where(started)
                    .where(col(Poll.updated_at) > since)
                    .order_by(col(Poll.updated_at).desc())
                    .limit(MAX_POLLS_PER_PASS)
                )
            ).all()
            if not polls:
                return 0
            cached = await self.state_cache.cached_versions([p.id for p in polls])
            behind = [
                p
                for p, version in zip(polls, cached, strict=True)
                if version is None or version < p.state_version
            ]
            runs = await crud.get_runs(session, behind) if behind else []
        now = utcnow()
        stale = [(poll_view(run, now), run.poll.state_version) for run in runs]
        if stale:
            await self.state_cache.write_many(stale)
        return len(stale)

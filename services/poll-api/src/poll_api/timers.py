"""The question timer: closes timed questions at their `closes_at`, and at once after a restart.

The gateway's accept script already refuses every answer after `closes_at` (it compares Redis
TIME with `q<qid>:closes_us`), so this loop does not make the deadline: it makes the stored
status follow (`closed`, `closed_by = timer`, `closed_at = closes_at`), with its event, audit
row and Redis state. It sleeps until the next deadline (at most `max_sleep_seconds`, so
deadlines set by other replicas are seen), and is woken when this replica opens a question.
Several replicas may run it: each poll is changed under its row lock, and a question already
closed is left alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import utcnow
from contracts.polls import PollStatus
from poll_api import crud
from poll_api.background import BackgroundLoop
from poll_api.changes import Changes
from poll_api.metrics import POLL_TRANSITIONS, STATE_CACHE_WRITE_FAILURES
from poll_api.models import Question
from poll_api.state_cache import PollStateCache

log = logging.getLogger(__name__)

MAX_POLLS_PER_PASS = 200
MIN_SLEEP_SECONDS = 0.005


@dataclass(kw_only=True, eq=False)
class QuestionTimer(BackgroundLoop):
    task_name = "question-timer"

    sessions: async_sessionmaker[AsyncSession]
    state_cache: PollStateCache
    max_sleep_seconds: float = 1.0
    # A close is a write: the poll's reads go to the primary for a while (poll_api.reads).
    mark_written: Callable[[str], Awaitable[None]] | None = None

    async def step(self) -> None:
        """Close what is due, then sleep until the next deadline (a failure: retry soon)."""
        delay = self.max_sleep_seconds
        try:
            closed = await self.close_due()
            if closed:
                log.info("closed timed questions", extra={"questions": closed})
            upcoming = await self.next_deadline()
            if upcoming is not None:
                delay = (upcoming - utcnow()).total_seconds()
        except Exception as exc:
            log.warning("question timer pass failed", extra={"error": repr(exc)})
        await self.pause(min(max(delay, MIN_SLEEP_SECONDS), self.max_sleep_seconds))

    async def close_due(self) -> int:
        """Close every open question past its `closes_at`; returns how many were closed."""
        now = utcnow()
        async with self.sessions() as session:
            due = (
                await session.exec(
                    select(Question.poll_id)
                    .where(col(Question.status) == PollStatus.OPEN.value)
                    .where(col(Question.closes_at).is_not(None))
                    .where(col(Question.closes_at) <= now)
                    .distinct()
                    .limit(MAX_POLLS_PER_PASS)
                )
            ).all()
        closed = 0
        for poll_id in due:
            closed += await self.close_poll_due(poll_id)
        return closed

    async def close_poll_due(self, poll_id: uuid.UUID) -> int:
        correlation_id = f"timer-{uuid.uuid4().hex}"
        async with self.sessions() as session, session.begin():
            run = await crud.get_run_by_id(session, poll_id)
            if run is None:
                return 0
            changes = Changes(run, utcnow(), correlation_id, None)
            closed = changes.close_due()
            await changes.save(session)
        if changes.view is not None:
            POLL_TRANSITIONS.labels(event="closed").inc(closed)
            if self.mark_written is not None:
                await self.mark_written(run.poll.room_code)
            try:
                await self.state_cache.write(changes.view, run.poll.state_version)
            except (RedisError, OSError) as exc:  # the relay and the reconciler catch up
                STATE_CACHE_WRITE_FAILURES.inc()
                log.warning("could not write poll state to Redis", extra={"error": repr(exc)})
        return closed

    async def next_deadline(self) -> datetime | None:
        async with self.sessions() as session:
            found = (
                await session.exec(
                    # The partial index `questions_due` answers this.
                    select(func.min(col(Question.closes_at)))
                    .where(col(Question.status) == PollStatus.OPEN.value)
                    .where(col(Question.closes_at).is_not(None))
                )
            ).first()
        return found

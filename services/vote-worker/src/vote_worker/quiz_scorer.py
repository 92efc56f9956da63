"""When a poll's quiz is rescored, and the steps after the commit (docs/quiz.md).

`rescore` recomputes a poll (`quiz.recompute_quiz`), then writes Redis (`QuizCache`), publishes
`QuizScored` and a `quiz.scored` audit event: each step retried on its own (like a flush), so a
committed recomputation is still cached and published when Redis or RabbitMQ failed after the
commit. It returns only when every step is done: its caller acks what asked for it then.

What asks for it:
- a poll event (`on_poll_event`): a quiz question closed; a question of a scored poll reset or
  deleted;
- the vote path (`after_rescore`): a batch stored answers to quiz questions already closed;
  requests of one poll are coalesced, at most one run every `min_interval_s`, and the batch's
  messages are acked once a run that started after their commit has finished;
- the reconciler (`reconcile_once`): a poll with a closed quiz question whose Redis board is
  missing (Redis lost its data, or a crash came between the commit and the cache).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

import asyncpg

from contracts import PollEvent, Vote
from vote_worker import metrics
from vote_worker import quiz_sql as sql
from vote_worker.audit import quiz_scored_event
from vote_worker.publish import Outbound
from vote_worker.quiz import QuizOutcome, recompute_quiz
from vote_worker.quiz_cache import QuizCache
from vote_worker.steps import retry_step

T = TypeVar("T")

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.25  # at most ~4 coalesced runs a second per poll
RESET_EVENTS = frozenset({"reset", "question_deleted"})
SCAN_LIMIT = 2000  # polls whose Redis board one reconciler pass checks


@dataclass
class _Queue:
    """A poll's coalesced requests: who waits for the next run, and the task running them."""

    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    correlation_id: str = ""
    task: asyncio.Task[None] | None = None


class QuizScorer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        cache: QuizCache,
        outbound: Outbound,
        *,
        stopping: asyncio.Event | None = None,
        min_interval_s: float = MIN_INTERVAL_S,
        window_s: float = 24 * 3600,
        per_pass: int = 10,
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._outbound = outbound
        self._stopping = stopping
        self._interval = min_interval_s
        self._window_s = window_s
        self._per_pass = per_pass
        self._locks: weakref.WeakValueDictionary[UUID, asyncio.Lock] = weakref.WeakValueDictionary()
        self._queues: dict[UUID, _Queue] = {}
        self._last_run: dict[UUID, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _step(self, step: str, operation: Callable[[], Awaitable[T]]) -> T:
        return await retry_step(step, operation, stopping=self._stopping)

    async def _recompute(self, poll_id: UUID) -> QuizOutcome | None:
        with metrics.counting_db_errors():
            async with self._pool.acquire() as conn:
                return await recompute_quiz(conn, poll_id)

    async def rescore(
        self, poll_id: UUID, correlation_id: str, trigger: str = "event"
    ) -> QuizOutcome | None:
        """Recompute, commit, cache, publish and audit (one run per poll at a time here; the
        advisory lock serialises replicas). Raises `Stopping` when shutting down meanwhile."""
        lock = self._locks.get(poll_id)
        if lock is None:
            lock = self._locks[poll_id] = asyncio.Lock()
        async with lock:
            started = time.perf_counter()
            outcome = await self._step("quiz_score", lambda: self._recompute(poll_id))
            self._last_run[poll_id] = time.monotonic()
            if outcome is None:
                return None
            metrics.QUIZ_RESCORE_SECONDS.observe(time.perf_counter() - started)
            await self._step("quiz_cache", lambda: self._cache.write(outcome))
            message = outcome.message()
            if message is not None:
                await self._step(
                    "quiz_publish", lambda: self._outbound.quiz(message, correlation_id)
                )
            qid = None if outcome.last is None else outcome.last.qid
            event = quiz_scored_event(
                poll_id, qid, outcome.version, len(outcome.results), correlation_id
            )
            await self._step("audit", lambda: self._outbound.audit([event], correlation_id))
            metrics.QUIZ_RESCORES.labels(trigger).inc()
            log.info(
                "quiz of %s scored at version %d",
                poll_id,
                outcome.version,
                extra={"qid": qid, "participants": len(outcome.results)},
            )
            return outcome

    async def on_poll_event(self, event: PollEvent, correlation_id: str) -> None:
        """A quiz question closed, or a question of a scored poll was reset or deleted."""
        if event.event == "closed":
            ask = sql.CLOSED_A_QUIZ
        elif event.event in RESET_EVENTS:
            ask = sql.RESET_A_SCORED_QUIZ
        else:
            return
        with metrics.counting_db_errors():
            due = await self._pool.fetchval(ask, event.poll.id, event.qid)
        if due:
            await self.rescore(event.poll.id, correlation_id)

    # ---- the vote path: coalesced per poll ------------------------------------------------

    async def late_polls(self, votes: Iterable[Vote]) -> set[UUID]:
        """The polls among these votes' that got an answer to a quiz question already closed.
        Read after the votes' commit: a close committed before that read is seen here, and one
        committed after it rescores on its own event, with these votes stored."""
        keys = {(v.poll_id, v.qid) for v in votes if v.answer.kind == "quiz"}
        if not keys:
            return set()
        polls, qids = [k[0] for k in keys], [k[1] for k in keys]
        with metrics.counting_db_errors():
            rows = await self._pool.fetch(sql.CLOSED_AMONG, polls, qids)
        return {row["poll_id"] for row in rows}

    def request(self, poll_id: UUID, correlation_id: str) -> asyncio.Future[None]:
        """A future done once a run of this poll that starts from now has finished."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(poll_id, _Queue())
        queue.waiters.append(waiter)
        queue.correlation_id = queue.correlation_id or correlation_id
        if queue.task is None:
            queue.task = asyncio.create_task(self._run(poll_id, queue))
        return waiter

    async def _run(self, poll_id: UUID, queue: _Queue) -> None:
        try:
            while queue.waiters:
                wait = self._last_run.get(poll_id, 0.0) + self._interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                waiters, correlation_id = queue.waiters, queue.correlation_id
                queue.waiters, queue.correlation_id = [], ""
                try:
                    await self.rescore(poll_id, correlation_id, trigger="late_answer")
                except BaseException as exc:
                    for waiter in waiters:
                        if isinstance(exc, Exception):
                            waiter.set_exception(exc)
                        else:
                            waiter.cancel()
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for waiter in waiters:
                    waiter.set_result(None)
        finally:
            del self._queues[poll_id]
            for waiter in queue.waiters:  # cancelled meanwhile
                waiter.cancel()
            self._prune()

    def _prune(self) -> None:
        if len(self._last_run) > 1000:
            old = time.monotonic() - self._interval
            self._last_run = {p: t for p, t in self._last_run.items() if t > old}

    def after_rescore(
        self,
        polls: Iterable[UUID],
        correlation_id: str,
        done: Callable[[], Awaitable[None]],
        failed: Callable[[BaseException], Awaitable[None]],
    ) -> None:
        """Run `done` (ack) once each poll has been rescored, `failed` if that failed; in the
        background, so the flusher goes on with the next batch."""
        waiters = [self.request(poll_id, correlation_id) for poll_id in polls]

        async def then() -> None:
            outcomes = await asyncio.gather(*waiters, return_exceptions=True)
            errors = [e for e in outcomes if isinstance(e, BaseException)]
            if errors:
                await failed(errors[0])
            else:
                await done()

        task = asyncio.create_task(then())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Until every deferred ack has run (shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # ---- the reconciler ---------------------------------------------------------------------

    async def reconcile_once(self, correlation_id: str) -> int:
        """Rescore (a few a pass) the recently active polls whose Redis board is missing."""
        with metrics.counting_db_errors():
            rows = await self._pool.fetch(sql.SCORED_POLLS, self._window_s, SCAN_LIMIT)
        missing: Sequence[UUID] = await self._cache.missing_boards([r["poll_id"] for r in rows])
        for poll_id in missing[: self._per_pass]:
            await self.rescore(poll_id, correlation_id, trigger="reconciler")
        if missing:
            log.info("rescored %d quiz boards missing in redis", min(len(missing), self._per_pass))
        return min(len(missing), self._per_pass)

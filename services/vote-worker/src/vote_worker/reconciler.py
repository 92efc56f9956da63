"""Makes Postgres's tallies equal their stored answers, and Redis and the screens converge on
Postgres.

`reconcile_once` (every `reconcile_interval_s`) looks at the tallies of recently active
questions:
- a tally behind its question's epoch (a reset whose event has not arrived) is emptied and
  published (`refresh_tally`), and so is a missing tally of an open question;
- a tally that has been quiet for `quiet_s` is recounted once (at most `recounts_per_pass` a
  pass) from the stored answers of its epoch (`contracts.aggregates.recompute`, what
  tests/support/truth.py recomputes too); drift is fixed in Postgres at a new version and
  published;
- a Redis tally that is missing or older than Postgres's is rewritten and republished: a flush
  that committed but crashed before writing Redis, a Redis restart, a lost key;
- a poll with a closed quiz question whose Redis leaderboard is missing is rescored
  (`QuizScorer.reconcile_once`).
`refresh_tally` brings a question's tally (or every question's of a poll) up to its epoch and
publishes it: the poll events `reset`, `opened` and `question_edited` call it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import KW_ONLY, dataclass, field
from uuid import UUID

import asyncpg

from vote_worker.metrics import TALLIES_RECONCILED, counting_db_errors
from vote_worker.publish import Outbound
from vote_worker.questions import Key, unzip
from vote_worker.quiz_scorer import QuizScorer
from vote_worker.record import sync_tallies
from vote_worker.tallies import TallySnapshot
from vote_worker.tally_cache import TallyCache

log = logging.getLogger(__name__)

_ACTIVE_TALLIES = """
SELECT t.poll_id, t.qid, t.epoch, t.version, q.epoch AS question_epoch,
       md5(t.counters::text || t.aggregate::text || t.kind) AS digest,
       t.updated_at < now() - make_interval(secs => $3) AS quiet
FROM tallies t
JOIN questions q ON q.poll_id = t.poll_id AND q.qid = t.qid
WHERE q.status = 'open'
   OR q.updated_at > now() - make_interval(secs => $1)
   OR t.updated_at > now() - make_interval(secs => $1)
ORDER BY t.updated_at DESC
LIMIT $2
"""

_TALLIES = """
SELECT t.poll_id, t.qid, t.kind, t.epoch, t.counts, t.total, t.version,
       t.aggregate::text AS aggregate
FROM tallies t
JOIN unnest($1::uuid[], $2::smallint[]) AS k(poll_id, qid)
  ON t.poll_id = k.poll_id AND t.qid = k.qid
"""

_MISSING_TALLIES = """
SELECT q.poll_id, q.qid
FROM questions q
WHERE q.status = 'open'
  AND NOT EXISTS (SELECT 1 FROM tallies t WHERE t.poll_id = q.poll_id AND t.qid = q.qid)
LIMIT $1
"""


@dataclass
class Reconciler:
    pool: asyncpg.Pool
    cache: TallyCache
    outbound: Outbound
    _: KW_ONLY
    window_s: float
    limit: int = 20_000
    quiet_s: float = 2.0
    recounts_per_pass: int = 100
    quiz: QuizScorer | None = None
    # Per question, the (version, digest) of the stored tally last recounted and found right.
    _verified: dict[Key, tuple[int, str]] = field(default_factory=dict)

    async def refresh_tally(
        self, poll_id: UUID, qid: int | None, correlation_id: str
    ) -> list[TallySnapshot]:
        """Bring a question's tally (every question's with `qid` None) up to its epoch (a reset
        empties it), then cache and publish it even if unchanged, so screens get it now."""
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                tallies, _ = await sync_tallies(conn, poll_id, qid)
        if not tallies:
            log.info("poll event for unknown poll or question %s/%s ignored", poll_id, qid)
            return []
        await self.cache.write(tallies)
        await self.outbound.tallies(tallies, correlation_id)
        return tallies

    async def recount(self, poll_id: UUID, qid: int, correlation_id: str) -> bool:
        """Recount a question from its stored answers; True when its tally had drifted (it is
        fixed at a new version, cached and published)."""
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                _, changed = await sync_tallies(conn, poll_id, qid, recount=True)
        if changed:
            log.warning("tally of %s/%s drifted from its answers: recounted", poll_id, qid)
            await self.cache.write(changed)
            await self.outbound.tallies(changed, correlation_id)
            TALLIES_RECONCILED.inc(len(changed))
        return bool(changed)

    async def reconcile_once(self) -> int:
        """One pass; returns how many tallies were fixed or rewritten into Redis."""
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(_ACTIVE_TALLIES, self.window_s, self.limit, self.quiet_s)
                missing = await conn.fetch(_MISSING_TALLIES, self.limit)
        correlation_id = uuid.uuid4().hex
        fixed = 0
        for row in missing:
            await self.refresh_tally(row["poll_id"], row["qid"], correlation_id)
            fixed += 1
        current: list[tuple[Key, int]] = []  # (question, version in Postgres)
        due: list[tuple[Key, tuple[int, str]]] = []  # quiet, not recounted at this stamp
        verified: dict[Key, tuple[int, str]] = {}
        for row in rows:
            key = (row["poll_id"], row["qid"])
            stamp = (row["version"], row["digest"])
            if row["epoch"] != row["question_epoch"]:
                # A reset whose event has not been applied yet: apply it (empties, publishes).
                await self.refresh_tally(key[0], key[1], correlation_id)
                fixed += 1
                continue
            current.append((key, row["version"]))
            if self._verified.get(key) == stamp:
                verified[key] = stamp
            elif row["quiet"]:
                due.append((key, stamp))
        # Redis first: after a restart many tallies are due a recount, and screens wait for this.
        fixed += await self._rewrite_redis(current, correlation_id)
        for key, stamp in due[: self.recounts_per_pass]:
            if await self.recount(key[0], key[1], correlation_id):
                fixed += 1  # verified again on a later pass, at its new version
            else:
                verified[key] = stamp
        self._verified = verified
        if self.quiz is not None:
            fixed += await self.quiz.reconcile_once(correlation_id)
        return fixed

    async def _rewrite_redis(self, current: list[tuple[Key, int]], correlation_id: str) -> int:
        versions = await self.cache.versions([key for key, _ in current])
        behind = [
            key
            for (key, stored), cached in zip(current, versions, strict=True)
            if cached is None or cached < stored
        ]
        if not behind:
            return 0
        # Only the tallies Redis lacks are read in full.
        with counting_db_errors():
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(_TALLIES, *unzip(behind))
        tallies = [TallySnapshot.from_row(row) for row in rows]
        await self.cache.write(tallies)
        await self.outbound.tallies(tallies, correlation_id)
        TALLIES_RECONCILED.inc(len(tallies))
        log.info("reconciled %d tallies into redis", len(tallies))
        return len(tallies)

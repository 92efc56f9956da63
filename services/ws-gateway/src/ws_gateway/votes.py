"""Taking votes: the micro-batcher and the one accept script.

Votes from every connection of the process are collected and flushed at `vote_batch_max` votes
or after `vote_batch_wait_ms`. Per flush the accept script runs once per poll of the batch, all
in one pipelined round trip (the poll's Redis state is the linearisation point of closing);
the accepted votes go to `confirms`, which publishes them as one `VoteBatch` with publisher
confirms and tells each participant `vote_accepted` only after the confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contracts import Vote
from contracts.answers import Answer, SingleAnswer
from contracts.frames import ErrorCode, ErrorFrame
from contracts.ids import uuid5
from ws_gateway import metrics
from ws_gateway.confirms import Confirms, Reply, refuse
from ws_gateway.settings import Settings
from ws_gateway.wire import error_frame
from zephyr_runtime.amqp import ConfirmedPublisher
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript, run_pipelined

log = logging.getLogger(__name__)

# The accept step of one poll's votes of a batch, in vote order, decided at one instant (which
# keeps closing exact). Per vote: only while its question's `q<qid>:status` is `open` and,
# for a timed question, Redis TIME (µs) is before `q<qid>:closes_us`; then
# `seq = max(last + 1, TIME)` for the participant, so seq keeps increasing even after Redis
# lost the seq hash. A first-version hash (no q-fields) has `status` and `epoch` of its one
# question, the current one (`current`, default 0).
# A quiz's first answer locks (the worker counts the first): a vote with a lock id (its vote id)
# takes the seq hash's field `lock:<participant>:<qid>` = `<epoch>:<vote id>`, and another vote
# id of the same epoch is refused (the same one again, a resent vote, passes). A lock is only
# taken while the sentinel `<prefix>:alive` exists: after Redis lost its data the locks of the
# answers stored before are not back until vote-worker's rebuild, and a second "first" answer
# accepted then would never count (-4: unavailable, retry).
# KEYS[1] poll state hash, KEYS[2] per-poll seq hash, KEYS[3] the sentinel; ARGV participant
# id, qid, lock id ('' for none) per vote. Returns {seq1, epoch1, seq2, epoch2, ..., clock}
# with seq -1 for a vote refused because its question is not open, -3 because its answer is
# locked, -4 because Redis is being rebuilt, and last the TIME (µs) the votes were accepted
# at; {-2} when the poll's state is not cached.
ACCEPT = RedisScript("""
local poll = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'current')
if not poll[1] then return {-2} end
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local questions = {}
local out = {}
local alive = nil
for i = 1, #ARGV, 3 do
  local qid = ARGV[i + 1]
  local q = questions[qid]
  if not q then
    local f = redis.call('HMGET', KEYS[1], 'q' .. qid .. ':status', 'q' .. qid .. ':epoch',
      'q' .. qid .. ':closes_us')
    if not f[1] and qid == (poll[3] or '0') then f = {poll[1], poll[2], '0'} end
    local closes = tonumber(f[3] or '0') or 0
    q = {open = f[1] == 'open' and (closes == 0 or clock < closes),
         epoch = tonumber(f[2] or '0') or 0}
    questions[qid] = q
  end
  local locked = false
  local rebuilding = false
  if q.open and ARGV[i + 2] ~= '' then
    local field = 'lock:' .. ARGV[i] .. ':' .. qid
    local epoch = tostring(q.epoch) .. ':'
    local held = redis.call('HGET', KEYS[2], field)
    local mine = epoch .. ARGV[i + 2]
    local ours = held and string.sub(held, 1, #epoch) == epoch
    if ours and held ~= mine then
      locked = true
    elseif not ours then
      if alive == nil then alive = redis.call('EXISTS', KEYS[3]) end
      if alive == 1 then redis.call('HSET', KEYS[2], field, mine) else rebuilding = true end
    end
  end
  if locked then
    out[#out + 1] = -3
  elseif rebuilding then
    out[#out + 1] = -4
  elseif q.open then
    local seq = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0') + 1
    if clock > seq then seq = clock end
    redis.call('HSET', KEYS[2], ARGV[i], string.format('%d', seq))
    out[#out + 1] = seq
  else
    out[#out + 1] = -1
  end
  out[#out + 1] = q.epoch
end
out[#out + 1] = clock
return out
""")

QUESTION_NOT_OPEN = -1
STATE_MISSING = -2
ANSWER_LOCKED = -3
REBUILDING = -4
REBUILDING_RETRY_AFTER = 1.0
LOCKING_KINDS = frozenset({"quiz"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Overloaded(Exception):
    """Too many votes are waiting for a flush; the client should retry later."""


class BatcherClosed(Exception):
    """The gateway is shutting down and takes no new votes."""


@dataclass
class PendingVote:
    poll_id: UUID
    room_code: str
    participant_id: UUID
    qid: int
    question: int  # the question's index when the vote was taken
    answer: Answer  # normalised by contracts.answers.validate_answer
    client_vote_id: str | None
    reply: Reply
    # The vote named its question: a closed one is `question_closed`, else `poll_closed`.
    named: bool = False
    retried: bool = field(default=False)
    # The connection's correlation id, so a vote's journey can be followed through the logs.
    correlation_id: str | None = None

    vote_id: UUID = field(init=False)

    def __post_init__(self) -> None:
        # uuid5 of the client's id makes a resent vote idempotent; else a fresh one, kept for
        # the vote's retries (a quiz's lock holds it).
        if self.client_vote_id:
            self.vote_id = uuid5(self.participant_id.bytes, self.client_vote_id)
        else:
            self.vote_id = uuid.uuid4()

    @property
    def lock_id(self) -> str:
        """The vote id for an answer that locks (a quiz's), else ''."""
        return str(self.vote_id) if self.answer.kind in LOCKING_KINDS else ""


def accepted_at(clock_us: int) -> datetime:
    """The accept script's Redis TIME (µs since the epoch) as `Vote.cast_at`, exactly."""
    return _EPOCH + timedelta(microseconds=clock_us)


async def accept_votes(
    redis: aioredis.Redis, keys: RedisKeys, batch: Sequence[PendingVote]
) -> list[Any]:
    """Per vote `[seq, epoch, clock]`, `[-1, epoch, clock]` (its question not open),
    `[-3, epoch, clock]` (its answer locked), `[-4, epoch, clock]` (a lock cannot be taken
    before Redis is rebuilt), `[-2]` (state not cached), or the exception of
    its poll's call (errors are values, like a pipeline with raise_on_error off). `clock` is
    the Redis TIME (µs) at which the script decided."""
    groups: dict[UUID, list[int]] = {}
    for index, vote in enumerate(batch):
        groups.setdefault(vote.poll_id, []).append(index)
    calls = [
        (
            ACCEPT,
            [keys.poll_state(poll_id), keys.vote_seq(poll_id), keys.alive()],
            [
                arg
                for i in indexes
                for arg in (str(batch[i].participant_id), batch[i].qid, batch[i].lock_id)
            ],
        )
        for poll_id, indexes in groups.items()
    ]
    replies = await run_pipelined(redis, calls, raise_on_error=False)
    results: list[Any] = [None] * len(batch)
    for indexes, reply in zip(groups.values(), replies, strict=True):
        if isinstance(reply, Exception):
            for i in indexes:
                results[i] = reply
            continue
        if len(reply) != 2 * len(indexes) + 1:
            missing = len(reply) == 1 and int(reply[0]) == STATE_MISSING
            for i in indexes:
                results[i] = [STATE_MISSING] if missing else RuntimeError(f"accept: {reply!r}")
            continue
        clock = int(reply[-1])
        for n, i in enumerate(indexes):
            results[i] = [int(reply[2 * n]), int(reply[2 * n + 1]), clock]
    return results


class VoteBatcher:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        keys: RedisKeys,
        publisher: ConfirmedPublisher,
        refresh_poll: Callable[[str, str], Awaitable[bool]],
    ) -> None:
        self._settings = settings
        self._redis, self._keys = redis, keys
        self._refresh_poll = refresh_poll
        self.confirms = Confirms(settings, redis, publisher)
        self._queue: deque[PendingVote] = deque()
        self._has_votes = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._refreshing: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vote-batcher")

    def submit(self, vote: PendingVote) -> None:
        """Queue a vote for the next flush; raises Overloaded or BatcherClosed."""
        if self._closing:
            raise BatcherClosed
        if len(self._queue) + self.confirms.votes >= self._settings.max_pending_votes:
            raise Overloaded
        self._enqueue(vote)

    def _enqueue(self, vote: PendingVote) -> None:
        self._queue.append(vote)
        self._has_votes.set()
        if len(self._queue) >= self._settings.vote_batch_max:
            self._full.set()

    async def drain(self) -> None:
        """Take no new votes; flush every queued one (publishes and replies) and stop."""
        self._closing = True
        while self._refreshing:
            await asyncio.gather(*self._refreshing, return_exceptions=True)
        self._has_votes.set()
        self._full.set()
        if self._task is not None:
            await self._task
        await self.confirms.wait_idle()

    async def _run(self) -> None:
        batch_max = self._settings.vote_batch_max
        batch_wait = self._settings.vote_batch_wait_ms / 1000
        while True:
            if not self._queue:
                if self._closing and not self._refreshing:
                    return
                self._has_votes.clear()
                await self._has_votes.wait()
                continue
            if len(self._queue) < batch_max and batch_wait > 0 and not self._closing:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(batch_wait):
                        await self._full.wait()
            count = min(len(self._queue), batch_max)
            batch = [self._queue.popleft() for _ in range(count)]
            try:
                await self._flush(batch)
            except Exception:
                # Never lose the flusher: whatever went wrong, these votes get an answer.
                log.exception("vote flush failed")
                refuse(batch, "unavailable")

    async def _flush(self, batch: list[PendingVote]) -> None:
        metrics.VOTE_BATCH_SIZE.observe(len(batch))
        try:
            # One script call per poll of the batch, not one per vote.
            results = await accept_votes(self._redis, self._keys, batch)
        except RedisError as exc:
            log.warning("accept script failed", extra={"error": repr(exc), "votes": len(batch)})
            refuse(batch, "unavailable")
            return
        outcomes: list[tuple[PendingVote, Vote | ErrorFrame]] = []
        missing: list[PendingVote] = []
        for vote, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                refuse([vote], "unavailable")
                continue
            seq = int(result[0])
            if seq == QUESTION_NOT_OPEN:
                outcomes.append((vote, closed_refusal(vote)))
            elif seq == ANSWER_LOCKED:
                metrics.votes_rejected("answer_locked").inc()
                outcomes.append((vote, error_frame("answer_locked", locked_message(vote.question))))
            elif seq == REBUILDING:
                metrics.votes_rejected("rebuilding").inc()
                message = "answers are being restored after a restart; retry"
                outcomes.append((vote, error_frame("unavailable", message, REBUILDING_RETRY_AFTER)))
            elif seq == STATE_MISSING:
                missing.append(vote)
            else:
                # `cast_at` is the Redis TIME the accept script compared with `closes_us`, not
                # this process's clock: a quiz's `t` (cast_at - opened_at) and the timer's close
                # are then measured on one clock, so an answer accepted before `closes_at` has
                # t < T whatever the gateway's clock says. It costs no round trip: the script
                # returns the TIME it read anyway.
                cast_at = accepted_at(int(result[2]))
                outcomes.append((vote, _vote(vote, seq, int(result[1]), cast_at)))
        if missing:
            task = asyncio.create_task(self._retry_after_refresh(missing))
            self._refreshing.add(task)
            task.add_done_callback(self._refresh_done)
        if outcomes:
            # Refusals wait for the confirm of the votes before them: replies keep vote order.
            await self.confirms.submit(outcomes)

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        self._refreshing.discard(task)
        self._has_votes.set()  # wakes a draining flusher waiting for the last refresh

    async def _retry_after_refresh(self, votes: list[PendingVote]) -> None:
        """The poll state was not cached: have poll-api rebuild it, then retry each vote once."""
        by_room: dict[str, list[PendingVote]] = {}
        for vote in votes:
            by_room.setdefault(vote.room_code, []).append(vote)
        for room_code, group in by_room.items():
            fresh = [v for v in group if not v.retried]
            refuse([v for v in group if v.retried], "unavailable")
            if not fresh:
                continue
            if await self._refresh_poll(room_code, uuid.uuid4().hex):
                for vote in fresh:
                    vote.retried = True
                    self._enqueue(vote)
            else:
                refuse(fresh, "unavailable")


def closed_refusal(vote: PendingVote) -> ErrorFrame:
    """The vote's question is not open (closed, draft, or past its `closes_at`)."""
    code = closed_code(vote.named)
    metrics.votes_rejected(code).inc()
    return error_frame(code, closed_message(vote.named, vote.question))


def closed_code(named: bool) -> ErrorCode:
    """`question_closed` for a vote that named its question, else (version 1) `poll_closed`."""
    return "question_closed" if named else "poll_closed"


def locked_message(index: int) -> str:
    return f"your first answer to question {index} is final"


def closed_message(named: bool, index: int) -> str:
    if named:
        return f"question {index} is not open for answers"
    return "the poll is not open for votes"


def _vote(pending: PendingVote, seq: int, epoch: int, cast_at: datetime) -> Vote:
    # Without validation (one per vote): the answer was validated from the frame, the ids are
    # ours, seq and epoch come from the accept script, and `option` mirrors a single answer
    # as Vote's own validator requires (tests/ws_gateway check the two agree).
    return Vote.model_construct(
        vote_id=pending.vote_id,
        poll_id=pending.poll_id,
        participant_id=pending.participant_id,
        qid=pending.qid,
        answer=pending.answer,
        option=pending.answer.option if isinstance(pending.answer, SingleAnswer) else None,
        seq=seq,
        epoch=epoch,
        cast_at=cast_at,
        client_vote_id=pending.client_vote_id,
    )

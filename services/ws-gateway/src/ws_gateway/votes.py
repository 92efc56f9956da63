"""The vote micro-batcher: one Redis pipeline and one confirmed VoteBatch per flush.

Votes from every connection of the process are collected and flushed at `vote_batch_max` votes
or after `vote_batch_wait_ms`. Per flush the accept script runs once per vote in one pipeline
(the poll's Redis state is the linearisation point of closing), the accepted votes go out as one
`VoteBatch` with publisher confirms, and only after the confirm is each participant told
`vote_accepted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.exceptions import NoScriptError, RedisError

from contracts import Contract, Vote, VoteBatch, utcnow
from contracts.frames import VoteAcceptedFrame
from contracts.topology import VOTES_QUEUE
from ws_gateway import metrics
from ws_gateway.accept import accept_many
from ws_gateway.pipeline import OrderedPipeline
from ws_gateway.wire import error_frame
from zephyr_runtime import tracing
from zephyr_runtime.amqp import PublishFailed
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)

# KEYS[1] poll state hash, KEYS[2] per-poll seq hash; ARGV[1] participant id.
# Returns {seq, epoch}, {-1} when the poll is not open, {-2} when its state is not cached.
# seq follows the clock (µs) so it keeps increasing even after Redis lost the seq hash.
ACCEPT_SCRIPT = """
local state = redis.call('HMGET', KEYS[1], 'status', 'epoch')
if not state[1] then return {-2} end
if state[1] ~= 'open' then return {-1} end
local now = redis.call('TIME')
local clock = tonumber(now[1]) * 1000000 + tonumber(now[2])
local seq = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') + 1
if clock > seq then seq = clock end
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', seq))
return {seq, tonumber(state[2] or '0')}
"""
ACCEPT_SCRIPT_SHA = hashlib.sha1(ACCEPT_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis's id

POLL_NOT_OPEN = -1
STATE_MISSING = -2
PUBLISH_RETRY_AFTER = 1.0


class Overloaded(Exception):
    """Too many votes are waiting for a flush; the client should retry later."""


class BatcherClosed(Exception):
    """The gateway is shutting down and takes no new votes."""


class VotePublisher(Protocol):
    async def publish(
        self,
        message: Contract,
        *,
        exchange: str,
        routing_key: str,
        correlation_id: str,
        message_id: str | None = None,
    ) -> None: ...


@dataclass
class PendingVote:
    poll_id: UUID
    room_code: str
    participant_id: UUID
    option: int
    client_vote_id: str | None
    reply: Callable[[BaseModel], None]
    retried: bool = field(default=False)
    # The connection's correlation id, so a vote's journey can be followed through the logs.
    correlation_id: str | None = None

    def vote_id(self) -> UUID:
        """uuid5 of the client's id makes a resent vote idempotent; else a fresh one."""
        if self.client_vote_id:
            return uuid.uuid5(self.participant_id, self.client_vote_id)
        return uuid.uuid4()


def batch_correlation_id(votes: list[PendingVote]) -> tuple[str, list[str]]:
    """The batch's correlation id and the connections' ids it covers.

    A batch from one connection carries that connection's id, so one search finds the vote from
    the WebSocket to the audit log; a mixed batch gets a new id, and the gateway's debug line
    "publishing vote batch" lists the connections' ids (the first 50) next to it.
    """
    connections = sorted({v.correlation_id for v in votes if v.correlation_id})
    if len(connections) == 1:
        return connections[0], connections
    return uuid.uuid4().hex, connections[:50]


class VoteBatcher:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: RedisKeys,
        publisher: VotePublisher,
        refresh_poll: Callable[[str, str], Awaitable[bool]],
        gateway_id: str,
        batch_max: int,
        batch_wait_ms: float,
        max_pending: int,
        publish_depth: int = 1,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._publisher = publisher
        self._refresh_poll = refresh_poll
        self._gateway_id = gateway_id
        self._batch_max = batch_max
        self._batch_wait = batch_wait_ms / 1000
        self._max_pending = max_pending
        self._queue: deque[PendingVote] = deque()
        self._has_votes = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._refreshing: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        # publish_depth > 1: batches overlap while waiting for their confirms (pipeline.py).
        self._pipeline = (
            OrderedPipeline(publish_depth, self._publish, self._fail) if publish_depth > 1 else None
        )

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vote-batcher")

    def submit(self, vote: PendingVote) -> None:
        """Queue a vote for the next flush; raises Overloaded or BatcherClosed."""
        if self._closing:
            raise BatcherClosed
        held = len(self._queue) + (self._pipeline.votes if self._pipeline is not None else 0)
        if held >= self._max_pending:
            raise Overloaded
        self._enqueue(vote)

    def _enqueue(self, vote: PendingVote) -> None:
        self._queue.append(vote)
        self._has_votes.set()
        if len(self._queue) >= self._batch_max:
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
        if self._pipeline is not None:
            await self._pipeline.wait_idle()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing and not self._refreshing:
                    return
                self._has_votes.clear()
                await self._has_votes.wait()
                continue
            if len(self._queue) < self._batch_max and self._batch_wait > 0 and not self._closing:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._batch_wait):
                        await self._full.wait()
            count = min(len(self._queue), self._batch_max)
            batch = [self._queue.popleft() for _ in range(count)]
            try:
                await self._flush(batch)
            except Exception:
                # Never lose the flusher: whatever went wrong, these votes get an answer.
                log.exception("vote flush failed")
                self._fail(batch, "unavailable")

    async def _flush(self, batch: list[PendingVote]) -> None:
        metrics.VOTE_BATCH_SIZE.observe(len(batch))
        try:
            results = await self._accept(batch)
        except RedisError as exc:
            log.warning("accept script failed", extra={"error": repr(exc), "votes": len(batch)})
            self._fail(batch, "unavailable")
            return
        accepted: list[tuple[PendingVote, Vote]] = []
        missing: list[PendingVote] = []
        cast_at = utcnow()
        for vote, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                self._fail([vote], "unavailable")
                continue
            seq = int(result[0])
            if seq == POLL_NOT_OPEN:
                self._fail([vote], "poll_closed")
            elif seq == STATE_MISSING:
                missing.append(vote)
            else:
                accepted.append((vote, self._vote(vote, seq, int(result[1]), cast_at)))
        if missing:
            task = asyncio.create_task(self._retry_after_refresh(missing))
            self._refreshing.add(task)
            task.add_done_callback(self._refresh_done)
        if accepted:
            if self._pipeline is not None:
                await self._pipeline.submit(accepted)
            else:
                await self._publish(accepted)

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        self._refreshing.discard(task)
        self._has_votes.set()  # wakes a draining flusher waiting for the last refresh

    async def _accept(self, batch: list[PendingVote]) -> list[Any]:
        results: list[Any] = await self._run_script(batch)
        unloaded = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if unloaded:  # Redis restarted and forgot the script: load it and redo those votes
            await self._redis.script_load(ACCEPT_SCRIPT)
            again = await self._run_script([batch[i] for i in unloaded])
            for i, result in zip(unloaded, again, strict=True):
                results[i] = result
        return results

    async def _run_script(self, batch: list[PendingVote]) -> list[Any]:
        # One script call per poll of the batch (accept.py), not one per vote.
        return await accept_many(self._redis, self._keys, batch)

    def _vote(self, pending: PendingVote, seq: int, epoch: int, cast_at: Any) -> Vote:
        return Vote(
            vote_id=pending.vote_id(),
            poll_id=pending.poll_id,
            participant_id=pending.participant_id,
            option=pending.option,
            seq=seq,
            epoch=epoch,
            cast_at=cast_at,
            client_vote_id=pending.client_vote_id,
        )

    async def _publish(self, accepted: list[tuple[PendingVote, Vote]]) -> None:
        batch = VoteBatch(
            batch_id=uuid.uuid4(), gateway_id=self._gateway_id, votes=[v for _, v in accepted]
        )
        started = time.perf_counter()
        correlation_id, connections = batch_correlation_id([p for p, _ in accepted])
        token = correlation_id_var.set(correlation_id)
        try:
            with tracing.span(
                "votes publish",
                kind=tracing.SpanKind.PRODUCER,
                attributes={
                    "messaging.destination.name": VOTES_QUEUE,
                    "zephyr.batch_id": str(batch.batch_id),
                    "zephyr.votes": len(accepted),
                },
            ):
                log.debug(
                    "publishing vote batch",
                    extra={
                        "batch_id": str(batch.batch_id),
                        "votes": len(accepted),
                        "connections": connections,
                    },
                )
                await self._publisher.publish(
                    batch,
                    exchange="",
                    routing_key=VOTES_QUEUE,
                    correlation_id=correlation_id,
                    message_id=str(batch.batch_id),
                )
        except PublishFailed as exc:
            log.warning(
                "vote batch not confirmed", extra={"error": str(exc), "votes": len(accepted)}
            )
            self._fail([p for p, _ in accepted], "unavailable")
            return
        finally:
            correlation_id_var.reset(token)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        await self._remember_votes(accepted)
        for pending, vote in accepted:
            metrics.VOTES_ACCEPTED.inc()
            pending.reply(
                VoteAcceptedFrame(
                    vote_id=vote.vote_id, option=vote.option, client_vote_id=vote.client_vote_id
                )
            )

    async def _remember_votes(self, accepted: list[tuple[PendingVote, Vote]]) -> None:
        # Display only (a resumed participant sees their vote): the vote itself is already safe.
        try:
            # One HSET per poll; a participant's later vote in the batch overwrites the earlier.
            by_poll: dict[UUID, dict[Any, Any]] = {}
            for _, vote in accepted:
                by_poll.setdefault(vote.poll_id, {})[str(vote.participant_id)] = (
                    f"{vote.epoch}:{vote.option}"
                )
            async with self._redis.pipeline(transaction=False) as pipe:
                for poll_id, mapping in by_poll.items():
                    pipe.hset(self._keys.my_votes(poll_id), mapping=mapping)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not record my_votes", extra={"error": repr(exc)})

    async def _retry_after_refresh(self, votes: list[PendingVote]) -> None:
        """The poll state was not cached: have poll-api rebuild it, then retry each vote once."""
        by_room: dict[str, list[PendingVote]] = {}
        for vote in votes:
            by_room.setdefault(vote.room_code, []).append(vote)
        for room_code, group in by_room.items():
            fresh = [v for v in group if not v.retried]
            self._fail([v for v in group if v.retried], "unavailable")
            if not fresh:
                continue
            if await self._refresh_poll(room_code, uuid.uuid4().hex):
                for vote in fresh:
                    vote.retried = True
                    self._enqueue(vote)
            else:
                self._fail(fresh, "unavailable")

    def _fail(self, votes: list[PendingVote], code: str) -> None:
        for vote in votes:
            metrics.VOTES_REJECTED.labels(code).inc()
            if code == "poll_closed":
                vote.reply(error_frame("poll_closed", "the poll is not open for votes"))
            else:
                vote.reply(
                    error_frame(
                        "unavailable",
                        "the vote could not be recorded; please retry",
                        retry_after=PUBLISH_RETRY_AFTER,
                    )
                )

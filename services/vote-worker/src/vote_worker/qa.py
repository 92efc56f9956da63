"""The Q&A board's consumer side: `qa` messages micro-batched, recorded, cached, published.

Like votes (flusher.py): messages are collected across deliveries (`zephyr_runtime.batching`),
each batch is recorded in one transaction (`qa_record.record_qa`), then each changed poll's
visible board is written to Redis (only if its version is newer) and published on
`poll.<id>.qa`, the audit events go out, and only then are the messages acked. Each step is
retried until it succeeds with the messages unacked; a crash anywhere means a redelivery, which
the idempotent upserts make harmless. One board message per changed poll per batch, so a burst
of upvotes costs a few board messages, not one per upvote.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from contracts import AuditEvent, QaActions, QaBoardUpdated, utcnow
from contracts.topology import QA_QUEUE
from vote_worker import metrics
from vote_worker.audit import event_id
from vote_worker.flusher import is_bad_data
from vote_worker.poison import Delivered, reject_poison
from vote_worker.publish import Outbound
from vote_worker.qa_record import QaResult, read_boards, record_qa
from vote_worker.settings import SERVICE_NAME
from vote_worker.steps import retry_step
from zephyr_runtime.batching import Batcher
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.keys import RedisKeys
from zephyr_runtime.redis_scripts import RedisScript, ScriptCall, run_pipelined

log = logging.getLogger(__name__)

# KEYS[1] the board hash; ARGV version, body (JSON), ttl. 1 when written, 0 when Redis already
# held this version or a newer one.
WRITE_BOARD = RedisScript("""
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
""")


_RECENT_BOARDS = """
SELECT poll_id, version FROM qa_boards
WHERE updated_at > now() - make_interval(secs => $1::float8)
ORDER BY updated_at DESC LIMIT 1000
"""
_VERSIONS = "SELECT poll_id, version FROM qa_boards WHERE poll_id = ANY($1::uuid[])"


@dataclass(frozen=True)
class QaDelivery:
    actions: QaActions
    message: Delivered
    correlation_id: str


def actions_in(delivery: QaDelivery) -> int:
    return len(delivery.actions.actions)


def _event(kind: str, subject: Any, data: dict[str, Any], cid: str, **ids: Any) -> AuditEvent:
    return AuditEvent(
        event_id=event_id(kind, subject),
        kind=kind,
        service=SERVICE_NAME,
        occurred_at=utcnow(),
        correlation_id=cid[:128],
        data=data,
        **ids,
    )


def qa_events(result: QaResult, cid: str) -> list[AuditEvent]:
    """`qa.asked` per valid ask, `qa.upvoted` per valid upvote (`counted`: it changed the
    stored vote; false for a redelivery or an older one), `qa.rejected` per refused action."""
    events = [
        _event(
            "qa.asked",
            ask.item_id,
            {"item_id": str(ask.item_id), "text": ask.text, "status": status, "seq": ask.seq},
            cid,
            poll_id=ask.poll_id,
            participant_id=ask.participant_id,
        )
        for ask, status in result.asked
    ]
    events += [
        _event(
            "qa.upvoted",
            upvote.action_id,
            {
                "item_id": str(upvote.item_id),
                "up": upvote.up,
                "seq": upvote.seq,
                "counted": upvote.action_id in result.counted,
            },
            cid,
            poll_id=upvote.poll_id,
            participant_id=upvote.participant_id,
        )
        for upvote in result.upvotes
    ]
    events += [
        _event(
            "qa.rejected",
            rejected.action.action_id,
            {
                "item_id": str(rejected.action.item_id),
                "action": rejected.action.kind,
                "reason": rejected.reason,
            },
            cid,
            poll_id=rejected.action.poll_id,
        )
        for rejected in result.rejected
    ]
    return events


class QaBoardCache:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys, ttl_seconds: int) -> None:
        self._client, self._keys, self._ttl = client, keys, ttl_seconds

    async def versions(self, poll_ids: Sequence[UUID]) -> list[int | None]:
        """The board version Redis holds for each poll (None when missing)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for poll_id in poll_ids:
                pipe.hget(self._keys.qa_board(poll_id), "version")
            found = await pipe.execute()
        return [None if v is None else int(v) for v in found]

    async def write(self, boards: Sequence[QaBoardUpdated]) -> None:
        if not boards:
            return
        calls: list[ScriptCall] = [
            (
                WRITE_BOARD,
                [self._keys.qa_board(board.poll_id)],
                [board.version, board.model_dump_json(), self._ttl],
            )
            for board in boards
        ]
        await run_pipelined(self._client, calls)


class QaFlusher:
    def __init__(
        self, pool: asyncpg.Pool, cache: QaBoardCache, outbound: Outbound, window_s: float
    ) -> None:
        self._pool, self._cache, self._outbound = pool, cache, outbound
        self._window_s = window_s

    async def restore_boards(self) -> None:
        """Rewrite and republish each recently changed board that Redis lacks or holds older.

        A crash between a batch's commit and its Redis write leaves the newest board unpublished
        (the redelivered messages change nothing, so they publish nothing), and a Redis loss
        empties the cache a joining participant's board comes from; this loop, run with the
        reconciler's interval, makes both converge.
        """
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_RECENT_BOARDS, self._window_s)
        if not rows:
            return
        cached = await self._cache.versions([r["poll_id"] for r in rows])
        stale = [
            r["poll_id"] for r, v in zip(rows, cached, strict=True) if v is None or v < r["version"]
        ]
        if not stale:
            return
        # One snapshot: each board's items as of its version.
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            versions = await conn.fetch(_VERSIONS, stale)
            boards = await read_boards(conn, {r["poll_id"]: r["version"] for r in versions})
        await self._cache.write(boards)
        await self._outbound.qa_boards(boards, uuid.uuid4().hex)
        log.info("restored %d qa boards", len(boards))

    def batcher(self, *, max_actions: int, max_wait_s: float) -> Batcher[QaDelivery]:
        async def failed(deliveries: list[QaDelivery], exc: Exception) -> None:
            # A bug, not an outage: requeue, so the delivery limit decides the messages' fate.
            log.error("qa flush failed unexpectedly; requeueing", exc_info=exc)
            await asyncio.gather(
                *(d.message.reject(requeue=True) for d in deliveries), return_exceptions=True
            )

        return Batcher(
            self.flush,
            max_size=max_actions,
            max_wait=max_wait_s,
            size=actions_in,
            on_failure=failed,
            name="qa-flusher",
        )

    async def flush(self, deliveries: Sequence[QaDelivery]) -> None:
        cid = deliveries[0].correlation_id
        token = correlation_id_var.set(cid)
        try:
            actions = [a for d in deliveries for a in d.actions.actions]
            try:
                result = await retry_step(
                    "qa_record", lambda: self._record(actions), permanent=is_bad_data
                )
            except Exception as exc:
                await self._isolate_bad_data(deliveries, exc)
                return
            await retry_step("qa_cache", lambda: self._cache.write(result.boards))
            await retry_step("qa_publish", lambda: self._outbound.qa_boards(result.boards, cid))
            events = qa_events(result, cid)
            if events:
                await retry_step("qa_audit", lambda: self._outbound.audit(events, cid))
            await self._ack(deliveries)
        finally:
            correlation_id_var.reset(token)

    async def _record(self, actions: list[Any]) -> QaResult:
        with metrics.counting_db_errors():
            async with self._pool.acquire() as conn:
                return await record_qa(conn, actions)

    async def _isolate_bad_data(self, deliveries: Sequence[QaDelivery], exc: BaseException) -> None:
        """Postgres refuses this data: flush message by message; the guilty one dead-letters."""
        if len(deliveries) > 1:
            for delivery in deliveries:
                await self.flush([delivery])
            return
        await reject_poison(
            deliveries[0].message,
            queue=QA_QUEUE,
            reason=f"refused by postgres: {type(exc).__name__}: {exc}"[:300],
            correlation_id=deliveries[0].correlation_id,
            outbound=self._outbound,
        )

    @staticmethod
    async def _ack(deliveries: Sequence[QaDelivery]) -> None:
        results = await asyncio.gather(
            *(d.message.ack() for d in deliveries), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        metrics.MESSAGES_ACKED.labels(QA_QUEUE).inc(len(results) - len(failed))
        if failed:
            log.warning("could not ack %d qa messages: %s", len(failed), failed[0])

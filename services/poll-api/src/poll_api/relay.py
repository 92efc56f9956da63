"""The outbox relay: publishes committed outbox rows with confirms, then marks them published.

Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several poll-api replicas relay together and
each row is published by one of them at a time. A row stays unpublished until the broker has
confirmed it, so nothing is lost between commit and publish and a crashed relay simply resumes.
The relay wakes on `NOTIFY zephyr_outbox` (sent by each writing transaction) or on a timer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
import orjson
from redis.exceptions import RedisError
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import PollStateChanged
from contracts.questions import STORED
from poll_api.amqp_link import RawConfirmedPublisher
from poll_api.background import BackgroundLoop
from poll_api.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_PUBLISHED,
    OUTBOX_RELAY_FAILURES,
    STATE_CACHE_WRITE_FAILURES,
)
from poll_api.models import OutboxMessage
from poll_api.outbox import NOTIFY_CHANNEL
from poll_api.state_cache import PollStateCache
from zephyr_runtime.amqp import PublishFailed
from zephyr_runtime.resilience import retry

log = logging.getLogger(__name__)

STATE_MESSAGE_TYPE = PollStateChanged.message_type()


def _count_failure(what: str, attempt: int, delay: float, exc: BaseException) -> None:
    OUTBOX_RELAY_FAILURES.inc()
    log.warning(
        "outbox relay failed, retrying",
        extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": round(delay, 3)},
    )


@dataclass(kw_only=True, eq=False)
class OutboxRelay(BackgroundLoop):
    task_name = "outbox-relay"

    sessions: async_sessionmaker[AsyncSession]
    publisher: RawConfirmedPublisher
    state_cache: PollStateCache
    listen_dsn: str
    batch_size: int = 200
    poll_seconds: float = 1.0
    max_backoff_seconds: float = 5.0
    _listener: asyncpg.Connection | None = field(default=None, init=False)

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the batch in flight (bounded by `timeout`), then close the listener."""
        await super().stop(timeout)
        await self._close_listener()

    async def step(self) -> None:
        """One batch (retried with backoff until it goes through); then sleep unless more wait."""
        more_waiting = await retry(
            self._relay_pass,
            what="outbox relay",
            cap=self.max_backoff_seconds,
            on_retry=_count_failure,
            # Only stopping cuts a backoff short: a NOTIFY must not cause a retry storm.
            stopping=self.stopping,
        )
        if not more_waiting:
            await self.pause(self.poll_seconds)

    async def _relay_pass(self) -> bool:
        """Relay one batch; True when it was full (more may be waiting: drain before sleeping)."""
        await self._ensure_listener()
        if await self.relay_batch() >= self.batch_size:
            return True
        await self._update_backlog()
        return False

    async def relay_batch(self) -> int:
        """Publish up to one batch of unpublished rows in id order; returns how many were.

        On a publish failure the rows confirmed so far are marked published, the failed row's
        `attempts` is incremented, and PublishFailed propagates (the caller backs off).
        """
        async with self.sessions() as session, session.begin():
            rows = (
                await session.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.published_at).is_(None))
                    .order_by(col(OutboxMessage.id))
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            published: list[int] = []
            failure: PublishFailed | None = None
            for row in rows:
                assert row.id is not None
                try:
                    await self._publish(row)
                except Exception as exc:
                    # Counted on the row, which stays unpublished; later rows wait (order).
                    failure = exc if isinstance(exc, PublishFailed) else PublishFailed(repr(exc))
                    row.attempts += 1
                    break
                published.append(row.id)
            if published:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(published))
                    .values(published_at=func.now())
                    .execution_options(synchronize_session=False)
                )
        OUTBOX_PUBLISHED.inc(len(published))
        if failure is not None:
            raise failure
        return len(published)

    async def _publish(self, row: OutboxMessage) -> None:
        if row.message_type == STATE_MESSAGE_TYPE:
            await self._apply_state(row)
        headers = dict(row.headers)
        correlation_id = headers.get("x-correlation-id")
        await self.publisher.publish(
            exchange=row.exchange,
            routing_key=row.routing_key,
            body=orjson.dumps(row.body),
            message_id=str(row.message_id),
            message_type=row.message_type,
            headers=headers,
            correlation_id=str(correlation_id) if correlation_id else None,
        )

    async def _apply_state(self, row: OutboxMessage) -> None:
        """Screens that get this state must find Redis at least as new (gateway accept script)."""
        change = PollStateChanged.model_validate(row.body, context=STORED)
        try:
            await self.state_cache.write(change.poll, change.state_version)
        except (RedisError, OSError) as exc:  # Redis down must not stop events
            STATE_CACHE_WRITE_FAILURES.inc()
            log.warning("could not write poll state to Redis", extra={"error": repr(exc)})

    async def _update_backlog(self) -> None:
        """Refresh the backlog gauge (unpublished rows; the partial index keeps it cheap)."""
        async with self.sessions() as session:
            backlog = (
                await session.exec(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(col(OutboxMessage.published_at).is_(None))
                )
            ).one()
        OUTBOX_BACKLOG.set(int(backlog))

    def _on_notify(self, *_: object) -> None:
        self.wake()

    async def _ensure_listener(self) -> None:
        """LISTEN on a dedicated connection; without one the timer still drives the relay."""
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = None
        try:
            listener = await asyncpg.connect(self.listen_dsn, timeout=5)
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "outbox LISTEN unavailable, relying on the timer", extra={"error": repr(exc)}
            )
            return
        self._listener = listener

    async def _close_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                await listener.close(timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                listener.terminate()

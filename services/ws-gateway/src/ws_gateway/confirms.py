"""Accepted votes go out as one confirmed `VoteBatch`; each is answered after the confirm.

A participant hears `vote_accepted` only once the broker has confirmed the batch that holds the
vote (then the vote is safe in the `votes` queue), `unavailable` when the publish failed. The
votes of a flush that the accept script refused are answered with them, in the votes' order.

A confirm takes a round trip to RabbitMQ and a quorum-queue write (milliseconds to tens of
milliseconds on a busy machine). Waiting for each before accepting the next batch capped a
gateway near one batch per confirm; with `depth` publishes in flight the accept step (the Redis
script, which orders each participant's votes) stays strictly serial and only the waiting
overlaps. Replies are held back until every earlier batch has answered, so a connection sees
its `vote_accepted` frames in the order it sent the votes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.exceptions import RedisError

from contracts import Vote, VoteBatch
from contracts.frames import ErrorFrame, VoteAcceptedFrame
from contracts.topology import VOTES_QUEUE
from ws_gateway import metrics
from ws_gateway.settings import Settings
from ws_gateway.wire import error_frame
from zephyr_runtime import tracing
from zephyr_runtime.amqp import ConfirmedPublisher, PublishFailed
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.keys import RedisKeys

log = logging.getLogger(__name__)

PUBLISH_RETRY_AFTER = 1.0


class Reply(Protocol):
    """Sends a vote's answer to its connection (a callback protocol: a settable attribute)."""

    def __call__(self, frame: BaseModel, /) -> None: ...


class Waiting(Protocol):
    """A vote waiting for its answer (`votes.PendingVote`)."""

    reply: Reply
    correlation_id: str | None
    question: int  # the question's index, for `vote_accepted`


Accepted = Sequence[tuple[Waiting, Vote]]
# A flush's votes in their order: accepted (a Vote to publish) or refused by the accept script
# (its error frame). Replies go out in this order, after the confirm of the accepted ones.
Outcomes = Sequence[tuple[Waiting, Vote | ErrorFrame]]


# A publish that timed out may still have reached the queue: the outcome is unknown, not "no".
# A retry with the same client_vote_id is the same vote (vote_id), so it counts once either way.
UNCONFIRMED_MESSAGE = (
    "the vote was not confirmed and may not count; retry with the same client_vote_id "
    "(it counts once)"
)


def refuse(votes: Iterable[Waiting], code: str) -> None:
    """Answer each vote with `unavailable` (retry in a second); `code` labels the metric."""
    for vote in votes:
        metrics.votes_rejected(code).inc()
        vote.reply(
            error_frame(
                "unavailable",
                UNCONFIRMED_MESSAGE,
                retry_after=PUBLISH_RETRY_AFTER,
            )
        )


def batch_correlation_id(votes: Iterable[Waiting]) -> tuple[str, list[str]]:
    """The batch's correlation id and the connections' ids it covers.

    A batch from one connection carries that connection's id, so one search finds the vote from
    the WebSocket to the audit log; a mixed batch gets a new id, and the gateway's debug line
    "publishing vote batch" lists the connections' ids (the first 50) next to it.
    """
    connections = sorted({v.correlation_id for v in votes if v.correlation_id})
    if len(connections) == 1:
        return connections[0], connections
    return uuid.uuid4().hex, connections[:50]


def my_votes_field(participant_id: UUID, qid: int) -> str:
    """The participant's field of `poll:<id>:myvotes` for one question."""
    return f"{participant_id}:{qid}"


class Confirms:
    def __init__(
        self, settings: Settings, redis: aioredis.Redis, publisher: ConfirmedPublisher
    ) -> None:
        self.publisher = publisher
        self._redis, self._keys = redis, RedisKeys(settings.redis_prefix)
        self._gateway_id = settings.instance_id
        # vote_publish_depth > 1: batches overlap while waiting for their confirms.
        depth = settings.vote_publish_depth
        self._pipeline = OrderedPipeline(depth, self._publish) if depth > 1 else None

    @property
    def votes(self) -> int:
        """Votes handed over and not yet answered (they count against `max_pending_votes`)."""
        return self._pipeline.votes if self._pipeline is not None else 0

    async def submit(self, outcomes: Outcomes) -> None:
        """Publish the accepted votes and answer every vote of `outcomes` in order; with
        depth > 1 only wait for a free slot, not for the confirm."""
        if self._pipeline is not None:
            await self._pipeline.submit(outcomes)
        else:
            await self._publish(outcomes)

    async def wait_idle(self) -> None:
        """Until every batch submitted so far has been published and answered."""
        if self._pipeline is not None:
            await self._pipeline.wait_idle()

    async def _publish(self, outcomes: Outcomes) -> None:
        accepted = [(p, v) for p, v in outcomes if isinstance(v, Vote)]
        published = bool(accepted) and await self._publish_batch(accepted)
        if published:
            await self._remember_votes(accepted)
        for pending, outcome in outcomes:
            if isinstance(outcome, ErrorFrame):
                pending.reply(outcome)
            elif not published:
                refuse([pending], "unavailable")
            else:
                metrics.VOTES_ACCEPTED.inc()
                # Built from the validated vote without validating again (one per vote).
                pending.reply(
                    VoteAcceptedFrame.model_construct(
                        vote_id=outcome.vote_id,
                        question=pending.question,
                        qid=outcome.qid,
                        answer=outcome.answer,
                        option=outcome.option,
                        client_vote_id=outcome.client_vote_id,
                    )
                )

    async def _publish_batch(self, accepted: Accepted) -> bool:
        """One confirmed VoteBatch; False when the broker did not confirm it."""
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
                await self.publisher.publish(
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
            return False
        finally:
            correlation_id_var.reset(token)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return True

    async def _remember_votes(self, accepted: Accepted) -> None:
        # Display only (a resumed participant sees their answers): the vote is already safe.
        try:
            # One HSET per poll; a participant's later answer to a question in the batch
            # overwrites the earlier: "<participant>:<qid>" -> "<epoch>:<answer JSON>".
            by_poll: dict[UUID, dict[Any, Any]] = {}
            for _, vote in accepted:
                by_poll.setdefault(vote.poll_id, {})[
                    my_votes_field(vote.participant_id, vote.qid)
                ] = f"{vote.epoch}:{vote.answer.model_dump_json()}"
            async with self._redis.pipeline(transaction=False) as pipe:
                for poll_id, mapping in by_poll.items():
                    pipe.hset(self._keys.my_votes(poll_id), mapping=mapping)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not record my_votes", extra={"error": repr(exc)})


class OrderedPipeline:
    """Up to `depth` publishes waiting for their confirms at once, answered in batch order."""

    def __init__(self, depth: int, publish: Callable[[Outcomes], Awaitable[None]]) -> None:
        self._slots = asyncio.Semaphore(depth)
        self._publish = publish
        self._last: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.votes = 0  # votes started and not yet answered

    async def submit(self, outcomes: Outcomes) -> None:
        """Start publishing `outcomes` (PendingVote with its Vote or error); waits for a slot."""
        await self._slots.acquire()
        held: list[tuple[Reply, BaseModel]] = []
        answered: set[int] = set()
        for index, (pending, _outcome) in enumerate(outcomes):
            pending.reply = _holding(pending.reply, held, answered, index)
        self.votes += len(outcomes)
        task = asyncio.create_task(self._run(outcomes, self._last, held, answered))
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        outcomes: Outcomes,
        previous: asyncio.Task[None] | None,
        held: list[tuple[Reply, BaseModel]],
        answered: set[int],
    ) -> None:
        try:
            await self._publish(outcomes)
        except Exception:
            # Never leave a vote unanswered: whatever went wrong, the rest hear `unavailable`.
            log.exception("vote publish failed")
            refuse([p for i, (p, _) in enumerate(outcomes) if i not in answered], "unavailable")
        finally:
            self._slots.release()
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        self.votes -= len(outcomes)
        for reply, frame in held:
            reply(frame)

    async def wait_idle(self) -> None:
        """Until every batch started so far has been published and answered."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


def _holding(
    reply: Reply, held: list[tuple[Reply, BaseModel]], answered: set[int], index: int
) -> Reply:
    def hold(frame: BaseModel) -> None:
        answered.add(index)
        held.append((reply, frame))

    return hold

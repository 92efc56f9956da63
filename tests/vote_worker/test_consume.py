"""vote_worker.consume in memory: FastStream's TestRabbitBroker in front of the real subscribers
and `Consumer`, fakes behind it (no broker, no Postgres). The same paths against the real
servers are in test_worker.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import orjson
import pytest
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.message import RabbitMessage
from prometheus_client import REGISTRY

from contracts import AuditEvent, ParticipantJoined, PollEvent, PollView
from contracts.base import HEADER_CORRELATION_ID
from contracts.topology import PARTICIPANTS_QUEUE, VOTES_QUEUE, WORKER_POLL_EVENTS_QUEUE
from tests.vote_worker.factories import answer, batch, poll_event, vote
from vote_worker.consume import Consumer, build_broker
from vote_worker.flusher import Delivery
from vote_worker.settings import Settings


class FakeBatcher:
    def __init__(self) -> None:
        self.added: list[Delivery] = []

    def add(self, delivery: Delivery) -> None:
        self.added.append(delivery)


class FakePool:
    """Answers `execute` (the participant upsert); fails the first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.executed: list[tuple[Any, ...]] = []

    async def execute(self, sql: str, *args: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("postgres is down")
        self.executed.append(args)
        return "INSERT 0 1"


class FakeOutbound:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def audit(self, events: Sequence[AuditEvent], correlation_id: str) -> None:
        self.events.extend(events)


@dataclass
class Fakes:
    pool: FakePool = field(default_factory=FakePool)
    outbound: FakeOutbound = field(default_factory=FakeOutbound)
    batcher: FakeBatcher = field(default_factory=FakeBatcher)
    refreshed: list[tuple[uuid.UUID, int | None, str]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    scored: list[tuple[str, int | None, int]] = field(default_factory=list)  # event, qid, refreshes
    quiz_failures: int = 0

    async def refresh_tally(self, poll_id: uuid.UUID, qid: int | None, correlation_id: str) -> None:
        self.refreshed.append((poll_id, qid, correlation_id))

    async def score_quiz(self, event: PollEvent, correlation_id: str) -> None:
        if self.quiz_failures > 0:
            self.quiz_failures -= 1
            raise ConnectionError("redis is down")
        self.scored.append((event.event, event.qid, len(self.refreshed)))


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def broker(fakes: Fakes) -> AsyncIterator[TestRabbitBroker]:
    consumer = Consumer(
        fakes.pool,  # type: ignore[arg-type]
        fakes.outbound,  # type: ignore[arg-type]
        fakes.batcher,  # type: ignore[arg-type]
        fakes.refresh_tally,
        fakes.stopping,
        score_quiz=fakes.score_quiz,
    )
    async with TestRabbitBroker(build_broker(Settings(), consumer)) as test_broker:
        yield test_broker


@pytest.fixture
def settled() -> Iterator[list[tuple[str, bool | None]]]:
    """How each in-memory message was settled: ("ack", None) or ("reject", requeue).

    TestRabbitBroker's messages have no delivery tag, so FastStream only marks them; the calls
    the consumer makes on FastStream's message are what this records.
    """
    calls: list[tuple[str, bool | None]] = []
    ack, reject = RabbitMessage.ack, RabbitMessage.reject

    async def recording_ack(self: RabbitMessage, multiple: bool = False) -> None:
        calls.append(("ack", None))
        await ack(self, multiple)

    async def recording_reject(self: RabbitMessage, requeue: bool = False) -> None:
        calls.append(("reject", requeue))
        await reject(self, requeue)

    with (
        mock.patch.object(RabbitMessage, "ack", recording_ack),
        mock.patch.object(RabbitMessage, "reject", recording_reject),
    ):
        yield calls


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def send(broker: TestRabbitBroker, body: bytes, queue: str, correlation_id: str) -> None:
    await broker.publish(body, queue=queue, headers={HEADER_CORRELATION_ID: correlation_id})


async def test_a_vote_batch_goes_to_the_batcher_unacked(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    votes = batch(
        vote(uuid.uuid4(), uuid.uuid4(), 1, seq=1), vote(uuid.uuid4(), uuid.uuid4(), 0, seq=2)
    )
    consumed = counter("zephyr_messages_consumed_total", queue=VOTES_QUEUE)

    await send(broker, votes.model_dump_json().encode(), VOTES_QUEUE, "cid-1")

    (delivery,) = fakes.batcher.added
    assert delivery.batch == votes
    assert delivery.correlation_id == "cid-1"
    assert delivery.message.committed is None  # the flusher acks after the commit
    assert settled == []
    assert counter("zephyr_messages_consumed_total", queue=VOTES_QUEUE) == consumed + 1


async def test_first_and_second_version_batches_both_reach_the_batcher(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    poll, who = uuid.uuid4(), uuid.uuid4()
    v2 = batch(
        answer(poll, who, 3, {"kind": "ranking", "ranking": [1, 0]}, seq=4),
        answer(poll, who, 1, {"kind": "wordcloud", "words": ["tea"]}, seq=5),
    )
    v1 = {
        "batch_id": str(uuid.uuid4()),
        "gateway_id": "old-gateway",
        "votes": [
            {
                "vote_id": str(uuid.uuid4()),
                "poll_id": str(poll),
                "participant_id": str(who),
                "option": 1,
                "seq": 6,
                "epoch": 0,
                "cast_at": datetime.now(UTC).isoformat(),
            }
        ],
    }

    await send(broker, v2.model_dump_json().encode(), VOTES_QUEUE, "cid-v2")
    await send(broker, orjson.dumps(v1), VOTES_QUEUE, "cid-v1")

    newer, older = (d.batch for d in fakes.batcher.added)
    assert newer == v2
    (old,) = older.votes
    assert (old.qid, old.option, old.answer.model_dump()) == (0, 1, {"kind": "single", "option": 1})
    assert settled == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (
            orjson.dumps({"batch_id": str(uuid.uuid4()), "gateway_id": "g", "votes": []}),
            "invalid_schema: votes",
        ),
        (
            batch(vote(uuid.uuid4(), uuid.uuid4(), 0, seq=2**63)).model_dump_json().encode(),
            "invalid_schema: votes.0: seq or epoch out of range",
        ),
        (
            orjson.dumps(
                {
                    "batch_id": str(uuid.uuid4()),
                    "gateway_id": "g",
                    "votes": [
                        {
                            "vote_id": str(uuid.uuid4()),
                            "poll_id": str(uuid.uuid4()),
                            "participant_id": str(uuid.uuid4()),
                            "qid": 1,
                            "answer": {"kind": "guess", "value": 1},
                            "seq": 1,
                            "epoch": 0,
                            "cast_at": datetime.now(UTC).isoformat(),
                        }
                    ],
                }
            ),
            "invalid_schema: votes.0.answer",
        ),
    ],
    ids=["not-json", "no-votes", "seq-out-of-range", "unknown-kind"],
)
async def test_a_poison_votes_message_is_dead_lettered_and_audited(
    broker: TestRabbitBroker,
    fakes: Fakes,
    settled: list[tuple[str, bool | None]],
    body: bytes,
    reason: str,
) -> None:
    dead = counter("zephyr_messages_dead_lettered_total", queue=VOTES_QUEUE)

    await send(broker, body, VOTES_QUEUE, "cid-poison")

    assert fakes.batcher.added == []
    assert settled == [("reject", False)]
    (event,) = fakes.outbound.events
    assert event.kind == "vote.poison"
    assert event.data["reason"].startswith(reason)
    assert event.correlation_id == "cid-poison"
    assert counter("zephyr_messages_dead_lettered_total", queue=VOTES_QUEUE) == dead + 1


def _joined() -> ParticipantJoined:
    return ParticipantJoined(
        poll_id=uuid.uuid4(),
        participant_id=uuid.uuid4(),
        nickname="Ada",
        joined_at=datetime.now(UTC),
    )


async def test_a_participant_is_upserted_then_acked(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    joined = _joined()
    acked = counter("zephyr_vote_worker_messages_acked_total", queue=PARTICIPANTS_QUEUE)

    await send(broker, joined.model_dump_json().encode(), PARTICIPANTS_QUEUE, "cid-2")

    assert fakes.pool.executed == [
        ([joined.poll_id], [joined.participant_id], ["Ada"], [joined.joined_at], [joined.joined_at])
    ]
    assert settled == [("ack", None)]
    assert counter("zephyr_vote_worker_messages_acked_total", queue=PARTICIPANTS_QUEUE) == acked + 1


async def test_a_failed_upsert_is_retried_and_counted_before_the_ack(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    fakes.pool.failures = 2
    retries = counter("zephyr_vote_worker_flush_retries_total", step="participant")
    db_errors = counter("zephyr_vote_worker_db_errors_total")

    await send(broker, _joined().model_dump_json().encode(), PARTICIPANTS_QUEUE, "cid-3")

    assert len(fakes.pool.executed) == 1
    assert settled == [("ack", None)]
    assert counter("zephyr_vote_worker_flush_retries_total", step="participant") == retries + 2
    assert counter("zephyr_vote_worker_db_errors_total") == db_errors + 2


async def test_shutting_down_leaves_a_failing_participant_unacked(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    fakes.pool.failures = 1
    fakes.stopping.set()

    await send(broker, _joined().model_dump_json().encode(), PARTICIPANTS_QUEUE, "cid-4")

    assert fakes.pool.executed == []
    assert settled == []  # redelivered to whoever consumes next


async def test_a_poison_participant_is_dead_lettered_without_an_audit_event(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    await send(broker, b'{"poll_id": "nope"}', PARTICIPANTS_QUEUE, "cid-5")

    assert settled == [("reject", False)]
    assert fakes.pool.executed == []
    assert fakes.outbound.events == []


VIEW = PollView(
    id=uuid.uuid4(),
    room_code="ABCD23",
    question="Which one?",
    options=["a", "b"],
    status="open",
    epoch=1,
)


@pytest.mark.parametrize(
    ("event", "qid", "refreshes"),
    [
        ("reset", 2, True),
        ("opened", 1, True),
        ("question_edited", 3, True),
        ("question_deleted", 3, True),
        ("reset", None, True),  # no question named: every question of the poll
        ("closed", 1, False),
        ("shown", 1, False),
    ],
)
async def test_resets_opens_and_edits_refresh_the_tally_then_every_event_is_acked(
    broker: TestRabbitBroker,
    fakes: Fakes,
    settled: list[tuple[str, bool | None]],
    event: str,
    qid: int | None,
    refreshes: bool,
) -> None:
    event_message = poll_event(event, VIEW, qid)

    await send(broker, event_message.model_dump_json().encode(), WORKER_POLL_EVENTS_QUEUE, "cid-6")

    assert fakes.refreshed == ([(VIEW.id, qid, "cid-6")] if refreshes else [])
    assert settled == [("ack", None)]


async def test_every_poll_event_goes_to_the_quiz_scorer_after_the_tally_then_is_acked(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    for event, qid in (("reset", 2), ("closed", 1)):
        body = poll_event(event, VIEW, qid).model_dump_json().encode()
        await send(broker, body, WORKER_POLL_EVENTS_QUEUE, "cid-7")
    # The reset's tally was refreshed before its rescore (1 refresh seen); a close refreshes none.
    assert fakes.scored == [("reset", 2, 1), ("closed", 1, 1)]
    assert settled == [("ack", None), ("ack", None)]


async def test_a_failed_rescore_is_retried_before_the_ack_and_left_unacked_at_shutdown(
    broker: TestRabbitBroker, fakes: Fakes, settled: list[tuple[str, bool | None]]
) -> None:
    fakes.quiz_failures = 1
    body = poll_event("closed", VIEW, 1).model_dump_json().encode()
    await send(broker, body, WORKER_POLL_EVENTS_QUEUE, "cid-8")
    assert (fakes.scored, settled) == ([("closed", 1, 0)], [("ack", None)])

    fakes.quiz_failures = 1
    fakes.stopping.set()
    await send(broker, body, WORKER_POLL_EVENTS_QUEUE, "cid-9")
    assert len(fakes.scored) == 1 and settled == [("ack", None)]  # redelivered later

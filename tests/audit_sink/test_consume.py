"""audit_sink.consume in memory: FastStream's TestRabbitBroker in front of the real subscriber
and flusher, a fake store behind them (no broker, no Postgres). The same paths against the real
servers are in test_app.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from faststream.rabbit import TestRabbitBroker
from faststream.rabbit.message import RabbitMessage
from prometheus_client import REGISTRY

from audit_sink.consume import build_broker, subscribe_audit_queue
from audit_sink.flusher import AuditFlusher, Delivery
from audit_sink.rows import AuditRow
from audit_sink.settings import Settings
from contracts import AuditBatch
from contracts.base import HEADER_CORRELATION_ID
from contracts.topology import AUDIT_QUEUE
from tests.audit_sink.conftest import batch_body, make_event
from tests.support.eventually import eventually
from zephyr_runtime.batching import Batcher


class FakeStore:
    def __init__(self) -> None:
        self.inserted: list[list[AuditRow]] = []

    async def insert(self, rows: Sequence[AuditRow]) -> int:
        self.inserted.append(list(rows))
        return len({row.event_id for row in rows})


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, str, bool | None]]:
    """(message id, "ack" or "reject", requeue) for each message the sink settled.

    TestRabbitBroker's messages have no delivery tag, so FastStream only marks them; the calls
    the sink makes on FastStream's message are what this records.
    """
    calls: list[tuple[str | None, str, bool | None]] = []
    ack, reject = RabbitMessage.ack, RabbitMessage.reject

    async def recording_ack(self: RabbitMessage, multiple: bool = False) -> None:
        calls.append((self.message_id, "ack", None))
        await ack(self, multiple)

    async def recording_reject(self: RabbitMessage, requeue: bool = False) -> None:
        calls.append((self.message_id, "reject", requeue))
        await reject(self, requeue)

    monkeypatch.setattr(RabbitMessage, "ack", recording_ack)
    monkeypatch.setattr(RabbitMessage, "reject", recording_reject)
    return calls


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def batcher(store: FakeStore) -> Batcher[Delivery]:
    return AuditFlusher(store).batcher(max_events=1000, max_wait=0.01)


@pytest.fixture
async def broker(batcher: Batcher[Delivery]) -> AsyncIterator[TestRabbitBroker]:
    broker = build_broker(Settings())
    subscribe_audit_queue(broker, batcher)
    batcher.start()
    try:
        async with TestRabbitBroker(broker) as test_broker:
            yield test_broker
    finally:
        await batcher.stop(timeout=5)


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def send(broker: TestRabbitBroker, body: bytes, message_type: str | None) -> str:
    message_id = uuid.uuid4().hex
    await broker.publish(
        body,
        queue=AUDIT_QUEUE,
        message_id=message_id,
        message_type=message_type,
        headers={HEADER_CORRELATION_ID: "cid-audit"},
    )
    return message_id


async def test_a_batch_is_stored_then_its_message_acked(
    broker: TestRabbitBroker,
    store: FakeStore,
    settled: list[tuple[str | None, str, bool | None]],
) -> None:
    events = [make_event(uuid.uuid4()) for _ in range(3)]
    consumed = counter("zephyr_messages_consumed_total", queue=AUDIT_QUEUE)
    stored = counter("zephyr_audit_sink_events_stored_total")

    message_id = await send(broker, batch_body(events), AuditBatch.message_type())

    await eventually(lambda: settled == [(message_id, "ack", None)], what="the ack")
    assert [[row.event_id for row in rows] for rows in store.inserted] == [
        [e.event_id for e in events]
    ]
    assert counter("zephyr_messages_consumed_total", queue=AUDIT_QUEUE) == consumed + 1
    assert counter("zephyr_audit_sink_events_stored_total") == stored + 3


@pytest.mark.parametrize(
    ("body", "message_type"),
    [
        (b"this is not JSON {", None),
        (b'{"events": []}', None),
        (b'{"events": []}', "zephyr.vote_batch.v1"),
    ],
    ids=["not-json", "empty-batch", "another-contract"],
)
async def test_an_invalid_message_is_dead_lettered_at_once(
    broker: TestRabbitBroker,
    store: FakeStore,
    batcher: Batcher[Delivery],
    settled: list[tuple[str | None, str, bool | None]],
    body: bytes,
    message_type: str | None,
) -> None:
    invalid = counter("zephyr_audit_sink_messages_rejected_total", reason="invalid")
    dead = counter("zephyr_messages_dead_lettered_total", queue=AUDIT_QUEUE)

    message_id = await send(broker, body, message_type)

    assert settled == [(message_id, "reject", False)]
    assert batcher.unflushed == 0
    assert store.inserted == []
    assert counter("zephyr_audit_sink_messages_rejected_total", reason="invalid") == invalid + 1
    assert counter("zephyr_messages_dead_lettered_total", queue=AUDIT_QUEUE) == dead + 1

"""vote_worker.deadletter_watch in memory: a fake AMQP connection answers the passive declares.
The same against the real broker (and the replay CLI) is tests/fault/test_deadletters.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from contracts import AuditEvent
from vote_worker.deadletter_watch import DeadLetterWatch
from zephyr_runtime.queues import dead_letter_queues


@dataclass
class Declared:
    message_count: int


class FakeUnderlay:
    def __init__(self, depths: dict[str, int]) -> None:
        self.depths = depths

    async def queue_declare(self, name: str, passive: bool = False) -> Declared:
        assert passive
        return Declared(self.depths.get(name, 0))


class FakeChannel:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.is_closed = False

    async def get_underlay_channel(self) -> FakeUnderlay:
        if self.connection.down:
            self.is_closed = True
            raise ConnectionError("channel closed")
        return FakeUnderlay(self.connection.depths)

    async def close(self) -> None:
        self.is_closed = True


class FakeConnection:
    def __init__(self) -> None:
        self.depths: dict[str, int] = {}
        self.down = False
        self.channels = 0

    async def channel(self) -> FakeChannel:
        self.channels += 1
        return FakeChannel(self)


class RecordingOutbound:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.fail = False

    async def audit(self, events: Sequence[AuditEvent], correlation_id: str) -> None:
        if self.fail:
            raise ConnectionError("rabbitmq is down")
        self.events.extend(events)


def _gauge(queue: str) -> float | None:
    return REGISTRY.get_sample_value("zephyr_vote_worker_dead_letter_messages", {"queue": queue})


async def test_growth_is_measured_and_audited_once() -> None:
    connection, outbound = FakeConnection(), RecordingOutbound()
    watch = DeadLetterWatch(connection, outbound, interval_s=1)  # type: ignore[arg-type]
    assert set(await watch.sample_once()) == set(dead_letter_queues())
    assert outbound.events == []

    connection.depths["votes.dead"] = 2
    assert (await watch.sample_once())["votes.dead"] == 2
    assert _gauge("votes.dead") == 2
    (event,) = outbound.events
    assert (event.kind, event.data) == (
        "deadletter.detected",
        {"queue": "votes.dead", "depth": 2, "new": 2},
    )
    await watch.sample_once()
    assert len(outbound.events) == 1  # no growth, no new event
    await watch.close()


async def test_an_unaudited_growth_is_audited_at_the_next_sample() -> None:
    connection, outbound = FakeConnection(), RecordingOutbound()
    watch = DeadLetterWatch(connection, outbound, interval_s=1)  # type: ignore[arg-type]
    connection.depths["participants.dead"] = 1
    outbound.fail = True
    await watch.sample_once()
    assert _gauge("participants.dead") == 1  # the metric tells already
    outbound.fail = False
    await watch.sample_once()
    assert [e.data["queue"] for e in outbound.events] == ["participants.dead"]


async def test_a_failed_sample_opens_a_fresh_channel_next_time() -> None:
    connection, outbound = FakeConnection(), RecordingOutbound()
    watch = DeadLetterWatch(connection, outbound, interval_s=1)  # type: ignore[arg-type]
    await watch.sample_once()
    connection.down = True
    with pytest.raises(ConnectionError):
        await watch.sample_once()
    connection.down = False
    await watch.sample_once()
    assert connection.channels == 2

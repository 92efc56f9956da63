"""ws_gateway.joins: what one publish round trip carries (logic only, a recording publisher;
the join storm benchmark and the end-to-end tests join through the real broker)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from contracts import AuditBatch, AuditEvent, ParticipantJoined, ParticipantsJoined, utcnow
from contracts.topology import PARTICIPANTS_QUEUE
from ws_gateway.joins import JoinAnnouncer


class Recorder:
    """Publishes after `delay`; fails the participants' message while `fail` is set."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.fail = False
        self.sent: list[tuple[str, Any]] = []

    async def publish(self, message: Any, *, exchange: str, routing_key: str, **_: Any) -> None:
        await asyncio.sleep(self.delay)
        if self.fail and routing_key == PARTICIPANTS_QUEUE:
            raise ConnectionError("broker gone")
        self.sent.append((routing_key, message))

    def of(self, kind: type) -> list[Any]:
        return [m for _, m in self.sent if isinstance(m, kind)]


def _join(poll: uuid.UUID, n: int) -> tuple[ParticipantJoined, AuditEvent, str]:
    who, at = uuid.uuid4(), utcnow()
    joined = ParticipantJoined(poll_id=poll, participant_id=who, nickname=f"p{n}", joined_at=at)
    audit = AuditEvent(
        event_id=uuid.uuid4(),
        kind="participant.joined",
        service="ws-gateway",
        occurred_at=at,
        poll_id=poll,
        participant_id=who,
        data={"nickname": f"p{n}"},
    )
    return joined, audit, f"cid-{n}"


async def test_a_lone_join_goes_at_once_as_the_single_contract() -> None:
    recorder = Recorder()
    joins = JoinAnnouncer(recorder)  # type: ignore[arg-type]
    joined, audit, cid = _join(uuid.uuid4(), 0)

    assert await joins.announce(joined, audit, cid) is True
    assert recorder.of(ParticipantJoined) == [joined]
    assert [b.events for b in recorder.of(AuditBatch)] == [[audit]]


async def test_joins_arriving_during_a_publish_go_together_in_the_next_one() -> None:
    recorder = Recorder()
    joins = JoinAnnouncer(recorder)  # type: ignore[arg-type]
    poll = uuid.uuid4()
    items = [_join(poll, n) for n in range(30)]

    first = asyncio.create_task(joins.announce(*items[0]))
    await asyncio.sleep(0)  # the first publish is out
    rest = [asyncio.create_task(joins.announce(*item)) for item in items[1:]]

    assert await asyncio.gather(first, *rest) == [True] * 30
    assert recorder.of(ParticipantJoined) == [items[0][0]]
    batches = recorder.of(ParticipantsJoined)
    assert [b.joins for b in batches] == [[item[0] for item in items[1:]]]
    assert [len(b.events) for b in recorder.of(AuditBatch)] == [1, 29]


async def test_a_batch_is_cut_at_its_maximum() -> None:
    recorder = Recorder()
    joins = JoinAnnouncer(recorder, max_batch=10)  # type: ignore[arg-type]
    poll = uuid.uuid4()

    done = await asyncio.gather(*(joins.announce(*_join(poll, n)) for n in range(25)))

    assert all(done)
    assert sorted(len(b.joins) for b in recorder.of(ParticipantsJoined)) == [5, 10, 10]


async def test_an_unconfirmed_batch_fails_every_join_in_it_and_the_next_one_goes() -> None:
    recorder = Recorder()
    joins = JoinAnnouncer(recorder)  # type: ignore[arg-type]
    poll = uuid.uuid4()
    recorder.fail = True

    failed = await asyncio.gather(*(joins.announce(*_join(poll, n)) for n in range(5)))
    recorder.fail = False
    after = await joins.announce(*_join(poll, 9))

    assert failed == [False] * 5
    assert after is True
    assert recorder.of(ParticipantJoined) and not recorder.of(ParticipantsJoined)


async def test_drain_waits_for_the_joins_handed_over() -> None:
    recorder = Recorder(delay=0.05)
    joins = JoinAnnouncer(recorder)  # type: ignore[arg-type]
    task = asyncio.create_task(joins.announce(*_join(uuid.uuid4(), 0)))
    await asyncio.sleep(0)

    await joins.drain()

    assert task.done() and task.result() is True
    assert len(recorder.of(ParticipantJoined)) == 1

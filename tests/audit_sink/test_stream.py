"""Replaying the audit stream from the start, a time, an offset, or the end."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractChannel

from audit_sink.stream import parse_offset, read_audit_stream, stream_offset_argument
from contracts import AuditEvent
from tests.audit_sink.conftest import make_event, publish, publish_batch
from tests.support.isolation import Resources


async def replay(
    amqp_url: str,
    offset: str | int | datetime,
    polls: set[uuid.UUID],
    limit: int | None = None,
) -> list[AuditEvent]:
    """This test's events in the stream from `offset` (other tests publish there too)."""
    async with contextlib.aclosing(
        read_audit_stream(amqp_url, offset, limit=limit, idle_timeout=1.5)  # type: ignore[arg-type]
    ) as events:
        return [event async for event in events if event.poll_id in polls]


async def test_replays_from_first_from_a_time_and_from_offsets(
    resources: Resources, amqp_channel: AbstractChannel
) -> None:
    poll_a, poll_b = uuid.uuid4(), uuid.uuid4()
    early = [make_event(poll_a) for _ in range(3)]
    late = [make_event(poll_b) for _ in range(2)]
    await publish_batch(amqp_channel, early[:2])
    await publish_batch(amqp_channel, early[2:])
    await publish(amqp_channel, b"not an audit batch")  # readers skip it
    # Stream time offsets have one-second resolution and point at chunks: leave a gap.
    await asyncio.sleep(2.2)
    between = datetime.now(UTC)
    await asyncio.sleep(1.1)
    await publish_batch(amqp_channel, late)
    polls = {poll_a, poll_b}

    from_first = await replay(resources.amqp_url, "first", polls)
    assert from_first == [*early, *late]

    from_zero = await replay(resources.amqp_url, 0, polls)
    assert from_zero == [*early, *late]

    from_time = await replay(resources.amqp_url, between, polls)
    assert from_time == late

    from_last = await replay(resources.amqp_url, "last", polls)
    assert late[-1] in from_last
    assert not [event for event in from_last if event.poll_id == poll_a]


async def test_limit_stops_the_replay(resources: Resources, amqp_channel: AbstractChannel) -> None:
    await publish_batch(amqp_channel, [make_event(uuid.uuid4()) for _ in range(3)])
    async with contextlib.aclosing(
        read_audit_stream(resources.amqp_url, "first", limit=2, idle_timeout=1.5)
    ) as events:
        got = [event async for event in events]
    assert len(got) == 2


async def test_next_sees_only_new_messages(
    resources: Resources, amqp_channel: AbstractChannel
) -> None:
    poll_id = uuid.uuid4()
    old = make_event(poll_id)
    await publish_batch(amqp_channel, [old])
    published: list[AuditEvent] = []

    async def keep_publishing() -> None:
        # We cannot see when the reader has attached, so publish until it has seen something.
        while True:
            event = make_event(poll_id)
            published.append(event)
            await publish_batch(amqp_channel, [event])
            await asyncio.sleep(0.2)

    first_seen: AuditEvent | None = None
    publisher = asyncio.create_task(keep_publishing())
    try:
        async with contextlib.aclosing(
            read_audit_stream(resources.amqp_url, "next", idle_timeout=10)
        ) as events:
            async for event in events:
                if event.poll_id == poll_id:
                    first_seen = event
                    break
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
    assert first_seen is not None
    assert first_seen != old
    assert first_seen in published


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("first", "first"),
        ("last", "last"),
        ("next", "next"),
        ("0", 0),
        ("12345", 12345),
        ("2026-05-01T10:00:00+02:00", datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
        ("2026-05-01T10:00:00", datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_offset(text: str, expected: object) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize("text", ["", "start", "-1", "yesterday", "1.5"])
def test_parse_offset_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_offset(text)


def test_offset_argument() -> None:
    naive = datetime(2026, 5, 1, 10, 0)
    assert stream_offset_argument(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2026, 5, 1, 10, 0, tzinfo=UTC) + timedelta(hours=1)
    assert stream_offset_argument(aware) == aware
    assert stream_offset_argument(7) == 7
    for bad in (-1, True, "middle"):
        with pytest.raises(ValueError, match="offset"):
            stream_offset_argument(bad)  # type: ignore[arg-type]

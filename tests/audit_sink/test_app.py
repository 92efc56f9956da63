"""audit_sink.app as a process: stores every column, idempotently, dead-letters poison, HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractChannel

from contracts import AuditEvent
from tests.audit_sink.conftest import (
    make_event,
    metric_value,
    publish,
    publish_batch,
    scrape,
    take_dead_letters,
    wait_for_rows,
)
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess


def test_health_and_metrics(sink: ServiceProcess) -> None:
    live = httpx.get(f"{sink.url}/health/live", timeout=5)
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}

    ready = httpx.get(f"{sink.url}/health/ready", timeout=5)
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgres", "rabbitmq"}
    assert all(check["ok"] for check in body["checks"].values())

    metrics = httpx.get(f"{sink.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "zephyr_audit_sink_events_stored_total",
        "zephyr_audit_sink_duplicates_skipped_total",
        "zephyr_audit_sink_batches_flushed_total",
        "zephyr_audit_sink_flush_seconds_bucket",
        "zephyr_audit_sink_messages_rejected_total",
        "zephyr_dependency_up",
        "zephyr_messages_consumed_total",
        "zephyr_db_query_duration_seconds",
    ):
        assert name in metrics.text


def assert_row_matches(row: asyncpg.Record, event: AuditEvent, not_before: datetime) -> None:
    assert row["event_id"] == event.event_id
    assert row["kind"] == event.kind
    assert row["service"] == event.service
    assert row["occurred_at"] == event.occurred_at
    assert row["poll_id"] == event.poll_id
    assert row["participant_id"] == event.participant_id
    assert row["correlation_id"] == event.correlation_id
    assert row["client_ip"] == event.client_ip
    assert json.loads(row["data"]) == event.data
    assert row["recorded_at"] >= not_before


async def test_stores_every_column(
    sink: ServiceProcess, amqp_channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll_id = uuid.uuid4()
    not_before = await db.fetchval("SELECT now()")
    events = [
        make_event(
            poll_id,
            kind="poll.opened",
            service="poll-api",
            occurred_at=datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
            data={"nested": {"list": [1, 2.5, "three", None, True]}, "text": "Grüße ✓"},
        ),
        make_event(
            None,
            kind="security.rate_limited",
            service="ws-gateway",
            occurred_at=datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            participant_id=None,
            correlation_id=None,
            client_ip=None,
            data={},
        ),
        make_event(poll_id, client_ip="2001:db8::1", correlation_id="c" * 128),
    ]
    await publish_batch(amqp_channel, events)

    rows = await wait_for_rows(db, [e.event_id for e in events])
    for event in events:
        assert_row_matches(rows[event.event_id], event, not_before)


async def test_redeliveries_and_duplicates_are_stored_once(
    sink: ServiceProcess, amqp_channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    poll_id = uuid.uuid4()
    before = scrape(sink.url)
    first = [make_event(poll_id) for _ in range(3)]
    overlapping = [first[2], make_event(poll_id)]
    duplicated_inside = make_event(poll_id)

    await publish_batch(amqp_channel, first)
    await publish_batch(amqp_channel, first)  # a redelivery or a resend
    await publish_batch(amqp_channel, overlapping)
    await publish_batch(amqp_channel, [duplicated_inside, duplicated_inside])
    all_events = [*first, overlapping[1], duplicated_inside]
    rows = await wait_for_rows(db, [e.event_id for e in all_events])
    for event in all_events:
        assert_row_matches(rows[event.event_id], event, datetime.min.replace(tzinfo=UTC))
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE poll_id = $1", poll_id) == 5

    # Every message was stored and acked, none dead-lettered; the repeats count as skipped.
    after = await wait_for_metric(sink, "zephyr_audit_sink_duplicates_skipped_total", before, 5)
    rejected = "zephyr_audit_sink_messages_rejected_total"
    for reason in ("invalid", "unstorable"):
        assert metric_value(after, rejected, {"reason": reason}) == metric_value(
            before, rejected, {"reason": reason}
        )
    stored = "zephyr_audit_sink_events_stored_total"
    assert metric_value(after, stored) - metric_value(before, stored) == 5


async def wait_for_metric(sink: ServiceProcess, name: str, before: str, delta: float) -> str:
    """The metrics once `name` has grown by `delta` since `before` (the acks follow the insert)."""

    def grown() -> str | None:
        text = scrape(sink.url)
        return text if metric_value(text, name) - metric_value(before, name) >= delta else None

    return await eventually(grown, what=f"{name} grown by {delta}")


@pytest.mark.parametrize(
    ("body", "message_type"),
    [
        (b"this is not JSON {", None),
        (b'{"events": []}', None),
        (b'{"events": [{"event_id": "not-a-uuid"}]}', None),
        (b'["a", "list"]', None),
        (b"", None),
    ],
    ids=["not-json", "empty-batch", "bad-event", "wrong-shape", "empty-body"],
)
async def test_poison_message_is_dead_lettered_and_neighbours_stored(
    sink: ServiceProcess,
    amqp_channel: AbstractChannel,
    db: asyncpg.Connection,
    resources: Resources,
    body: bytes,
    message_type: str | None,
) -> None:
    poll_id = uuid.uuid4()
    before_events = [make_event(poll_id) for _ in range(2)]
    after_events = [make_event(poll_id) for _ in range(2)]

    await publish_batch(amqp_channel, before_events)
    poison_id = await publish(amqp_channel, body, message_type=message_type)
    await publish_batch(amqp_channel, after_events)

    await wait_for_rows(db, [e.event_id for e in (*before_events, *after_events)])
    dead = await take_dead_letters(resources.amqp_url, {poison_id})
    assert set(dead) == {poison_id}
    assert dead[poison_id].body == body
    assert dead[poison_id].headers["x-first-death-reason"] == "rejected"
    assert dead[poison_id].headers["x-first-death-queue"] == "audit"


async def test_unstorable_and_mistyped_messages_are_dead_lettered(
    sink: ServiceProcess,
    amqp_channel: AbstractChannel,
    db: asyncpg.Connection,
    resources: Resources,
) -> None:
    poll_id = uuid.uuid4()
    before = scrape(sink.url)
    good = make_event(poll_id)
    nul_event = make_event(poll_id, data={"text": "before\x00after"})
    good_id = await publish_batch(amqp_channel, [good])
    nul_id = await publish_batch(amqp_channel, [nul_event])
    # A valid body that says it is another contract: we refuse to guess.
    mistyped_id = await publish(
        amqp_channel, b'{"events": []}', message_type="zephyr.vote_batch.v1"
    )
    other_version = make_event(poll_id)
    versioned_id = await publish(
        amqp_channel,
        json.dumps({"events": [json.loads(other_version.model_dump_json())]}).encode(),
        message_type="zephyr.audit_batch.v2",
    )

    await wait_for_rows(db, [good.event_id])
    dead = await take_dead_letters(resources.amqp_url, {nul_id, mistyped_id, versioned_id})
    assert set(dead) == {nul_id, mistyped_id, versioned_id}
    assert good_id not in dead
    stored = await db.fetch(
        "SELECT event_id FROM audit_log WHERE event_id = ANY($1)",
        [nul_event.event_id, other_version.event_id],
    )
    assert stored == []
    after = scrape(sink.url)
    rejected = "zephyr_audit_sink_messages_rejected_total"
    grew = metric_value(after, rejected, {"reason": "invalid"}) - metric_value(
        before, rejected, {"reason": "invalid"}
    )
    assert grew >= 3
    dead_lettered = "zephyr_messages_dead_lettered_total"
    audit = {"queue": "audit"}
    assert (
        metric_value(after, dead_lettered, audit) - metric_value(before, dead_lettered, audit) >= 3
    )


async def test_audit_log_is_append_only(
    sink: ServiceProcess, amqp_channel: AbstractChannel, db: asyncpg.Connection
) -> None:
    event = make_event(uuid.uuid4())
    await publish_batch(amqp_channel, [event])
    await wait_for_rows(db, [event.event_id])

    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute(
            "UPDATE audit_log SET kind = 'poll.closed' WHERE event_id = $1", event.event_id
        )
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM audit_log WHERE event_id = $1", event.event_id)
    row = await db.fetchrow("SELECT kind FROM audit_log WHERE event_id = $1", event.event_id)
    assert row is not None
    assert row["kind"] == event.kind

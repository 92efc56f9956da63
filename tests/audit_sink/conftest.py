"""Helpers for audit-sink's tests: events, publishing, the dead-letter queue, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from prometheus_client.parser import text_string_to_metric_families

from contracts import AuditBatch, AuditEvent, envelope_headers
from contracts.topology import AUDIT_EXCHANGE, AUDIT_QUEUE, audit_routing_key, dead_letter_queue
from tests.support.eventually import eventually
from tests.support.isolation import Resources
from tests.support.procs import ServiceProcess, free_port
from zephyr_runtime.amqp import declare_topology

AUDIT_DEAD_QUEUE = dead_letter_queue(AUDIT_QUEUE)


def make_event(poll_id: uuid.UUID | None, **overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "kind": "vote.recorded",
        "service": "tests",
        "occurred_at": datetime.now(UTC),
        "poll_id": poll_id,
        "participant_id": uuid.uuid4(),
        "correlation_id": uuid.uuid4().hex,
        "client_ip": "203.0.113.7",
        "data": {"option": 1, "seq": 12345},
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def batch_body(events: Iterable[AuditEvent]) -> bytes:
    return AuditBatch(events=list(events)).model_dump_json().encode()


async def publish(
    channel: AbstractChannel,
    body: bytes,
    *,
    message_id: str | None = None,
    message_type: str | None = None,
    correlation_id: str | None = None,
) -> str:
    """Publish one persistent message to zephyr.audit with confirms; returns its message id."""
    message_id = message_id or uuid.uuid4().hex
    correlation_id = correlation_id or uuid.uuid4().hex
    headers = envelope_headers(AuditBatch(events=[make_event(None)]), correlation_id=correlation_id)
    exchange = await channel.get_exchange(AUDIT_EXCHANGE, ensure=False)
    await exchange.publish(
        aio_pika.Message(
            body,
            message_id=message_id,
            type=message_type if message_type is not None else AuditBatch.message_type(),
            content_type="application/json",
            correlation_id=correlation_id,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=audit_routing_key("tests"),
        mandatory=True,
    )
    return message_id


async def publish_batch(channel: AbstractChannel, events: Iterable[AuditEvent]) -> str:
    return await publish(channel, batch_body(events))


@pytest.fixture
async def amqp_channel(resources: Resources) -> AsyncIterator[AbstractChannel]:
    """A confirming channel on the session's vhost, with the topology declared."""
    connection = await aio_pika.connect(resources.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await declare_topology(channel)
        yield channel
    finally:
        await connection.close()


async def wait_for_rows(
    db: asyncpg.Connection, event_ids: Iterable[uuid.UUID], timeout: float = 30.0
) -> dict[uuid.UUID, asyncpg.Record]:
    """Poll audit_log until every event id is stored; returns the rows by event id."""
    wanted = list(event_ids)

    async def stored() -> dict[uuid.UUID, asyncpg.Record] | None:
        records = await db.fetch("SELECT * FROM audit_log WHERE event_id = ANY($1)", wanted)
        if len(records) == len(set(wanted)):
            return {r["event_id"]: r for r in records}
        return None

    return await eventually(stored, timeout=timeout, what=f"{len(set(wanted))} events stored")


@dataclass
class DeadLetter:
    message_id: str
    body: bytes
    headers: dict[str, Any]


async def take_dead_letters(
    amqp_url: str, message_ids: set[str], timeout: float = 30.0
) -> dict[str, DeadLetter]:
    """Take our messages out of audit.dead, leaving everyone else's in place."""
    connection = await aio_pika.connect(amqp_url)
    found: dict[str, DeadLetter] = {}
    others: list[AbstractIncomingMessage] = []
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(AUDIT_DEAD_QUEUE, ensure=False)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        tag = await queue.consume(inbox.put)
        deadline = asyncio.get_running_loop().time() + timeout
        while set(found) != message_ids:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                message = await asyncio.wait_for(inbox.get(), remaining)
            except TimeoutError:
                break
            if message.message_id in message_ids:
                found[message.message_id] = DeadLetter(
                    message.message_id, message.body, dict(message.headers or {})
                )
                await message.ack()
            else:
                others.append(message)
        await queue.cancel(tag)
        for message in others:
            await message.nack(requeue=True)
    finally:
        await connection.close()
    return found


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample of the Prometheus text; 0 when the labelled series does not exist yet."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(
                sample.labels.get(k) == v for k, v in (labels or {}).items()
            ):
                return float(sample.value)
    return 0.0


def scrape(url: str) -> str:
    response = httpx.get(f"{url}/metrics", timeout=5)
    response.raise_for_status()
    return response.text


@contextlib.contextmanager
def running_sink(
    resources: Resources, log_dir: Path, *, wait_ready: bool = True, **env: str
) -> Iterator[ServiceProcess]:
    """`python -m audit_sink` on a free port (ready, unless told not to wait); stopped with
    SIGTERM afterwards. `env` sets `AUDIT_SINK_<NAME>` variables."""
    extra = {f"AUDIT_SINK_{k.upper()}": v for k, v in env.items()}
    sink = ServiceProcess(
        package="audit_sink",
        port=free_port(),
        env={**resources.env(), **extra},
        log_path=log_dir / f"audit_sink-{uuid.uuid4().hex[:6]}.log",
    )
    sink.start()
    try:
        if wait_ready:
            sink.wait_ready()
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def sink(
    resources: Resources, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    with running_sink(resources, tmp_path_factory.mktemp("audit_sink")) as process:
        yield process
    assert process.proc is not None
    assert process.proc.returncode == 0, process.tail()

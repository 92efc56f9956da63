"""`python -m audit_sink` as an operator runs it: graceful SIGTERM, configuration, migrate."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractChannel

from contracts.topology import AUDIT_QUEUE
from tests.audit_sink.conftest import (
    make_event,
    metric_value,
    publish_batch,
    running_sink,
    scrape,
    wait_for_rows,
)
from tests.support.eventually import eventually
from tests.support.isolation import Resources


async def ready_messages(amqp_url: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(AUDIT_QUEUE, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def test_sigterm_flushes_and_acks_pending_events_then_exits_0(
    resources: Resources,
    amqp_channel: AbstractChannel,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    poll_id = uuid.uuid4()
    events = [make_event(poll_id) for _ in range(5)]
    # A batch that would wait a minute: only the shutdown can flush it.
    with running_sink(
        resources, tmp_path, batch_max_wait_ms="60000", batch_max_events="100000", prefetch="5000"
    ) as sink:
        await publish_batch(amqp_channel, events[:3])
        await publish_batch(amqp_channel, events[3:])
        # All delivered to the sink:
        await eventually(lambda: _none_ready(resources.amqp_url), what="the queue drained")
        assert metric_value(scrape(sink.url), "zephyr_audit_sink_pending_events") >= len(events)
        assert await db.fetchval("SELECT count(*) FROM audit_log WHERE poll_id = $1", poll_id) == 0

        returncode = await asyncio.to_thread(sink.stop)
        assert returncode == 0, sink.tail()

    await wait_for_rows(db, [e.event_id for e in events], timeout=1)
    # Acked, not requeued: an unacked message would be back in the queue once the sink left.
    assert await ready_messages(resources.amqp_url) == 0


async def _none_ready(amqp_url: str) -> bool:
    return await ready_messages(amqp_url) == 0


def run_module(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit_sink", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUDIT_SINK_BATCH_MAX_EVENTS", "0"),
        ("AUDIT_SINK_PREFETCH", "lots"),
        ("AUDIT_SINK_PORT", "70000"),
        ("ZEPHYR_AMQP_URL", "http://example.com"),
    ],
)
def test_invalid_configuration_exits_2_with_a_clear_message(
    resources: Resources, variable: str, value: str
) -> None:
    result = run_module(env={**resources.env(), variable: value})
    assert result.returncode == 2
    assert "invalid configuration for audit_sink" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_exits_2(resources: Resources) -> None:
    result = run_module("dance", env=resources.env())
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_migrate_is_idempotent(resources: Resources) -> None:
    result = run_module("migrate", env=resources.env())
    assert result.returncode == 0, result.stderr


def test_unreachable_broker_fails_the_start(resources: Resources) -> None:
    result = run_module(
        env={**resources.env(), "ZEPHYR_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    )
    assert result.returncode != 0


async def test_ready_is_503_while_postgres_is_unreachable(
    resources: Resources, tmp_path: Path
) -> None:
    missing = resources.database_url.rsplit("/", 1)[0] + f"/zephyr_missing_{uuid.uuid4().hex[:8]}"
    # A short grace: messages it takes meanwhile cannot be stored and go back on exit.
    with running_sink(
        resources, tmp_path, wait_ready=False, database_url=missing, shutdown_grace_seconds="3"
    ) as sink:
        async with httpx.AsyncClient(base_url=sink.url, timeout=5) as client:

            async def answered() -> httpx.Response | None:
                # Until it consumes, so that only Postgres is missing (or it answers otherwise).
                with contextlib.suppress(httpx.TransportError):
                    response = await client.get("/health/ready")
                    if response.status_code != 503 or response.json()["checks"]["rabbitmq"]["ok"]:
                        return response
                return None

            response = await eventually(answered, timeout=30, what="readiness while consuming")
            assert response.status_code == 503, sink.tail()
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["rabbitmq"]["ok"] is True
            assert body["checks"]["postgres"]["ok"] is False
            # Still alive: it only waits for the database.
            assert (await client.get("/health/live")).status_code == 200
        assert await asyncio.to_thread(sink.stop) == 0, sink.tail()

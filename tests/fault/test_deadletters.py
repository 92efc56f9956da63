"""Dead letters are visible (metric, audit event) and can be inspected and replayed (the CLI)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aio_pika
import pytest
from prometheus_client import REGISTRY

from contracts import AuditEvent
from tests.support import isolation
from tests.support.isolation import Resources
from vote_worker.deadletter_watch import DeadLetterWatch
from zephyr_runtime.amqp import declare_topology
from zephyr_runtime.queues import queue_depth

pytestmark = pytest.mark.fault


@pytest.fixture
async def vhost() -> AsyncIterator[Resources]:
    res = await isolation.create("dlq")
    try:
        yield res
    finally:
        await isolation.destroy(res)


def cli(url: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "zephyr_runtime.deadletters", "--amqp-url", url, "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class RecordingOutbound:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def audit(self, events: Sequence[AuditEvent], correlation_id: str) -> None:
        self.events.extend(events)


async def wait_depth(channel: aio_pika.abc.AbstractChannel, queue: str, depth: int) -> None:
    # At-least-once dead-lettering is asynchronous (the queue's leader republishes): be patient.
    for _ in range(600):
        if await queue_depth(channel, queue) == depth:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{queue} never reached {depth}")


async def test_dead_letters_are_counted_audited_shown_and_replayed(vhost: Resources) -> None:
    connection = await aio_pika.connect_robust(vhost.amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_topology(channel)
        await channel.default_exchange.publish(
            aio_pika.Message(b'{"not": "a vote batch"}', message_id="m-1", type="x.v1"),
            routing_key="votes",
        )
        votes = await channel.declare_queue("votes", passive=True)
        message = await votes.get(timeout=10)
        assert message is not None
        await message.reject(requeue=False)  # what a consumer does with a poison message
        await wait_depth(channel, "votes.dead", 1)

        # The worker's sampler: a metric per dead-letter queue and an audit event on growth.
        outbound = RecordingOutbound()
        watch = DeadLetterWatch(connection, outbound, interval_s=1)  # type: ignore[arg-type]
        depths = await watch.sample_once()
        assert depths["votes.dead"] == 1 and depths["audit.dead"] == 0
        gauge = REGISTRY.get_sample_value(
            "zephyr_vote_worker_dead_letter_messages", {"queue": "votes.dead"}
        )
        assert gauge == 1
        assert [(e.kind, e.data["queue"], e.data["new"]) for e in outbound.events] == [
            ("deadletter.detected", "votes.dead", 1)
        ]
        await watch.sample_once()
        assert len(outbound.events) == 1  # no growth, no new event
        await watch.close()

        # The CLI: list, show (leaves it in place), replay (back into `votes`).
        listed = await asyncio.to_thread(cli, vhost.amqp_url, "list")
        assert listed["votes.dead"] == 1 and listed["participants.dead"] == 0
        shown = await asyncio.to_thread(cli, vhost.amqp_url, "show", "--queue", "votes")
        assert len(shown) == 1
        assert shown[0]["message_id"] == "m-1"
        assert shown[0]["reason"] == "rejected" and shown[0]["queue"] == "votes"
        assert '"not"' in shown[0]["body"]
        await wait_depth(channel, "votes.dead", 1)
        replayed = await asyncio.to_thread(cli, vhost.amqp_url, "replay", "--queue", "votes")
        assert replayed == {"replayed": 1}
        await wait_depth(channel, "votes.dead", 0)
        await wait_depth(channel, "votes", 1)
        again = await votes.get(timeout=10)
        assert again is not None
        assert again.message_id == "m-1" and again.body == b'{"not": "a vote batch"}'
        assert (again.headers or {}).get("x-zephyr-replayed") == 1
        await again.ack()

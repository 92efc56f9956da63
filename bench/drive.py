"""Tally updates straight into `zephyr.live`, so fan-out is measured without the vote path.

The messages are what vote-worker publishes (`TallyUpdated`, routing key
`poll.<id>.tally`), with versions far above any real one so every one is newest.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import aio_pika

from contracts import TallyUpdated
from contracts.topology import LIVE_EXCHANGE, tally_routing_key
from zephyr_runtime.amqp import build_message

FIRST_VERSION = 1_000_000


@contextlib.asynccontextmanager
async def tally_drive(
    amqp_url: str, poll_id: str, options: int, per_second: float
) -> AsyncIterator[None]:
    """Publish a fresh tally `per_second` times a second while the block runs."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    channel = await connection.channel(publisher_confirms=False)
    exchange = await channel.get_exchange(LIVE_EXCHANGE)
    rng = random.Random(1)

    async def publish() -> None:
        version = FIRST_VERSION
        started = time.monotonic()
        sent = 0
        while True:
            due = int((time.monotonic() - started) * per_second) - sent
            for _ in range(max(0, due)):
                version += 1
                counts = [rng.randrange(1000) for _ in range(options)]
                total = sum(counts)
                tally = TallyUpdated(
                    poll_id=UUID(poll_id),
                    epoch=0,
                    counts=counts,
                    total=total,
                    version=version,
                    aggregate={"kind": "single", "counts": counts, "total": total},
                )
                await exchange.publish(
                    build_message(tally, correlation_id=uuid.uuid4().hex, persistent=False),
                    routing_key=tally_routing_key(poll_id),
                )
                sent += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(publish())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await connection.close()

"""`connect_declared`: the connect and the declarations are one step, undone when it fails."""

from __future__ import annotations

from typing import Any

import aio_pika
import pytest

from contracts.topology import VOTES_QUEUE
from tests.support.isolation import Resources
from zephyr_runtime import amqp


async def test_the_topology_is_declared_on_the_connection_returned(resources: Resources) -> None:
    connection = await amqp.connect_declared(resources.amqp_url, name="test-declared")
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(VOTES_QUEUE, passive=True)  # raises if absent
        assert queue.name == VOTES_QUEUE
    finally:
        await connection.close()


async def test_a_failed_declaration_closes_the_connection_it_opened(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await amqp.connect_declared(resources.amqp_url, name="test-first")).close()
    opened: list[Any] = []
    real_connect = amqp.connect

    async def recording_connect(url: str, **kwargs: Any) -> Any:
        connection = await real_connect(url, **kwargs)
        opened.append(connection)
        return connection

    monkeypatch.setattr(amqp, "connect", recording_connect)
    # The queues exist with the default delivery limit: other arguments are refused.
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await amqp.connect_declared(resources.amqp_url, name="test-conflict", delivery_limit=2)
    assert len(opened) == 1 and opened[0].is_closed

"""A failed first connect to RabbitMQ leaves no half-open connection behind."""

from __future__ import annotations

import gc

import aio_pika
import pytest
from aiormq.exceptions import AMQPConnectionError

from tests.support.procs import free_port
from zephyr_runtime.amqp import connect


def _open_robust_connections() -> list[aio_pika.RobustConnection]:
    gc.collect()
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, aio_pika.RobustConnection) and not obj.is_closed
    ]


async def test_a_refused_connect_closes_the_connection_object() -> None:
    before = len(_open_robust_connections())
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"  # nothing listens there
    for _ in range(3):
        with pytest.raises((AMQPConnectionError, ConnectionError)):
            await connect(url, name="test-refused", timeout=2)
    assert len(_open_robust_connections()) == before


async def test_a_working_connect_is_still_robust() -> None:
    connection = await connect("amqp://guest:guest@127.0.0.1:5672/", name="test-ok", timeout=5)
    try:
        assert isinstance(connection, aio_pika.RobustConnection)
        assert connection.connected.is_set()
    finally:
        await connection.close()

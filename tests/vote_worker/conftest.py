"""Fixtures for vote-worker tests: an in-process worker and a RabbitMQ channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel

from tests.support.isolation import Resources
from tests.support.procs import free_port
from vote_worker.settings import Settings
from vote_worker.worker import Worker
from zephyr_runtime.settings import load_settings


@pytest.fixture
async def worker(resources: Resources) -> AsyncIterator[Worker]:
    """The worker in this process, on the session's resources; stopped after the test."""
    settings = load_settings(Settings, port=free_port(), reconcile_interval_s=0.2)
    running = Worker(settings)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def channel(resources: Resources) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect_robust(resources.amqp_url)
    try:
        yield await connection.channel(publisher_confirms=True)
    finally:
        await connection.close()

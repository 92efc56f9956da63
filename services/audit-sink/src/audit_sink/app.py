"""Wiring: the broker, the consumer, the batcher, the store and the HTTP routes in one app.

Start-up (in order): open the Postgres pool, declare the topology, start the batcher, then
FastStream starts consuming. Shutdown (uvicorn's lifespan, on SIGTERM or SIGINT): stop consuming,
flush and ack what is pending, then FastStream closes the broker connection, then the pool.
"""

from __future__ import annotations

import logging
from functools import partial

from faststream.asgi import AsgiFastStream

from audit_sink.consume import build_broker, subscribe_audit_queue
from audit_sink.flusher import AuditFlusher
from audit_sink.settings import Settings
from audit_sink.store import AuditStore
from zephyr_runtime import amqp
from zephyr_runtime.health import Check, dependency_sample, run_checks
from zephyr_runtime.health_routes import health_routes
from zephyr_runtime.resilience import retry
from zephyr_runtime.sampler import ops_sampler

log = logging.getLogger(__name__)

SERVICE = "audit-sink"


def build_app(settings: Settings) -> AsgiFastStream:
    store = AuditStore(settings, max_size=settings.db_pool_max_size)
    batcher = AuditFlusher(store).batcher(
        max_events=settings.batch_max_events,
        max_wait=settings.batch_max_wait_ms / 1000,
        retry_base=settings.retry_base_seconds,
        retry_cap=settings.retry_max_seconds,
    )
    broker = build_broker(settings)
    subscriber = subscribe_audit_queue(broker, batcher)

    async def rabbitmq_ready() -> None:
        if not await broker.ping(timeout=1.0):
            raise ConnectionError("not connected to RabbitMQ")
        if not subscriber.running:
            raise RuntimeError("not consuming the audit queue")

    checks: dict[str, Check] = {"postgres": store.ping, "rabbitmq": rabbitmq_ready}
    sampler = ops_sampler(
        dependency_sample(checks), store.record_pool_use, interval=settings.metrics_sample_seconds
    )

    async def open_resources() -> None:
        await store.open()
        # A restart may race the broker's own restart: retry the declarations a while.
        connection = await retry(
            lambda: amqp.connect_declared(
                settings.amqp_url,
                name=f"{SERVICE}-topology",
                timeout=settings.amqp_timeout_seconds,
            ),
            what="rabbitmq",
            attempts=8,
            timeout=15,
        )
        await connection.close()
        batcher.start()
        sampler.start()

    async def log_started() -> None:
        log.info("audit-sink consuming", extra={"port": settings.port})

    async def close_resources() -> None:
        await sampler.stop()
        await store.close()

    async def drain() -> None:
        await subscriber.stop()
        log.info(
            "audit-sink stopped consuming; storing what is pending",
            extra={"pending_events": batcher.unflushed},
        )
        # Leave a second of the grace period for closing the connections.
        if not await batcher.stop(timeout=max(0.5, settings.shutdown_grace_seconds - 1.0)):
            # Unacked, they go back to the queue when the channel closes, and are stored later.
            log.warning(
                "audit flush did not finish before shutdown; the broker will redeliver",
                extra={"pending_events": batcher.unflushed},
            )

    return AsgiFastStream(
        broker,
        asgi_routes=health_routes(partial(run_checks, checks)),
        logger=logging.getLogger("audit_sink.app"),
        on_startup=[open_resources],
        after_startup=[log_started],
        on_shutdown=[drain],
        after_shutdown=[close_resources],
    )

"""The worker's HTTP endpoints, in process."""

from __future__ import annotations

import httpx

from tests.support.isolation import Resources
from tests.support.procs import free_port
from vote_worker.settings import Settings
from vote_worker.worker import Worker
from zephyr_runtime.settings import load_settings


async def test_health_metrics_and_asyncapi(worker: Worker) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.settings.port}") as http:
        assert (await http.get("/health/live")).json() == {"status": "ok"}
        ready = await http.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        metrics = await http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "zephyr_vote_worker_batches_flushed_total" in metrics.text
        asyncapi = await http.get("/docs/asyncapi")
        assert asyncapi.status_code == 200
        assert (await http.get("/nope")).status_code == 404


async def test_ready_is_503_while_a_dependency_is_down(resources: Resources) -> None:
    # Nothing listens on port 1: Redis is "down" for this worker.
    settings = load_settings(
        Settings, port=free_port(), redis_url="redis://127.0.0.1:1/0", shutdown_grace_seconds=3
    )
    down = Worker(settings)
    try:
        await down.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as http:
            ready = await http.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["postgres"]["ok"] is True
        assert body["checks"]["rabbitmq"]["ok"] is True
    finally:
        await down.stop()

"""The HTTP phase on the WebSocket port: health, metrics, 404, a handshake without upgrade."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from ws_gateway.app import Gateway


async def test_health_live_ready_metrics_and_404(gateway: Gateway) -> None:
    base = f"http://127.0.0.1:{gateway.port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        live = await http.get("/health/live")
        assert live.status_code == 200
        assert live.json() == {"status": "ok"}

        ready = await http.get("/health/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert set(body["checks"]) == {"redis", "rabbitmq"}
        assert all(check["ok"] for check in body["checks"].values())

        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        expected = [
            "zephyr_ws_gateway_connections",
            "zephyr_ws_gateway_connections_opened_total",
            "zephyr_ws_gateway_vote_batch_size_bucket",
            "zephyr_ws_gateway_vote_publish_seconds_bucket",
        ]
        assert [name for name in expected if name not in metrics.text] == []

        missing = await http.get("/nope")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "not found"}

        # /ws/ without a WebSocket upgrade is refused by the handshake, not served.
        plain = await http.get("/ws/ABCDEF")
        assert plain.status_code == 426


async def test_ready_reports_a_dead_dependency(start_gateway, resources) -> None:
    async with start_gateway() as gw:
        # Break Redis for this gateway only: its readiness check now asks a closed port.
        working, broken = gw.context.redis, aioredis.from_url("redis://127.0.0.1:9")
        gw.context.redis = broken
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                ready = await http.get(f"http://127.0.0.1:{gw.port}/health/ready")
        finally:
            gw.context.redis = working
            await broken.aclose()
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["rabbitmq"]["ok"] is True

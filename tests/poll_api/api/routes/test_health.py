"""Liveness and readiness."""

from __future__ import annotations

import httpx


async def test_health_live_and_ready(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgres", "redis", "rabbitmq"}
    assert all(check["ok"] for check in body["checks"].values())

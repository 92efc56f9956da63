"""Health, metrics, request ids, error handling and unavailable dependencies."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from tests.poll_api.utils import app_settings, bearer, create_poll, running_app
from tests.support.isolation import Resources


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


async def test_metrics_by_route_template(client: httpx.AsyncClient) -> None:
    created = await create_poll(client)
    await client.get(f"/api/polls/{created['room_code']}")
    await client.get("/api/polls/ZZZZZZ")
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert re.search(
        r'poll_api_http_requests_total\{method="GET",route="/api/polls/\{room_code\}",'
        r'status="2xx"\} [1-9]',
        text,
    )
    assert re.search(
        r'poll_api_http_requests_total\{method="GET",route="/api/polls/\{room_code\}",'
        r'status="4xx"\} [1-9]',
        text,
    )
    assert 'poll_api_http_request_duration_seconds_bucket{le="0.005",method="POST"' in text
    assert re.search(r"poll_api_polls_created_total [1-9]", text)
    assert "poll_api_outbox_backlog " in text
    assert "poll_api_outbox_published_total " in text
    assert created["room_code"] not in text  # raw paths never become labels


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    good = await client.get("/health/live", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert good.headers["X-Request-ID"] == "abc.DEF_123-x"
    for bad in ("has spaces", "x" * 129, "semi;colon", ""):
        resp = await client.get("/health/live", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
    generated = await client.get("/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])


async def test_unhandled_error_is_a_bare_500_with_correlation_id(
    resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(app_settings()) as (app, client):

        async def explode() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/boom", explode)
        with caplog.at_level(logging.ERROR):
            resp = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal error", "correlation_id": "boom-1"}
    assert resp.headers["X-Request-ID"] == "boom-1"
    assert "secret" not in resp.text
    logged = [r for r in caplog.records if r.exc_info and "secret internals" in str(r.exc_info[1])]
    assert logged, "the stack trace is logged"


async def test_database_down_is_503_with_retry_after(resources: Resources) -> None:
    settings = app_settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    async with running_app(settings) as (_, client):
        created = await client.post("/api/polls", json={"question": "q", "options": ["a", "b"]})
        assert created.status_code == 503
        assert created.headers["Retry-After"] == "2"
        assert "unavailable" in created.json()["detail"]
        view = await client.get("/api/polls/ABCDEF")
        assert view.status_code == 503
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["postgres"]["ok"] is False
        assert body["checks"]["redis"]["ok"] is True


async def test_redis_down_still_serves_and_changes_polls(resources: Resources) -> None:
    settings = app_settings(redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.5)
    async with running_app(settings) as (_, client):
        created = await create_poll(client)
        view = await client.get(f"/api/polls/{created['room_code']}")
        assert view.status_code == 200
        assert view.json()["participant_count"] == 0
        opened = await client.post(
            f"/api/polls/{created['room_code']}/open", headers=bearer(created["host_token"])
        )
        assert opened.status_code == 200
        assert opened.json()["status"] == "open"
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False


async def test_openapi_documents_the_interface(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/polls",
        "/api/polls/{room_code}",
        "/api/polls/{room_code}/open",
        "/api/polls/{room_code}/close",
        "/api/polls/{room_code}/reveal",
        "/api/polls/{room_code}/reset",
        "/api/polls/{room_code}/results",
        "/api/polls/{room_code}/results.csv",
        "/health/live",
        "/health/ready",
    ):
        assert path in paths, path
    assert "host_token_hash" not in str(schema)
    assert (await client.get("/docs")).status_code == 200

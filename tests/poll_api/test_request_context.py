"""Around every request: X-Request-ID, HTTP metrics by route template, the last-resort 500."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from tests.poll_api.utils import app_settings, create_poll, running_app
from tests.support.isolation import Resources


async def test_metrics_by_route_template(client: httpx.AsyncClient) -> None:
    created = await create_poll(client)
    await client.get(f"/api/polls/{created['room_code']}")
    await client.get("/api/polls/ZZZZZZ")
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert re.search(
        r'zephyr_poll_api_http_requests_total\{method="GET",route="/api/polls/\{room_code\}",'
        r'status="2xx"\} [1-9]',
        text,
    )
    assert re.search(
        r'zephyr_poll_api_http_requests_total\{method="GET",route="/api/polls/\{room_code\}",'
        r'status="4xx"\} [1-9]',
        text,
    )
    assert 'zephyr_poll_api_http_request_duration_seconds_bucket{le="0.005",method="POST"' in text
    assert re.search(r"zephyr_poll_api_polls_created_total [1-9]", text)
    assert "zephyr_poll_api_outbox_backlog " in text
    assert "zephyr_poll_api_outbox_published_total " in text
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

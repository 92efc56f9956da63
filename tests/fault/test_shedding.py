"""Load shedding: poll-api's shedding middleware and the gateway's guard (the breaker itself:
tests/zephyr_runtime/test_resilience.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from poll_api.protection.shedding import LoadSheddingMiddleware
from ws_gateway.guard import LoadGuard

pytestmark = pytest.mark.fault


def _app(handler: Any, **kwargs: Any) -> LoadSheddingMiddleware:
    app = Starlette(routes=[Route("/api/x", handler), Route("/health/ready", handler)])
    return LoadSheddingMiddleware(app, **kwargs)


async def test_poll_api_sheds_requests_over_the_in_flight_bound() -> None:
    gate = asyncio.Event()

    async def slow(request: Request) -> Response:
        await gate.wait()
        return JSONResponse({"ok": True})

    app = _app(slow, max_in_flight=1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = asyncio.create_task(http.get("/api/x"))
        while app.in_flight < 1:
            await asyncio.sleep(0.01)
        refused = await http.get("/api/x")
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        gate.set()
        assert (await first).status_code == 200
        assert (await http.get("/api/x")).status_code == 200


async def test_poll_api_breaker_opens_on_503s_and_closes_by_itself() -> None:
    healthy = False

    async def endpoint(request: Request) -> Response:
        if healthy:
            return JSONResponse({"ok": True})
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    app = _app(endpoint, max_in_flight=10, breaker_failures=2, breaker_reset_seconds=0.2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        for _ in range(2):
            assert (await http.get("/api/x")).status_code == 503
        assert app.breaker.is_open
        fast = await http.get("/api/x")  # answered by the breaker
        assert fast.status_code == 503 and fast.headers["Retry-After"] == "1"
        assert (await http.get("/health/ready")).status_code == 503  # never refused, just down
        healthy = True
        await asyncio.sleep(0.25)
        assert (await http.get("/api/x")).status_code == 200  # the probe closes it
        assert not app.breaker.is_open


async def test_gateway_guard_refuses_over_its_bounds_and_when_a_breaker_is_open() -> None:
    guard = LoadGuard(None, None, max_backlog=10, max_in_flight=2)  # type: ignore[arg-type]
    assert guard.refuse_vote() is None
    replies: list[Any] = []
    first = guard.track(replies.append)
    guard.track(replies.append)
    code, _, retry_after = guard.refuse_vote() or ("", "", 0.0)
    assert code == "overloaded" and retry_after > 0
    first("frame")
    assert guard.in_flight == 1 and replies == ["frame"] and guard.refuse_vote() is None
    guard.backlog = 10
    assert (guard.refuse_vote() or ("",))[0] == "overloaded"
    guard.backlog = 0
    for _ in range(2):
        guard.redis_breaker.record_failure()
    assert (guard.refuse_vote() or ("",))[0] == "unavailable"
    assert (guard.refuse_join() or ("",))[0] == "unavailable"
    guard.redis_breaker.record_success()
    assert guard.refuse_join() is None


async def test_poll_api_answers_503_when_a_library_fails_while_handling_a_lost_connection() -> None:
    async def endpoint(request: Request) -> Response:
        try:
            raise ConnectionRefusedError("postgres is gone")
        except ConnectionRefusedError:
            raise AttributeError("'NoneType' object has no attribute 'info'") from None

    async def bug(request: Request) -> Response:
        raise AttributeError("a plain bug")

    # As in FastAPI: user middleware sits inside the server-error middleware.
    app = Starlette(
        routes=[Route("/api/x", endpoint), Route("/api/bug", bug)],
        middleware=[Middleware(LoadSheddingMiddleware, max_in_flight=10)],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        resp = await http.get("/api/x")
        assert resp.status_code == 503 and int(resp.headers["Retry-After"]) >= 1
        assert (await http.get("/api/bug")).status_code == 500  # bugs stay bugs

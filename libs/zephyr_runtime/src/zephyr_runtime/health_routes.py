"""`/health/live`, `/health/ready` and `/metrics` for the services served by FastStream's ASGI app.

poll-api (FastAPI) and ws-gateway (the `websockets` server) answer the same three paths with the
same bodies; this is the FastStream form, shared by vote-worker and audit-sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp

from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def health_routes(readiness: Readiness) -> list[tuple[str, ASGIApp]]:
    """The three routes; `readiness()` returns (ready, {dependency: report}) as `run_checks`."""

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        ok, report = await readiness()
        if ok:
            return JSONResponse({"status": "ready", "checks": report})
        return JSONResponse({"status": "unavailable", "checks": report}, status_code=503)

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(render_metrics(), 200, {"Content-Type": METRICS_CONTENT_TYPE})

    return [("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)]

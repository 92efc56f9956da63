"""HTTP endpoints served next to the consumer: health and metrics."""

from __future__ import annotations

from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp

from zephyr_runtime.health import Check, run_checks
from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics


def http_routes(checks: dict[str, Check]) -> list[tuple[str, ASGIApp]]:
    """`/health/live`, `/health/ready` (every dependency in `checks`) and `/metrics`."""

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return JSONResponse({"status": "ok"})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        ok, report = await run_checks(checks)
        if ok:
            return JSONResponse({"status": "ready", "checks": report})
        return JSONResponse({"status": "unavailable", "checks": report}, status_code=503)

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    return [("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)]

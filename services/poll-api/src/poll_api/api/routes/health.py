"""Liveness, readiness (each dependency) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from poll_api.api.deps import ContextDep
from zephyr_runtime.metrics import METRICS_CONTENT_TYPE, render_metrics

router = APIRouter(tags=["operations"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "A dependency is unavailable"}})
async def ready(ctx: ContextDep) -> JSONResponse:
    ok, checks = await ctx.readiness()
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

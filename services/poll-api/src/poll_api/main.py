"""The application factory: `create_app(settings)`; clients are opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from poll_api.api.router import api_router
from poll_api.config import Settings
from poll_api.context import AppContext
from poll_api.errors import install_error_handlers
from poll_api.hardening import install_hardening
from poll_api.middleware import RequestContextMiddleware
from poll_api.resilience import ResilienceMiddleware
from poll_api.tracing_middleware import TracingMiddleware


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await AppContext.start(settings)
        app.state.ctx = ctx
        try:
            yield
        finally:
            await ctx.stop()

    app = FastAPI(
        title="Zephyr poll-api",
        summary="Hosts create, open, close, reveal, reset and export live polls.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        ResilienceMiddleware,
        # The in-flight bound is the security settings' `max_concurrent_requests` when present.
        max_in_flight=int(getattr(settings, "max_concurrent_requests", 256)),
        breaker_failures=settings.breaker_failures,
        breaker_reset_seconds=settings.breaker_reset_seconds,
    )
    install_hardening(app, settings)  # inside the request context, outside resilience
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(TracingMiddleware)  # outermost: the request id's logs carry the trace
    app.include_router(api_router)
    return app

"""The application factory: `create_app(settings)`; clients are opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from poll_api.api.openapi import install_openapi
from poll_api.api.router import api_router
from poll_api.context import AppContext
from poll_api.errors import install_error_handlers
from poll_api.protection import install_protection
from poll_api.request_context import RequestContextMiddleware, TracingMiddleware
from poll_api.settings import Settings


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
    protection = install_protection(app, settings)  # inside the request context
    install_error_handlers(app, on_invalid_input=protection.on_invalid_input)
    install_openapi(app, host_auth_enabled=settings.host_auth_enabled)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(TracingMiddleware)  # outermost: the request id's logs carry the trace
    app.include_router(api_router)
    return app

"""Installs poll-api's protections: real IP, security headers, CORS, load shedding, rate limits,
body limit, error bodies with correlation ids, and sampled security audit events.

`install_hardening(app, settings)` is called by `create_app` before the request-context
middleware is added, so that middleware stays outermost (correlation id, metrics) and every
answer produced here (413, 429, 503) carries X-Request-ID and the security headers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from contracts import AuditBatch, AuditEvent, utcnow
from contracts.topology import AUDIT_EXCHANGE, audit_routing_key
from poll_api import outbox
from poll_api.body_limit import BodyLimitMiddleware
from poll_api.context import AppContext
from poll_api.hardening_config import HardeningSettings
from poll_api.headers import SecurityHeadersMiddleware
from poll_api.problems import document_common_errors, install_error_bodies
from poll_api.problems import validation_error_response as _validation_body
from poll_api.ratelimit import RateLimitMiddleware
from poll_api.real_ip import RealIpMiddleware, client_ip_of
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.ratelimit import Decision, RateLimiter
from zephyr_runtime.security_events import SecurityEvents


class Hardening:
    """What the protections share at run time: the limiter and the security event sampler."""

    def __init__(self, settings: HardeningSettings) -> None:
        self.settings = settings
        self.limiter: RateLimiter | None = None
        self.events: SecurityEvents | None = None

    async def start(self, ctx: AppContext) -> None:
        self.limiter = RateLimiter(ctx.redis, ctx.settings.redis_prefix)

        async def write_to_outbox(events: list[AuditEvent]) -> None:
            row = outbox.outbox_row(
                AuditBatch(events=events),
                exchange=AUDIT_EXCHANGE,
                routing_key=audit_routing_key(outbox.SERVICE_NAME),
                correlation_id=events[0].correlation_id or uuid.uuid4().hex,
                occurred_at=utcnow(),
            )
            async with ctx.sessions() as session, session.begin():
                await outbox.enqueue(session, [row])

        self.events = SecurityEvents(
            service=outbox.SERVICE_NAME,
            emit=write_to_outbox,
            window_seconds=self.settings.security_event_window_seconds,
        )
        self.events.start()

    async def stop(self) -> None:
        if self.events is not None:
            await self.events.stop()

    def record(self, kind: str, scope: Scope, reason: str, **data: Any) -> None:
        if self.events is None:
            return
        self.events.record(
            kind,
            reason=reason,
            client_ip=client_ip_of(scope),
            correlation_id=correlation_id_var.get(),
            data={"method": scope.get("method"), "path": str(scope.get("path", ""))[:200], **data},
        )

    def on_limited(self, scope: Scope, decision: Decision) -> None:
        self.record("security.rate_limited", scope, decision.scope, limit=decision.limit)

    def on_body_too_large(self, scope: Scope) -> None:
        self.record("security.invalid_input", scope, "body_too_large")


def hardening_of(request: Request) -> Hardening:
    hardening: Hardening = request.app.state.hardening
    return hardening


def install_hardening(app: FastAPI, settings: HardeningSettings) -> Hardening:
    hardening = Hardening(settings)
    app.state.hardening = hardening

    # Middlewares run outermost-last-added: headers > real IP > CORS > limit > body. Load
    # shedding (503, `max_concurrent_requests`) is poll_api.resilience, inside these.
    app.add_middleware(BodyLimitMiddleware, settings.max_body_bytes, hardening.on_body_too_large)
    app.add_middleware(
        RateLimitMiddleware,
        settings=settings,
        limiter=lambda: hardening.limiter,
        on_limited=hardening.on_limited,
    )
    if settings.cors_origins:
        # Bearer tokens, not cookies: credentials are never allowed, so no `*` question arises.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(RealIpMiddleware, settings.trusted_networks)
    app.add_middleware(
        SecurityHeadersMiddleware,
        connect_sources=settings.connect_sources,
        served_over_tls=settings.served_over_tls,
        hsts_max_age_seconds=settings.hsts_max_age_seconds,
    )

    async def invalid_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        hardening.record("security.invalid_input", request.scope, "validation", fields=fields[:10])
        return _validation_body(exc)

    app.add_exception_handler(RequestValidationError, invalid_input)
    install_error_bodies(app)
    optional_auth = {
        ("get", "/api/polls/{room_code}/results"),
        ("get", "/api/polls/{room_code}/results.csv"),
    }
    if not settings.host_auth_enabled:
        optional_auth.add(("post", "/api/polls"))
    document_common_errors(app, frozenset(optional_auth))

    original_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with original_lifespan(app) as state:
            await hardening.start(app.state.ctx)
            try:
                yield state
            finally:
                await hardening.stop()

    app.router.lifespan_context = lifespan
    return hardening

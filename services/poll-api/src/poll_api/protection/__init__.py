"""poll-api's protection layer: what stands between a client and the routes.

From the outside in: security headers on every answer (`security_headers`), the caller's real
IP (`client_ip`), CORS, rate limits (`rate_limits`, 429), the body limit (`body_limit`, 413), and
load shedding with a circuit breaker over the dependencies (`shedding`, 503). Refusals are
error bodies from `poll_api.errors` and are sampled into `security.*` audit events (`Protection`).

`install_protection(app, settings)` is called by `create_app` before the request-context
middleware is added, so that middleware stays outermost (correlation id, metrics) and every
answer produced here carries X-Request-ID and the security headers.
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
from starlette.types import Scope

from contracts import AuditBatch, AuditEvent, utcnow
from contracts.topology import AUDIT_EXCHANGE, audit_routing_key
from poll_api import outbox
from poll_api.context import AppContext
from poll_api.protection.body_limit import BodyLimitMiddleware
from poll_api.protection.client_ip import ClientIpMiddleware, client_ip_of
from poll_api.protection.rate_limits import RateLimitMiddleware
from poll_api.protection.security_headers import SecurityHeadersMiddleware
from poll_api.protection.shedding import LoadSheddingMiddleware
from poll_api.settings import Settings
from zephyr_runtime.jsonlog import correlation_id_var
from zephyr_runtime.ratelimit import Decision, RateLimiter
from zephyr_runtime.security_events import SecurityEvents


class Protection:
    """What the protections share at run time: the limiter and the security event sampler."""

    def __init__(self, settings: Settings) -> None:
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
        """A sampled `security.*` audit event about the request of `scope`."""
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

    def on_invalid_input(self, request: Request, exc: RequestValidationError) -> None:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        self.record("security.invalid_input", request.scope, "validation", fields=fields[:10])


def protection_of(request: Request) -> Protection:
    protection: Protection = request.app.state.protection
    return protection


def install_protection(app: FastAPI, settings: Settings) -> Protection:
    protection = Protection(settings)
    app.state.protection = protection

    # Middlewares run outermost-last-added: headers > client IP > CORS > limits > body > shedding.
    app.add_middleware(
        LoadSheddingMiddleware,
        max_in_flight=settings.max_concurrent_requests,
        breaker_failures=settings.breaker_failures,
        breaker_reset_seconds=settings.breaker_reset_seconds,
    )
    app.add_middleware(BodyLimitMiddleware, settings.max_body_bytes, protection.on_body_too_large)
    app.add_middleware(
        RateLimitMiddleware,
        settings=settings,
        limiter=lambda: protection.limiter,
        on_limited=protection.on_limited,
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
    app.add_middleware(ClientIpMiddleware, settings.trusted_networks)
    app.add_middleware(
        SecurityHeadersMiddleware,
        connect_sources=settings.connect_sources,
        served_over_tls=settings.served_over_tls,
        hsts_max_age_seconds=settings.hsts_max_age_seconds,
    )

    original_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with original_lifespan(app) as state:
            await protection.start(app.state.ctx)
            try:
                yield state
            finally:
                await protection.stop()

    app.router.lifespan_context = lifespan
    return protection

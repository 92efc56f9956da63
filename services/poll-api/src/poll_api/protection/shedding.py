"""Fail fast and shed load: a circuit breaker over poll-api's dependencies and an in-flight bound.

A request answered 503 by the error handlers (Postgres or Redis down or timing out) counts as a
dependency failure; `breaker_failures` in a row open the breaker, and then every API request is
answered `503` with `Retry-After` at once, without touching the pool, until `breaker_reset_seconds`
pass and one probe request goes through: its success closes the breaker (recovery needs no
restart). Independently, more than `max_in_flight` requests in progress get `503` + `Retry-After`.
Health and metrics endpoints are never refused: they are how operators see what is going on.
"""

from __future__ import annotations

import logging
import math

import asyncpg
import redis.exceptions
import sqlalchemy.exc
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from poll_api.asgi import HttpMiddleware, WatchedSend
from poll_api.errors import error_response
from poll_api.metrics import SHED_REQUESTS
from zephyr_runtime.resilience import CircuitBreaker

EXEMPT_PREFIXES = ("/health", "/metrics")
_DEPENDENCY_ERRORS = (
    OSError,  # refused, reset, timed out
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

log = logging.getLogger(__name__)


def caused_by_dependency(exc: BaseException) -> bool:
    """True when a dependency going away is somewhere in the exception's chain.

    Some libraries fail *while handling* a lost connection (SQLAlchemy's pool pre-ping on a
    closed asyncpg connection raises AttributeError from inside its error translation): the
    cause is still the dependency, and the answer must be 503, not 500.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _DEPENDENCY_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _refuse(detail: str, retry_after: float) -> JSONResponse:
    retry = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    return error_response(503, detail, retry, with_correlation_id=False)


class LoadSheddingMiddleware(HttpMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        breaker_failures: int = 3,
        breaker_reset_seconds: float = 2.0,
    ) -> None:
        super().__init__(app)
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.breaker = CircuitBreaker(
            "poll-api-dependencies",
            failure_threshold=breaker_failures,
            reset_timeout=breaker_reset_seconds,
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope.get("path", "")).startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            SHED_REQUESTS.labels("in_flight").inc()
            await _refuse("too many requests in progress, retry shortly", 1)(scope, receive, send)
            return
        if not self.breaker.allow():
            SHED_REQUESTS.labels("circuit_open").inc()
            response = _refuse(
                "a dependency is unavailable, retry shortly", self.breaker.retry_after()
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if watched.started or not caused_by_dependency(exc):
                raise
            log.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
            await _refuse("a dependency is unavailable, retry shortly", 2)(scope, receive, watched)
        finally:
            self.in_flight -= 1
            self.record(watched.status or 500)

    def record(self, status: int) -> None:
        """A 503 is a dependency failure; a probe that errored otherwise keeps the breaker open."""
        if status == 503:
            self.breaker.record_failure()
        elif status < 500:
            self.breaker.record_success()
        elif self.breaker.state == "half_open":
            self.breaker.record_failure()

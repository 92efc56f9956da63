"""Domain errors and how they, and unavailable dependencies, become HTTP answers."""

from __future__ import annotations

import logging

import asyncpg
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from poll_api.metrics import HTTP_TIMEOUTS
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# Dependency errors that are timeouts (counted in zephyr_http_timeouts_total).
TIMEOUTS = (sqlalchemy.exc.TimeoutError, redis.exceptions.TimeoutError, TimeoutError)


class PollNotFound(Exception):
    """No poll has this room code (or the code is not a valid room code)."""


class InvalidTransition(Exception):
    """The host action is not allowed in the poll's current state."""


class HostAuthFailed(Exception):
    """The host token is missing or malformed (401) or does not match (403)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def _body(detail: str) -> dict[str, str | None]:
    """Every error body: what went wrong and the correlation id to quote (docs/security.md)."""
    return {"detail": detail, "correlation_id": correlation_id_var.get()}


def internal_error_response() -> JSONResponse:
    """The only body a client sees for a bug: a correlation id to quote, never a trace."""
    return JSONResponse(
        {"detail": "internal error", "correlation_id": correlation_id_var.get()},
        status_code=500,
    )


def unavailable_response(what: str) -> JSONResponse:
    return JSONResponse(
        _body(f"{what} unavailable, retry shortly"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_body("no poll with this room code"), status_code=404)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_body(str(exc)), status_code=409)


async def _auth_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HostAuthFailed)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(_body(exc.reason), status_code=exc.status_code, headers=headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sqlalchemy.exc.DBAPIError)
    if exc.connection_invalidated or isinstance(
        exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError
    ):
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return unavailable_response("database")
    log.error("database error", exc_info=exc)
    return internal_error_response()


async def _dependency_down(request: Request, exc: Exception) -> JSONResponse:
    what = "cache" if isinstance(exc, redis.exceptions.RedisError) else "database"
    log.warning("%s unavailable: %s: %s", what, type(exc).__name__, exc)
    if isinstance(exc, TIMEOUTS):
        route = getattr(request.scope.get("route"), "path_format", None) or "unmatched"
        HTTP_TIMEOUTS.labels(route).inc()
    return unavailable_response(what)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PollNotFound, _not_found)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(HostAuthFailed, _auth_failed)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_error)
    for exc_type in (
        sqlalchemy.exc.TimeoutError,  # connection pool exhausted
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        OSError,  # connection refused / reset, DNS failure, socket timeouts
    ):
        app.add_exception_handler(exc_type, _dependency_down)

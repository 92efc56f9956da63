"""Errors as HTTP answers: the domain errors, the one error body, and the exception handlers.

Every error poll-api answers is `{"detail": ..., "correlation_id": ...}` (422: `detail` is the
list of problems), built by `error_response` here, by the handlers below and by the protection
middlewares (413, 429, 503) alike. A client never sees a stack trace, only the correlation id
to quote (docs/security.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from poll_api.metrics import HTTP_TIMEOUTS
from zephyr_runtime.jsonlog import correlation_id_var

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# Dependency errors that are timeouts (counted in zephyr_poll_api_http_timeouts_total).
TIMEOUTS = (sqlalchemy.exc.TimeoutError, redis.exceptions.TimeoutError, TimeoutError)
# The error body in the OpenAPI schema (`api.openapi` refers every common answer to it).
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "correlation_id": {"type": ["string", "null"]},
    },
    "required": ["detail"],
}


def statement_timed_out(exc: sqlalchemy.exc.DBAPIError) -> bool:
    """Postgres cancelled the statement at `statement_timeout` (SQLSTATE 57014)."""
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state == "57014"


class PollNotFound(Exception):
    """No poll has this room code (or the code is not a valid room code)."""


class QuestionNotFound(Exception):
    """No question at this index of the poll's run."""

    def __init__(self, index: int, count: int) -> None:
        super().__init__(f"no question at index {index} (this poll has {count}: 0 to {count - 1})")


class InvalidTransition(Exception):
    """The host action is not allowed in the poll's current state."""


class HostAuthFailed(Exception):
    """The host token is missing or malformed (401) or does not match (403)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def error_response(
    status_code: int,
    detail: str | list[Any],
    headers: Mapping[str, str] | None = None,
    *,
    with_correlation_id: bool = True,
) -> JSONResponse:
    """The error answer: `detail` and the correlation id of the request being answered.

    `with_correlation_id=False` is for the two answers that have never carried it: requests
    shed before any work (`protection.shedding`) and an unknown host page asset.
    """
    body: dict[str, Any] = {"detail": detail}
    if with_correlation_id:
        body["correlation_id"] = correlation_id_var.get()
    return JSONResponse(body, status_code=status_code, headers=headers)


def internal_error_response() -> JSONResponse:
    """The only body a client sees for a bug: a correlation id to quote, never a trace."""
    return error_response(500, "internal error")


def unavailable_response(what: str) -> JSONResponse:
    return error_response(
        503,
        f"{what} unavailable, retry shortly",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (`detail` is a list of problems) plus the correlation id.

    The offending input is not echoed back (`input` and `ctx` are dropped): a reflected payload
    is inert JSON anyway, but there is no reason to hand it back.
    """
    problems = [
        {k: v for k, v in err.items() if k not in ("input", "ctx", "url")} for err in exc.errors()
    ]
    return error_response(422, jsonable_encoder(problems))


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 for unknown paths, 405 for wrong methods, and any other HTTPException."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, detail, dict(exc.headers or {}))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "no poll with this room code")


async def _question_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, str(exc))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc))


async def _auth_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HostAuthFailed)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return error_response(exc.status_code, exc.reason, headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, sqlalchemy.exc.DBAPIError)
    if statement_timed_out(exc):
        log.warning("database statement timed out (statement_timeout)")
        route = getattr(request.scope.get("route"), "path_format", None) or "unmatched"
        HTTP_TIMEOUTS.labels(route).inc()
        return unavailable_response("database")
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


OnInvalidInput = Callable[[Request, RequestValidationError], None]


def install_error_handlers(app: FastAPI, on_invalid_input: OnInvalidInput) -> None:
    """Answer every known error with the error body; `on_invalid_input` sees each 422 first."""

    async def invalid_input(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        on_invalid_input(request, exc)
        return validation_error_response(exc)

    app.add_exception_handler(RequestValidationError, invalid_input)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PollNotFound, _not_found)
    app.add_exception_handler(QuestionNotFound, _question_not_found)
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

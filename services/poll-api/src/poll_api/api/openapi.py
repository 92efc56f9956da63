"""Error bodies: always `{"detail": ..., "correlation_id": ...}`, never a stack trace.

Also documents the answers any operation may give (413, 429, 503) in the OpenAPI schema, so
clients and schema checkers know about them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zephyr_runtime.jsonlog import correlation_id_var


def error_response(
    status_code: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "correlation_id": correlation_id_var.get()},
        status_code=status_code,
        headers=headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 for unknown paths, 405 for wrong methods, and any other HTTPException."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, detail, dict(exc.headers or {}))


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (`detail` is a list of problems) plus the correlation id.

    The offending input is not echoed back (`input` and `ctx` are dropped): a reflected payload
    is inert JSON anyway, but there is no reason to hand it back.
    """
    problems = [
        {k: v for k, v in err.items() if k not in ("input", "ctx", "url")} for err in exc.errors()
    ]
    return JSONResponse(
        {"detail": jsonable_encoder(problems), "correlation_id": correlation_id_var.get()},
        status_code=422,
    )


_ERROR_BODY = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "correlation_id": {"type": ["string", "null"]},
    },
    "required": ["detail"],
}
_COMMON: dict[str, dict[str, Any]] = {
    "400": {"description": "Malformed request (e.g. a body that is not JSON)"},
    "413": {"description": "Request body too large"},
    "429": {
        "description": "Rate limited: see Retry-After and RateLimit-* headers",
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}},
            "RateLimit-Limit": {"schema": {"type": "integer"}},
            "RateLimit-Remaining": {"schema": {"type": "integer"}},
            "RateLimit-Reset": {"schema": {"type": "integer"}},
        },
    },
    "503": {
        "description": "Overloaded or a dependency is down: retry after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def document_common_errors(
    app: FastAPI, optional_auth: frozenset[tuple[str, str]] = frozenset()
) -> None:
    """Add the 400/413/429/503 answers every operation may give to the generated OpenAPI schema.

    `optional_auth` lists (method, path) operations whose bearer token is optional (results of
    a revealed poll; creating polls without host accounts): OpenAPI says so with an empty
    security alternative, which FastAPI does not emit for `HTTPBearer(auto_error=False)`.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = _ERROR_BODY
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                if (method, path) in optional_auth and operation.get("security"):
                    operation["security"] = [*operation["security"], {}]
                responses = operation.setdefault("responses", {})
                for code, answer in _COMMON.items():
                    responses.setdefault(code, {**answer, "content": ref})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_bodies(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)

"""The OpenAPI schema: the routes' own, plus the answers any operation may give.

The protection layer can answer any operation with 413, 429 or 503, and a body that is not
JSON gets 400; the schema says so (with the error body of `poll_api.errors`), so that clients
and schema checkers know about them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from poll_api.errors import ERROR_BODY_SCHEMA

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
# The results of a revealed question need no host token.
_OPTIONAL_AUTH = frozenset(
    {
        ("get", "/api/polls/{room_code}/results"),
        ("get", "/api/polls/{room_code}/results.csv"),
        ("get", "/api/polls/{room_code}/questions/{index}/results"),
    }
)


def install_openapi(app: FastAPI, *, host_auth_enabled: bool) -> None:
    """Serve the schema with the 400/413/429/503 answers every operation may give.

    Operations whose bearer token is optional (results of a revealed poll; creating polls
    without host accounts) say so with an empty security alternative, which FastAPI does not
    emit for `HTTPBearer(auto_error=False)`.
    """
    optional_auth = set(_OPTIONAL_AUTH)
    if not host_auth_enabled:
        optional_auth.add(("post", "/api/polls"))

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
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = (
            ERROR_BODY_SCHEMA
        )
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
